"""SQL functions whose spelling differs between SQLite and PostgreSQL, as compiled constructs.

The one place a dialect difference lives: a Core statement uses ``utc_iso(col)`` and each dialect
renders its own SQL, so no statement is written twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Integer, String, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from propops.core.db import UTCDateTime


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


class minus_minutes(FunctionElement[datetime]):  # noqa: N801 - reads as a SQL function
    """``timestamp - minutes`` (an integer expression). SQLite's ``datetime()`` answers second
    precision text, which compares with stored timestamps as text does."""

    type = UTCDateTime()
    inherit_cache = True
    name = "minus_minutes"


@compiles(minus_minutes, "postgresql")
def _minus_minutes_pg(element: minus_minutes, compiler: Any, **kw: Any) -> str:
    ts, minutes = (compiler.process(c, **kw) for c in element.clauses)
    return f"({ts} - make_interval(mins => {minutes}))"


@compiles(minus_minutes, "sqlite")
def _minus_minutes_sqlite(element: minus_minutes, compiler: Any, **kw: Any) -> str:
    ts, minutes = (compiler.process(c, **kw) for c in element.clauses)
    return f"datetime({ts}, '-' || ({minutes}) || ' minutes')"


class as_float(FunctionElement[float]):  # noqa: N801 - reads as a SQL function
    """A numeric (money) column as a float, as the API shows money."""

    type = Float()
    inherit_cache = True
    name = "as_float"


@compiles(as_float, "postgresql")
def _as_float_pg(element: as_float, compiler: Any, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    return f"CAST({compiler.process(arg, **kw)} AS double precision)"


@compiles(as_float, "sqlite")
def _as_float_sqlite(element: as_float, compiler: Any, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    return f"CAST({compiler.process(arg, **kw)} AS REAL)"


class json_array_agg(FunctionElement[str]):  # noqa: N801 - reads as a SQL function
    """Aggregate: a JSON array (text) of one object per row, keyed by the columns' names, in the order
    of the first argument (``json_array_agg(order, col, ...)``); ``[]`` when there are no rows.
    SQLite keeps the order of the rows it aggregates (so read them from an ordered subquery)."""

    type = String()
    inherit_cache = True
    name = "json_array_agg"


def _pairs(element: json_array_agg, compiler: Any, **kw: Any) -> tuple[str, str]:
    order, *columns = list(element.clauses)
    pairs = ", ".join(f"'{c.name}', {compiler.process(c, **kw)}" for c in columns)
    return compiler.process(order, **kw), pairs


@compiles(json_array_agg, "postgresql")
def _json_array_agg_pg(element: json_array_agg, compiler: Any, **kw: Any) -> str:
    order, pairs = _pairs(element, compiler, **kw)
    return f"coalesce(json_agg(json_build_object({pairs}) ORDER BY {order}), '[]')::text"


@compiles(json_array_agg, "sqlite")
def _json_array_agg_sqlite(element: json_array_agg, compiler: Any, **kw: Any) -> str:
    _, pairs = _pairs(element, compiler, **kw)
    return f"json_group_array(json_object({pairs}))"


class next_id(FunctionElement[int]):  # noqa: N801 - reads as a SQL function
    """The id the next row of an integer primary key column gets, usable twice in one INSERT ...
    SELECT (a job's ``job_ref`` is made from its id). PostgreSQL draws it from the column's
    sequence; SQLite assigns a new rowid as max + 1, and its single writer makes that race-free.
    The column is not an argument (it would put its table in the FROM list)."""

    type = Integer()
    inherit_cache = False  # the column is an attribute, not part of a cache key
    name = "next_id"

    def __init__(self, column: Any) -> None:
        super().__init__()
        self.column = column


@compiles(next_id, "postgresql")
def _next_id_pg(element: next_id, compiler: Any, **kw: Any) -> str:
    table, column = element.column.table.name, element.column.name
    return f"nextval(pg_get_serial_sequence({_quoted(table)}, {_quoted(column)}))"


def _quoted(name: str) -> str:
    """A schema name (never input) as a SQL string literal."""
    return "'" + name.replace("'", "''") + "'"


@compiles(next_id, "sqlite")
def _next_id_sqlite(element: next_id, compiler: Any, **kw: Any) -> str:
    biggest = select(func.coalesce(func.max(element.column), 0) + 1).correlate(None).scalar_subquery()
    return str(compiler.process(biggest, **kw))


class zero_padded(FunctionElement[str]):  # noqa: N801 - reads as a SQL function
    """An integer as text, left-padded with zeros to six digits (longer numbers unchanged), as
    Python's ``f"{n:06d}"``."""

    type = String()
    inherit_cache = True
    name = "zero_padded"


@compiles(zero_padded, "postgresql")
def _zero_padded_pg(element: zero_padded, compiler: Any, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    n = compiler.process(arg, **kw)
    return f"CASE WHEN {n} < 1000000 THEN lpad({n}::text, 6, '0') ELSE {n}::text END"


@compiles(zero_padded, "sqlite")
def _zero_padded_sqlite(element: zero_padded, compiler: Any, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    return f"printf('%06d', {compiler.process(arg, **kw)})"


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
