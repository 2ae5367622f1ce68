"""Job logic: visibility, reads, create/update/delete, the lifecycle, recalls and history.

No HTTP here; never commits (the request's session owns the transaction), so a multi-step write
such as create-and-assign is all or nothing. Every change writes a ``job_events`` row (who, what,
before, after, when) in the same transaction.

Who may do what (``api.jobs.read.view`` reads, ``api.jobs.manage.manage`` is required for every action):
- staff: every job and every action (accept/start/complete on a contractor's behalf, recorded);
- agents: jobs in their visible branches (``agents.service``); everything but accept/start/complete
  and delete; no assignment override;
- contractors: only jobs assigned to them; only accept, start and complete;
- a job the caller may not see is the same 404 as one that does not exist.
"""

from __future__ import annotations

import uuid as uuid_mod
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, false, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from propops.agents import repository as agents_repository
from propops.agents import service as agents
from propops.agents.models import Agent, AgentBranch
from propops.auth.models import ACCOUNT_AGENT, ACCOUNT_CONTRACTOR, ACCOUNT_STAFF, User
from propops.auth.service import Principal
from propops.branches import rules as branches
from propops.contractors.models import Contractor
from propops.core import audit
from propops.core.clock import iso, utcnow
from propops.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from propops.core.pagination import Page
from propops.core.validation import check_uuid, clean_text
from propops.jobs import notify, reads
from propops.jobs import state as job_state
from propops.jobs.models import (
    STATUS_ARCHIVED,
    STATUS_ASSIGNED,
    STATUS_CANCELLED,
    STATUS_CLOSED,
    STATUS_COMPLETE,
    STATUS_IN_PROGRESS,
    STATUS_NEW,
    Job,
    JobEvent,
)
from propops.jobs.schemas import JobManageRequest
from propops.jobs.state import ContractorRef, JobState
from propops.lookups.service import Lookups, load_lookups
from propops.properties import service as properties

NOT_FOUND = "Job not found."
SLA_STATUSES = ("on_track", "at_risk", "breached")
AT_RISK_SHARE = 0.25  # at risk when less than a quarter of the target is left

# Job types map to the trade that does the work when no trade_id is sent.
TRADE_BY_JOB_TYPE = {1: 5, 2: 1, 3: 3, 4: 2, 5: 3, 6: 5}

# action -> statuses it may start from. The target status is decided by the action's function.
FROM_STATUSES: dict[str, tuple[int, ...]] = {
    "update": (STATUS_NEW, STATUS_ASSIGNED, STATUS_IN_PROGRESS, STATUS_COMPLETE),
    "assign": (STATUS_NEW, STATUS_ASSIGNED),
    "accept": (STATUS_ASSIGNED,),
    "start": (STATUS_ASSIGNED,),
    "complete": (STATUS_IN_PROGRESS,),
    "close": (STATUS_COMPLETE,),
    "archive": (STATUS_CLOSED, STATUS_CANCELLED),
    "cancel": (STATUS_NEW, STATUS_ASSIGNED, STATUS_IN_PROGRESS),
    "recall": (STATUS_COMPLETE,),
    "reopen": (STATUS_CANCELLED,),
    "delete": tuple(range(1, 8)),
}
CONTRACTOR_ACTIONS = frozenset({"accept", "start", "complete"})
STAFF_ONLY_ACTIONS = frozenset({"delete"})
STATUS_NAMES = {1: "New", 2: "Assigned", 3: "In progress", 4: "Complete", 5: "Closed", 6: "Archived", 7: "Cancelled"}


# --------------------------------------------------------------------------- roles and visibility


def is_staff(principal: Principal) -> bool:
    return principal.account_type_id == ACCOUNT_STAFF


def role_actions(principal: Principal) -> frozenset[str]:
    """The actions the caller's account type may perform at all."""
    everything = frozenset(FROM_STATUSES)
    if principal.account_type_id == ACCOUNT_STAFF:
        return everything
    if principal.account_type_id == ACCOUNT_AGENT:
        return everything - CONTRACTOR_ACTIONS - STAFF_ONLY_ACTIONS
    if principal.account_type_id == ACCOUNT_CONTRACTOR:
        return CONTRACTOR_ACTIONS
    return frozenset()


