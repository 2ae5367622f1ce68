"""The SMTP delivery worker.

Rows are claimed in a short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several
workers split the queue; on SQLite the single UPDATE statement is atomic because writers are
serialised), sent over one SMTP connection per batch outside any transaction, then marked sent,
rescheduled with exponential backoff, or parked as failed after ``outbox_max_attempts``.
A worker that dies mid-batch leaves its rows claimed only until the lease runs out. A database that
is briefly unreachable after a batch was sent (a restart) does not lose the bookkeeping: the worker
keeps retrying it, so the sent rows are not sent again when their lease runs out.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import aiosmtplib
from sqlalchemy import select, update

from propops.core.clock import utcnow
from propops.core.db import Database
from propops.core.errors import database_unavailable
from propops.core.settings import Settings
from propops.notifications.models import STATUS_FAILED, STATUS_QUEUED, STATUS_SENT, EmailOutbox

log = logging.getLogger("propops.outbox")
RECORD_RETRY_FIRST_SECONDS = 0.5
RECORD_RETRY_MAX_SECONDS = 5.0


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0

    def add(self, other: DeliveryReport) -> None:
        self.claimed += other.claimed
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed


@dataclass
class _Claimed:
    id: int
    to: str
    subject: str
    text: str
    html: str | None
    attempts: int


def backoff_seconds(settings: Settings, attempts: int) -> float:
    """Exponential: base, 2*base, 4*base... capped, so a long SMTP outage is not hammered."""
    delay = settings.outbox_backoff_base_seconds * 2 ** max(0, attempts - 1)
    return float(min(settings.outbox_backoff_max_seconds, delay))


def build_message(settings: Settings, row: _Claimed) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = row.to
    msg["Subject"] = row.subject
    msg["Message-ID"] = make_msgid(idstring=f"outbox-{row.id}", domain="propops.local")
    msg["X-PropOps-Outbox-Id"] = str(row.id)
    msg.set_content(row.text)
    if row.html:
        msg.add_alternative(row.html, subtype="html")
    return msg


async def claim_batch(db: Database, settings: Settings, *, worker_id: str, now: datetime, limit: int) -> list[_Claimed]:
    """Claim up to ``limit`` due rows: lease them to this worker and count the attempt."""
    due = (
        select(EmailOutbox.id)
        .where(EmailOutbox.status == STATUS_QUEUED, EmailOutbox.next_attempt_at <= now)
        .order_by(EmailOutbox.next_attempt_at, EmailOutbox.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    stmt = (
        update(EmailOutbox)
        .where(EmailOutbox.id.in_(due.scalar_subquery()))
        .values(
            claimed_by=worker_id,
            attempts=EmailOutbox.attempts + 1,
            next_attempt_at=now + timedelta(seconds=settings.outbox_lease_seconds),
        )
        .returning(
            EmailOutbox.id,
            EmailOutbox.to_address,
            EmailOutbox.subject,
            EmailOutbox.body_text,
            EmailOutbox.body_html,
            EmailOutbox.attempts,
        )
        .execution_options(synchronize_session=False)
    )
    async with db.sessionmaker() as session, session.begin():
        rows = (await session.execute(stmt)).all()
    return sorted((_Claimed(*r) for r in rows), key=lambda c: c.id)


async def _send_batch(settings: Settings, batch: list[_Claimed]) -> dict[int, tuple[bool, str | None, bool]]:
    """Per row: (sent, error, permanent). A connection failure fails every row not yet sent."""
    results: dict[int, tuple[bool, str | None, bool]] = {}
    smtp = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        timeout=settings.smtp_timeout_seconds,
        start_tls=settings.smtp_starttls,
        username=settings.smtp_username,
        password=settings.smtp_password,
    )
    try:
        async with smtp:
            for row in batch:
                try:
                    await smtp.send_message(build_message(settings, row))
                    results[row.id] = (True, None, False)
                except aiosmtplib.SMTPRecipientsRefused as exc:
                    codes = [getattr(r, "code", 0) for r in exc.recipients]
                    results[row.id] = (False, f"recipient refused: {exc}", all(c >= 500 for c in codes))
                except aiosmtplib.SMTPResponseException as exc:
                    results[row.id] = (False, f"SMTP {exc.code}: {exc.message}", exc.code >= 500)
                    if exc.code in (421,):  # server closing the connection: stop this batch
                        break
    except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
        error = f"SMTP unavailable: {type(exc).__name__}: {exc}"[:1000]
        for row in batch:
            results.setdefault(row.id, (False, error, False))
    for row in batch:
        results.setdefault(row.id, (False, "not attempted: connection closed", False))
    return results


async def _record(
    db: Database,
    settings: Settings,
    batch: list[_Claimed],
    results: dict[int, tuple[bool, str | None, bool]],
    *,
    worker_id: str,
    now: datetime,
) -> DeliveryReport:
    report = DeliveryReport(claimed=len(batch))
    sent_ids = [row.id for row in batch if results[row.id][0]]
    async with db.sessionmaker() as session, session.begin():
        if sent_ids:
            await session.execute(
                update(EmailOutbox)
                .where(EmailOutbox.id.in_(sent_ids))
                .values(status=STATUS_SENT, sent_at=utcnow(), claimed_by=None, last_error=None)
                .execution_options(synchronize_session=False)
            )
            report.sent = len(sent_ids)
        for row in batch:
            ok, error, permanent = results[row.id]
            if ok:
                continue
            values: dict[str, Any] = {"claimed_by": None, "last_error": error}
            if permanent or row.attempts >= settings.outbox_max_attempts:
                values["status"] = STATUS_FAILED
                report.failed += 1
                log.warning("email %s parked as failed after %s attempts: %s", row.id, row.attempts, error)
            else:
                values["next_attempt_at"] = now + timedelta(seconds=backoff_seconds(settings, row.attempts))
                report.retried += 1
            await session.execute(
                update(EmailOutbox)
                .where(EmailOutbox.id == row.id, EmailOutbox.claimed_by == worker_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
    return report


async def _record_until_done(
    db: Database,
    settings: Settings,
    batch: list[_Claimed],
    results: dict[int, tuple[bool, str | None, bool]],
    *,
    worker_id: str,
    now: datetime | None,
) -> DeliveryReport:
    """``_record``, retried while the database is unreachable (a restart): the emails are already
    with the SMTP server, and rows left claimed would be sent AGAIN when their lease ran out.
    Retries for at most half the lease, so the rows are still ours while we keep trying."""
    deadline = time.monotonic() + settings.outbox_lease_seconds / 2
    delay = RECORD_RETRY_FIRST_SECONDS
    while True:
        try:
            return await _record(db, settings, batch, results, worker_id=worker_id, now=now or utcnow())
        except Exception as exc:
            if not database_unavailable(exc) or time.monotonic() + delay > deadline:
                raise
            log.warning(
                "recording the outcome of %d emails failed (database unavailable: %s); retrying in %.1f s",
                len(batch),
                type(exc).__name__,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECORD_RETRY_MAX_SECONDS)


async def deliver_due(
    db: Database,
    settings: Settings,
    *,
    now: datetime | None = None,
    worker_id: str | None = None,
    max_batches: int | None = None,
) -> DeliveryReport:
    """Deliver every email due at ``now`` (default: the clock), batch by batch, and report."""
    worker_id = worker_id or str(uuid.uuid4())
    total = DeliveryReport()
    batches = 0
    while max_batches is None or batches < max_batches:
        at = now or utcnow()
        batch = await claim_batch(db, settings, worker_id=worker_id, now=at, limit=settings.outbox_batch_size)
        if not batch:
            break
        batches += 1
        results = await _send_batch(settings, batch)
        report = await _record_until_done(db, settings, batch, results, worker_id=worker_id, now=now)
        total.add(report)
        if report.sent == 0:  # SMTP is down or refusing everything: stop, backoff decides the next try
            break
    return total
