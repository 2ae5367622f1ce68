"""Outbox logic: enqueue in the caller's transaction, list and retry for staff. No HTTP here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from propops.core.clock import iso, utcnow
from propops.core.errors import Conflict, InvalidInput, NotFound
from propops.core.pagination import Page
from propops.infra.executor import Executor
from propops.notifications.models import STATUS_FAILED, STATUS_QUEUED, STATUSES, EmailOutbox
from propops.notifications.templates import render

# One address, no display name, no header-injection characters.
_ADDRESS_RE = re.compile(r"^[^@\s<>\"',;\\]{1,64}@[A-Za-z0-9.-]{1,253}$")


def _check_address(to: str) -> str:
    value = to.strip()
    if not _ADDRESS_RE.match(value):
        raise InvalidInput.field("to", "must be one plain email address")
    return value


def _outbox_values(
    organisation_id: int,
    to: str,
    template: str,
    context: dict[str, Any],
    dedupe_key: str | None,
    not_before: datetime | None,
) -> dict[str, Any]:
    rendered = render(template, context)
    now = utcnow()
    return {
        "organisation_id": organisation_id,
        "to_address": _check_address(to),
        "subject": rendered.subject,
        "body_text": rendered.text,
        "body_html": rendered.html,
        "template": template,
        "status": STATUS_QUEUED,
        "attempts": 0,
        "next_attempt_at": not_before or now,
        "dedupe_key": dedupe_key,
        "created_at": now,
    }


def _insert(mod: Any, deduplicated: bool) -> Any:
    columns = ("organisation_id", "to_address", "subject", "body_text", "body_html", "template", "status", "attempts",
               "next_attempt_at", "dedupe_key", "created_at")  # fmt: skip
    table = EmailOutbox.__table__
    stmt = mod.insert(EmailOutbox).values({c: bindparam(c, type_=table.c[c].type) for c in columns})
    if deduplicated:  # insert-or-ignore: keeps the caller's transaction usable, as a caught error would not
        stmt = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"])
    return stmt.returning(EmailOutbox.id)


# Per dialect (the ON CONFLICT construct is each dialect's own), plain or deduplicated.
_ENQUEUE = {
    (name, deduplicated): _insert(mod, deduplicated)
    for name, mod in (("postgresql", postgresql), ("sqlite", sqlite))
    for deduplicated in (False, True)
}


async def enqueue_email(
    executor: Executor,
    session: AsyncSession,
    *,
    organisation_id: int,
    to: str,
    template: str,
    context: dict[str, Any],
    dedupe_key: str | None = None,
    not_before: datetime | None = None,
) -> int | None:
    """Render ``template`` and queue it for ``to`` inside the caller's transaction (one INSERT on
    the session's connection: the job lifecycle writes queue an email on most calls, and the ORM
    insert cost ~0.6 ms of CPU each).

    Returns the outbox id, or ``None`` when ``dedupe_key`` was already used (the email exists, so a
    rerun or a concurrent runner sends nothing twice).
    """
    values = _outbox_values(organisation_id, to, template, context, dedupe_key, not_before)
    statement = _ENQUEUE[(executor.dialect.name, dedupe_key is not None)]
    row = await executor.in_transaction_one(session, statement, **values)
    return None if row is None else int(row[0])


@dataclass(frozen=True)
class EmailSpec:
    """One email for ``enqueue_many``: the arguments of ``enqueue_email``."""

    organisation_id: int
    to: str
    template: str
    context: dict[str, Any]
    dedupe_key: str | None = None


async def enqueue_many(session: AsyncSession, emails: list[EmailSpec]) -> int:
    """Queue many emails in one statement (bulk jobs such as the reminder scan); returns how many
    were new. Same rendering, validation and dedupe semantics as ``enqueue_email``."""
    if not emails:
        return 0
    now = utcnow()
    values = []
    for e in emails:
        rendered = render(e.template, e.context)
        values.append(
            {
                "organisation_id": e.organisation_id,
                "to_address": _check_address(e.to),
                "subject": rendered.subject,
                "body_text": rendered.text,
                "body_html": rendered.html,
                "template": e.template,
                "status": STATUS_QUEUED,
                "attempts": 0,
                "next_attempt_at": now,
                "dedupe_key": e.dedupe_key,
                "created_at": now,
            }
        )
    dialect = session.get_bind().dialect.name
    mod: Any = postgresql if dialect == "postgresql" else sqlite
    stmt = mod.insert(EmailOutbox).values(values).on_conflict_do_nothing(index_elements=["dedupe_key"])
    return len((await session.execute(stmt.returning(EmailOutbox.id))).all())


def outbox_payload(row: EmailOutbox) -> dict[str, Any]:
    return {
        "ID": row.id,
        "to": row.to_address,
        "subject": row.subject,
        "template": row.template,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": iso(row.next_attempt_at) if row.status == STATUS_QUEUED else None,
        "last_error": row.last_error,
        "dedupe_key": row.dedupe_key,
        "created_at": iso(row.created_at),
        "sent_at": iso(row.sent_at),
    }


async def list_outbox(
    session: AsyncSession, *, organisation_id: int, status: str | None, page: Page
) -> tuple[list[dict[str, Any]], int]:
    """The organisation's emails; the default view is what needs attention: failed and queued,
    newest first."""
    if status is not None and status not in STATUSES:
        raise InvalidInput.field("status", f"must be one of: {', '.join(STATUSES)}")
    wanted = [status] if status else [STATUS_FAILED, STATUS_QUEUED]
    where = and_(EmailOutbox.organisation_id == organisation_id, EmailOutbox.status.in_(wanted))
    count = (await session.execute(select(func.count()).select_from(EmailOutbox).where(where))).scalar_one()
    rows = (
        await session.execute(
            select(EmailOutbox)
            .where(where)
            .order_by(EmailOutbox.created_at.desc(), EmailOutbox.id.desc())
            .limit(page.limit)
            .offset(page.offset)
        )
    ).scalars()
    return [outbox_payload(r) for r in rows], int(count)


async def retry_email(session: AsyncSession, organisation_id: int, email_id: int) -> dict[str, Any]:
    """Put a parked email of the organisation back in the queue with a fresh attempt budget."""
    row = await session.get(EmailOutbox, email_id)
    if row is None or row.organisation_id != organisation_id:
        raise NotFound("No outbox email with that ID.")
    if row.status != STATUS_FAILED:
        raise Conflict("Only a failed email can be retried.")
    await session.execute(
        update(EmailOutbox)
        .where(EmailOutbox.id == email_id, EmailOutbox.status == STATUS_FAILED)
        .values(status=STATUS_QUEUED, attempts=0, next_attempt_at=utcnow(), claimed_by=None)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(row)
    return outbox_payload(row)
