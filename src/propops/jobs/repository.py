"""Which jobs a caller may see, and the busiest job statements, as SQLAlchemy Core built once.

(One module for every statement over ``jobs``, so past ~400 lines: they share the visibility
shapes and the column lists, and whoever looks for a job's SQL finds all of it here.)

``readable_jobs(principal)`` is the one rule of visibility: within the caller's organisation (the
``organisation_id`` parameter; another organisation's job is a missing one), staff see every job; agents the jobs
of the branches they see (``agents.repository.visible_branch_ids_for``); contractors the jobs
assigned to them; anyone else none. Every list, get, lock and assignment check of a job starts
from it, so a job the caller may not see is the same 404 everywhere.

Why Core and built once: the jobs list, job get, create and the lifecycle writes are the busiest
endpoints; through the ORM a page of 25 jobs cost ~20 ms of CPU. Each statement here is built once
per shape (the caller's account kind, and for the list which filters are present), compiled once
per dialect by ``propops.infra.executor`` and run on the driver: the database formats timestamps,
decides the SLA verdict (``jobs.sla``) and aggregates the remedial children, and rows come back as
plain tuples, read by name through a named tuple made from each statement's labelled columns.
The caller's user id and organisation are the ``viewer_id`` and ``organisation_id`` parameters
(``viewer(principal)``), never baked in.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    JSON,
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from propops.agents.models import Agent
from propops.agents.repository import CallerKind, visible_branch_ids_for
from propops.auth.models import ACCOUNT_AGENT, ACCOUNT_CONTRACTOR, ACCOUNT_STAFF, User
from propops.auth.service import Principal
from propops.branches.models import Branch
from propops.contractors.models import Contractor
from propops.core.clock import iso, utcnow
from propops.core.db import UTCDateTime
from propops.core.pagination import Page
from propops.core.sqlfuncs import as_float, json_array_agg, next_id, utc_iso, zero_padded
from propops.core.validation import like_pattern
from propops.infra.executor import Executor
from propops.jobs import lifecycle, sla
from propops.jobs.models import Job, JobEvent, JobRecall, JobRow
from propops.lookups.models import JobStatus, JobType, Priority, Trade
from propops.organisations.models import Organisation
from propops.properties.models import Property

KIND_NONE = 0  # an account type that sees no job
KINDS = (ACCOUNT_STAFF, ACCOUNT_AGENT, ACCOUNT_CONTRACTOR, KIND_NONE)
VIEWER = bindparam("viewer_id", type_=Integer())
ORGANISATION = bindparam("organisation_id", type_=Integer())  # the caller's: every statement compares it


def kind(principal: Principal) -> int:
    """The caller's account kind as far as job visibility goes."""
    return principal.account_type_id if principal.account_type_id in KINDS else KIND_NONE


def viewer(principal: Principal) -> dict[str, int]:
    """The parameters every statement built from ``readable_jobs`` takes."""
    return {"viewer_id": principal.user_id, "organisation_id": principal.organisation_id}


def _caller_kind(account_kind: int) -> CallerKind:
    if account_kind == ACCOUNT_STAFF:
        return "staff"
    return "agent" if account_kind == ACCOUNT_AGENT else "none"


def readable_condition(account_kind: int, jobs: Any = Job) -> ColumnElement[bool]:
    """The visibility rule on ``jobs`` (``Job`` or an alias of it): the caller's organisation, and
    within it every job (staff), the jobs of their branches (agents) or their own (contractors)."""
    same_organisation = cast("ColumnElement[bool]", jobs.organisation_id == ORGANISATION)
    if account_kind == ACCOUNT_STAFF:
        return same_organisation
    if account_kind == ACCOUNT_AGENT:
        branches = visible_branch_ids_for("agent", VIEWER)
        assert branches is not None
        return and_(same_organisation, jobs.branch_id.in_(branches))
    if account_kind == ACCOUNT_CONTRACTOR:
        own = select(Contractor.id).where(Contractor.user_id == VIEWER).correlate(None)
        return and_(same_organisation, jobs.contractor_id.in_(own))
    return false()


