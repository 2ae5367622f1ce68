"""The shared rate-limit store (``propops.infra.ratelimit_redis``) against the machine's real Redis,
and through the app: shared counts, block claims that never allow a request late, and every Redis
failure a clean ``ConnectionError`` (503), never a 500."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from propops.core.errors import database_unavailable
from propops.core.settings import Settings
from propops.infra.ratelimit_redis import RedisRateLimitStore
from tests.conftest import assert_error, client_for

URL = Settings().redis_url


@pytest.fixture
async def store() -> AsyncIterator[RedisRateLimitStore]:
    s = RedisRateLimitStore(URL)
    yield s
    await s.close()


def _key() -> str:
    return f"test:{uuid.uuid4().hex}"


async def test_counts_are_shared_across_processes() -> None:
    a, b = RedisRateLimitStore(URL), RedisRateLimitStore(URL)
    key = _key()
    try:
        results = [await (a if i % 2 == 0 else b).hit(key, 3, 60) for i in range(4)]
    finally:
        await a.close()
        await b.close()
    assert [r.remaining for r in results] == [2, 1, 0, -1]
    assert results[-1].exceeded
    assert not results[-2].exceeded


async def test_blocks_are_claimed_and_never_allow_more_than_the_limit() -> None:
    """Limit 1,000: each process claims 10 numbers per round trip; the counter in Redis shows the
    claims. Limit 250 (blocks of 2) shared by two processes taking turns: exactly 250 pass,
    whatever the interleaving."""
    a, b = RedisRateLimitStore(URL), RedisRateLimitStore(URL)
    key, tight = _key(), _key()
    try:
        first = [await a.hit(key, 1000, 60) for _ in range(3)]
        other = await b.hit(key, 1000, 60)
        stored = await a.redis.keys(f"propops:rl:{key}:*")
        counter = await a.redis.get(stored[0])
        ttl = await a.redis.ttl(stored[0])
        allowed = 0
        for i in range(600):
            r = await (a if i % 3 else b).hit(tight, 250, 60)
            allowed += not r.exceeded
    finally:
        await a.close()
        await b.close()
    assert [r.remaining for r in first] == [999, 998, 997]
    assert other.remaining == 989  # b's block is 11..20
    assert int(counter) == 20
    assert 0 < ttl <= 65  # the window plus 5 s: stale windows disappear
    assert allowed == 250


async def test_concurrent_hits_of_one_key_share_one_claim_at_a_time(store: RedisRateLimitStore) -> None:
    """200 requests at once: 13 claims of 16 (not 200), numbers 1..200 without a gap."""
    key = _key()
    results = await asyncio.gather(*(store.hit(key, 100_000, 60) for _ in range(200)))
    assert sorted(r.remaining for r in results) == list(range(100_000 - 200, 100_000))
    (stored,) = await store.redis.keys(f"propops:rl:{key}:*")
    assert int(await store.redis.get(stored)) == 13 * 16


async def test_the_script_reloads_itself_when_redis_forgot_it(store: RedisRateLimitStore) -> None:
    assert (await store.hit(_key(), 10, 60)).remaining == 9
    await store.redis.script_flush()  # as after a Redis restart: EVALSHA answers NOSCRIPT
    assert (await store.hit(_key(), 10, 60)).remaining == 9


async def test_a_killed_connection_is_replaced_without_failing_the_request(store: RedisRateLimitStore) -> None:
    key = _key()
    assert (await store.hit(key, 5, 60)).remaining == 4
    my_id = await store.redis.client_id()  # the pool's one connection
    admin = Redis.from_url(URL)
    try:
        assert await admin.client_kill_filter(_id=my_id) == 1
    finally:
        await admin.aclose()
    await asyncio.sleep(0.05)
    assert (await store.hit(key, 5, 60)).remaining == 3  # one retry on a new connection
    assert await store.redis.client_id() != my_id


async def test_an_unreachable_redis_is_a_connection_error() -> None:
    s = RedisRateLimitStore("redis://127.0.0.1:1/0", timeout=1)
    try:
        with pytest.raises(ConnectionError) as caught:
            await s.hit(_key(), 10, 60)
    finally:
        await s.close()
    assert database_unavailable(caught.value)


async def test_a_redis_that_does_not_answer_times_out_as_a_connection_error() -> None:
    """A real socket that accepts and never replies (a hung or overloaded Redis)."""
    held: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    s = RedisRateLimitStore(f"redis://127.0.0.1:{port}/0", timeout=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        with pytest.raises(ConnectionError) as caught:
            await s.hit(_key(), 10, 60)
    finally:
        await s.close()
        for w in held:
            w.close()
        server.close()
        await server.wait_closed()
    assert database_unavailable(caught.value)
    assert loop.time() - started < 2  # two tries of 0.2 s, not the library's default retries


async def test_a_refused_password_is_a_connection_error() -> None:
    """A Redis ACL user of this test's own; the right password works, a wrong one is refused."""
    user = f"propops-test-{uuid.uuid4().hex[:8]}"
    admin = Redis.from_url(URL)
    await admin.acl_setuser(
        user, enabled=True, passwords=["+right-password"], keys=["propops:rl:*"], commands=["+@all"]
    )
    good = RedisRateLimitStore(URL.replace("redis://", f"redis://{user}:right-password@"))
    bad = RedisRateLimitStore(URL.replace("redis://", f"redis://{user}:wrong-password@"))
    try:
        assert (await good.hit(_key(), 10, 60)).remaining == 9
        with pytest.raises(ConnectionError) as caught:
            await bad.hit(_key(), 10, 60)
        assert database_unavailable(caught.value)
    finally:
        await good.close()
        await bad.close()
        await admin.acl_deluser(user)
        await admin.aclose()


