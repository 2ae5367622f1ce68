"""Transitional: the SQL-string templates still read through here, on the executor's
committed-row reader (``propops.infra.executor``); it goes when the last template is a Core statement.

A raw-driver read path for the per-request hot queries (token lookup, small lookups).

Every authenticated request reads its token row; through the async ORM stack that read costs more
than the whole framework does. These readers run the same SQL straight on the driver: a plain
``sqlite3`` connection in autocommit mode (an indexed read takes microseconds, cheaper than a
thread hop) or a small ``asyncpg`` pool. Nothing is cached here, so revocation stays immediate in
every process: each request still reads the current committed row.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import text

from propops.core.db import db_time_ms
from propops.infra.executor import CommittedReader, SQLiteReader

FastReader = CommittedReader


def sql(template: str, reader: FastReader, count: int) -> str:
    """Fill ``{0}``, ``{1}``... with the driver's placeholders (numbered, so a template may use
    one parameter twice: ``?1`` on SQLite, ``$1`` on PostgreSQL)."""
    if isinstance(reader, SQLiteReader):
        return template.format(*[f"?{i + 1}" for i in range(count)])
    return template.format(*[f"${i + 1}" for i in range(count)])


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
            rows = await reader.fetchall(query, params)
            return (rows[0] if rows else None) if one else rows
        finally:
            bucket = db_time_ms.get()
            if bucket is not None:
                bucket[0] += (time.perf_counter() - started) * 1000.0
    stmt, values = text_statement(template, params)
    async with ctx_db.engine.connect() as conn:
        result = await conn.execute(stmt, values)
        rows = [tuple(r) for r in result]
    return (rows[0] if rows else None) if one else rows
