"""A job's lifecycle columns as plain values, for the lifecycle writes (assign, accept, start,
complete, close, archive, cancel, recall, reopen).

Why not the ORM ``Job``: those writes are half of the service's CPU under the load report's mix,
and each ORM statement cost about four times a plain one on the session's own connection
(``reads.SessionRunner``). Here the row is read and locked with one SELECT … FOR UPDATE, changed
in Python, and written back with one UPDATE and one history INSERT, all inside the request's
transaction; the ORM session still owns BEGIN/COMMIT/ROLLBACK.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from propops.agents import repository as agents
from propops.core.clock import as_utc, iso
from propops.jobs import reads


@dataclass
class JobState:
    id: int
    uuid: str
    job_ref: str
    title: str
    property_id: int
    branch_id: int
    agent_id: int | None
    trade_id: int
    status_id: int
    contractor_id: int | None
    recall_count: int
    sla_due_at: datetime | None
    sla_target_hours: int | None
    assigned_at: datetime | None
    accepted_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True)
class ContractorRef:
    """What an assignment needs of the contractor: who, and where to send the email."""

    id: int
    email: str | None
    first_name: str


@dataclass(frozen=True)
class Place:
    """What an assignment needs of the property: the point for coverage, the address for the email."""

    latitude: float | None
    longitude: float | None
    postcode: str
    address: str


_NAMES = tuple(f.name for f in fields(JobState))
_STAMPS = frozenset({"sla_due_at", "assigned_at", "accepted_at", "started_at", "completed_at", "closed_at"})
# What a lifecycle write may change (besides updated_at), written back as one UPDATE.
LIFECYCLE = ("status_id", "contractor_id", "assigned_at", "accepted_at", "started_at", "completed_at", "closed_at",
             "recall_count")  # fmt: skip
_COLUMNS = ", ".join(f"j.{name}" for name in _NAMES)


def _stamp(value: Any) -> datetime | None:
    """PostgreSQL returns aware datetimes; SQLite the stored naive-UTC text."""
    if value is None:
        return None
    return as_utc(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))


async def lock(runner: reads.SessionRunner, principal: Any, job_uuid: str) -> JobState | None:
    """The job if the caller may see it, locked until the transaction ends (SQLite has no row
    locks: a no-op UPDATE takes the database write lock first, so a concurrent writer of the same
    job reads its state only after this transaction ends)."""
    q = reads.sql_for(runner)
    if not runner.pg:
        await runner("UPDATE jobs SET updated_at = updated_at WHERE uuid = {0}", job_uuid)
    visible = reads.visibility_sql(q, principal, "j")
    sql = f"SELECT {_COLUMNS} FROM jobs j WHERE j.uuid = {q.p(job_uuid)}"
    if visible:
        sql += f" AND {visible}"
    if runner.pg:
        sql += " FOR UPDATE OF j"
    rows = await runner(sql, *q.params)
    if not rows:
        return None
    values = dict(zip(_NAMES, rows[0], strict=True))
    for name in _STAMPS:
        values[name] = _stamp(values[name])
    return JobState(**values)


async def save(runner: reads.SessionRunner, state: JobState, now: datetime) -> None:
    """Write the lifecycle columns back (one UPDATE, every such column, so one statement shape)."""
    q = reads.sql_for(runner)
    sets = []
    for name in LIFECYCLE:
        value = getattr(state, name)
        sets.append(f"{name} = {q.ts(value) if name in _STAMPS and value is not None else q.p(value)}")
    sets.append(f"updated_at = {q.ts(now)}")
    await runner(f"UPDATE jobs SET {', '.join(sets)} WHERE id = {q.p(state.id)}", *q.params)


def history_value(value: Any) -> Any:
    """A value as the history (``job_events.before/after``) stores it: times ISO, money as text."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def _document(values: dict[str, Any] | None) -> str:
    """JSON text as SQLAlchemy's JSON type writes it (``None`` as the JSON null)."""
    return json.dumps(None if values is None else {k: history_value(v) for k, v in values.items()})


async def record(
    runner: reads.SessionRunner,
    job_id: int,
    user_id: int | None,
    event: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str | None,
    now: datetime,
) -> None:
    """One ``job_events`` row, as ``service.record`` writes it through the ORM."""
    q = reads.sql_for(runner)
    sql = (
        "INSERT INTO job_events (job_id, user_id, event, before, after, reason, created_at) VALUES "
        f"({q.p(job_id)}, {q.p(user_id)}, {q.p(event)}, {q.p(_document(before))}, {q.p(_document(after))}, "
        f"{q.p(reason)}, {q.ts(now)})"
    )
    await runner(sql, *q.params)


async def record_recall(
    runner: reads.SessionRunner, job_id: int, reason: str, user_id: int | None, now: datetime
) -> None:
    q = reads.sql_for(runner)
    sql = (
        "INSERT INTO job_recalls (job_id, reason, recalled_by_user_id, created_at) VALUES "
        f"({q.p(job_id)}, {q.p(reason)}, {q.p(user_id)}, {q.ts(now)})"
    )
    await runner(sql, *q.params)


# Cast of each inserted column on PostgreSQL: the INSERT takes its values from a SELECT (to use the
# new id twice), where untyped parameters would arrive as text.
_INSERT_TYPES = {
    "uuid": "varchar",
    "title": "varchar",
    "description": "text",
    "property_id": "integer",
    "branch_id": "integer",
    "agent_id": "integer",
    "trade_id": "integer",
    "job_type_id": "integer",
    "priority_id": "integer",
    "status_id": "integer",
    "contractor_id": "integer",
    "contractor_budget": "numeric",
    "client_budget": "numeric",
    "sla_target_hours": "integer",
    "sla_due_at": "timestamptz",
    "parent_job_id": "integer",
    "recall_count": "integer",
    "created_by_user_id": "integer",
    "reported_at": "timestamptz",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}


