"""Job writes: create, update, delete, the lifecycle actions and assignment, with their history.

No HTTP here; never commits (the request's session owns the transaction), so a multi-step write
such as create-and-assign is all or nothing. Every change writes a ``job_events`` row (who, what,
before, after, when) in the same transaction (``repository.record``, the one history writer).

The rules live elsewhere, once each: who sees a job in ``repository.readable_jobs`` (a job the
caller may not see is the same 404 as one that does not exist), who may do what from which status
in ``lifecycle``, the SLA target and due time in ``sla``, contractor eligibility in ``assignment``.
A job is a ``JobRow`` (every column, typed), read and locked by ``repository.find_job``.
"""

from __future__ import annotations

import uuid as uuid_mod
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from propops.agents import repository as agents_repository
from propops.agents.models import Agent, AgentBranch
from propops.auth.models import ACCOUNT_AGENT
from propops.auth.service import Principal
from propops.core import audit
from propops.core.clock import utcnow
from propops.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from propops.core.validation import check_uuid, clean_text
from propops.infra.executor import Executor
from propops.jobs import assignment, lifecycle, notify, repository, sla
from propops.jobs.assignment import ContractorRef
from propops.jobs.models import STATUS_NEW, Job, JobRow
from propops.jobs.schemas import JobManageRequest
from propops.lookups.service import Lookups, load_lookups
from propops.organisations.settings import read_settings
from propops.properties import service as properties

NOT_FOUND = "Job not found."

# Job types map to the trade that does the work when no trade_id is sent.
TRADE_BY_JOB_TYPE = {1: 5, 2: 1, 3: 3, 4: 2, 5: 3, 6: 5}

# What the history keeps of a job on create and update.
SNAPSHOT_FIELDS = ("job_ref", "title", "description", "property_id", "branch_id", "agent_id", "trade_id",
                   "job_type_id", "priority_id", "status_id", "contractor_id", "contractor_budget", "client_budget",
                   "sla_target_hours", "sla_due_at", "parent_job_id")  # fmt: skip


def snapshot(job: JobRow, fields: tuple[str, ...] = SNAPSHOT_FIELDS) -> dict[str, Any]:
    return {f: getattr(job, f) for f in fields}


async def find_job(
    executor: Executor,
    session: AsyncSession,
    principal: Principal,
    job_uuid: str | None,
    *,
    field: str = "uuid",
    lock: bool = True,
) -> JobRow:
    """The job, or 404 when missing or not visible; ``lock``: locked until the transaction ends
    (every write locks first)."""
    value = check_uuid(job_uuid, field) if job_uuid else None
    if not value:
        raise InvalidInput.field(field, "is required")
    job = await repository.find_job(executor, session, principal, value, lock=lock)
    if job is None:
        raise NotFound(NOT_FOUND)
    return job


# --------------------------------------------------------------------------- resolving inputs


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
    """The responsible agent named in the request: must be visible to the caller and work at (be
    assigned to or share) the job's branch."""
    stmt = select(Agent.id)
    if agent_uuid is not None:
        stmt = stmt.where(Agent.uuid == check_uuid(agent_uuid, "agent_uuid"))
    if agent_id is not None:
        stmt = stmt.where(Agent.id == agent_id)
    stmt = stmt.where(agents_repository.agent_readable(principal))
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
    executor: Executor,
    session: AsyncSession,
    organisation_id: int,
    contractor_id: int | None,
    contractor_uuid: str | None,
) -> ContractorRef:
    if contractor_id is None and contractor_uuid is None:
        raise InvalidInput.field("contractor_uuid", "is required")
    value = check_uuid(contractor_uuid, "contractor_uuid") if contractor_uuid is not None else None
    found = await assignment.contractor_ref(executor, session, organisation_id, contractor_id, value)
    if found is None:
        raise InvalidInput.field("contractor_uuid" if contractor_uuid else "contractor_id", "unknown contractor")
    return found


def _clean_long(value: str | None, field: str) -> str:
    if value is None:
        return ""
    text = value.strip()
    if "\x00" in text:
        raise InvalidInput.field(field, "must not contain NUL characters")
    return text


# --------------------------------------------------------------------------- create, update, delete