@functools.cache
def _readable(account_kind: int) -> Select[Job]:
    return select(Job).where(readable_condition(account_kind))


def readable_jobs(principal: Principal) -> Select[Job]:
    """``SELECT jobs`` limited to the jobs the caller may see; run it (and anything built on it)
    with ``viewer(principal)``. One statement object per account kind, so what is built on it can
    be built once per kind too."""
    return _readable(kind(principal))


# --------------------------------------------------------------------------- the job as the API shows it

_parent = aliased(Job, name="pj")
_agent_user = aliased(User, name="au")
_contractor = aliased(Contractor, name="c")
_agent = aliased(Agent, name="a")
_property = aliased(Property, name="p")


def _name_of(table: Any, key: Any) -> Any:
    """A lookup's name as a scalar subquery, not a join: PostgreSQL plans each on its own, while
    every extra join multiplies the join-order search (11 joined tables cost ~6 ms of planning per
    query, more than executing it)."""
    return select(table.name).where(table.id == key).scalar_subquery()


_STAMPS = ("reported_at", "assigned_at", "accepted_at", "started_at", "completed_at", "closed_at")
# The columns of a job as the API shows it, labelled; the order is the order of ``payload``.
_VIEW_COLUMNS: tuple[Any, ...] = (
    Job.id.label("id"),
    Job.uuid.label("uuid"),
    Job.job_ref.label("job_ref"),
    Job.title.label("title"),
    Job.description.label("description"),
    Job.status_id.label("status_id"),
    Job.priority_id.label("priority_id"),
    Job.job_type_id.label("job_type_id"),
    Job.trade_id.label("trade_id"),
    Job.branch_id.label("branch_id"),
    Job.agent_id.label("agent_id"),
    Job.contractor_id.label("contractor_id"),
    Job.property_id.label("property_id"),
    as_float(Job.client_budget).label("client_budget"),
    as_float(Job.contractor_budget).label("contractor_budget"),
    *(utc_iso(getattr(Job, name)).label(name) for name in (*_STAMPS, "sla_due_at")),
    Job.sla_target_hours.label("sla_target_hours"),
    sla.status_case(Job).label("sla_status"),
    Job.recall_count.label("recall_count"),
    utc_iso(Job.created_at).label("created_at"),
    utc_iso(Job.updated_at).label("updated_at"),
    _property.uuid.label("address_uuid"),
    _property.address_line1.label("line1"),
    _property.address_line2.label("line2"),
    _property.town.label("town"),
    _property.postcode.label("postcode"),
    _name_of(JobStatus, Job.status_id).label("status_name"),
    _name_of(Priority, Job.priority_id).label("priority_name"),
    _name_of(JobType, Job.job_type_id).label("job_type_name"),
    _name_of(Trade, Job.trade_id).label("trade_name"),
    _name_of(Branch, Job.branch_id).label("branch_name"),
    _agent.uuid.label("agent_uuid"),
    _agent_user.first_name.label("agent_first"),
    _agent_user.last_name.label("agent_last"),
    _contractor.uuid.label("contractor_uuid"),
    _contractor.first_name.label("contractor_first"),
    _contractor.last_name.label("contractor_last"),
    _contractor.company_name.label("contractor_company"),
    select(_parent.uuid).where(_parent.id == Job.parent_job_id).scalar_subquery().label("parent_job_uuid"),
)


