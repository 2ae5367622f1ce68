"""Reading and resolving the lookups: a priority or job type given by id or by name, and the trade list.

Job create and the SLA-rule writes resolve several lookups per request, so all three small tables
come back in one statement (``LOOKUPS``); the trade list is a hot read on the committed-row reader.
No HTTP here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import CompoundSelect, Integer, literal_column, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from propops.core.context import AppContext
from propops.core.errors import InvalidInput
from propops.lookups.models import JobType, Priority, Trade

PRIORITY_ALIASES = {"urgent": "emergency", "normal": "medium"}

TRADES = select(Trade.id, Trade.name).order_by(Trade.id)
_PRIORITIES, _JOB_TYPES, _TRADES = 1, 2, 3
LOOKUPS: CompoundSelect[Any] = union_all(
    *(
        select(literal_column(str(tag), Integer), table.id, table.name)
        for tag, table in ((_PRIORITIES, Priority), (_JOB_TYPES, JobType), (_TRADES, Trade))
    )
)


@dataclass
class Lookups:
    """Priorities and job types (a handful of rows) resolved by id or case-insensitive name."""

    priorities: dict[int, str]
    priority_by_name: dict[str, int]
    job_types: dict[int, str]
    job_type_by_name: dict[str, int]
    trades: frozenset[int] = frozenset()

    def priority(self, value: int | str | None, field: str) -> int:
        if value is None or value == "":
            raise InvalidInput.field(field, "is required")
        if isinstance(value, int):
            if value in self.priorities:
                return value
        else:
            key = value.strip().lower()
            if key.isdigit() and int(key) in self.priorities:
                return int(key)
            key = PRIORITY_ALIASES.get(key, key)
            if key in self.priority_by_name:
                return self.priority_by_name[key]
        names = ", ".join(self.priorities.values())
        raise InvalidInput.field(field, f"unknown priority (use an id or one of: {names}, Urgent, Normal)")

    def job_type(self, value: int | str | None, field: str) -> int | None:
        if value is None or value == "":
            return None
        if isinstance(value, int):
            if value in self.job_types:
                return value
        else:
            key = value.strip().lower()
            if key.isdigit() and int(key) in self.job_types:
                return int(key)
            if key in self.job_type_by_name:
                return self.job_type_by_name[key]
        raise InvalidInput.field(field, "unknown job type")


async def load_lookups(session: AsyncSession) -> Lookups:
    """The three small reference tables in one statement (job create reads them on every call)."""
    tables: dict[int, dict[int, str]] = {_PRIORITIES: {}, _JOB_TYPES: {}, _TRADES: {}}
    for table, id_, name in await session.execute(LOOKUPS):
        tables[int(table)][int(id_)] = name
    priorities, job_types = tables[_PRIORITIES], tables[_JOB_TYPES]
    return Lookups(
        priorities=priorities,
        priority_by_name={n.lower(): i for i, n in priorities.items()},
        job_types=job_types,
        job_type_by_name={n.lower(): i for i, n in job_types.items()},
        trades=frozenset(tables[_TRADES]),
    )


async def list_trades(ctx: AppContext) -> list[dict[str, Any]]:
    """A hot lookup: on the committed-row reader (``propops.infra.executor``)."""
    return [{"trade_id": r[0], "name": r[1]} for r in await ctx.executor.committed(TRADES)]
