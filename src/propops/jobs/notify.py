"""Job emails, queued in the outbox inside the caller's transaction (so they exist exactly when the
change does): assignment to the contractor; completion, recall and SLA breach to the agent; case
notes to the other parties. All use the generic ``notice`` template."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from propops.contractors.models import Contractor
from propops.core.clock import iso
from propops.jobs.models import Job
from propops.jobs.reads import SessionRunner
from propops.jobs.state import ContractorRef, JobState
from propops.notifications.service import enqueue_email_on
from propops.properties.models import Property


async def _queue(
    session: AsyncSession,
    to: str | None,
    subject: str,
    heading: str,
    lines: list[str],
    greeting: str | None = None,
    dedupe_key: str | None = None,
) -> int:
    if not to:
        return 0
    context: dict[str, Any] = {"subject": subject, "heading": heading, "lines": lines, "greeting": greeting}
    runner = SessionRunner(session)
    queued = await enqueue_email_on(runner, runner.pg, to=to, template="notice", context=context, dedupe_key=dedupe_key)
    return 0 if queued is None else 1


async def agent_contact(session: AsyncSession, job: Job | JobState) -> tuple[str | None, str | None]:
    """(email, first name) of the responsible agent, else the branch's email: one plain query in
    the caller's transaction (``reads.SessionRunner``)."""
    rows = await SessionRunner(session)(
        "SELECT (SELECT u.email FROM agents a JOIN users u ON u.id = a.user_id WHERE a.id = {0}), "
        "(SELECT u.first_name FROM agents a JOIN users u ON u.id = a.user_id WHERE a.id = {0}), "
        "(SELECT b.email FROM branches b WHERE b.id = {1})",
        job.agent_id,
        job.branch_id,
    )
    agent_email, first_name, branch_email = rows[0]
    if agent_email is not None:
        return agent_email, first_name
    return branch_email, None


async def contractor_contact(session: AsyncSession, contractor_id: int | None) -> tuple[str | None, str | None]:
    if contractor_id is None:
        return None, None
    rows = await SessionRunner(session)(
        "SELECT c.email, c.first_name FROM contractors c WHERE c.id = {0}", contractor_id
    )
    return (rows[0][0], rows[0][1]) if rows else (None, None)


async def _address(session: AsyncSession, job: Job | JobState) -> str:
    p = await session.get(Property, job.property_id)
    if p is None:
        return ""
    return ", ".join(x for x in (p.address_line1, p.address_line2, p.town, p.postcode) if x)


async def job_assigned(
    session: AsyncSession, job: Job | JobState, contractor: Contractor | ContractorRef, address: str | None = None
) -> int:
    address = address if address is not None else await _address(session, job)
    return await _queue(
        session,
        contractor.email,
        f"New job assigned: {job.job_ref} {job.title}",
        f"Job {job.job_ref} has been assigned to you",
        [
            f"Job: {job.title}",
            f"Address: {address}",
            f"Respond by: {iso(job.sla_due_at) or 'no SLA deadline'}",
            "Please accept the job in PropOps, then start it when work begins on site.",
        ],
        greeting=f"Hello {contractor.first_name},",
    )


async def job_completed(session: AsyncSession, job: Job | JobState) -> int:
    to, name = await agent_contact(session, job)
    return await _queue(
        session,
        to,
        f"Job completed: {job.job_ref} {job.title}",
        f"Job {job.job_ref} was marked complete",
        [f"Job: {job.title}", f"Completed at: {iso(job.completed_at)}", "Review it and close it when satisfied."],
        greeting=f"Hello {name}," if name else None,
    )


async def job_recalled(session: AsyncSession, job: Job | JobState, reason: str) -> int:
    to, name = await agent_contact(session, job)
    lines = [f"Job: {job.title}", f"Reason: {reason}", f"Recalls on this job: {job.recall_count}"]
    sent = await _queue(
        session,
        to,
        f"Job recalled: {job.job_ref} {job.title}",
        f"Job {job.job_ref} was recalled",
        lines,
        greeting=f"Hello {name}," if name else None,
    )
    c_to, c_name = await contractor_contact(session, job.contractor_id)
    sent += await _queue(
        session,
        c_to,
        f"Job recalled: {job.job_ref} {job.title}",
        f"Job {job.job_ref} needs more work",
        lines,
        greeting=f"Hello {c_name}," if c_name else None,
    )
    return sent


async def sla_breached(session: AsyncSession, job: Job | JobState, to: str | None, name: str | None) -> int:
    """Deduplicated per job and deadline, so a rerun (or a second worker) never sends it twice."""
    return await _queue(
        session,
        to,
        f"SLA breached: {job.job_ref} {job.title}",
        f"Job {job.job_ref} has passed its SLA deadline",
        [f"Job: {job.title}", f"Deadline: {iso(job.sla_due_at)}", f"Target: {job.sla_target_hours} hours"],
        greeting=f"Hello {name}," if name else None,
        dedupe_key=f"job-sla-breach:{job.id}:{iso(job.sla_due_at)}",
    )


async def case_note(session: AsyncSession, job: Job | JobState, recipients: list[str], author: str, note: str) -> int:
    sent = 0
    for to in dict.fromkeys(recipients):
        sent += await _queue(
            session,
            to,
            f"Case note on {job.job_ref}: {job.title}",
            f"{author} added a case note to job {job.job_ref}",
            [note],
        )
    return sent