class JobView(NamedTuple):
    """A row of ``_VIEW_COLUMNS``, read by name (timestamps are ISO text, money floats)."""

    id: int
    uuid: str
    job_ref: str
    title: str
    description: str
    status_id: int
    priority_id: int
    job_type_id: int | None
    trade_id: int
    branch_id: int
    agent_id: int | None
    contractor_id: int | None
    property_id: int
    client_budget: float | None
    contractor_budget: float | None
    reported_at: str
    assigned_at: str | None
    accepted_at: str | None
    started_at: str | None
    completed_at: str | None
    closed_at: str | None
    sla_due_at: str | None
    sla_target_hours: int | None
    sla_status: str | None
    recall_count: int
    created_at: str
    updated_at: str
    address_uuid: str
    line1: str
    line2: str | None
    town: str | None
    postcode: str
    status_name: str
    priority_name: str
    job_type_name: str | None
    trade_name: str
    branch_name: str
    agent_uuid: str | None
    agent_first: str | None
    agent_last: str | None
    contractor_uuid: str | None
    contractor_first: str | None
    contractor_last: str | None
    contractor_company: str | None
    parent_job_uuid: str | None


if JobView._fields != tuple(c.name for c in _VIEW_COLUMNS):  # pragma: no cover - a column added to one only
    raise RuntimeError("JobView and _VIEW_COLUMNS differ")
_VIEW_WIDTH = len(JobView._fields)


def _view_from(source: Any) -> Any:
    """``source`` (``Job`` or the page subquery joined to it) with the property, agent and
    contractor the view shows."""
    return (
        source.join(_property, _property.id == Job.property_id)
        .outerjoin(_agent, _agent.id == Job.agent_id)
        .outerjoin(_agent_user, _agent_user.id == _agent.user_id)
        .outerjoin(_contractor, _contractor.id == Job.contractor_id)
    )


def payload(row: tuple[Any, ...], principal: Principal) -> dict[str, Any]:
    """One job as the API shows it (the fields of ``schemas.JobRead``)."""
    r = JobView._make(row[:_VIEW_WIDTH])
    contractor_name = None
    if r.contractor_uuid is not None:
        contractor_name = f"{r.contractor_first} {r.contractor_last}".strip() + (
            f" ({r.contractor_company})" if r.contractor_company else ""
        )
    return {
        "ID": r.id,
        "uuid": r.uuid,
        "job_ref": r.job_ref,
        "job_title": r.title,
        "job_description": r.description,
        "status_id": r.status_id,
        "status_name": r.status_name,
        "priority_id": r.priority_id,
        "priority_name": r.priority_name,
        "job_type_id": r.job_type_id,
        "job_type_name": r.job_type_name,
        "trade_id": r.trade_id,
        "trade_name": r.trade_name,
        "branch_id": r.branch_id,
        "branch_name": r.branch_name,
        "agent_id": r.agent_id,
        "agent_uuid": r.agent_uuid,
        "agent_name": None if r.agent_uuid is None else f"{r.agent_first} {r.agent_last}".strip(),
        "contractor_id": r.contractor_id,
        "contractor_uuid": r.contractor_uuid,
        "contractor_name": contractor_name,
        "address_id": r.property_id,
        "address_uuid": r.address_uuid,
        "full_address": ", ".join(x for x in (r.line1, r.line2, r.town, r.postcode) if x),
        "postcode": r.postcode,
        # The client budget is commercial information the contractor does not see.
        "job_total_budget": None if principal.account_type_id == ACCOUNT_CONTRACTOR else r.client_budget,
        "contractor_budget": r.contractor_budget,
        "reported_at": r.reported_at,
        "assigned_at": r.assigned_at,
        "accepted_at": r.accepted_at,
        "started_at": r.started_at,
        "completed_at": r.completed_at,
        "closed_at": r.closed_at,
        "sla_target_hours": r.sla_target_hours,
        "sla_due_at": r.sla_due_at,
        "sla_status": r.sla_status,
        "recall_count": r.recall_count,
        "parent_job_uuid": r.parent_job_uuid,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    }


# --------------------------------------------------------------------------- the list