async def create_job(
    executor: Executor, session: AsyncSession, principal: Principal, body: JobManageRequest, now: datetime | None = None
) -> JobRow:
    """Validate, insert with a unique job_ref and its SLA deadline, record history; with a contractor,
    also assign (a refused assignment rolls the whole create back)."""
    lifecycle.ensure_may(principal, "update")
    now = now or utcnow()
    title = clean_text(body.job_title, "job_title", 200, required=True) or ""
    description = _clean_long(body.job_description, "job_description")
    if body.status_id is not None and body.status_id != STATUS_NEW:
        raise InvalidInput.field(
            "status_id", "a new job starts as New (1); send contractor_uuid to assign it in the same call"
        )
    lookups = await load_lookups(session)  # once for every check
    priority_id = lookups.priority(body.priority_id, "priority_id")
    job_type_id = lookups.job_type(body.job_type_id, "job_type_id")
    trade_id = _trade(lookups, body.trade_id, job_type_id)
    if body.address_uuid is None and body.address_id is None:
        raise InvalidInput.field("address_id", "is required (or address_uuid)")
    if body.address_uuid is not None and not body.address_uuid:
        raise InvalidInput.field("address_uuid", "is required")
    explicit_agent = body.agent_id is not None or body.agent_uuid is not None
    context = await repository.new_job_context(
        executor,
        session,
        principal,
        property_id=body.address_id,
        property_uuid=None if body.address_uuid is None else check_uuid(body.address_uuid, "address_uuid"),
        priority_id=priority_id,
        job_type_id=job_type_id,
        own_agent=not explicit_agent and principal.account_type_id == ACCOUNT_AGENT,
    )
    if context is None:
        raise NotFound(properties.NOT_FOUND)
    if not context.active:
        raise InvalidInput.field("address_id", "the property is inactive")
    allowed = read_settings(context.organisation_settings).job_type_ids
    if allowed is not None and job_type_id is not None and job_type_id not in allowed:
        raise InvalidInput.field("job_type_id", "is not a job type your organisation uses")
    if explicit_agent:
        agent_id = await _agent(session, principal, body.agent_id, body.agent_uuid, context.branch_id)
    else:
        agent_id = context.own_agent_id
    target = context.sla_target_hours
    job = await repository.insert_job(
        executor,
        session,
        {
            "organisation_id": principal.organisation_id,  # the property's (the context checked it)
            "title": title,
            "description": description,
            "property_id": context.property_id,
            "branch_id": context.branch_id,
            "agent_id": agent_id,
            "trade_id": trade_id,
            "job_type_id": job_type_id,
            "priority_id": priority_id,
            "status_id": STATUS_NEW,
            "contractor_id": None,
            "contractor_budget": body.contractor_budget,
            "client_budget": body.job_total_budget,
            "reported_at": now,
            "assigned_at": None,
            "accepted_at": None,
            "started_at": None,
            "completed_at": None,
            "closed_at": None,
            "sla_target_hours": target,
            "sla_due_at": sla.due_at(now, target),
            "recall_count": 0,
            "parent_job_id": None,
            "created_by_user_id": principal.user_id,
            "uuid": str(uuid_mod.uuid4()),
            "created_at": now,
            "updated_at": now,
        },
    )
    await repository.record(executor, session, job.id, principal.user_id, "created", None, snapshot(job), None, now)
    if body.contractor_id is not None or body.contractor_uuid is not None:
        contractor = await resolve_contractor(
            executor, session, principal.organisation_id, body.contractor_id, body.contractor_uuid
        )
        job = await assign(executor, session, principal, job, contractor, body.override_reason, now)
    return job


async def _changes(session: AsyncSession, principal: Principal, job: JobRow, body: JobManageRequest) -> JobRow:
    """The job with the fields sent by an update applied (validated; nothing written)."""
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
    new: dict[str, Any] = {}
    if "job_title" in sent:
        new["title"] = clean_text(body.job_title, "job_title", 200, required=True) or ""
    if "job_description" in sent:
        new["description"] = _clean_long(body.job_description, "job_description")
    if "priority_id" in sent:
        new["priority_id"] = (await load_lookups(session)).priority(body.priority_id, "priority_id")
    if "job_type_id" in sent:
        new["job_type_id"] = (await load_lookups(session)).job_type(body.job_type_id, "job_type_id")
    if "trade_id" in sent and body.trade_id is not None and body.trade_id != job.trade_id:
        if job.contractor_id is not None:
            raise Conflict("The trade cannot change while a contractor is assigned; cancel or reassign first.")
        new["trade_id"] = _trade(await load_lookups(session), body.trade_id, None)
    if ({"agent_id", "agent_uuid"} & sent) and (body.agent_id or body.agent_uuid):
        new["agent_id"] = await _agent(session, principal, body.agent_id, body.agent_uuid, job.branch_id)
    if "job_total_budget" in sent:
        new["client_budget"] = body.job_total_budget
    if "contractor_budget" in sent:
        new["contractor_budget"] = body.contractor_budget
    return job._replace(**new)


