"""The scheduled SLA scan: each open job past its deadline is notified once.

A job is claimed by a conditional UPDATE of ``sla_breach_notified_at`` (only rows still unclaimed),
in the same transaction that queues the email (deduplicated by job and deadline) and records the
history entry. On PostgreSQL the batch is selected ``FOR UPDATE SKIP LOCKED`` so several workers
share the work; on SQLite writers serialise and the conditional claim lets only one of them win.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from propops.agents.models import Agent
from propops.auth.models import User
from propops.branches.models import Branch
from propops.core.clock import iso, utcnow
from propops.core.db import Database
from propops.infra.executor import Executor
from propops.jobs import notify, repository
from propops.jobs.models import OPEN_STATUSES, Job, JobRow

BATCH = 200


@dataclass
class SlaScanReport:
    breached: int = 0
    emails: int = 0


async def _contacts(session: AsyncSession, job_ids: list[int]) -> dict[int, tuple[str | None, str | None]]:
    """Agent email and first name per job (the branch email when no agent): one query per batch."""
    if not job_ids:
        return {}
    rows = await session.execute(
        select(Job.id, User.email, User.first_name, Branch.email)
        .join(Branch, Branch.id == Job.branch_id)
        .outerjoin(Agent, Agent.id == Job.agent_id)
        .outerjoin(User, User.id == Agent.user_id)
        .where(Job.id.in_(job_ids))
    )
    return {jid: (email, first) if email else (branch_email, None) for jid, email, first, branch_email in rows}


async def scan_sla_breaches(
    db: Database, now: datetime | None = None, batch: int = BATCH, executor: Executor | None = None
) -> SlaScanReport:
    """Notify every newly breached open job; returns how many were claimed and emailed."""
    now = now or utcnow()
    executor = executor or Executor(db.engine, None)  # writes only: no committed-row reader needed
    report = SlaScanReport()
    while True:
        async with db.sessionmaker() as session, session.begin():
            stmt = (
                select(Job.id)
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
            candidates = list((await session.execute(stmt)).scalars())
            # The claim: only rows still unclaimed when this write runs (another runner may have
            # taken them since the SELECT on SQLite, which has no SKIP LOCKED).
            claimed = (
                list(
                    (
                        await session.execute(
                            update(Job)
                            .where(Job.id.in_(candidates), Job.sla_breach_notified_at.is_(None))
                            .values(sla_breach_notified_at=now)
                            .returning(Job.id)
                            .execution_options(synchronize_session=False)
                        )
                    ).scalars()
                )
                if candidates
                else []
            )
            rows = await session.execute(select(*repository.ROW_COLUMNS).where(Job.id.in_(claimed)).order_by(Job.id))
            jobs = [JobRow._make(r) for r in rows]
            contacts = await _contacts(session, claimed)
            for job in jobs:
                to, name = contacts.get(job.id, (None, None))
                report.emails += await notify.sla_breached(executor, session, job, to, name)
                after = {"sla_due_at": iso(job.sla_due_at), "notified": to is not None}
                await repository.record(executor, session, job.id, None, "sla_breached", None, after, now=now)
            report.breached += len(jobs)
        if len(candidates) < batch:
            return report
