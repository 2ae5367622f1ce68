"""The per-process token cache (``propops.infra.token_cache``): it serves repeat lookups, and every change
to a token, an account or a permission is seen on the next request, whether this process made it
(synchronous invalidation) or another one did (PostgreSQL NOTIFY, simulated by a separate
connection writing the same rows, as another server process or psql would)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from propops.core.security import token_hash
from propops.infra import token_cache
from propops.infra.token_cache import NotifyTokenCache
from tests.conftest import DEMO_PASSWORD, PG_URL, AuthedClient, client_for, login_as, stop_process

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not PG_URL, reason="the cache needs PostgreSQL notifications")


async def _until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


@pytest.fixture
async def live(make_app: Callable[..., Awaitable[FastAPI]]) -> AsyncIterator[dict[str, Any]]:
    """A fresh app whose cache is live, a signed-in admin, and a second connection ("another
    process") to the same database."""
    app = await make_app()
    cache: NotifyTokenCache = app.state.ctx.token_cache
    assert cache is not None
    async with client_for(app) as http:
        admin = await login_as(http, "admin@example.com")
        assert (await admin.get("/api/auth/me")).status_code == 200  # starts the listener
        await _until(lambda: cache.live)
        other = await asyncpg.connect(cache.dsn)
        try:
            yield {"app": app, "cache": cache, "admin": admin, "http": http, "other": other}
        finally:
            await other.close()


def _hash(app: FastAPI, client: AuthedClient) -> str:
    return token_hash(app.state.ctx.settings.secret_key, client.token)


async def test_repeat_lookups_are_served_from_the_cache(live: dict[str, Any]) -> None:
    cache, admin = live["cache"], live["admin"]
    assert (await admin.get("/api/auth/me")).status_code == 200
    hits = cache.hits
    for _ in range(5):
        assert (await admin.get("/api/auth/me")).status_code == 200
    assert cache.hits == hits + 5
    assert _hash(live["app"], admin) in cache.entries


async def test_logout_here_fails_the_next_request_at_once(live: dict[str, Any]) -> None:
    admin = live["admin"]
    assert (await admin.get("/api/auth/me")).status_code == 200  # cached
    assert (await admin.post("/api/auth/logout")).status_code == 200
    # No wait for the notice: this process's own commit invalidated synchronously.
    r = await admin.get("/api/auth/me")
    assert r.status_code == 401, r.text


async def test_revocation_by_another_process_reaches_this_one(live: dict[str, Any]) -> None:
    app, admin, other = live["app"], live["admin"], live["other"]
    assert (await admin.get("/api/auth/me")).status_code == 200
    before = token_cache.generation()
    await other.execute("UPDATE api_tokens SET revoked_at = now() WHERE token_hash = $1", _hash(app, admin))
    await _until(lambda: token_cache.generation() != before)
    r = await admin.get("/api/auth/me")
    assert r.status_code == 401, r.text
    assert "revoked" in r.json()["message"]


async def test_account_disabled_elsewhere_is_refused(live: dict[str, Any]) -> None:
    http, other = live["http"], live["other"]
    agent = await login_as(http, "agent002@example.com")
    assert (await agent.get("/api/auth/me")).status_code == 200
    before = token_cache.generation()
    await other.execute("UPDATE users SET account_status_id = 2 WHERE email = 'agent002@example.com'")
    await _until(lambda: token_cache.generation() != before)
    assert (await agent.get("/api/auth/me")).status_code == 401


async def test_permission_revoked_elsewhere_is_refused(live: dict[str, Any]) -> None:
    http, other = live["http"], live["other"]
    agent = await login_as(http, "agent003@example.com")
    r = await agent.get("/api/jobs/manage", params={"action": "list", "limit": 1})
    assert r.status_code == 200, r.text
    user_id = await other.fetchval("SELECT id FROM users WHERE email = 'agent003@example.com'")
    before = token_cache.generation()
    async with other.transaction():  # what the permissions admin does: the grant, then the epoch
        await other.execute(
            "INSERT INTO user_permissions (user_id, permission_key, granted) VALUES ($1, $2, false)",
            user_id,
            "api.jobs.manage.manage",
        )
        await other.execute("UPDATE system_state SET value = value + 1 WHERE key = 'permissions_epoch'")
    await _until(lambda: token_cache.generation() != before)
    r = await agent.get("/api/jobs/manage", params={"action": "list", "limit": 1})
    assert r.status_code == 403, r.text


async def test_rolled_back_change_sends_no_notice(live: dict[str, Any]) -> None:
    app, admin, other = live["app"], live["admin"], live["other"]
    assert (await admin.get("/api/auth/me")).status_code == 200
    before = token_cache.generation()
    tx = other.transaction()
    await tx.start()
    await other.execute("UPDATE api_tokens SET revoked_at = now() WHERE token_hash = $1", _hash(app, admin))
    await tx.rollback()
    await asyncio.sleep(0.3)
    assert token_cache.generation() == before
    assert (await admin.get("/api/auth/me")).status_code == 200


async def test_listener_lost_means_no_cache_until_it_is_back(live: dict[str, Any]) -> None:
    """PostgreSQL drops the listening connection (a restart does the same): the cache goes dark at
    once, requests read the database meanwhile, and the listener comes back by itself."""
    cache, admin, other = live["cache"], live["admin"], live["other"]
    pid = cache._conn.get_server_pid()
    await other.execute("SELECT pg_terminate_backend($1)", pid)
    await _until(lambda: not cache.live)
    assert not cache.entries
    hits = cache.hits
    assert (await admin.get("/api/auth/me")).status_code == 200
    assert cache.hits == hits  # read through, not served
    await _until(lambda: cache.live, seconds=10)
    assert cache._conn.get_server_pid() != pid


async def test_truncate_elsewhere_is_heard(live: dict[str, Any]) -> None:
    admin, other = live["admin"], live["other"]
    assert (await admin.get("/api/auth/me")).status_code == 200
    before = token_cache.generation()
    await other.execute("TRUNCATE api_tokens")
    await _until(lambda: token_cache.generation() != before)
    assert (await admin.get("/api/auth/me")).status_code == 401


async def test_no_cache_without_the_triggers(make_app: Callable[..., Awaitable[FastAPI]]) -> None:
    """Code newer than the schema (migration 0009 not applied): nobody would send the notices, so
    the cache must not go live."""
    app = await make_app()
    cache: NotifyTokenCache = app.state.ctx.token_cache
    other = await asyncpg.connect(cache.dsn)
    try:
        await other.execute("DROP TRIGGER trg_api_tokens_auth_changed ON api_tokens")
        async with client_for(app) as http:
            admin = await login_as(http, "admin@example.com")
            for _ in range(10):
                assert (await admin.get("/api/auth/me")).status_code == 200
                await asyncio.sleep(0.1)
            assert not cache.live and not cache.entries
    finally:
        await other.close()


async def test_listener_that_stops_hearing_goes_dark(live: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Notices stop arriving on a connection that still looks open (a dead route, a pooler): the
    heartbeat does not come back, the cache goes dark, and a new listener takes over."""
    cache = live["cache"]
    monkeypatch.setattr(token_cache, "HEARTBEAT_SECONDS", 0.1)
    monkeypatch.setattr(token_cache, "HEARTBEAT_TIMEOUT_SECONDS", 0.5)
    deaf = cache._conn
    await deaf.remove_listener(token_cache.CHANNEL, cache._on_notice)  # UNLISTEN on that connection
    await _until(lambda: not cache.live, seconds=10)
    await _until(lambda: cache.live, seconds=15)
    assert cache._conn is not deaf


async def test_a_lookup_overtaken_by_a_notice_is_not_stored(live: dict[str, Any]) -> None:
    cache = live["cache"]
    gen = token_cache.generation()
    token_cache.invalidate()  # a notice arrives while the read is in flight
    cache.put("k" * 64, gen, ("row",))
    assert "k" * 64 not in cache.entries
    cache.put("k" * 64, token_cache.generation(), ("row",))
    assert cache.get("k" * 64) == ("row",)


async def test_unknown_tokens_are_not_cached(live: dict[str, Any]) -> None:
    http, cache = live["http"], live["cache"]
    size = len(cache.entries)
    for i in range(20):
        r = await http.get("/api/auth/me", headers={"Authorization": f"Bearer {'z' * 40}{i}"})
        assert r.status_code == 401
    assert len(cache.entries) == size


async def test_entries_expire_after_the_configured_seconds(live: dict[str, Any]) -> None:
    cache = live["cache"]
    cache.put("e" * 64, token_cache.generation(), ("row",))
    gen, _stored, row = cache.entries["e" * 64]
    cache.entries["e" * 64] = (gen, 0.0, row)  # stored long ago
    assert cache.get("e" * 64) is None


@pytest.mark.parametrize("setting", [{"auth_cache_seconds": 0}, {"token_cache": "off"}])
async def test_the_cache_can_be_turned_off(
    make_app: Callable[..., Awaitable[FastAPI]], setting: dict[str, Any]
) -> None:
    app = await make_app(**setting)
    assert app.state.ctx.token_cache is None
    async with client_for(app) as http:
        admin = await login_as(http, "admin@example.com")
        assert (await admin.get("/api/auth/me")).status_code == 200


def _fresh_get(base: str, path: str, token: str) -> httpx.Response:
    """One request on a new connection: the kernel picks the worker (SO_REUSEPORT)."""
    with httpx.Client(base_url=base, timeout=10) as c:
        return c.get(path, headers={"Authorization": f"Bearer {token}"})


async def test_logout_in_one_worker_is_refused_by_every_worker(
    make_app: Callable[..., Awaitable[FastAPI]],
) -> None:
    """Two real worker processes (``propops.infra.server``) on one database, both caching the token: a
    logout answered by one is refused at once by both (the other hears the NOTIFY)."""
    app = await make_app()
    settings = app.state.ctx.settings
    url = settings.database_url
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "PROPOPS_DATABASE_URL": url,
        "PROPOPS_SECRET_KEY": settings.secret_key,
        "PROPOPS_BACKGROUND_TASKS": "false",
        "PROPOPS_LOG_LEVEL": "WARNING",
        "PROPOPS_STORAGE_DIR": str(settings.storage_dir),
    }
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "propops.infra.server", "propops.main:asgi", "--factory", "--port", str(port),
         "--workers", "2", "--log-level", "warning"],
        env=env,
        cwd=ROOT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/api/ping", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start"
                await asyncio.sleep(0.2)
        login = await asyncio.to_thread(
            httpx.post, f"{base}/api/auth/login", json={"email": "admin@example.com", "password": DEMO_PASSWORD}
        )
        token = login.json()["token"]
        dbname = url.rpartition("/")[2]
        conn = await asyncpg.connect(app.state.ctx.token_cache.dsn)
        try:
            for _ in range(100):  # every worker serves, starts its listener and caches the token
                codes = [(await asyncio.to_thread(_fresh_get, base, "/api/auth/me", token)).status_code
                         for _ in range(10)]  # fmt: skip
                assert codes == [200] * 10
                listening = await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
                    dbname,
                    token_cache.APPLICATION_NAME,
                )
                if listening >= 2:
                    break
                await asyncio.sleep(0.1)
            assert listening >= 2, "both workers listen"
        finally:
            await conn.close()
        for _ in range(10):  # now served from the caches
            assert (await asyncio.to_thread(_fresh_get, base, "/api/auth/me", token)).status_code == 200

        def logout() -> int:
            with httpx.Client(base_url=base, timeout=10) as c:
                auth = {"Authorization": f"Bearer {token}"}
                csrf = c.get("/api/security/csrf-token", headers=auth).json()["data"]["token"]
                return c.post("/api/auth/logout", headers={**auth, "X-CSRF-Token": csrf}).status_code

        assert await asyncio.to_thread(logout) == 200
        after = [(await asyncio.to_thread(_fresh_get, base, "/api/auth/me", token)).status_code for _ in range(30)]
        assert after == [401] * 30, after
    finally:
        stop_process(proc)
