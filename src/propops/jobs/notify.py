"""Job emails, queued in the outbox inside the caller's transaction (so they exist exactly when the
change does): assignment to the contractor; completion, recall and SLA breach to the agent; case
notes to the other parties. All use the generic ``notice`` template. Each organisation may turn a
kind off (its ``notifications`` setting); security mail never passes through here."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from propops.agents.models import Agent
from propops.auth.models import User
from propops.branches.models import Branch
from propops.contractors.models import Contractor
from propops.core.clock import iso
from propops.infra.executor import Executor
from propops.jobs.models import JobRow
from propops.notifications.service import enqueue_email
from propops.organisations.models import Organisation
from propops.organisations.settings import read_settings, wants_email

# The responsible agent's email and first name (none: the branch's email), for ``agent_id`` and
# ``branch_id``: one statement.
AGENT_CONTACT = (
    select(User.email, User.first_name, Branch.email)
    .select_from(Branch)
    .outerjoin(Agent, Agent.id == bindparam("agent_id"))
    .outerjoin(User, User.id == Agent.user_id)
    .where(Branch.id == bindparam("branch_id"))
)


def _json(value: Any) -> dict[str, Any] | None:
    """A JSON column read on the raw driver (text on SQLite and asyncpg) or through the ORM (dict)."""
    loaded = json.loads(value) if isinstance(value, str) else value
    return loaded if isinstance(loaded, dict) else None


ORGANISATION_SETTINGS = select(Organisation.settings).where(Organisation.id == bindparam("organisation_id"))
CONTRACTOR_CONTACT = select(Contractor.email, Contractor.first_name).where(Contractor.id == bindparam("contractor_id"))


async def _queue(
    executor: Executor,
    session: AsyncSession,
    job: JobRow,
    kind: str,
    to: str | None,
    subject: str,
    heading: str,
    lines: list[str],
    greeting: str | None = None,
    dedupe_key: str | None = None,
) -> int:
    if not to:
        return 0
    row = await executor.in_transaction_one(session, ORGANISATION_SETTINGS, organisation_id=job.organisation_id)
    stored = None if row is None else _json(row[0])
    if not wants_email(stored, kind):
        return 0  # the organisation turned this notification off (organisations.settings)
    context: dict[str, Any] = {"subject": subject, "heading": heading, "lines": lines, "greeting": greeting}
    sender = read_settings(stored).branding_name
    if sender:
        context["sender"] = sender  # the organisation's name on its mail (the templates' sign-off)
    queued = await enqueue_email(
        executor,
        session,
        organisation_id=job.organisation_id,
        to=to,
        template="notice",
        context=context,
        dedupe_key=dedupe_key,
    )
    return 0 if queued is None else 1


async def agent_contact(executor: Executor, session: AsyncSession, job: JobRow) -> tuple[str | None, str | None]:
    """(email, first name) of the responsible agent, else the branch's email."""
    row = await executor.in_transaction_one(session, AGENT_CONTACT, agent_id=job.agent_id, branch_id=job.branch_id)
    if row is None:
        return None, None
    agent_email, first_name, branch_email = row
    if agent_email is not None:
        return agent_email, first_name
    return branch_email, None


async def contractor_contact(
    executor: Executor, session: AsyncSession, contractor_id: int | None
) -> tuple[str | None, str | None]:
    if contractor_id is None:
        return None, None
    row = await executor.in_transaction_one(session, CONTRACTOR_CONTACT, contractor_id=contractor_id)
    return (row[0], row[1]) if row else (None, None)


async def job_assigned(
    executor: Executor, session: AsyncSession, job: JobRow, email: str | None, first_name: str, address: str
) -> int:
    return await _queue(
        executor,
        session,
        job,
        "job_assigned",
        email,
        f"New job assigned: {job.job_ref} {job.title}",
        f"Job {job.job_ref} has been assigned to you",
        [
            f"Job: {job.title}",
            f"Address: {address}",
            f"Respond by: {iso(job.sla_due_at) or 'no SLA deadline'}",
            "Please accept the job in PropOps, then start it when work begins on site.",
        ],
        greeting=f"Hello {first_name},",
    )


async def job_completed(executor: Executor, session: AsyncSession, job: JobRow) -> int:
    to, name = await agent_contact(executor, session, job)
    return await _queue(
        executor,
        session,
        job,
        "job_completed",
        to,
        f"Job completed: {job.job_ref} {job.title}",
        f"Job {job.job_ref} was marked complete",
        [f"Job: {job.title}", f"Completed at: {iso(job.completed_at)}", "Review it and close it when satisfied."],
        greeting=f"Hello {name}," if name else None,
    )


async def job_recalled(executor: Executor, session: AsyncSession, job: JobRow, reason: str) -> int:
    to, name = await agent_contact(executor, session, job)
    lines = [f"Job: {job.title}", f"Reason: {reason}", f"Recalls on this job: {job.recall_count}"]
    sent = await _queue(
        executor,
        session,
        job,
        "job_recalled",
        to,
        f"Job recalled: {job.job_ref} {job.title}",
        f"Job {job.job_ref} was recalled",
        lines,
        greeting=f"Hello {name}," if name else None,
    )
    c_to, c_name = await contractor_contact(executor, session, job.contractor_id)
    sent += await _queue(
        executor,
        session,
        job,
        "job_recalled",
        c_to,
        f"Job recalled: {job.job_ref} {job.title}",
        f"Job {job.job_ref} needs more work",
        lines,
        greeting=f"Hello {c_name}," if c_name else None,
    )
    return sent


async def sla_breached(executor: Executor, session: AsyncSession, job: JobRow, to: str | None, name: str | None) -> int:
    """Deduplicated per job and deadline, so a rerun (or a second worker) never sends it twice."""
    return await _queue(
        executor,
        session,
        job,
        "sla_breached",
        to,
        f"SLA breached: {job.job_ref} {job.title}",
        f"Job {job.job_ref} has passed its SLA deadline",
        [f"Job: {job.title}", f"Deadline: {iso(job.sla_due_at)}", f"Target: {job.sla_target_hours} hours"],
        greeting=f"Hello {name}," if name else None,
        dedupe_key=f"job-sla-breach:{job.id}:{iso(job.sla_due_at)}",
    )


async def case_note(
    executor: Executor, session: AsyncSession, job: JobRow, recipients: list[str], author: str, note: str
) -> int:
    sent = 0
    for to in dict.fromkeys(recipients):
        sent += await _queue(
            executor,
            session,
            job,
            "case_note",
            to,
            f"Case note on {job.job_ref}: {job.title}",
            f"{author} added a case note to job {job.job_ref}",
            [note],
        )
    return sent
