"""The small Redis client behind the shared rate-limit store, against the machine's real Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from propops.core.errors import database_unavailable
from propops.core.resp import RespClient, RespError, Script, encode
from propops.core.settings import Settings

URL = Settings().redis_url


@pytest.fixture
async def client():
    c = RespClient(URL)
    yield c
    await c.close()


def test_encode_is_resp_arrays_of_bulk_strings() -> None:
    assert encode("SET", "k", 5) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n5\r\n"
    assert encode(b"\r\n") == b"*1\r\n$2\r\n\r\n\r\n"


async def test_replies_of_every_kind(client: RespClient) -> None:
    key = f"test:resp:{uuid.uuid4().hex}"
    assert await client.call("PING") == "PONG"
    assert await client.call("SET", key, "v\r\nw") == "OK"  # bulk data with CRLF inside
    assert await client.call("GET", key) == b"v\r\nw"
    assert await client.call("MGET", key, key + ":missing") == [b"v\r\nw", None]
    assert await client.call("INCRBY", key + ":n", 41) == 41
    assert await client.call("DEL", key, key + ":n") == 2
    with pytest.raises(RespError, match="unknown command"):
        await client.call("NO-SUCH-COMMAND")
    assert await client.call("PING") == "PONG"  # an error reply leaves the connection usable


async def test_concurrent_calls_get_their_own_replies(client: RespClient) -> None:
    key = f"test:resp:{uuid.uuid4().hex}"
    replies = await asyncio.gather(*(client.call("ECHO", f"{key}:{i}") for i in range(300)))
    assert replies == [f"{key}:{i}".encode() for i in range(300)]
    counts = await asyncio.gather(*(client.call("INCR", key) for _ in range(200)))
    assert sorted(counts) == list(range(1, 201))
    await client.call("DEL", key)


async def test_script_loads_itself_when_the_server_does_not_know_it(client: RespClient) -> None:
    script = Script(client, "return tonumber(ARGV[1]) * 2 -- " + uuid.uuid4().hex)
    await client.call("SCRIPT", "FLUSH")
    assert await script(keys=[], args=[21]) == 42  # NOSCRIPT -> EVAL
    assert await script(keys=[], args=[5]) == 10  # EVALSHA


async def test_lost_connection_fails_cleanly_then_reconnects(client: RespClient) -> None:
    assert await client.call("PING") == "PONG"
    my_id = await client.call("CLIENT", "ID")
    admin = RespClient(URL)
    try:
        assert await admin.call("CLIENT", "KILL", "ID", my_id) == 1
    finally:
        await admin.close()
    await asyncio.sleep(0.05)
    assert await client.call("PING") == "PONG"  # a new connection
    assert await client.call("CLIENT", "ID") != my_id


async def test_timeout_drops_the_connection_and_the_next_call_works() -> None:
    c = RespClient(URL, timeout=0.2)
    try:
        with pytest.raises(TimeoutError) as caught:
            await c.call("BLPOP", f"test:resp:{uuid.uuid4().hex}", 2)
        assert database_unavailable(caught.value)  # a 503 upstream
        assert await c.call("PING") == "PONG"
    finally:
        await c.close()


async def test_unreachable_server_is_a_connection_error() -> None:
    c = RespClient("redis://127.0.0.1:1/0", timeout=1)
    with pytest.raises(OSError) as caught:
        await c.call("PING")
    assert database_unavailable(caught.value)
    await c.close()


async def test_refused_auth_is_a_connection_error() -> None:
    c = RespClient(URL.replace("redis://", "redis://:wrong-password@"))
    with pytest.raises(ConnectionError, match="AUTH"):
        await c.call("PING")
    await c.close()


async def test_select_database() -> None:
    key = f"test:resp:{uuid.uuid4().hex}"
    base = URL.rsplit("/", 1)[0]
    a, b = RespClient(base + "/5"), RespClient(base + "/6")
    try:
        await a.call("SET", key, "in five", "EX", 60)
        assert await b.call("GET", key) is None
        assert await a.call("GET", key) == b"in five"
    finally:
        await a.call("DEL", key)
        await a.close()
        await b.close()


def test_only_redis_urls() -> None:
    with pytest.raises(ValueError):
        RespClient("rediss://example.com:6380/0")
