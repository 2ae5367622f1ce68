"""The statement executor: SQLAlchemy Core statements run on the database driver, compiled once.

Every hot read and write is a Core statement (one copy of each rule, typed columns, dialect
differences in ``propops.core.sqlfuncs``); this module is the one way to run such a statement
outside the ORM. It runs it either

- ``await executor.committed(stmt, **params)``: on the committed-row reader (its own small pool:
  a plain ``sqlite3`` connection in autocommit, or an ``asyncpg`` pool), for GETs that need no
  transaction; the read-replica seam of the scale path; or
- ``await executor.in_transaction(session, stmt, **params)``: on the request session's own
  connection, inside its transaction (sees, and may make, its uncommitted writes; SQLAlchemy still
  owns BEGIN/COMMIT/ROLLBACK).

Why not ``session.execute(stmt)``: measured per statement (client CPU, PostgreSQL), an ORM select
cost 0.93 ms, a statement through the session 0.52 ms, the driver 0.24 ms; the hot paths are half
of the service's CPU under the load report's mix. So each statement is compiled once per dialect
(SQL text, positional parameter order, bind and result processors) and then only its values go to
the driver. Statements must be built once (module constants, or a dict of shapes keyed by the
caller): the cache is keyed by the statement object itself.

Rules: parameters are named ``bindparam``\\s given as keyword arguments; an ``IN`` over a constant
list is fine (expanded at compile time), an ``IN`` over a runtime list is refused (use a subquery or
one statement per shape). Result values pass through the column types' result processors (so a
``UTCDateTime`` column comes back aware on both databases); asyncpg already returns ``Decimal`` for
numerics, which is what ``Numeric`` wants.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from propops.core.db import db_time_ms
from propops.core.errors import ServiceUnavailable

Row = tuple[Any, ...]
Processor = Callable[[Any], Any]


class CommittedReader(Protocol):
    """A driver-level reader of committed rows (no transaction), positional parameters."""

    async def fetchall(self, sql: str, params: Sequence[Any]) -> list[Row]: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Compiled:
    """One statement as its dialect's driver takes it."""

    sql: str
    names: tuple[str, ...]  # positional parameter names
    constants: Mapping[str, Any]  # values fixed when the statement was built
    binders: tuple[Processor | None, ...]
    results: tuple[Processor | None, ...] | None  # None: no column needs processing
    # Python-side column defaults (INSERT) and onupdates (UPDATE) not given as parameters
    defaults: Mapping[str, Callable[[], Any]]

    def values(self, params: Mapping[str, Any]) -> list[Any]:
        out: list[Any] = []
        for name, bind in zip(self.names, self.binders, strict=True):
            if name in params:
                value = params[name]
            elif name in self.defaults:
                value = self.defaults[name]()
            elif name in self.constants:
                value = self.constants[name]
            else:
                raise TypeError(f"missing statement parameter {name!r}")
            out.append(value if bind is None or value is None else bind(value))
        return out

    def rows(self, raw: Sequence[Sequence[Any]]) -> list[Row]:
        if self.results is None:
            return [tuple(r) for r in raw]
        procs = self.results
        return [tuple(v if p is None or v is None else p(v) for p, v in zip(procs, r, strict=False)) for r in raw]


def _result_processor(type_: Any, dialect: Dialect) -> Processor | None:
    try:
        proc: Processor | None = type_._cached_result_processor(dialect, None)
    except TypeError:  # asyncpg's numeric processor wants the column's type OID; values are Decimal
        return None
    return proc


def compile_for(stmt: ClauseElement, dialect: Dialect) -> Compiled:
    """Compile ``stmt`` for ``dialect``: the SQL with positional placeholders and its processors."""
    compiled = stmt.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    required = {k for k, b in compiled.binds.items() if b.required}
    runtime_lists = [k for k, b in compiled.binds.items() if b.expanding and k in required]
    if runtime_lists:
        raise ValueError(f"IN over a runtime list is not supported here: {runtime_lists}")
    expanded = compiled.construct_expanded_state({k: None for k in required})
    names = tuple(expanded.positiontup or ())
    constants = {k: v for k, v in expanded.parameters.items() if k not in required}
    processors = {**compiled._bind_processors, **expanded.processors}
    binders: tuple[Processor | None, ...] = tuple(processors.get(n) for n in names)  # type: ignore[misc]
    results = tuple(_result_processor(c.type, dialect) for c in compiled._result_columns or ())
    defaults: dict[str, Callable[[], Any]] = {}
    for column, generator in [(c, c.default) for c in compiled.insert_prefetch] + [
        (c, c.onupdate) for c in compiled.update_prefetch
    ]:
        defaults[column.key] = _default_of(generator)
    return Compiled(expanded.statement, names, constants, binders, results if any(results) else None, defaults)


def _default_of(generator: Any) -> Callable[[], Any]:
    """A column's Python-side default as a no-argument callable (SQLAlchemy wraps plain callables
    to take an execution context, which these defaults ignore)."""
    if generator.is_callable:
        return lambda: generator.arg(None)
    value = generator.arg
    return lambda: value