def job_ref_for(job_id: int) -> str:
    return f"JOB-{job_id:06d}"


async def insert_job(
    runner: reads.SessionRunner, values: dict[str, Any], *, uuid: str, user_id: int | None, now: datetime
) -> tuple[int, str]:
    """Insert a new job; its ``job_ref`` is made from its id (``JOB-000123``), unique because the
    id is. PostgreSQL: one statement (the id drawn from the sequence first, used for both).
    SQLite: insert with a temporary ref, then set it (no sequence to draw from; both are local)."""
    row = {**values, "uuid": uuid, "recall_count": 0, "created_by_user_id": user_id, "reported_at": now,
           "created_at": now, "updated_at": now}  # fmt: skip
    q = reads.sql_for(runner)
    names = list(_INSERT_TYPES)
    if runner.pg:
        cells = ", ".join(f"CAST({q.p(row[n])} AS {_INSERT_TYPES[n]})" for n in names)
        sql = (
            f"INSERT INTO jobs (id, job_ref, {', '.join(names)}) "
            "SELECT n.id, 'JOB-' || CASE WHEN n.id < 1000000 THEN lpad(n.id::text, 6, '0') ELSE n.id::text END, "
            f"{cells} FROM (SELECT nextval(pg_get_serial_sequence('jobs', 'id')) AS id) n RETURNING id, job_ref"
        )
        (job_id, job_ref), *_ = await runner(sql, *q.params)
        return int(job_id), str(job_ref)
    cells = ", ".join(_sqlite_value(q, n, row[n]) for n in names)
    temporary = f"TMP-{uuid.replace('-', '')[:16]}"
    sql = f"INSERT INTO jobs (job_ref, {', '.join(names)}) VALUES ({q.p(temporary)}, {cells}) RETURNING id"
    (job_id,), *_ = await runner(sql, *q.params)
    job_ref = job_ref_for(int(job_id))
    await runner("UPDATE jobs SET job_ref = {0} WHERE id = {1}", job_ref, int(job_id))
    return int(job_id), job_ref


def _sqlite_value(q: reads._Sql, name: str, value: Any) -> str:
    """As SQLAlchemy binds it on SQLite: naive-UTC timestamp text, decimals as floats."""
    if value is None:
        return q.p(None)
    if isinstance(value, datetime):
        return q.ts(value)
    if isinstance(value, Decimal):
        return q.p(float(value))
    return q.p(value)


async def contractor_ref(
    runner: reads.SessionRunner, contractor_id: int | None, contractor_uuid: str | None
) -> ContractorRef | None:
    q = reads.sql_for(runner)
    where = []
    if contractor_uuid is not None:
        where.append(f"c.uuid = {q.p(contractor_uuid)}")
    if contractor_id is not None:
        where.append(f"c.id = {q.p(contractor_id)}")
    rows = await runner(f"SELECT c.id, c.email, c.first_name FROM contractors c WHERE {' AND '.join(where)}", *q.params)
    return ContractorRef(int(rows[0][0]), rows[0][1], rows[0][2]) if rows else None


async def place(runner: reads.SessionRunner, property_id: int) -> Place:
    rows = await runner(
        "SELECT p.latitude, p.longitude, p.postcode, p.address_line1, p.address_line2, p.town "
        "FROM properties p WHERE p.id = {0}",
        property_id,
    )
    lat, lon, postcode, line1, line2, town = rows[0]
    address = ", ".join(x for x in (line1, line2, town, postcode) if x)
    return Place(lat, lon, postcode, address)


@dataclass(frozen=True)
class NewJobContext:
    """What a new job needs of its property, its default agent and its branch's SLA rules."""

    property_id: int
    branch_id: int
    active: bool
    own_agent_id: int | None
    sla_target_hours: int | None


async def new_job_context(
    runner: reads.SessionRunner,
    principal: Any,
    *,
    property_id: int | None,
    property_uuid: str | None,
    priority_id: int,
    job_type_id: int | None,
    own_agent: bool,
) -> NewJobContext | None:
    """The visible property (by uuid or id; None: not found or not visible), the caller's own agent
    row when ``own_agent``, and the SLA target (``branches.sla_target_hours``: the branch's job-type
    rule, else its generic rule for the priority) in one statement instead of three ORM ones."""
    q = reads.sql_for(runner)
    agent = f"(SELECT a.id FROM agents a WHERE a.user_id = {q.p(principal.user_id)})" if own_agent else "NULL"
    rule = f"r.branch_id = p.branch_id AND r.priority_id = {q.p(priority_id)} AND "
    if job_type_id is None:
        rule += "r.job_type_id IS NULL"
    else:
        rule += f"(r.job_type_id = {q.p(job_type_id)} OR r.job_type_id IS NULL)"
    where = f"p.uuid = {q.p(property_uuid)}" if property_uuid is not None else f"p.id = {q.p(property_id)}"
    visible = agents.visible_branches_sql(principal, q.p)
    if visible is not None:
        where += f" AND p.branch_id IN ({visible})"
    rows = await runner(
        f"SELECT p.id, p.branch_id, p.is_active, {agent}, "
        f"(SELECT r.target_hours FROM sla_rules r WHERE {rule} ORDER BY (r.job_type_id IS NULL) LIMIT 1) "
        f"FROM properties p WHERE {where}",
        *q.params,
    )
    if not rows:
        return None
    pid, branch_id, active, agent_id, target = rows[0]
    return NewJobContext(int(pid), int(branch_id), bool(active), None if agent_id is None else int(agent_id), target)