async def test_the_url_selects_the_database() -> None:
    base = URL.rsplit("/", 1)[0]
    five, six = RedisRateLimitStore(base + "/5"), RedisRateLimitStore(base + "/6")
    key = _key()
    try:
        await five.hit(key, 10, 60)
        pattern = f"propops:rl:{key}:*"
        assert len(await five.redis.keys(pattern)) == 1
        assert await six.redis.keys(pattern) == []
    finally:
        await five.close()
        await six.close()


async def test_through_the_app_the_workers_share_the_limit_and_redis_down_is_a_503(
    app_with: Callable[..., Awaitable[FastAPI]],
) -> None:
    """Two "workers": the app and a second store on the same Redis; the app's 429 counts the other's
    request. Then the app's Redis goes away: a 503 envelope with Retry-After."""
    app = await app_with(rate_limit_backend="redis", redis_url=URL, rate_limit_per_ip=3, rate_limit_window_seconds=3600)
    ctx = app.state.ctx
    assert isinstance(ctx.rate_limits, RedisRateLimitStore)
    ip = f"test-{uuid.uuid4().hex}"  # this test's own counter in the shared Redis
    other = RedisRateLimitStore(URL)
    try:
        async with client_for(app, ip=ip) as c:
            assert (await c.get("/api/health")).status_code == 200
            assert not (await other.hit(f"ip:{ip}", 3, ctx.settings.rate_limit_window_seconds)).exceeded
            assert (await c.get("/api/health")).status_code == 200
            r = await c.get("/api/health")
            assert_error(r, 429)
            assert r.headers["x-ratelimit-remaining"] == "0"
            down = RedisRateLimitStore("redis://127.0.0.1:1/0", timeout=1)
            ctx.rate_limits, up = down, ctx.rate_limits
            try:
                r = await c.get("/api/health")
            finally:
                ctx.rate_limits = up
                await down.close()
            assert_error(r, 503)
            assert r.headers["retry-after"] == "1"
    finally:
        await other.close()
