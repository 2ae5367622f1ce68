"""Database engine, sessions, the declarative base and per-request query timing.

One engine per app instance. SQLite is the embedded default (WAL, foreign keys on); PostgreSQL is
what production uses. Services only ``flush()``; the request's session dependency owns the commit,
so a multi-step write is one transaction.
"""

from __future__ import annotations

import contextvars
import time
import uuid as uuid_mod
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, MetaData, String, TypeDecorator, event, func, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool

from propops.core.clock import as_utc, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Always-aware UTC datetimes, on SQLite (which stores naive text) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def new_uuid() -> str:
    return str(uuid_mod.uuid4())


class UUIDMixin:
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)


def organisation_column(*, index: bool = True, nullable: bool = False) -> Any:
    """The owning organisation of a row (multi-tenancy, reference §1.10). No default on purpose:
    an insert that forgets it fails, instead of landing the row in another company."""
    return mapped_column(ForeignKey("organisations.id"), index=index, nullable=nullable)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# Accumulated database time of the current request, read by the timing middleware.
db_time_ms: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar("db_time_ms", default=None)


def _attach_query_timer(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        conn.info.setdefault("query_start", []).append(time.perf_counter())

    @event.listens_for(sync_engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        started = conn.info["query_start"].pop()
        bucket = db_time_ms.get()
        if bucket is not None:
            bucket[0] += (time.perf_counter() - started) * 1000.0


def _sqlite_pragmas(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.close()


POOL_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 5.0


def make_engine(url: str, *, pool: bool = True) -> AsyncEngine:
    kwargs: dict[str, Any] = {}
    if not pool:
        kwargs["poolclass"] = NullPool
    elif url.startswith("postgresql"):
        # pool_timeout: when the server is down, connects fail at once but requests queued behind
        # the overflow limit were only woken by the pool timeout (default 30 s): a hang past any
        # client's patience. 5 s turns that into a prompt 503. connect timeout: same for a server
        # that accepts TCP but does not answer.
        # No pre-ping: it cost a round trip on every checkout. A connection broken by a server
        # restart fails its request with a 503 and SQLAlchemy then discards the whole pool
        # (disconnect errors invalidate it), so recovery needs no ping.
        kwargs.update(
            pool_size=10,
            max_overflow=20,
            pool_recycle=1800,
            pool_timeout=POOL_TIMEOUT_SECONDS,
            connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
        )
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):
        _sqlite_pragmas(engine)
    _attach_query_timer(engine)
    return engine


class Database:
    """Engine plus session factory, owned by one app instance (or one CLI command)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def session(self) -> AsyncIterator[AsyncSession]:
        """One transaction per request: commit on success, roll back on any error."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def dispose(self) -> None:
        await self.engine.dispose()


async def resync_id_sequence(session: AsyncSession, table: Any) -> None:
    """After rows were inserted with explicit ids (the demo data), move PostgreSQL's id sequence
    past them, so the next ordinary insert does not collide; SQLite's rowid needs nothing."""
    if session.get_bind().dialect.name != "postgresql":
        return
    highest = select(func.max(table.c.id)).scalar_subquery()
    await session.execute(select(func.setval(func.pg_get_serial_sequence(table.name, "id"), highest)))
