"""A minimal pipelined Redis (RESP2) client for the rate-limit counters.

Why not redis-py: every request makes one or two counter calls, and redis-py's asyncio client
(connection pool, retry wrapper, command parsing layers) cost ~11 % of the service's CPU under load.
Here one connection per process carries every call; concurrent callers write their commands
back to back and a single reader task hands the replies out in order (Redis answers in order).
A lost connection fails the calls in flight with ``ConnectionError`` (a 503 upstream) and the
next call reconnects.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
from typing import Any
from urllib.parse import unquote, urlparse


class RespError(Exception):
    """An error reply from Redis (``-ERR ...``)."""


def encode(*args: str | bytes | int) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


async def read_reply(reader: asyncio.StreamReader) -> Any:
    line = await reader.readuntil(b"\r\n")
    kind, rest = line[:1], line[1:-2]
    if kind == b":":
        return int(rest)
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        return RespError(rest.decode(errors="replace"))
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        data = await reader.readexactly(size + 2)
        return data[:-2]
    if kind == b"*":
        count = int(rest)
        if count < 0:
            return None
        return [await read_reply(reader) for _ in range(count)]
    raise ConnectionError(f"unexpected reply from Redis: {line[:40]!r}")


class _Connection:
    """One socket, its reader task and the futures of the calls waiting on it, in order."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.pending: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.closed = False
        self.task = asyncio.get_running_loop().create_task(self._read_loop(reader))

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                reply = await read_reply(reader)
                if self.pending:
                    fut = self.pending.popleft()
                    if not fut.done():
                        fut.set_result(reply)
        except (OSError, EOFError, asyncio.IncompleteReadError, ConnectionError, ValueError) as exc:
            self.fail(ConnectionError(f"Redis connection lost: {exc}"))

    def fail(self, exc: BaseException) -> None:
        """Close; every call still waiting fails (its reply can no longer be matched)."""
        self.closed = True
        self.writer.close()
        while self.pending:
            fut = self.pending.popleft()
            if not fut.done():
                fut.set_exception(exc)


class RespClient:
    def __init__(self, url: str, timeout: float = 2.0) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "redis":
            raise ValueError("only redis:// URLs are supported")
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 6379
        self.password = unquote(parsed.password) if parsed.password else None
        self.username = unquote(parsed.username) if parsed.username else None
        path = parsed.path.strip("/")
        self.db = int(path) if path else 0
        self.timeout = timeout
        self._conn: _Connection | None = None
        self._connecting: asyncio.Lock | None = None

    async def _connect(self) -> _Connection:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._conn is not None and not self._conn.closed:
                return self._conn
            async with asyncio.timeout(self.timeout):
                reader, writer = await asyncio.open_connection(self.host, self.port)
                setup: list[tuple[str | bytes | int, ...]] = []
                if self.password is not None:
                    auth = ("AUTH", self.username, self.password) if self.username else ("AUTH", self.password)
                    setup.append(auth)
                if self.db:
                    setup.append(("SELECT", self.db))
                for command in setup:
                    writer.write(encode(*command))
                    reply = await read_reply(reader)
                    if isinstance(reply, RespError):
                        writer.close()
                        raise ConnectionError(f"Redis refused {command[0]!s}: {reply}")
            self._conn = _Connection(reader, writer)
            return self._conn

    async def call(self, *args: str | bytes | int) -> Any:
        """Send one command and wait for its reply; an error reply raises ``RespError``."""
        conn = self._conn
        if conn is None or conn.closed:
            conn = await self._connect()
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        conn.pending.append(fut)
        conn.writer.write(encode(*args))
        try:
            async with asyncio.timeout(self.timeout):
                reply = await fut
        except TimeoutError:
            # A late reply would be matched to the wrong caller: drop this connection.
            conn.fail(ConnectionError("Redis did not answer in time"))
            raise
        if isinstance(reply, RespError):
            raise reply
        return reply

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.fail(ConnectionError("Redis client closed"))
            conn.task.cancel()
            try:
                await conn.task
            except asyncio.CancelledError:
                pass


class Script:
    """A Lua script run by EVALSHA, loaded with EVAL the first time a server does not know it."""

    def __init__(self, client: RespClient, source: str) -> None:
        self.client = client
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, keys: list[str], args: list[str | int]) -> Any:
        try:
            return await self.client.call("EVALSHA", self.sha, len(keys), *keys, *args)
        except RespError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
            return await self.client.call("EVAL", self.source, len(keys), *keys, *args)
