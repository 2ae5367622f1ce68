"""Database outages are a clean 503 with the envelope, never a 500 or a hang, and never an
acknowledged write that was not committed. No real restart needed: the database is a closed port,
or the commit is made to fail the way a dropped connection fails."""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pytest
import sqlalchemy.exc
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from propops.core.db import Database
from propops.core.errors import database_unavailable
from propops.core.settings import Settings
from propops.main import create_app
from tests.conftest import AuthedClient, assert_error, client_for, login_as


def _closed_port() -> int:
    """A loopback port nobody listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _unavailable(r: httpx.Response) -> None:
    """503 with the PropOps failure envelope and a sentence about the database."""
    body = assert_error(r, 503, "database")
    assert body["request_id"]
    assert "Traceback" not in r.text


@pytest.mark.parametrize(
    "exc",
    [
        sqlalchemy.exc.OperationalError("SELECT 1", {}, ConnectionResetError("reset")),
        sqlalchemy.exc.InterfaceError("SELECT 1", {}, Exception("connection is closed")),
        sqlalchemy.exc.TimeoutError("QueuePool limit of size 10 overflow 20 reached"),
        ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed"),
        OSError("Multiple exceptions: [Errno 111] Connect call failed ('127.0.0.1', 5432)"),
        TimeoutError(),
    ],
)
def test_connection_failures_are_unavailable(exc: BaseException) -> None:
    assert database_unavailable(exc)


def test_connection_failure_as_cause_is_unavailable() -> None:
    class CannotConnectNowError(Exception):
        sqlstate = "57P03"  # the database system is starting up

    def wrapped() -> None:
        try:
            raise CannotConnectNowError("the database system is starting up")
        except CannotConnectNowError as inner:
            raise RuntimeError("wrapped") from inner

    with pytest.raises(RuntimeError) as outer:
        wrapped()
    assert database_unavailable(outer.value)


@pytest.mark.parametrize(
    "exc",
    [
        sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate key")),
        sqlalchemy.exc.ProgrammingError("SELECT nope", {}, Exception("syntax error")),
        FileNotFoundError(errno.ENOENT, "missing file"),
        ValueError("bug"),
        KeyError("bug"),
    ],
)
def test_query_and_programming_errors_are_not_unavailable(exc: BaseException) -> None:
    assert not database_unavailable(exc)


def _app_without_database(tmp_path: Path) -> FastAPI:
    """An app whose PostgreSQL URL points at a port nothing listens on."""
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}/propops"
    return create_app(
        Settings(
            environment="test",
            database_url=url,
            storage_dir=tmp_path / "storage",
            secret_key="test-secret-key-" + "x" * 32,
            log_level="WARNING",
        )
    )


async def test_app_on_a_closed_port_answers_503_quickly(tmp_path: Path) -> None:
    """Nothing listens on the database port: health and an authenticated route are 503 envelopes
    (the token cannot be checked, so not 401 either), and fast (no hang)."""
    app = _app_without_database(tmp_path)
    try:
        async with client_for(app) as c:
            started = time.perf_counter()
            _unavailable(await c.get("/api/health"))
            auth = {"Authorization": "Bearer " + "a" * 64}
            _unavailable(await c.get("/api/contractors/trades", headers=auth))
            _unavailable(await c.get("/api/jobs/manage", headers=auth, params={"action": "list"}))
            _unavailable(
                await c.post("/api/jobs/manage", headers={**auth, "X-CSRF-Token": "x"}, json={"action": "create"})
            )
            assert (await c.get("/api/ping")).status_code == 200  # the framework itself is fine
            assert time.perf_counter() - started < 10
    finally:
        await app.state.ctx.aclose()


async def test_orm_connection_refused_on_authenticated_routes_is_503(
    app_with: Callable[..., Any],
) -> None:
    """The token check works (the fast path still reaches its database) but the request's ORM
    session cannot connect: ORM reads and a write are 503 envelopes, not 500; once the database is
    back, the same app serves again without a restart. (The jobs list and job get read on the
    raw driver; ``test_app_on_a_closed_port_answers_503_quickly`` covers that path.)"""
    app: FastAPI = await app_with()
    async with client_for(app) as c:
        admin = await login_as(c, "admin@example.com")
        ctx = app.state.ctx
        working = ctx.db
        ctx.db = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}/propops")
        try:
            _unavailable(await admin.get("/api/agents/list", params={"action": "list"}))
            _unavailable(await admin.get("/api/admin/branches", params={"action": "list"}))
            _unavailable(
                await admin.post(
                    "/api/jobs/manage",
                    json={"action": "create", "job_title": "Outage job", "address_id": 1, "priority_id": 3},
                )
            )
        finally:
            await ctx.db.dispose()
            ctx.db = working
        r = await admin.get("/api/jobs/manage", params={"action": "list", "limit": 1})
        assert r.status_code == 200, r.text


async def test_failed_commit_is_503_and_nothing_is_acknowledged(admin: AuthedClient) -> None:
    """The connection drops at COMMIT: the client must see 503, not a 2xx for a row that was never
    committed (the session dependency commits before the response is sent)."""
    title = "Commit-drop job " + str(time.time_ns())

    async def dropped(self: AsyncSession) -> None:
        raise sqlalchemy.exc.OperationalError("COMMIT", {}, ConnectionResetError("server closed the connection"))

    with mock.patch.object(AsyncSession, "commit", dropped):
        r = await admin.post(
            "/api/jobs/manage",
            json={"action": "create", "job_title": title, "address_id": 1, "priority_id": 3, "job_type_id": 4},
        )
    _unavailable(r)
    found = await admin.get("/api/jobs/manage", params={"action": "list", "search": title})
    assert found.status_code == 200
    assert found.json()["count"] == 0


async def test_unavailable_is_not_a_hang_under_concurrency(tmp_path: Path) -> None:
    """Many concurrent requests against a dead database all end quickly as 503."""
    app = _app_without_database(tmp_path)
    try:
        async with client_for(app) as c:
            results = await asyncio.wait_for(asyncio.gather(*(c.get("/api/health") for _ in range(40))), timeout=20)
        assert {r.status_code for r in results} == {503}
    finally:
        await app.state.ctx.aclose()
