"""Case notes and remedial links. Both act only on jobs the caller can see (``service.find_job``)."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from propops.auth.models import ACCOUNT_CONTRACTOR, User
from propops.auth.service import Principal
from propops.core.clock import iso, utcnow
from propops.core.errors import Conflict, Forbidden, InvalidInput
from propops.core.pagination import Page
from propops.core.validation import clean_text
from propops.infra.executor import Executor
from propops.jobs import lifecycle, notify, repository, service
from propops.jobs.models import STATUS_ARCHIVED, STATUS_NEW, Job, JobCaseNote, JobRow
from propops.jobs.schemas import CaseNoteRequest, JobManageRequest, RemedialRequest

MAX_NOTE = 20000


def _is_contractor(principal: Principal) -> bool:
    return principal.account_type_id == ACCOUNT_CONTRACTOR


async def list_notes(
    executor: Executor, session: AsyncSession, principal: Principal, job_uuid: str | None, page: Page
) -> tuple[list[dict[str, Any]], int]:
    """Oldest first; private notes are hidden from contractors."""
    job = await service.find_job(executor, session, principal, job_uuid, field="job_uuid", lock=False)
    conds = [JobCaseNote.job_id == job.id]
    if _is_contractor(principal):
        conds.append(JobCaseNote.is_private.is_(False))
    count = (await session.execute(select(func.count(JobCaseNote.id)).where(*conds))).scalar_one()
    rows = (
        await session.execute(
            select(JobCaseNote, User.first_name, User.last_name)
            .outerjoin(User, User.id == JobCaseNote.user_id)
            .where(*conds)
            .order_by(JobCaseNote.id)
            .limit(page.limit)
            .offset(page.offset)
        )
    ).all()
    return [
        {
            "ID": n.id,
            "uuid": n.uuid,
            "job_id": job.id,
            "job_uuid": job.uuid,
            "note_text": n.note,
            "created_by_name": None if first is None else f"{first} {last}".strip(),
            "is_private": n.is_private,
            "send_email": n.send_email,
            "attachments_count": 0,
            "created_at": iso(n.created_at),
        }
        for n, first, last in rows
    ], int(count)


async def create_note(
    executor: Executor, session: AsyncSession, principal: Principal, body: CaseNoteRequest
) -> dict[str, Any]:
    """Add a note (history entry too); with send_email, mail the other parties through the outbox."""
    job = await service.find_job(executor, session, principal, body.job_uuid, field="job_uuid")
    raw = body.note_text if body.note_text is not None else body.note
    text = (raw or "").strip()
    if not text:
        raise InvalidInput.field("note_text", "is required")
    if "\x00" in text:
        raise InvalidInput.field("note_text", "must not contain NUL characters")
    if body.is_private and _is_contractor(principal):
        raise Forbidden("Contractors cannot add private notes.")
    if job.status_id == STATUS_ARCHIVED:
        raise Conflict("The job is archived (read-only); notes cannot be added.")
    note = JobCaseNote(
        job_id=job.id,
        user_id=principal.user_id,
        note=text,
        is_private=body.is_private,
        send_email=body.send_email,
        created_at=utcnow(),
    )
    session.add(note)
    await session.flush()
    after = {"note_id": note.id, "is_private": body.is_private}
    await repository.record(executor, session, job.id, principal.user_id, "note", None, after)
    sent = 0
    if body.send_email:
        agent_email, _ = await notify.agent_contact(executor, session, job)
        recipients = [agent_email] if agent_email else []
        if not body.is_private:
            c_email, _ = await notify.contractor_contact(executor, session, job.contractor_id)
            if c_email:
                recipients.append(c_email)
        recipients = [r for r in recipients if r.lower() != principal.email.lower()]
        sent = await notify.case_note(executor, session, job, recipients, principal.name or principal.email, text)
    return {"note_id": note.id, "uuid": note.uuid, "emails_queued": sent}


async def _ancestors(session: AsyncSession, job: JobRow) -> set[int]:
    """Ids up the parent chain (bounded: remedial chains are short; stops at 100)."""
    seen: set[int] = set()
    current = job.parent_job_id
    while current is not None and current not in seen and len(seen) < 100:
        seen.add(current)
        current = (await session.execute(select(Job.parent_job_id).where(Job.id == current))).scalar_one_or_none()
    return seen


async def _set_parent(session: AsyncSession, child: JobRow, parent_id: int | None) -> JobRow:
    await session.execute(update(Job).where(Job.id == child.id).values(parent_job_id=parent_id))
    return child._replace(parent_job_id=parent_id)


async def remedial(
    executor: Executor, session: AsyncSession, principal: Principal, body: RemedialRequest
) -> dict[str, Any]:
    """create: link an existing job (or a new one raised from the parent) as a remedial of the parent;
    delete: remove the link. History entries on both jobs."""
    lifecycle.ensure_may(principal, "update")
    parent = await service.find_job(executor, session, principal, body.parent_job_uuid, field="parent_job_uuid")
    reason = clean_text(body.reason, "reason", 1000, required=body.action == "create")
    created = False
    record = functools.partial(repository.record, executor, session)
    if body.action == "delete":
        child = await service.find_job(executor, session, principal, body.remedial_job_uuid, field="remedial_job_uuid")
        if child.parent_job_id != parent.id:
            raise Conflict("That job is not a remedial of the parent job.")
        child = await _set_parent(session, child, None)
        await record(
            child.id, principal.user_id, "remedial", {"parent_job_id": parent.id}, {"parent_job_id": None}, reason
        )
        await record(parent.id, principal.user_id, "remedial", {"remedial_job_id": child.id}, None, reason)
        return _link(parent, child, reason, created)
    if body.remedial_job_uuid:
        child = await service.find_job(executor, session, principal, body.remedial_job_uuid, field="remedial_job_uuid")
        if child.id == parent.id:
            raise InvalidInput.field("remedial_job_uuid", "a job cannot be its own remedial")
        if child.parent_job_id == parent.id:
            raise Conflict("The job is already a remedial of this parent.")
        if child.parent_job_id is not None:
            raise Conflict("The job is already a remedial of another job; remove that link first.")
        if child.id in await _ancestors(session, parent):
            raise Conflict("Linking would make a cycle (the job is an ancestor of the parent).")
    else:
        child = await service.create_job(
            executor,
            session,
            principal,
            JobManageRequest(
                action="create",
                job_title=f"Remedial: {parent.title}"[:200],
                job_description=reason or "",
                priority_id=parent.priority_id,
                job_type_id=parent.job_type_id,
                trade_id=parent.trade_id,
                address_id=parent.property_id,
                agent_id=parent.agent_id,
                status_id=STATUS_NEW,
            ),
        )
        created = True
    child = await _set_parent(session, child, parent.id)
    await record(child.id, principal.user_id, "remedial", {"parent_job_id": None}, {"parent_job_id": parent.id}, reason)
    await record(parent.id, principal.user_id, "remedial", None, {"remedial_job_id": child.id}, reason)
    return _link(parent, child, reason, created)


def _link(parent: JobRow, child: JobRow, reason: str | None, created: bool) -> dict[str, Any]:
    return {
        "parent_job_uuid": parent.uuid,
        "parent_job_ref": parent.job_ref,
        "remedial_job_uuid": child.uuid,
        "remedial_job_ref": child.job_ref,
        "reason": reason,
        "created": created,
    }