def visibility_condition(principal: Principal) -> ColumnElement[bool] | None:
    """Which jobs the caller sees, as one SQL condition (None: all)."""
    if principal.account_type_id == ACCOUNT_STAFF:
        return None
    if principal.account_type_id == ACCOUNT_AGENT:
        return agents_repository.in_visible_branches(Job.branch_id, principal)
    if principal.account_type_id == ACCOUNT_CONTRACTOR:
        own = select(Contractor.id).where(Contractor.user_id == principal.user_id).correlate(None)
        return Job.contractor_id.in_(own)
    return false()


def _visible(stmt: Any, principal: Principal) -> Any:
    condition = visibility_condition(principal)
    return stmt if condition is None else stmt.where(condition)


async def load_job(
    session: AsyncSession, principal: Principal, job_uuid: str | None, *, field: str = "uuid", for_update: bool = False
) -> Job:
    """The job, or 404 when missing or not visible; locked for the transaction when writing."""
    if not job_uuid:
        raise InvalidInput.field(field, "is required")
    value = check_uuid(job_uuid, field)
    stmt = _visible(select(Job).where(Job.uuid == value), principal)
    if for_update:
        if session.get_bind().dialect.name == "sqlite":
            # SQLite has no row locks: a no-op write takes the database write lock now, so a
            # concurrent writer of the same job reads its state only after this transaction ends.
            await session.execute(
                update(Job)
                .where(Job.uuid == value)
                .values(updated_at=Job.updated_at)
                .execution_options(synchronize_session=False)
            )
        stmt = stmt.with_for_update(of=Job)
    job = (await session.execute(stmt)).scalar_one_or_none()
    if job is None:
        raise NotFound(NOT_FOUND)
    return job


async def lock_job(
    session: AsyncSession, principal: Principal, job_uuid: str | None, *, field: str = "uuid"
) -> tuple[JobState, reads.SessionRunner]:
    """``load_job(for_update=True)`` for the lifecycle writes: the row's lifecycle columns as plain
    values (``jobs.state``) and the runner that writes them back in this transaction."""
    value = check_uuid(job_uuid, field) if job_uuid else None
    if not value:
        raise InvalidInput.field(field, "is required")
    runner = reads.SessionRunner(session)
    found = await job_state.lock(runner, principal, value)
    if found is None:
        raise NotFound(NOT_FOUND)
    return found, runner


# --------------------------------------------------------------------------- SLA


async def sla_for(
    session: AsyncSession, branch_id: int, priority_id: int, job_type_id: int | None, reported_at: datetime
) -> tuple[int | None, datetime | None]:
    target = await branches.sla_target_hours(session, branch_id, priority_id, job_type_id)
    return target, (reported_at + timedelta(hours=target) if target is not None else None)


# --------------------------------------------------------------------------- reads


@dataclass(frozen=True)
class JobFilters:
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


async def list_jobs(
    session: AsyncSession, principal: Principal, page: Page, f: JobFilters, now: datetime | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Visible jobs, newest first, inside ``session``'s transaction (the router reads committed
    data on the raw driver with ``reads.list_jobs`` directly)."""
    return await reads.list_jobs(reads.SessionRunner(session), session.get_bind().dialect.name, principal, page, f, now)


async def job_detail(session: AsyncSession, principal: Principal, job: Job) -> dict[str, Any]:
    """The job as the API shows it after a write, read in the write's transaction."""
    await session.flush()
    return await reads.job_detail_by_id(session, principal, job.id)


def allowed_actions(job: Job | JobState, principal: Principal) -> list[str]:
    return allowed_actions_for(job.status_id, job.accepted_at is not None, principal)