@dataclass(frozen=True)
class JobFilters:
    """The list's filters; None: not filtered. ``search`` is already lower-cased text."""

    search: str | None = None
    status_id: int | None = None
    priority_id: int | None = None
    branch_id: int | None = None
    trade_id: int | None = None
    job_type_id: int | None = None
    agent_id: int | None = None
    agent_uuid: str | None = None
    contractor_id: int | None = None
    contractor_uuid: str | None = None
    created_by: int | None = None
    address_id: int | None = None
    sla_status: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None


_FILTER_NAMES = tuple(f.name for f in fields(JobFilters) if f.name != "sla_status")


def _filter(name: str) -> ColumnElement[bool]:
    """The condition of one filter, its value the parameter of the same name."""
    equal_to = {
        "status_id": Job.status_id,
        "priority_id": Job.priority_id,
        "branch_id": Job.branch_id,
        "trade_id": Job.trade_id,
        "job_type_id": Job.job_type_id,
        "agent_id": Job.agent_id,
        "contractor_id": Job.contractor_id,
        "created_by": Job.created_by_user_id,
        "address_id": Job.property_id,
    }
    if name in equal_to:
        column = equal_to[name]
        return column == bindparam(name, type_=column.type)
    if name == "agent_uuid":
        return Job.agent_id == select(Agent.id).where(Agent.uuid == bindparam(name)).correlate(None).scalar_subquery()
    if name == "contractor_uuid":
        by_uuid = select(Contractor.id).where(Contractor.uuid == bindparam(name)).correlate(None)
        return Job.contractor_id == by_uuid.scalar_subquery()
    if name == "date_from":
        return Job.reported_at >= bindparam(name, type_=UTCDateTime())
    if name == "date_to":
        return Job.reported_at < bindparam(name, type_=UTCDateTime())
    if name == "search":
        pattern: Any = bindparam(name)
        return or_(
            func.lower(Job.title).like(pattern, escape="\\"),
            func.lower(Job.job_ref).like(pattern, escape="\\"),
            func.lower(Job.description).like(pattern, escape="\\"),
        )
    raise ValueError(f"unknown job filter {name!r}")


@dataclass(frozen=True)
class ListStatements:
    page: Select[Any]  # the view columns of one page, then the total count
    count: Select[Any]  # the count alone (an empty page)


# How many list shapes a process keeps (each is compiled once per dialect and kept): the list's
# filters combine into thousands of shapes; what the load sends uses a handful.
MAX_LIST_SHAPES = 256


@functools.lru_cache(maxsize=MAX_LIST_SHAPES)
def list_statements(account_kind: int, present: frozenset[str], sla_status: str | None) -> ListStatements:
    """The list of ``account_kind``'s jobs filtered by the ``present`` filters (and a verdict),
    newest first. The count rides on the page as an uncorrelated subquery (its own ``jobs`` hides
    the outer one) that both databases evaluate once, so a page costs one round trip, not two."""
    base = _readable(account_kind)
    conditions = [_filter(name) for name in _FILTER_NAMES if name in present]
    if sla_status is not None:
        conditions.append(sla.verdict(Job, sla_status))
    matching = base.with_only_columns(Job.id).where(*conditions)
    count = base.with_only_columns(func.count(), maintain_column_froms=True).where(*conditions).correlate(None)
    page_ids = (
        matching.order_by(Job.id.desc())
        .limit(bindparam("limit", type_=Integer()))
        .offset(bindparam("offset", type_=Integer()))
        .subquery("pg")
    )
    page = (
        select(*_VIEW_COLUMNS, count.scalar_subquery().label("total"))
        .select_from(_view_from(page_ids.join(Job, Job.id == page_ids.c.id)))
        .order_by(Job.id.desc())
    )
    return ListStatements(page, count)


def list_parameters(f: JobFilters) -> tuple[frozenset[str], dict[str, Any]]:
    """The filters present and their values, as ``list_statements`` takes them."""
    values = {name: getattr(f, name) for name in _FILTER_NAMES if getattr(f, name) is not None}
    if "search" in values:
        values["search"] = like_pattern(values["search"])
    return frozenset(values), values


