"""The scheduled SLA scan: each open job past its deadline is notified once.

A job is claimed by stamping ``sla_breach_notified_at`` in the same transaction that queues the
email (deduplicated by job and deadline) and records the history entry. On PostgreSQL the batch is
selected ``FOR UPDATE SKIP LOCKED``, so several workers can run the scan at once; the outbox
dedupe key makes a second send impossible even if two runs raced on SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from propops.core.clock import iso, utcnow
from propops.core.db import Database
from propops.jobs import notify
from propops.jobs.models import OPEN_STATUSES, Job
from propops.jobs.service import record

BATCH = 200


@dataclass
class SlaScanReport:
    breached: int = 0
    emails: int = 0


async def scan_sla_breaches(db: Database, now: datetime | None = None, batch: int = BATCH) -> SlaScanReport:
    """Notify every newly breached open job; returns how many were claimed and emailed."""
    now = now or utcnow()
    report = SlaScanReport()
    while True:
        async with db.sessionmaker() as session, session.begin():
            stmt = (
                select(Job)
                .where(
                    Job.status_id.in_(OPEN_STATUSES),
                    Job.sla_due_at < now,
                    Job.sla_breach_notified_at.is_(None),
                )
                .order_by(Job.sla_due_at, Job.id)
                .limit(batch)
            )
            if db.dialect == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            jobs = list((await session.execute(stmt)).scalars())
            for job in jobs:
                job.sla_breach_notified_at = now
                to, name = await notify.agent_contact(session, job)
                report.emails += await notify.sla_breached(session, job, to, name)
                record(
                    session,
                    job,
                    None,
                    "sla_breached",
                    None,
                    {"sla_due_at": iso(job.sla_due_at), "notified": to is not None},
                )
            report.breached += len(jobs)
        if len(jobs) < batch:
            return report
