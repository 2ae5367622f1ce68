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
