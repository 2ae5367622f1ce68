"""Test fixtures: a real database (SQLite file, or PostgreSQL when PROPOPS_TEST_DATABASE_URL names
one), built by running the migrations, seeded with the demo data, and the app driven over ASGI.

Set ``PROPOPS_TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test`` to run on
PostgreSQL: each test session creates (and drops) its own fresh database next to that one.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from propops.core.migrate import upgrade_async
from propops.core.settings import Settings
from propops.demo import seed_demo
from propops.main import create_app

DEMO_PASSWORD = "demo-pass-123"  # noqa: S105 - test fixture
PG_URL = os.environ.get("PROPOPS_TEST_DATABASE_URL", "")


def _pg_parts(url: str) -> tuple[str, str]:
    base, _, _name = url.rpartition("/")
    return base, url.split("://", 1)[1].rpartition("/")[0]


async def create_database(tmp: Path) -> tuple[str, Callable[[], Awaitable[None]]]:
    """A new empty database: a SQLite file, or a freshly created PostgreSQL database."""
    if not PG_URL:
        path = tmp / f"propops-{uuid.uuid4().hex[:8]}.db"

        async def noop() -> None:
            return None

        return f"sqlite+aiosqlite:///{path}", noop
    base, hostpart = _pg_parts(PG_URL)
    name = f"propops_t_{uuid.uuid4().hex[:10]}"
    admin_dsn = "postgresql://" + hostpart + "/" + PG_URL.rpartition("/")[2]
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()

    async def drop() -> None:
        c = await asyncpg.connect(admin_dsn)
        try:
            await c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await c.close()

    return f"{base}/{name}", drop


def make_settings(database_url: str, tmp: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "storage_dir": tmp / "storage",
        "secret_key": "test-secret-key-" + "x" * 32,
        "demo_password": DEMO_PASSWORD,
        "rate_limit_per_ip": 100_000,
        "rate_limit_per_account": 100_000,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Built:
    app: FastAPI
    settings: Settings
    drop: Callable[[], Awaitable[None]]


async def build_app(tmp: Path, *, seed: bool = True, **overrides: Any) -> Built:
    url, drop = await create_database(tmp)
    settings = make_settings(url, tmp, **overrides)
    await upgrade_async(url)
    app = create_app(settings)
    if seed:
        await seed_demo(app.state.ctx.db, DEMO_PASSWORD, settings)
    return Built(app=app, settings=settings, drop=drop)


@pytest.fixture(scope="session")
async def built(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Built]:
    b = await build_app(tmp_path_factory.mktemp("db"))
    yield b
    await b.app.state.ctx.aclose()
    await b.drop()


@pytest.fixture(scope="session")
def app(built: Built) -> FastAPI:
    return built.app


@pytest.fixture
async def make_app(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[FastAPI]]]:
    """A separate app on its own fresh database, for tests that need exact counts or settings."""
    made: list[Built] = []

    async def factory(**overrides: Any) -> FastAPI:
        b = await build_app(tmp_path, **overrides)
        made.append(b)
        return b.app

    yield factory
    for b in made:
        await b.app.state.ctx.aclose()
        await b.drop()


def client_for(app: FastAPI, ip: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c


class AuthedClient:
    """A signed-in session: adds the bearer token, and the CSRF token on writes unless told not to."""

    def __init__(self, http: httpx.AsyncClient, token: str, csrf: str, email: str) -> None:
        self.http = http
        self.token = token
        self.csrf = csrf
        self.email = email

    def _headers(self, method: str, csrf: bool, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"}
        if csrf and method in ("POST", "PUT", "PATCH", "DELETE"):
            headers["X-CSRF-Token"] = self.csrf
        headers.update(extra or {})
        return headers

    async def request(
        self, method: str, url: str, *, csrf: bool = True, headers: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        return await self.http.request(method, url, headers=self._headers(method, csrf, headers), **kw)

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("GET", url, **kw)

    async def post(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("POST", url, **kw)

    async def put(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("PUT", url, **kw)

    async def delete(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("DELETE", url, **kw)


async def login_as(http: httpx.AsyncClient, email: str, password: str = DEMO_PASSWORD) -> AuthedClient:
    r = await http.post("/api/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    r = await http.get("/api/security/csrf-token", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return AuthedClient(http, token, r.json()["data"]["token"], email)


@pytest.fixture
def login(client: httpx.AsyncClient) -> Callable[..., Awaitable[AuthedClient]]:
    async def _login(email: str, password: str = DEMO_PASSWORD) -> AuthedClient:
        return await login_as(client, email, password)

    return _login


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> AuthedClient:
    return await login_as(client, "admin@example.com")


@pytest.fixture
async def agent(client: httpx.AsyncClient) -> AuthedClient:
    return await login_as(client, "agent001@example.com")


@pytest.fixture
async def contractor(client: httpx.AsyncClient) -> AuthedClient:
    return await login_as(client, "contractor001@example.com")


def assert_error(r: httpx.Response, status: int, contains: str | None = None) -> dict[str, Any]:
    """The failure envelope, with the expected status."""
    assert r.status_code == status, f"{r.status_code} != {status}: {r.text}"
    body: dict[str, Any] = r.json()
    assert body["success"] is False
    assert isinstance(body["error"], str) and body["error"]
    assert body["message"] == body["error"]
    if contains:
        assert contains.lower() in body["error"].lower(), body["error"]
    return body


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a server's graceful shutdown), then SIGKILL after 20 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