def allowed_actions_for(status_id: int, accepted: bool, principal: Principal) -> list[str]:
    mine = role_actions(principal)
    out = [a for a, froms in FROM_STATUSES.items() if a in mine and status_id in froms]
    if accepted and "accept" in out:
        out.remove("accept")
    return sorted(out)


async def list_commits(
    session: AsyncSession, principal: Principal, job_uuid: str | None, page: Page
) -> tuple[list[dict[str, Any]], int]:
    """The job's history, oldest first."""
    job = await load_job(session, principal, job_uuid)
    count = (await session.execute(select(func.count(JobEvent.id)).where(JobEvent.job_id == job.id))).scalar_one()
    rows = (
        await session.execute(
            select(JobEvent, User.first_name, User.last_name)
            .outerjoin(User, User.id == JobEvent.user_id)
            .where(JobEvent.job_id == job.id)
            .order_by(JobEvent.id)
            .limit(page.limit)
            .offset(page.offset)
        )
    ).all()
    return [
        {
            "ID": e.id,
            "event": e.event,
            "user_id": e.user_id,
            "user_name": None if first is None else f"{first} {last}".strip(),
            "before": e.before,
            "after": e.after,
            "reason": e.reason,
            "created_at": iso(e.created_at),
        }
        for e, first, last in rows
    ], int(count)


# --------------------------------------------------------------------------- history


