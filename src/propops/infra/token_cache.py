"""A per-process cache of token lookups, dropped the moment any account, token or permission changes.

The ``propops.core.context.TokenCache`` behind ``PROPOPS_TOKEN_CACHE=notify`` (the default; PostgreSQL
only), registered by ``propops.main.create_app``: core and auth never import this module.

Why: every authenticated request read its token row (token, user, permissions epoch) from the
database; under the load report that read was 8 % of the service's CPU and one statement per
request for PostgreSQL. A user's token is looked up many times a second under load, and it changes
almost never.

Why it stays correct (a revoked token or permission fails on its next request, in every process):

- PostgreSQL: statement triggers on ``users``, ``api_tokens`` and ``system_state`` (the permissions
  epoch) send ``NOTIFY propops_auth`` when their transaction commits (migration 0009), so a change
  made by any process, host or psql session reaches every listener. Each process keeps one
  ``LISTEN`` connection; a notice bumps the process's generation, and entries of an older
  generation are misses.
- This process's own commits bump the generation synchronously (SQLAlchemy session events below),
  so a logout answered by this process is seen by its very next request without waiting for the
  notice.
- A lookup records the generation before it reads; if a notice lands while the read is in flight,
  the row is not stored.
- No working listener, no cache. Before going live the listener checks that the triggers exist
  (code deployed before ``propops db upgrade`` would otherwise cache with nobody to invalidate)
  and that a notice it sends comes back; then it sends one every ``HEARTBEAT_SECONDS`` and goes
  dark when one fails to return within ``HEARTBEAT_TIMEOUT_SECONDS`` (a silently dead connection,
  a pooler that drops notices) or the connection drops (PostgreSQL restarted). Meanwhile every
  request reads the database as before. An entry also expires after ``auth_cache_seconds``.

A change is seen by another process once its notice arrives there: at the commit, a few
milliseconds at most, before the client that made the change has its answer in practice.

SQLite (the single-process development default) has no notifications: the cache is off there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

log = logging.getLogger("propops.infra.token_cache")

CHANNEL = "propops_auth"
AUTH_TABLES = frozenset({"users", "api_tokens", "system_state"})
TRIGGERS = tuple(f"trg_{table}_auth_changed" for table in sorted(AUTH_TABLES))  # migration 0009
HEARTBEAT = "heartbeat"
HEARTBEAT_SECONDS = 2.0
HEARTBEAT_TIMEOUT_SECONDS = 5.0
MAX_ENTRIES = 10_000
RECONNECT_MAX_SECONDS = 10.0
APPLICATION_NAME = "propops-auth-listener"  # how the listening connections show in pg_stat_activity
_FLAG = "propops.auth_changed"

_generation = 0


def generation() -> int:
    return _generation


def invalidate() -> None:
    """Every cached lookup of this process is stale from now on."""
    global _generation
    _generation += 1


class NotifyTokenCache:
    """Token hash -> the row of ``auth.service._AUTH_SQL``; live only while its listener listens."""

    def __init__(self, dsn: str, ttl_seconds: float, max_entries: int = MAX_ENTRIES) -> None:
        self.dsn = dsn
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self.entries: dict[str, tuple[int, float, tuple[Any, ...]]] = {}
        self.live = False
        self.hits = 0
        self._task: asyncio.Task[None] | None = None
        self._conn: Any = None
        self._lost = asyncio.Event()
        self._beat = asyncio.Event()

    def generation(self) -> int:
        return _generation

    def get(self, key: str) -> tuple[Any, ...] | None:
        if not self.live:
            self.start()
            return None
        entry = self.entries.get(key)
        if entry is None:
            return None
        gen, stored, row = entry
        if gen != _generation or time.monotonic() - stored > self.ttl:
            self.entries.pop(key, None)
            return None
        self.hits += 1
        return row

    def put(self, key: str, gen: int, row: tuple[Any, ...]) -> None:
        """``gen``: the generation read before the lookup started."""
        if not self.live or gen != _generation:
            return
        if len(self.entries) >= self.max_entries:
            self.entries.clear()
        self.entries[key] = (gen, time.monotonic(), row)

    # --- the listener -------------------------------------------------------------------------

    def start(self) -> None:
        """Start listening (once, on the running loop); the cache goes live when LISTEN succeeds."""
        if self._task is None or self._task.done():
            with contextlib.suppress(RuntimeError):  # no running loop: stay a plain read-through
                self._task = asyncio.get_running_loop().create_task(self._listen_forever())

    async def _listen_forever(self) -> None:
        import asyncpg

        delay = 0.5
        while True:
            try:
                self._lost.clear()
                settings = {"application_name": APPLICATION_NAME}
                conn = await asyncpg.connect(self.dsn, timeout=5, server_settings=settings)
                self._conn = conn
                conn.add_termination_listener(self._on_lost)
                found = await conn.fetchval(
                    "SELECT count(*) FROM pg_trigger WHERE tgname = ANY($1::text[]) AND tgenabled <> 'D'",
                    list(TRIGGERS),
                )
                if found != len(TRIGGERS):
                    raise RuntimeError(
                        f"{found} of the {len(TRIGGERS)} auth notice triggers exist: run `propops db upgrade`"
                    )
                await conn.add_listener(CHANNEL, self._on_notice)
                await self._heartbeat(conn)
                invalidate()  # whatever changed while nobody listened
                self.live = True
                delay = 0.5
                log.info("token cache live (LISTEN %s)", CHANNEL)
                while not self._lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._lost.wait(), HEARTBEAT_SECONDS)
                    if not self._lost.is_set():
                        await self._heartbeat(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: stay off, retry with backoff
                log.warning("token cache off, listener failed: %s: %s", type(exc).__name__, exc)
            self._go_dark()
            await asyncio.sleep(delay)
            delay = min(RECONNECT_MAX_SECONDS, delay * 2)

    async def _heartbeat(self, conn: Any) -> None:
        """A notice of our own must come back (any listener's heartbeat proves it as well)."""
        self._beat.clear()
        await asyncio.wait_for(conn.execute(f"NOTIFY {CHANNEL}, '{HEARTBEAT}'"), HEARTBEAT_TIMEOUT_SECONDS)
        try:
            await asyncio.wait_for(self._beat.wait(), HEARTBEAT_TIMEOUT_SECONDS)
        except TimeoutError:
            raise TimeoutError(f"no notice came back within {HEARTBEAT_TIMEOUT_SECONDS} s") from None

    def _on_notice(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload == HEARTBEAT:
            self._beat.set()
        else:
            invalidate()

    def _on_lost(self, *_args: Any) -> None:
        self._go_dark()
        self._lost.set()

    def _go_dark(self) -> None:
        self.live = False
        self.entries.clear()
        invalidate()
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._go_dark()


# --- this process's own commits ---------------------------------------------------------------


@event.listens_for(Session, "do_orm_execute")
def _bulk_write(state: ORMExecuteState) -> None:
    """``update(User)...``, ``delete(ApiToken)...`` and other statements on the auth tables."""
    if state.is_update or state.is_delete or state.is_insert:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in AUTH_TABLES:
            state.session.info[_FLAG] = True


@event.listens_for(Session, "after_flush")
def _unit_of_work(session: Session, _flush: UOWTransaction) -> None:
    for obj in (*session.dirty, *session.deleted):
        table = getattr(type(obj), "__tablename__", None)
        if table in AUTH_TABLES:
            session.info[_FLAG] = True
            return


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    # Also fired when a savepoint is released: only the outermost commit makes the change real.
    # A flag left by a rolled-back transaction is not cleared: one needless invalidation at most.
    if not session.in_nested_transaction() and session.info.pop(_FLAG, False):
        invalidate()