class Executor:
    """Runs Core statements for one engine; owns the committed-row reader."""

    def __init__(self, engine: AsyncEngine, reader: CommittedReader | None) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.pg = self.dialect.name == "postgresql"
        self.reader = reader
        self._compiled: dict[int, tuple[ClauseElement, Compiled]] = {}

    def compiled(self, stmt: ClauseElement) -> Compiled:
        hit = self._compiled.get(id(stmt))
        if hit is not None and hit[0] is stmt:
            return hit[1]
        result = compile_for(stmt, self.dialect)
        self._compiled[id(stmt)] = (stmt, result)  # keeps stmt alive, so its id stays its own
        return result

    async def committed(self, stmt: ClauseElement, **params: Any) -> list[Row]:
        """Committed rows, outside any transaction (GETs)."""
        c = self.compiled(stmt)
        values = c.values(params)
        started = time.perf_counter()
        try:
            if self.reader is not None:
                raw = await self.reader.fetchall(c.sql, values)
            else:  # no driver-level equivalent (in-memory SQLite): a connection from the engine
                async with self.engine.connect() as conn:
                    raw = list((await conn.exec_driver_sql(c.sql, tuple(values))).fetchall())
        finally:
            _add_db_time(started)
        return c.rows(raw)

    async def committed_one(self, stmt: ClauseElement, **params: Any) -> Row | None:
        rows = await self.committed(stmt, **params)
        return rows[0] if rows else None

    async def in_transaction(self, session: AsyncSession, stmt: ClauseElement, **params: Any) -> list[Row]:
        """Rows of ``stmt`` run on the session's connection, inside its transaction."""
        c = self.compiled(stmt)
        values = c.values(params)
        if self.pg:
            driver = await _pg_driver(session)
            started = time.perf_counter()
            try:
                raw: Sequence[Sequence[Any]] = await driver.fetch(c.sql, *values)
            finally:
                _add_db_time(started)
            return c.rows(raw)
        conn = await session.connection()
        result = await conn.exec_driver_sql(c.sql, tuple(values))  # timed by the engine's events
        return c.rows(result.fetchall()) if result.returns_rows else []

    async def in_transaction_one(self, session: AsyncSession, stmt: ClauseElement, **params: Any) -> Row | None:
        rows = await self.in_transaction(session, stmt, **params)
        return rows[0] if rows else None

    async def close(self) -> None:
        if self.reader is not None:
            await self.reader.close()


def _add_db_time(started: float) -> None:
    bucket = db_time_ms.get()
    if bucket is not None:
        bucket[0] += (time.perf_counter() - started) * 1000.0


async def _pg_driver(session: AsyncSession) -> Any:
    """The session's asyncpg connection, looked up once per transaction, with the transaction
    begun (SQLAlchemy begins lazily at its first statement: a ``SELECT 1`` through the session
    begins it, and the session's COMMIT/ROLLBACK end it)."""
    transaction = session.sync_session.get_transaction()
    cached = session.info.get("propops.driver")
    if transaction is not None and cached is not None and cached[0] is transaction:
        driver = cached[1]
    else:
        conn = await session.connection()
        driver = (await conn.get_raw_connection()).driver_connection
        session.info["propops.driver"] = (session.sync_session.get_transaction(), driver)
    if not driver.is_in_transaction():
        await session.execute(text("SELECT 1"))
    return driver


# The committed-row readers.


class SQLiteReader:
    """A plain ``sqlite3`` connection in autocommit, read-only: an indexed read takes microseconds,
    cheaper than aiosqlite's thread hop."""

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

    async def fetchall(self, sql: str, params: Sequence[Any]) -> list[Row]:
        try:
            return list(self._connect().execute(sql, tuple(params)).fetchall())
        except sqlite3.OperationalError as exc:
            raise ServiceUnavailable("The database is busy. Please retry.") from exc

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


async def _nothing_to_reset(_conn: Any) -> None:
    return None


class PostgresReader:
    """A small asyncpg pool of autocommit connections for single SELECTs."""

    def __init__(self, dsn: str, max_size: int = 10) -> None:
        self.dsn = dsn
        self.max_size = max_size
        self._pool: Any = None

    async def _get_pool(self) -> Any:
        if self._pool is None:
            import asyncpg

            # Statements here are fixed-shape and index-driven; a generic plan, made once per
            # connection and statement, saves re-planning on every call (planning a 6-table page
            # query cost ~1.5 ms, more than running it).
            # reset: the default runs "SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
            # RESET ALL" on every release, a round trip per read (3 % of the service's CPU under
            # load). These connections only run single SELECTs in autocommit: no state to reset.
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=1,
                max_size=self.max_size,
                server_settings={"plan_cache_mode": "force_generic_plan"},
                reset=_nothing_to_reset,
            )
        return self._pool

    async def fetchall(self, sql: str, params: Sequence[Any]) -> list[Row]:
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


def make_reader(database_url: str) -> CommittedReader | None:
    """None when the URL has no driver-level equivalent (in-memory SQLite): the engine is used."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            return None
        return SQLiteReader(url.database)
    if url.get_backend_name() == "postgresql":
        return PostgresReader(url.set(drivername="postgresql").render_as_string(hide_password=False))
    return None