# --------------------------------------------------------------------------- one job with its children

_child = aliased(Job, name="ch")


def _children(account_kind: int) -> Any:
    """The remedial children of ``Job`` the caller may see, as a JSON array text, oldest first."""
    rows = (
        select(_child.uuid.label("uuid"), _child.job_ref.label("job_ref"), _child.id.label("ord"))
        .where(_child.parent_job_id == Job.id)
        .order_by(_child.id)
        .correlate(Job)
    )
    x = rows.where(readable_condition(account_kind, _child)).subquery("x")
    return select(json_array_agg(x.c.ord, x.c.uuid, x.c.job_ref)).scalar_subquery().label("remedial_jobs")


@functools.cache
def detail_by_uuid(account_kind: int) -> Select[Any]:
    """A visible job by ``uuid`` with its visible remedial children."""
    base = _readable(account_kind).where(Job.uuid == bindparam("uuid"))
    return base.with_only_columns(*_VIEW_COLUMNS, _children(account_kind)).select_from(_view_from(Job.__table__))


@functools.cache
def detail_by_id(account_kind: int) -> Select[Any]:
    """The job a write just changed, by ``job_id``, inside the write's transaction (the write locked
    it through ``readable_jobs``, so it is visible; its children are still filtered)."""
    columns = (*_VIEW_COLUMNS, _children(account_kind))
    return select(*columns).select_from(_view_from(Job.__table__)).where(Job.id == bindparam("job_id"))


# --------------------------------------------------------------------------- running the reads


def _runner(executor: Executor, session: AsyncSession | None) -> Callable[..., Awaitable[list[tuple[Any, ...]]]]:
    """Committed rows (a GET: no transaction), or inside ``session``'s transaction (after a write)."""
    if session is None:
        return executor.committed
    return functools.partial(executor.in_transaction, session)


