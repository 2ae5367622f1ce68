"""The shared rate-limit store (``PROPOPS_RATE_LIMIT_BACKEND=redis``): counters in Redis, so every
worker process counts against the same limit. A ``propops.core.ratelimit.RateLimitStore``,
registered by ``propops.main.create_app``.

Built on the maintained ``redis`` library (``redis.asyncio``, with ``hiredis`` parsing replies),
in place of a hand-written pipelined RESP client. The store claims blocks of request numbers, so a
request makes a Redis round trip only once per 16 of its key (two keys per authenticated request:
IP and account), and the client's own cost hardly shows.

Redis failures leave as the builtin ``ConnectionError`` (a clean 503, see
``core.errors.database_unavailable``), never as a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from propops.core.ratelimit import RateLimitResult, window

# One atomic claim of ``ARGV[2]`` numbers; the first claim of a window sets its expiry.
CLAIM_LUA = """
local count = redis.call('INCRBY', KEYS[1], ARGV[2])
if count == tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""

MAX_CLAIM = 16  # requests a process may claim from Redis at once, per key and window
TIMEOUT_SECONDS = 2.0
MAX_CONNECTIONS = 32  # per process; one claim per key is in flight at a time, so few are used


@dataclass
class _Claim:
    window_start: int
    next: int  # the next request number of this process in the window (1-based, global order)
    end: int  # the last number claimed


@contextlib.contextmanager
def _unavailable() -> Iterator[None]:
    """redis-py's connection and timeout errors are not the builtin ones: translate them."""
    from redis import exceptions

    try:
        yield
    except (exceptions.ConnectionError, exceptions.TimeoutError) as exc:
        raise ConnectionError(f"Redis unavailable: {exc}") from exc


class RedisRateLimitStore:
    """Counters shared by every worker process, claimed in small blocks.

    Each process claims up to ``MAX_CLAIM`` request numbers at a time (at most 1 % of the limit;
    one number when the limit is under 200, so small limits are exact) with one atomic INCRBY, and
    spends them locally. A request is refused when its number is above the limit. Numbers one
    process claimed and did not use before the window ended are lost to the others, so a client
    may be refused up to (processes - 1) x (claim - 1) requests early: never late. Concurrent
    requests of one key in one process wait for a single claim (all 64 clients of the load report
    share the loopback address's key), so no claimed block is thrown away.
    """

    def __init__(self, url: str, timeout: float = TIMEOUT_SECONDS) -> None:
        from redis.asyncio import BlockingConnectionPool, Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # One retry, at once: a pooled connection that Redis closed (a restart) is replaced without
        # failing the request; Redis still down fails fast (the caller answers 503). A full pool
        # waits for a connection (up to ``timeout``) rather than failing.
        self.pool = BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
            client_name="propops-ratelimit",
        )
        self.redis: Any = Redis(connection_pool=self.pool)
        self._claim_script = self.redis.register_script(CLAIM_LUA)  # EVALSHA, EVAL on NOSCRIPT
        self._claims: dict[str, _Claim] = {}
        self._claiming: dict[str, asyncio.Future[None]] = {}

    async def _claim(self, key: str, start: int, limit: int, window_seconds: int) -> None:
        size = max(1, min(MAX_CLAIM, limit // 100))
        with _unavailable():
            count = int(await self._claim_script(keys=[f"propops:rl:{key}:{start}"], args=[window_seconds + 5, size]))
        if len(self._claims) > 100_000:  # bounded memory: drop stale windows
            self._claims = {k: v for k, v in self._claims.items() if v.window_start == start}
        self._claims[key] = _Claim(window_start=start, next=count - size + 1, end=count)

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateLimitResult:
        start, reset = window(window_seconds)
        while True:
            claim = self._claims.get(key)
            if claim is not None and claim.window_start == start and claim.next <= claim.end:
                number = claim.next
                claim.next += 1
                return RateLimitResult(limit=limit, remaining=limit - number, reset_at=reset)
            pending = self._claiming.get(key)
            if pending is not None:  # another request of this key is claiming: share its block
                await asyncio.shield(pending)
                continue
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._claiming[key] = done
            try:
                await self._claim(key, start, limit, window_seconds)
            finally:
                del self._claiming[key]
                done.set_result(None)  # waiters look again (and claim themselves if it failed)

    async def close(self) -> None:
        await self.redis.aclose()
        await self.pool.aclose()
