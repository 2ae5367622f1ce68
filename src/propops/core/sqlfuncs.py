"""SQL functions whose spelling differs between SQLite and PostgreSQL, as compiled constructs.

The one place a dialect difference lives: a Core statement uses ``utc_iso(col)`` and each dialect
renders its own SQL, so no statement is written twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class utc_iso(FunctionElement[str]):  # noqa: N801 - reads as a SQL function
    """A timestamp as ISO-8601 UTC with a Z, to the second (as ``propops.core.clock.iso``), formatted
    by the database (formatting in Python cost more than the query for a page of jobs)."""

    type = String()
    inherit_cache = True
    name = "utc_iso"


@compiles(utc_iso, "postgresql")
def _utc_iso_pg(element: utc_iso, compiler: Any, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    return f"""to_char({compiler.process(arg, **kw)} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""


@compiles(utc_iso, "sqlite")
def _utc_iso_sqlite(element: utc_iso, compiler: Any, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    return f"strftime('%Y-%m-%dT%H:%M:%SZ', {compiler.process(arg, **kw)})"


class seconds_between(FunctionElement[Any]):  # noqa: N801 - reads as a SQL function
    """``end - start`` in seconds, fractional: SQLite stores datetimes as text (``julianday`` gives
    fractional days), PostgreSQL subtracts timestamps. Untyped on purpose: the driver's value
    (float on SQLite, Decimal on PostgreSQL) reaches the caller unconverted."""

    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between, "postgresql")
def _seconds_between_pg(element: seconds_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"EXTRACT(EPOCH FROM {end} - {start})"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"(julianday({end}) - julianday({start})) * 86400.0"
