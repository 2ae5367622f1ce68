"""Test fixtures: a real database (SQLite file, or PostgreSQL when PROPOPS_TEST_DATABASE_URL names
one), built by running the migrations, seeded with the demo data, and the app driven over ASGI.

Set ``PROPOPS_TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test`` to run on
PostgreSQL: each test session creates (and drops) its own databases next to that one.

Databases, fastest first:

- ``app`` / ``client`` / ``admin`` …: the session-wide database, shared by every test. Tests that
  write create their own uniquely named records (and never disable, lock out or re-role a demo
  account: make a new one with ``tests.branches.util.new_agent`` or ``tests.quality.authz``).
- ``db_session``: a session on the shared database inside a transaction that is rolled back at the
  end of the test (its ``commit()`` releases a SAVEPOINT). For service-level tests that call
  services or run statements directly. Not for HTTP requests: the service reads committed rows on
  a separate raw-driver connection (the executor's committed reader), which
  cannot see an uncommitted outer transaction, and on SQLite the open write transaction would
  block the app's own writers.
- ``app_with(**settings)``: a second app with its own settings (rate limits, geocoder, SMTP …) on
  the shared database; same rules as the shared database.
- ``make_app(**settings)``: an app on a fresh database of its own, for exact counts, whole-table
  workers (outbox delivery, reminder and SLA scans) and changes to demo accounts or roles.

Why clones rather than SAVEPOINT rollback for the fresh databases: per-test rollback cannot serve
HTTP tests (see ``db_session``), and most ``make_app`` tests are HTTP tests. So the migrations and
the demo seed run once per session into two template databases (migrated, and migrated + seeded)
and every database after that is a copy: ``CREATE DATABASE … TEMPLATE`` on PostgreSQL, the
``sqlite3`` backup API on SQLite, plus a copy of the seeded certificate files. Measured on the
2-core test machine: building a fresh database took 3.4 s on SQLite (2.7 s migrations, 0.7 s seed)
and 9 s on PostgreSQL; a clone takes 0.03-0.1 s on both.

Each pytest-xdist worker is its own process with its own templates and shared database (uuid
names, per-worker temporary directories).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from propops.core.db import Database, make_engine
from propops.core.migrate import upgrade_async
from propops.core.settings import Settings
from propops.demo import seed_demo
from propops.main import create_app

DEMO_PASSWORD = "demo-pass-123"  # noqa: S105 - test fixture
PG_URL = os.environ.get("PROPOPS_TEST_DATABASE_URL", "")

Drop = Callable[[], Awaitable[None]]


def _pg_admin_dsn() -> str:
    """The database named in PROPOPS_TEST_DATABASE_URL, as a plain asyncpg DSN (for CREATE/DROP)."""
    rest = PG_URL.split("://", 1)[1]
    return "postgresql://" + rest


def _pg_url(name: str) -> str:
    return PG_URL.rpartition("/")[0] + "/" + name


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(_pg_admin_dsn())
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _pg_dropper(name: str) -> Drop:
    async def drop() -> None:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return drop


async def _noop() -> None:
    return None


async def create_database(tmp: Path) -> tuple[str, Drop]:
    """A new empty database: a SQLite file, or a freshly created PostgreSQL database."""
    if not PG_URL:
        return f"sqlite+aiosqlite:///{tmp / f'propops-{uuid.uuid4().hex[:8]}.db'}", _noop
    name = f"propops_t_{uuid.uuid4().hex[:10]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    return _pg_url(name), _pg_dropper(name)


async def clone_database(template_url: str, tmp: Path) -> tuple[str, Drop]:
    """A new database holding a copy of ``template_url`` (which nothing may be connected to)."""
    if not PG_URL:
        source = template_url.split(":///", 1)[1]
        target = tmp / f"propops-{uuid.uuid4().hex[:8]}.db"
        with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
        return f"sqlite+aiosqlite:///{target}", _noop
    name = f"propops_t_{uuid.uuid4().hex[:10]}"
    template = template_url.rpartition("/")[2]
    for attempt in range(50):
        try:
            await _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            break
        except asyncpg.ObjectInUseError:  # a closed connection to the template not yet gone
            if attempt == 49:
                raise
            await asyncio.sleep(0.1)
    return _pg_url(name), _pg_dropper(name)


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
class Templates:
    """The session's two template databases: migrated, and migrated + seeded (with its files)."""

    root: Path
    migrated: str = ""
    seeded: str = ""
    drops: list[Drop] = field(default_factory=list)

    async def build(self) -> None:
        self.migrated, drop = await create_database(self.root)
        self.drops.append(drop)
        await upgrade_async(self.migrated)
        self.seeded, drop = await clone_database(self.migrated, self.root)
        self.drops.append(drop)
        db = Database(self.seeded)
        try:
            await seed_demo(db, DEMO_PASSWORD, make_settings(self.seeded, self.root))
        finally:
            await db.dispose()

    async def clone(self, tmp: Path, *, seed: bool = True) -> tuple[str, Drop]:
        """A fresh database (and its storage directory under ``tmp``) copied from a template."""
        url, drop = await clone_database(self.seeded if seed else self.migrated, tmp)
        storage = self.root / "storage"
        if seed and storage.exists():
            shutil.copytree(storage, tmp / "storage", dirs_exist_ok=True)
        return url, drop

    async def aclose(self) -> None:
        for drop in reversed(self.drops):
            await drop()