def record(
    session: AsyncSession,
    job: Job,
    user_id: int | None,
    event: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    """One history entry, in the caller's transaction."""
    session.add(
        JobEvent(
            job_id=job.id,
            user_id=user_id,
            event=event,
            before=None if before is None else {k: job_state.history_value(v) for k, v in before.items()},
            after=None if after is None else {k: job_state.history_value(v) for k, v in after.items()},
            reason=reason,
            created_at=utcnow(),
        )
    )


SNAPSHOT_FIELDS = (
    "job_ref",
    "title",
    "description",
    "property_id",
    "branch_id",
    "agent_id",
    "trade_id",
    "job_type_id",
    "priority_id",
    "status_id",
    "contractor_id",
    "contractor_budget",
    "client_budget",
    "sla_target_hours",
    "sla_due_at",
    "parent_job_id",
)


def snapshot(job: Job, fields: tuple[str, ...] = SNAPSHOT_FIELDS) -> dict[str, Any]:
    return {f: getattr(job, f) for f in fields}


# --------------------------------------------------------------------------- resolving inputs


def _ensure_may(principal: Principal, action: str) -> None:
    if action not in role_actions(principal):
        if action in CONTRACTOR_ACTIONS:
            raise Forbidden(f"Only the assigned contractor (or staff) may {action} a job.")
        if action in STAFF_ONLY_ACTIONS:
            raise Forbidden(f"Only staff may {action} a job.")
        raise Forbidden(f"Your account type may not {action} jobs.")


def _ensure_from(job: Job | JobState, action: str, principal: Principal) -> None:
    if job.status_id not in FROM_STATUSES[action]:
        allowed = allowed_actions(job, principal)
        name = STATUS_NAMES.get(job.status_id, str(job.status_id))
        raise Conflict(
            f"Cannot {action} a job that is {name}. Allowed now: {', '.join(allowed) if allowed else 'none'}.",
            errors=[{"field": "action", "message": f"allowed now: {', '.join(allowed) or 'none'}"}],
        )


def ensure_allowed(principal: Principal, job: Job | JobState, action: str) -> None:
    _ensure_may(principal, action)
    _ensure_from(job, action, principal)


async def _priority(session: AsyncSession, value: int | str | None, lookups: Lookups | None = None) -> int:
    lookups = lookups or await load_lookups(session)
    return lookups.priority(value, "priority_id")


async def _job_type(session: AsyncSession, value: int | str | None, lookups: Lookups | None = None) -> int | None:
    lookups = lookups or await load_lookups(session)
    return lookups.job_type(value, "job_type_id")


def _trade(lookups: Lookups, trade_id: int | None, job_type_id: int | None) -> int:
    if trade_id is None:
        if job_type_id is not None and job_type_id in TRADE_BY_JOB_TYPE:
            trade_id = TRADE_BY_JOB_TYPE[job_type_id]
        else:
            raise InvalidInput.field("trade_id", "is required (or a job type that implies one)")
    if trade_id not in lookups.trades:
        raise InvalidInput.field("trade_id", "unknown trade")
    return trade_id


async def _agent(
    session: AsyncSession, principal: Principal, agent_id: int | None, agent_uuid: str | None, branch_id: int
) -> int | None:
    """The responsible agent: must work at (be assigned to or share) the job's branch."""
    if agent_id is None and agent_uuid is None:
        if principal.account_type_id == ACCOUNT_AGENT:
            own = await agents.own_agent(session, principal)
            return own.id if own is not None else None
        return None
    stmt = select(Agent.id)
    if agent_uuid is not None:
        stmt = stmt.where(Agent.uuid == check_uuid(agent_uuid, "agent_uuid"))
    if agent_id is not None:
        stmt = stmt.where(Agent.id == agent_id)
    condition = agents_repository.agent_readable(principal)
    if condition is not None:
        stmt = stmt.where(condition)
    found = (await session.execute(stmt)).scalar_one_or_none()
    field = "agent_uuid" if agent_uuid is not None else "agent_id"
    if found is None:
        raise InvalidInput.field(field, "unknown agent")
    works = (
        await session.execute(
            select(AgentBranch.agent_id).where(AgentBranch.agent_id == found, AgentBranch.branch_id == branch_id)
        )
    ).first()
    if works is None:
        raise InvalidInput.field(field, "the agent does not work at the job's branch")
    return int(found)


async def resolve_contractor(
    runner: reads.SessionRunner, contractor_id: int | None, contractor_uuid: str | None
) -> ContractorRef:
    if contractor_id is None and contractor_uuid is None:
        raise InvalidInput.field("contractor_uuid", "is required")
    value = check_uuid(contractor_uuid, "contractor_uuid") if contractor_uuid is not None else None
    found = await job_state.contractor_ref(runner, contractor_id, value)
    if found is None:
        raise InvalidInput.field("contractor_uuid" if contractor_uuid else "contractor_id", "unknown contractor")
    return found


# --------------------------------------------------------------------------- writes


async def create_job(
    session: AsyncSession, principal: Principal, body: JobManageRequest, now: datetime | None = None
) -> Job:
    """``create_job_state`` for callers that go on with the ORM object (a remedial job)."""
    created = await create_job_state(session, principal, body, now)
    job = await session.get(Job, created.id)
    assert job is not None
    return job


async def create_job_state(
    session: AsyncSession, principal: Principal, body: JobManageRequest, now: datetime | None = None
) -> JobState:
    """Validate, insert with a unique job_ref and its SLA deadline, record history; with a contractor,
    also assign (a refused assignment rolls the whole create back). The row and its history are
    written as plain SQL in the session's transaction (``jobs.state``)."""
    _ensure_may(principal, "update")
    now = now or utcnow()
    title = clean_text(body.job_title, "job_title", 200, required=True) or ""
    description = _clean_long(body.job_description, "job_description")
    if body.status_id is not None and body.status_id != STATUS_NEW:
        raise InvalidInput.field(
            "status_id", "a new job starts as New (1); send contractor_uuid to assign it in the same call"
        )
    lookups = await load_lookups(session)  # once for every check
    priority_id = await _priority(session, body.priority_id, lookups)
    job_type_id = await _job_type(session, body.job_type_id, lookups)
    trade_id = _trade(lookups, body.trade_id, job_type_id)
    runner = reads.SessionRunner(session)
    if body.address_uuid is None and body.address_id is None:
        raise InvalidInput.field("address_id", "is required (or address_uuid)")
    if body.address_uuid is not None and not body.address_uuid:
        raise InvalidInput.field("address_uuid", "is required")
    explicit_agent = body.agent_id is not None or body.agent_uuid is not None
    place = await job_state.new_job_context(
        runner,
        principal,
        property_id=body.address_id,
        property_uuid=None if body.address_uuid is None else check_uuid(body.address_uuid, "address_uuid"),
        priority_id=priority_id,
        job_type_id=job_type_id,
        own_agent=not explicit_agent and principal.account_type_id == ACCOUNT_AGENT,
    )
    if place is None:
        raise NotFound(properties.NOT_FOUND)
    if not place.active:
        raise InvalidInput.field("address_id", "the property is inactive")
    if explicit_agent:
        agent_id = await _agent(session, principal, body.agent_id, body.agent_uuid, place.branch_id)
    else:
        agent_id = place.own_agent_id
    target = place.sla_target_hours
    due = now + timedelta(hours=target) if target is not None else None
    values: dict[str, Any] = {
        "title": title,
        "description": description,
        "property_id": place.property_id,
        "branch_id": place.branch_id,
        "agent_id": agent_id,
        "trade_id": trade_id,
        "job_type_id": job_type_id,
        "priority_id": priority_id,
        "status_id": STATUS_NEW,
        "contractor_id": None,
        "contractor_budget": body.contractor_budget,
        "client_budget": body.job_total_budget,
        "sla_target_hours": target,
        "sla_due_at": due,
        "parent_job_id": None,
    }
    uuid = str(uuid_mod.uuid4())
    job_id, job_ref = await job_state.insert_job(runner, values, uuid=uuid, user_id=principal.user_id, now=now)
    values["job_ref"] = job_ref
    await job_state.record(
        runner, job_id, principal.user_id, "created", None, {f: values[f] for f in SNAPSHOT_FIELDS}, None, now
    )
    created = JobState(
        id=job_id,
        uuid=uuid,
        job_ref=job_ref,
        title=title,
        property_id=place.property_id,
        branch_id=place.branch_id,
        agent_id=agent_id,
        trade_id=trade_id,
        status_id=STATUS_NEW,
        contractor_id=None,
        recall_count=0,
        sla_due_at=due,
        sla_target_hours=target,
        assigned_at=None,
        accepted_at=None,
        started_at=None,
        completed_at=None,
        closed_at=None,
    )
    if body.contractor_id is not None or body.contractor_uuid is not None:
        contractor = await resolve_contractor(runner, body.contractor_id, body.contractor_uuid)
        await assign(session, runner, principal, created, contractor, body.override_reason, now)
    return created


def _clean_long(value: str | None, field: str) -> str:
    if value is None:
        return ""
    text = value.strip()
    if "\x00" in text:
        raise InvalidInput.field(field, "must not contain NUL characters")
    return text


async def update_job(
    session: AsyncSession, principal: Principal, job: Job, body: JobManageRequest, now: datetime | None = None
) -> Job:
    """Change the fields sent. SLA is recomputed only when priority or job type changes."""
    _ensure_may(principal, "update")
    _ensure_from(job, "update", principal)
    now = now or utcnow()
    sent = body.model_fields_set
    if "status_id" in sent and body.status_id is not None and body.status_id != job.status_id:
        raise Conflict("status_id cannot be changed by update; use the lifecycle actions (assign, start, ...).")
    if ({"contractor_id", "contractor_uuid"} & sent) and (body.contractor_id or body.contractor_uuid):
        raise InvalidInput.field("contractor_uuid", "use action=assign to change the contractor")
    if ({"address_id", "address_uuid"} & sent) and (body.address_id or body.address_uuid):
        if body.address_id not in (None, job.property_id):
            raise InvalidInput.field("address_id", "cannot be changed; raise a new job for another address")
        if body.address_uuid is not None:
            prop, _ = await properties.get_visible(session, principal, body.address_uuid, "address_uuid")
            if prop.id != job.property_id:
                raise InvalidInput.field("address_uuid", "cannot be changed; raise a new job for another address")
    before = snapshot(job)
    if "job_title" in sent:
        job.title = clean_text(body.job_title, "job_title", 200, required=True) or ""
    if "job_description" in sent:
        job.description = _clean_long(body.job_description, "job_description")
    if "priority_id" in sent:
        job.priority_id = await _priority(session, body.priority_id)
    if "job_type_id" in sent:
        job.job_type_id = await _job_type(session, body.job_type_id)
    if "trade_id" in sent and body.trade_id is not None and body.trade_id != job.trade_id:
        if job.contractor_id is not None:
            raise Conflict("The trade cannot change while a contractor is assigned; cancel or reassign first.")
        job.trade_id = _trade(await load_lookups(session), body.trade_id, None)
    if ({"agent_id", "agent_uuid"} & sent) and (body.agent_id or body.agent_uuid):
        job.agent_id = await _agent(session, principal, body.agent_id, body.agent_uuid, job.branch_id)
    if "job_total_budget" in sent:
        job.client_budget = body.job_total_budget
    if "contractor_budget" in sent:
        job.contractor_budget = body.contractor_budget
    sla_changed = job.priority_id != before["priority_id"] or job.job_type_id != before["job_type_id"]
    if sla_changed:
        target, due = await sla_for(session, job.branch_id, job.priority_id, job.job_type_id, job.reported_at)
        if (target, due) != (job.sla_target_hours, job.sla_due_at):
            sla_before = {"sla_target_hours": job.sla_target_hours, "sla_due_at": job.sla_due_at}
            job.sla_target_hours, job.sla_due_at = target, due
            job.sla_breach_notified_at = None  # a new deadline may be breached (and notified) anew
            record(
                session,
                job,
                principal.user_id,
                "sla_recomputed",
                sla_before,
                {"sla_target_hours": target, "sla_due_at": due},
                reason="priority or job type changed",
            )
    after = snapshot(job)
    changed = [k for k in after if after[k] != before[k] and not k.startswith("sla_")]
    if changed:
        job.updated_at = now
        record(
            session, job, principal.user_id, "updated", {k: before[k] for k in changed}, {k: after[k] for k in changed}
        )
    await session.flush()
    return job


async def delete_job(session: AsyncSession, principal: Principal, job: Job) -> None:
    """Permanent delete of the job and everything attached (history, recalls, notes cascade);
    remedial children are unlinked. The audit log keeps what was deleted."""
    _ensure_may(principal, "delete")
    await audit.record(
        session,
        user_id=principal.user_id,
        action="delete",
        entity="job",
        entity_id=job.id,
        before={k: job_state.history_value(v) for k, v in snapshot(job).items()} | {"uuid": job.uuid},
    )
    await session.execute(delete(Job).where(Job.id == job.id))
    session.expunge(job)


def _status_change(job: JobState, to: int) -> tuple[dict[str, Any], dict[str, Any]]:
    return {"status_id": job.status_id, "status": STATUS_NAMES[job.status_id]}, {
        "status_id": to,
        "status": STATUS_NAMES[to],
    }


_STAMP_FIELDS = ("assigned_at", "accepted_at", "started_at", "completed_at", "closed_at")


async def transition(
    session: AsyncSession,
    runner: reads.SessionRunner,
    principal: Principal,
    job: JobState,
    action: str,
    *,
    reason: str | None = None,
    to_status_id: int | None = None,
    now: datetime | None = None,
) -> JobState:
    """accept / start / complete / close / archive / cancel / recall / reopen, with history and
    emails. ``job`` comes from ``lock_job``; the change is written through ``runner``."""
    _ensure_may(principal, action)
    _ensure_from(job, action, principal)
    now = now or utcnow()
    reason = clean_text(reason, "reason", 1000, required=action == "recall")
    before_ts = {f: getattr(job, f) for f in _STAMP_FIELDS}
    if action == "accept":
        if job.accepted_at is not None:
            raise Conflict("The job was already accepted. Allowed now: start.")
        before, after = _status_change(job, STATUS_ASSIGNED)
        job.accepted_at = now
    elif action == "start":
        before, after = _status_change(job, STATUS_IN_PROGRESS)
        job.status_id = STATUS_IN_PROGRESS
        job.accepted_at = job.accepted_at or now
        job.started_at = now
    elif action == "complete":
        before, after = _status_change(job, STATUS_COMPLETE)
        job.status_id, job.completed_at = STATUS_COMPLETE, now
    elif action == "close":
        before, after = _status_change(job, STATUS_CLOSED)
        job.status_id, job.closed_at = STATUS_CLOSED, now
    elif action == "archive":
        before, after = _status_change(job, STATUS_ARCHIVED)
        job.status_id = STATUS_ARCHIVED
    elif action == "cancel":
        before, after = _status_change(job, STATUS_CANCELLED)
        job.status_id = STATUS_CANCELLED
    elif action == "reopen":
        before, after = _status_change(job, STATUS_NEW)
        before["contractor_id"], after["contractor_id"] = job.contractor_id, None
        job.status_id, job.contractor_id = STATUS_NEW, None
        job.assigned_at = job.accepted_at = job.started_at = None
    elif action == "recall":
        target = to_status_id or STATUS_IN_PROGRESS
        if target not in (STATUS_IN_PROGRESS, STATUS_ASSIGNED):
            raise InvalidInput.field("to_status_id", "must be 3 (In progress) or 2 (Assigned)")
        before, after = _status_change(job, target)
        job.status_id, job.completed_at = target, None
        if target == STATUS_ASSIGNED:
            job.accepted_at = job.started_at = None
        job.recall_count = job.recall_count + 1
        before["recall_count"], after["recall_count"] = job.recall_count - 1, job.recall_count
        await job_state.record_recall(runner, job.id, reason or "", principal.user_id, now)
    else:  # pragma: no cover - guarded by _ensure_may
        raise InvalidInput.field("action", "unknown action")
    for key, old in before_ts.items():
        if old != getattr(job, key):
            before[key], after[key] = old, getattr(job, key)
    await job_state.save(runner, job, now)
    event = {"recall": "recalled", "accept": "accepted"}.get(action, "status")
    await job_state.record(runner, job.id, principal.user_id, event, before, after, reason, now)
    if action == "complete":
        await notify.job_completed(session, job)
    elif action == "recall":
        await notify.job_recalled(session, job, reason or "")
    return job


async def assign(
    session: AsyncSession,
    runner: reads.SessionRunner,
    principal: Principal,
    job: JobState,
    contractor: ContractorRef,
    override_reason: str | None,
    now: datetime | None = None,
) -> JobState:
    """Assign after checking every condition; refused (409, every reason) unless staff override."""
    from propops.jobs import assignment

    _ensure_may(principal, "assign")
    _ensure_from(job, "assign", principal)
    now = now or utcnow()
    override = clean_text(override_reason, "override_reason", 1000)
    prop = await job_state.place(runner, job.property_id)
    reasons = (await assignment.evaluate(runner, job, prop, [contractor.id]))[contractor.id].reasons
    if reasons:
        if not override:
            raise Conflict(
                "The contractor cannot be assigned: " + "; ".join(reasons) + ".",
                errors=[{"field": "contractor", "message": r} for r in reasons],
            )
        if not is_staff(principal):
            raise Forbidden("Only staff may override the assignment checks.")
    before = {"status_id": job.status_id, "contractor_id": job.contractor_id}
    job.contractor_id = contractor.id
    job.status_id = STATUS_ASSIGNED
    job.assigned_at, job.accepted_at, job.started_at = now, None, None
    after: dict[str, Any] = {"status_id": STATUS_ASSIGNED, "contractor_id": contractor.id}
    if reasons:
        after["override"] = reasons
    await job_state.save(runner, job, now)
    await job_state.record(
        runner, job.id, principal.user_id, "assigned", before, after, override if reasons else None, now
    )
    await notify.job_assigned(session, job, contractor, prop.address)
    return job