async def list_jobs(
    executor: Executor,
    principal: Principal,
    page: Page,
    f: JobFilters,
    *,
    session: AsyncSession | None = None,
    now: datetime | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Visible jobs, newest first (ID descending: stable); the count is of every match."""
    present, values = list_parameters(f)
    statements = list_statements(kind(principal), present, f.sla_status)
    run = _runner(executor, session)
    params = {**viewer(principal), **values, "now": now or utcnow()}
    rows = await run(statements.page, **params, limit=page.limit, offset=page.offset)
    if not rows:  # no match, or a page past the end: the count alone
        return [], int((await run(statements.count, **params))[0][0])
    return [payload(r, principal) for r in rows], int(rows[0][-1])


async def job_detail(executor: Executor, principal: Principal, job_uuid: str) -> dict[str, Any] | None:
    """One visible job with its remedial children and the caller's allowed actions (None: 404),
    from committed rows."""
    row = await executor.committed_one(
        detail_by_uuid(kind(principal)), **viewer(principal), uuid=job_uuid, now=utcnow()
    )
    return None if row is None else _detail(row, principal)


async def job_detail_in(executor: Executor, session: AsyncSession, principal: Principal, job_id: int) -> dict[str, Any]:
    """The job a write just changed, read inside the write's transaction."""
    row = await executor.in_transaction_one(
        session, detail_by_id(kind(principal)), **viewer(principal), job_id=job_id, now=utcnow()
    )
    assert row is not None
    return _detail(row, principal)


def _detail(row: tuple[Any, ...], principal: Principal) -> dict[str, Any]:
    data = payload(row, principal)
    data["remedial_jobs"] = json.loads(row[_VIEW_WIDTH] or "[]")
    data["allowed_actions"] = lifecycle.allowed_actions(data["status_id"], data["accepted_at"] is not None, principal)
    return data


# --------------------------------------------------------------------------- writes
# Every write runs in the request's transaction (``executor.in_transaction``): the lifecycle
# writes are half of the service's CPU under the load report's mix, and each ORM statement cost
# about four times the same statement on the driver. The ORM session still owns BEGIN/COMMIT.

ROW_COLUMNS = tuple(Job.__table__.c[name] for name in JobRow._fields)
_jobs = Job.__table__


@functools.cache
def find_statement(account_kind: int, lock: bool) -> Select[Any]:
    """A visible job by ``uuid``, every column (a ``JobRow``); ``lock``: FOR UPDATE OF jobs on
    PostgreSQL (SQLite has none: see ``TOUCH``)."""
    stmt = _readable(account_kind).with_only_columns(*ROW_COLUMNS).where(Job.uuid == bindparam("uuid"))
    return stmt.with_for_update(of=Job) if lock else stmt


# SQLite has no row locks: a no-op write takes the database write lock first, so a concurrent
# writer of the same job reads its state only after this transaction ends.
TOUCH = update(Job).where(Job.uuid == bindparam("job_uuid")).values(updated_at=Job.updated_at)


async def find_job(
    executor: Executor, session: AsyncSession, principal: Principal, job_uuid: str, *, lock: bool
) -> JobRow | None:
    """The job if the caller may see it (None: 404); ``lock``: locked until the transaction ends."""
    if lock and not executor.pg:
        await executor.in_transaction(session, TOUCH, job_uuid=job_uuid)
    statement = find_statement(kind(principal), lock)
    row = await executor.in_transaction_one(session, statement, **viewer(principal), uuid=job_uuid)
    return None if row is None else JobRow._make(row)


# The lifecycle columns written back as one UPDATE (every such column, so one statement shape).
SAVE = (
    update(Job)
    .where(Job.id == bindparam("job_id"))
    .values(
        {
            **{name: bindparam(name, type_=_jobs.c[name].type) for name in lifecycle.LIFECYCLE_COLUMNS},
            "updated_at": bindparam("now", type_=UTCDateTime()),
        }
    )
)


async def save(executor: Executor, session: AsyncSession, job: JobRow, now: datetime) -> None:
    values = {name: getattr(job, name) for name in lifecycle.LIFECYCLE_COLUMNS}
    await executor.in_transaction(session, SAVE, job_id=job.id, now=now, **values)


RECORD = insert(JobEvent).values(
    job_id=bindparam("job_id"),
    user_id=bindparam("user_id", type_=Integer()),
    event=bindparam("event"),
    before=bindparam("before", type_=JobEvent.__table__.c.before.type),
    after=bindparam("after", type_=JobEvent.__table__.c.after.type),
    reason=bindparam("reason", type_=String()),
    created_at=bindparam("now", type_=UTCDateTime()),
)


def history_value(value: Any) -> Any:
    """A value as the history (``job_events.before/after``) stores it: times ISO, money as text."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def _document(values: dict[str, Any] | None) -> Any:
    # JSON.NULL: the JSON null, as the ORM wrote it (a Python None would be SQL NULL here)
    return JSON.NULL if values is None else {k: history_value(v) for k, v in values.items()}


async def record(
    executor: Executor,
    session: AsyncSession,
    job_id: int,
    user_id: int | None,
    event: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> None:
    """One history entry (``job_events``: who, what, before, after, when): the only writer."""
    await executor.in_transaction(
        session,
        RECORD,
        job_id=job_id,
        user_id=user_id,
        event=event,
        before=_document(before),
        after=_document(after),
        reason=reason,
        now=now or utcnow(),
    )


RECALL = insert(JobRecall).values(
    job_id=bindparam("job_id"),
    reason=bindparam("reason"),
    recalled_by_user_id=bindparam("user_id", type_=Integer()),
    created_at=bindparam("now", type_=UTCDateTime()),
)


async def record_recall(
    executor: Executor, session: AsyncSession, job_id: int, reason: str, user_id: int | None, now: datetime
) -> None:
    await executor.in_transaction(session, RECALL, job_id=job_id, reason=reason, user_id=user_id, now=now)


# --------------------------------------------------------------------------- create


@dataclass(frozen=True)
class NewJobContext:
    """What a new job needs of its property, its default agent and its branch's SLA rules."""

    property_id: int
    branch_id: int
    active: bool
    own_agent_id: int | None
    sla_target_hours: int | None
    organisation_settings: dict[str, Any] | None  # raw; read through organisations.settings


@functools.cache
def context_statement(account_kind: int, by_uuid: bool, own_agent: bool) -> Select[Any]:
    """The property (by ``property_uuid`` or ``property_id``) if it is in a branch the caller sees,
    the caller's own agent row when ``own_agent``, and the SLA target for ``priority_id`` and
    ``job_type_id`` (``sla.target_hours``), in one statement instead of three."""
    agent: Any = null()
    if own_agent:
        agent = select(Agent.id).where(Agent.user_id == VIEWER).correlate(None).scalar_subquery()
    target = sla.target_hours(
        Property.branch_id, bindparam("priority_id", type_=Integer()), bindparam("job_type_id", type_=Integer())
    )
    where = Property.uuid == bindparam("property_uuid") if by_uuid else Property.id == bindparam("property_id")
    settings = select(Organisation.settings).where(Organisation.id == ORGANISATION).scalar_subquery()
    stmt = select(Property.id, Property.branch_id, Property.is_active, agent, target.scalar_subquery(), settings).where(
        where, Property.organisation_id == ORGANISATION
    )
    branches = visible_branch_ids_for(_caller_kind(account_kind), VIEWER)
    return stmt if branches is None else stmt.where(Property.branch_id.in_(branches))


async def new_job_context(
    executor: Executor,
    session: AsyncSession,
    principal: Principal,
    *,
    property_id: int | None,
    property_uuid: str | None,
    priority_id: int,
    job_type_id: int | None,
    own_agent: bool,
) -> NewJobContext | None:
    """None: the property does not exist or the caller may not see it."""
    statement = context_statement(kind(principal), property_uuid is not None, own_agent)
    row = await executor.in_transaction_one(
        session,
        statement,
        **viewer(principal),
        property_uuid=property_uuid,
        property_id=property_id,
        priority_id=priority_id,
        job_type_id=job_type_id,
    )
    if row is None:
        return None
    pid, branch_id, active, agent_id, target, settings = row
    if isinstance(settings, str):  # the raw driver returns JSON text on SQLite
        settings = json.loads(settings)
    return NewJobContext(
        int(pid), int(branch_id), bool(active), None if agent_id is None else int(agent_id), target, settings
    )


# What a new job's INSERT sets (besides id and job_ref, made from the id).
_INSERTED = tuple(n for n in JobRow._fields if n not in ("id", "job_ref", "sla_breach_notified_at"))
_next = select(next_id(Job.id).label("id")).subquery("n")
# One statement on both databases: the id is drawn first (``sqlfuncs.next_id``) and used twice, so
# ``job_ref`` (``JOB-000123``) is unique because the id is.
INSERT_JOB = (
    insert(Job)
    .from_select(
        ["id", "job_ref", *_INSERTED],
        select(
            _next.c.id,
            literal("JOB-") + zero_padded(_next.c.id),
            *(bindparam(name, type_=_jobs.c[name].type) for name in _INSERTED),
        ),
    )
    .returning(Job.id, Job.job_ref)
)


async def insert_job(executor: Executor, session: AsyncSession, values: dict[str, Any]) -> JobRow:
    """Insert a new job (``values``: every column but id, job_ref and the breach stamp)."""
    row = await executor.in_transaction_one(session, INSERT_JOB, **values)
    assert row is not None
    return JobRow(id=int(row[0]), job_ref=str(row[1]), sla_breach_notified_at=None, **values)