@pytest.fixture(scope="session")
async def templates(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Templates]:
    t = Templates(tmp_path_factory.mktemp("templates"))
    try:
        await t.build()
        yield t
    finally:
        await t.aclose()


@dataclass
class Built:
    app: FastAPI
    settings: Settings
    drop: Drop

    async def aclose(self) -> None:
        await self.app.state.ctx.aclose()
        await self.drop()


async def build_app(templates: Templates, tmp: Path, *, seed: bool = True, **overrides: Any) -> Built:
    """An app on a fresh database cloned from the migrated (``seed=False``) or seeded template."""
    url, drop = await templates.clone(tmp, seed=seed)
    settings = make_settings(url, tmp, **overrides)
    return Built(app=create_app(settings), settings=settings, drop=drop)


@pytest.fixture(scope="session")
async def built(templates: Templates, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Built]:
    b = await build_app(templates, tmp_path_factory.mktemp("db"))
    yield b
    await b.aclose()


@pytest.fixture(scope="session")
def app(built: Built) -> FastAPI:
    return built.app


@pytest.fixture
async def make_app(templates: Templates, tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[FastAPI]]]:
    """A separate app on its own fresh database, for tests that need exact counts or settings."""
    made: list[Built] = []

    async def factory(**overrides: Any) -> FastAPI:
        made.append(await build_app(templates, tmp_path, **overrides))
        return made[-1].app

    yield factory
    for b in made:
        await b.aclose()


@pytest.fixture
async def app_with(built: Built) -> AsyncIterator[Callable[..., Awaitable[FastAPI]]]:
    """A separate app with its own settings on the shared database (unique records, as there)."""
    made: list[FastAPI] = []

    async def factory(**overrides: Any) -> FastAPI:
        unknown = set(overrides) - set(Settings.model_fields)
        assert not unknown, f"not settings: {unknown}"
        values = {**built.settings.model_dump(), **overrides}
        made.append(create_app(Settings(**values)))
        return made[-1]

    yield factory
    for a in made:
        await a.state.ctx.aclose()


def _sqlite_savepoints(engine: Any) -> None:
    """pysqlite defers BEGIN to the first write, so a SAVEPOINT could open (and its RELEASE commit)
    the transaction itself; SQLAlchemy's documented recipe: emit BEGIN ourselves."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")


@pytest.fixture(scope="session")
async def rollback_engine(built: Built) -> AsyncIterator[Any]:
    engine = make_engine(built.settings.database_url)
    if engine.dialect.name == "sqlite":
        _sqlite_savepoints(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def db_session(rollback_engine: Any) -> AsyncIterator[AsyncSession]:
    """A session on the shared database whose every change is rolled back after the test."""
    async with rollback_engine.connect() as conn:
        outer = await conn.begin()
        session = AsyncSession(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield session
        finally:
            await session.close()
            await outer.rollback()


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
    assert isinstance(body["error"], str)
    assert body["error"]
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


def unique_ip() -> str:
    """A client address no other test uses (login failures and rate limits are counted per IP)."""
    n = uuid.uuid4().int
    return f"10.{n % 250 + 1}.{(n >> 8) % 250 + 1}.{(n >> 16) % 250 + 1}"