async def update_job(
    executor: Executor,
    session: AsyncSession,
    principal: Principal,
    job: JobRow,
    body: JobManageRequest,
    now: datetime | None = None,
) -> JobRow:
    """Change the fields sent. The SLA is recomputed only when priority or job type changes."""
    lifecycle.ensure_allowed(principal, job, "update")
    now = now or utcnow()
    changed = await _changes(session, principal, job, body)
    if (changed.priority_id, changed.job_type_id) != (job.priority_id, job.job_type_id):
        rule = await executor.in_transaction_one(
            session,
            sla.TARGET,
            branch_id=job.branch_id,
            priority_id=changed.priority_id,
            job_type_id=changed.job_type_id,
        )
        target = None if rule is None else rule[0]
        due = sla.due_at(job.reported_at, target)
        if (target, due) != (job.sla_target_hours, job.sla_due_at):
            # a new deadline may be breached (and notified) anew
            changed = changed._replace(sla_target_hours=target, sla_due_at=due, sla_breach_notified_at=None)
            await repository.record(
                executor,
                session,
                job.id,
                principal.user_id,
                "sla_recomputed",
                {"sla_target_hours": job.sla_target_hours, "sla_due_at": job.sla_due_at},
                {"sla_target_hours": target, "sla_due_at": due},
                reason="priority or job type changed",
                now=now,
            )
    columns = [name for name in JobRow._fields if getattr(changed, name) != getattr(job, name)]
    if not columns:
        return job
    shown = [c for c in columns if c in SNAPSHOT_FIELDS and not c.startswith("sla_")]
    if shown:
        changed = changed._replace(updated_at=now)
        await repository.record(
            executor,
            session,
            job.id,
            principal.user_id,
            "updated",
            {k: getattr(job, k) for k in shown},
            {k: getattr(changed, k) for k in shown},
            now=now,
        )
    # Not a hot path: the changed columns through the session (one shape per set of columns).
    await session.execute(update(Job).where(Job.id == job.id).values({c: getattr(changed, c) for c in columns}))
    return changed


async def delete_job(session: AsyncSession, principal: Principal, job: JobRow) -> None:
    """Permanent delete of the job and everything attached (history, recalls, notes cascade);
    remedial children are unlinked. The audit log keeps what was deleted."""
    lifecycle.ensure_may(principal, "delete")
    await audit.record(
        session,
        organisation_id=principal.organisation_id,
        user_id=principal.user_id,
        action="delete",
        entity="job",
        entity_id=job.id,
        before={k: repository.history_value(v) for k, v in snapshot(job).items()} | {"uuid": job.uuid},
    )
    await session.execute(delete(Job).where(Job.id == job.id))


# --------------------------------------------------------------------------- lifecycle


async def transition(
    executor: Executor,
    session: AsyncSession,
    principal: Principal,
    job: JobRow,
    action: str,
    *,
    reason: str | None = None,
    to_status_id: int | None = None,
    now: datetime | None = None,
) -> JobRow:
    """accept / start / complete / close / archive / cancel / recall / reopen of a locked job, with
    history and emails."""
    lifecycle.ensure_allowed(principal, job, action)
    now = now or utcnow()
    reason = clean_text(reason, "reason", 1000, required=action == "recall")
    change = lifecycle.transition(job, action, now, to_status_id)
    job = change.job
    if action == "recall":
        await repository.record_recall(executor, session, job.id, reason or "", principal.user_id, now)
    await repository.save(executor, session, job, now)
    event = lifecycle.EVENTS.get(action, "status")
    await repository.record(
        executor, session, job.id, principal.user_id, event, change.before, change.after, reason, now
    )
    if action == "complete":
        await notify.job_completed(executor, session, job)
    elif action == "recall":
        await notify.job_recalled(executor, session, job, reason or "")
    return job


async def assign(
    executor: Executor,
    session: AsyncSession,
    principal: Principal,
    job: JobRow,
    contractor: ContractorRef,
    override_reason: str | None,
    now: datetime | None = None,
) -> JobRow:
    """Assign after checking every condition; refused (409, every reason) unless staff override."""
    lifecycle.ensure_allowed(principal, job, "assign")
    now = now or utcnow()
    override = clean_text(override_reason, "override_reason", 1000)
    prop = await assignment.place(executor, session, job.property_id)
    reasons = (await assignment.evaluate(executor, session, job, prop, contractor.id))[contractor.id].reasons
    if reasons:
        if not override:
            raise Conflict(
                "The contractor cannot be assigned: " + "; ".join(reasons) + ".",
                errors=[{"field": "contractor", "message": r} for r in reasons],
            )
        if not lifecycle.is_staff(principal):
            raise Forbidden("Only staff may override the assignment checks.")
    change = lifecycle.assignment(job, contractor.id, now, reasons)
    job = change.job
    await repository.save(executor, session, job, now)
    reason = override if reasons else None
    await repository.record(
        executor, session, job.id, principal.user_id, "assigned", change.before, change.after, reason, now
    )
    await notify.job_assigned(executor, session, job, contractor.email, contractor.first_name, prop.address)
    return job
