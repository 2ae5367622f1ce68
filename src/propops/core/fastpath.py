"""A raw-driver read path for the per-request hot queries (token lookup, small lookups).

Every authenticated request reads its token row; through the async ORM stack that read costs more
than the whole framework does. These readers run the same SQL straight on the driver: a plain
``sqlite3`` connection in autocommit mode (an indexed read takes microseconds, cheaper than a
thread hop) or a small ``asyncpg`` pool. Nothing is cached here, so revocation stays immediate in
every process: each request still reads the current committed row.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.engine import make_url

from propops.core.db import db_time_ms
from propops.core.errors import ServiceUnavailable


class FastReader(Protocol):
    paramstyle: str

    async def fetchone(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None: ...

    async def fetchall(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]: ...

    async def close(self) -> None: ...


def sql(template: str, reader: FastReader, count: int) -> str:
    """Fill ``{0}``, ``{1}``... with the driver's placeholders (numbered, so a template may use
    one parameter twice: ``?1`` on SQLite, ``$1`` on PostgreSQL)."""
    if reader.paramstyle == "qmark":
        return template.format(*[f"?{i + 1}" for i in range(count)])
    return template.format(*[f"${i + 1}" for i in range(count)])


class SQLiteReader:
    paramstyle = "qmark"

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=5000")
            conn.execute("PRAGMA query_only=1")
            self._conn = conn
        return self._conn

    async def fetchone(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        try:
            row: tuple[Any, ...] | None = self._connect().execute(sql, params).fetchone()
            return row
        except sqlite3.OperationalError as exc:
            raise ServiceUnavailable("The database is busy. Please retry.") from exc

    async def fetchall(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            return list(self._connect().execute(sql, params).fetchall())
        except sqlite3.OperationalError as exc:
            raise ServiceUnavailable("The database is busy. Please retry.") from exc

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


async def _nothing_to_reset(_conn: Any) -> None:
    return None


class PostgresReader:
    paramstyle = "numeric"

    def __init__(self, dsn: str, max_size: int = 10) -> None:
        self.dsn = dsn
        self.max_size = max_size
        self._pool: Any = None

    async def _get_pool(self) -> Any:
        if self._pool is None:
            import asyncpg

            # Statements here are few, fixed-shape and index-driven; a generic plan, made once per
            # connection and statement, saves re-planning on every call (planning a 6-table page
            # query cost ~1.5 ms, more than running it).
            # reset: the default runs "SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
            # RESET ALL" on every release, a round trip per read (3 % of the service's CPU under
            # load, plus the server's share). These connections only ever run single SELECTs in
            # autocommit, so there is no session state to reset.
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=1,
                max_size=self.max_size,
                server_settings={"plan_cache_mode": "force_generic_plan"},
                reset=_nothing_to_reset,
            )
        return self._pool

    async def fetchone(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        try:
            pool = await self._get_pool()
            row = await pool.fetchrow(sql, *params)
        except (OSError, ConnectionError) as exc:
            raise ServiceUnavailable("The database is unreachable. Please retry.") from exc
        except Exception as exc:
            if type(exc).__module__.startswith("asyncpg"):
                raise ServiceUnavailable("The database is unavailable. Please retry.") from exc
            raise
        return None if row is None else tuple(row)

    async def fetchall(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            pool = await self._get_pool()
            rows = await pool.fetch(sql, *params)
        except (OSError, ConnectionError) as exc:
            raise ServiceUnavailable("The database is unreachable. Please retry.") from exc
        except Exception as exc:
            if type(exc).__module__.startswith("asyncpg"):
                raise ServiceUnavailable("The database is unavailable. Please retry.") from exc
            raise
        return [tuple(r) for r in rows]

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def make_reader(database_url: str) -> FastReader | None:
    """None when the URL has no raw-driver equivalent (e.g. in-memory SQLite): callers use the engine."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            return None
        return SQLiteReader(url.database)
    if url.get_backend_name() == "postgresql":
        return PostgresReader(url.set(drivername="postgresql").render_as_string(hide_password=False))
    return None


def text_statement(template: str, params: tuple[Any, ...]) -> tuple[Any, dict[str, Any]]:
    """``template`` as a SQLAlchemy text statement (``:p0``, ``:p1``...) and its bound values, for
    running the raw reader's SQL through an engine or a session."""
    return text(template.format(*[f":p{i}" for i in range(len(params))])), {f"p{i}": v for i, v in enumerate(params)}


async def read(
    ctx_db: Any, reader: FastReader | None, template: str, params: tuple[Any, ...], *, one: bool = False
) -> Any:
    """Run ``template`` (placeholders ``{0}``, ``{1}``...) on the raw reader, or on the engine."""
    if reader is not None:
        query = sql(template, reader, len(params))
        started = time.perf_counter()
        try:
            return await (reader.fetchone(query, params) if one else reader.fetchall(query, params))
        finally:
            bucket = db_time_ms.get()
            if bucket is not None:
                bucket[0] += (time.perf_counter() - started) * 1000.0
    stmt, values = text_statement(template, params)
    async with ctx_db.engine.connect() as conn:
        result = await conn.execute(stmt, values)
        rows = [tuple(r) for r in result]
    return (rows[0] if rows else None) if one else rows
