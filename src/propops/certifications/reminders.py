"""Certificate expiry reminders.

Policy (settings): ``reminder_days_before`` days before expiry (30 and 7), on the day, then every
``reminder_overdue_every_days`` (7) while overdue. A run computes, for each current certificate in
reach, the latest step it has reached; a missed day is caught up with that one step, never with a
burst of old ones. The step is claimed by inserting (certification, step) into a table with a unique
constraint (insert-or-ignore), and only the runner whose insert landed enqueues the two emails (to
the contractor and to the compliance address) in the same transaction. Reruns and concurrent
runners therefore never send twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from propops.certifications.models import Certification, CertificationReminder, CertificationType
from propops.contractors.models import Contractor
from propops.core.clock import utcnow
from propops.core.db import Database
from propops.core.settings import Settings
from propops.notifications.service import EmailSpec, enqueue_many
from propops.organisations.models import Organisation
from propops.organisations.settings import read_settings

CHUNK = 1000


@dataclass
class ReminderReport:
    scanned: int = 0
    due: int = 0
    sent: int = 0  # steps newly claimed (each queues two emails)
    emails: int = 0


def reminder_step(expires_on: date, today: date, settings: Settings) -> str | None:
    """The latest step reached on ``today``: ``before-30``, ``before-7``, ``due`` or ``overdue-N``."""
    days = (expires_on - today).days
    before = sorted({d for d in settings.reminder_days_before if d > 0})
    if days > 0:
        reached = [d for d in before if d >= days]
        return f"before-{min(reached)}" if reached else None
    overdue = -days
    every = settings.reminder_overdue_every_days
    if overdue < every:
        return "due"
    return f"overdue-{(overdue // every) * every}"


def _insert_ignore(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    mod: Any = postgresql if dialect == "postgresql" else sqlite
    return mod.insert(CertificationReminder)


async def _claim_steps(session: AsyncSession, pairs: list[tuple[int, str]]) -> set[tuple[int, str]]:
    """Insert-or-ignore each (certification, step); return the pairs this call actually inserted."""
    if not pairs:
        return set()
    now = utcnow()
    stmt = (
        _insert_ignore(session)
        .values([{"certification_id": c, "step": s, "created_at": now} for c, s in pairs])
        .on_conflict_do_nothing(index_elements=["certification_id", "step"])
        .returning(CertificationReminder.certification_id, CertificationReminder.step)
    )
    return {(int(r[0]), str(r[1])) for r in (await session.execute(stmt)).all()}


def _context(row: Any, step: str, today: date) -> dict[str, Any]:
    cert, type_name, c_first, c_last, c_company, c_email, c_uuid = row[:7]
    return {
        "contractor_name": f"{c_first} {c_last}".strip(),
        "company_name": c_company,
        "contractor_email": c_email,
        "contractor_uuid": c_uuid,
        "cert_type": type_name,
        "certificate_number": cert.certificate_number,
        "expires_on": cert.expires_on.isoformat(),
        "days_to_expiry": (cert.expires_on - today).days,
        "step": step,
        "file": cert.file_name,
    }


async def run_reminders(db: Database, settings: Settings, *, today: date | None = None) -> ReminderReport:
    """Scan current certificates of active contractors within reach and queue due reminders."""
    today = today or date.today()
    horizon = today + timedelta(days=max([0, *settings.reminder_days_before]))
    report = ReminderReport()
    base = (
        select(
            Certification,
            CertificationType.name,
            Contractor.first_name,
            Contractor.last_name,
            Contractor.company_name,
            Contractor.email,
            Contractor.uuid,
            Contractor.organisation_id,
            Organisation.settings,
            Organisation.is_platform,
        )
        .join(CertificationType, CertificationType.id == Certification.certification_type_id)
        .join(Contractor, Contractor.id == Certification.contractor_id)
        .join(Organisation, Organisation.id == Contractor.organisation_id)
        .where(
            Certification.superseded_at.is_(None),
            Certification.expires_on <= horizon,
            Contractor.is_active.is_(True),
        )
        .order_by(Certification.id)
        .limit(CHUNK)
    )
    last_id = 0
    while True:
        async with db.sessionmaker() as session, session.begin():
            rows = (await session.execute(base.where(Certification.id > last_id))).all()
            if not rows:
                break
            last_id = rows[-1][0].id
            report.scanned += len(rows)
            wanted: dict[tuple[int, str], Any] = {}
            for row in rows:
                cert = row[0]
                step = reminder_step(cert.expires_on, today, settings)
                if step is not None and step != cert.last_reminder_step:
                    wanted[(cert.id, step)] = row
            report.due += len(wanted)
            claimed = await _claim_steps(session, list(wanted))
            emails: list[EmailSpec] = []
            by_step: dict[str, list[int]] = {}
            for cert_id, step in sorted(claimed):
                row = wanted[(cert_id, step)]
                organisation_id, org_settings, is_platform = row[7], read_settings(row[8]), row[9]
                context = _context(row, step, today)
                if org_settings.branding_name:
                    context["sender"] = org_settings.branding_name  # the organisation's name on its mail
                key = f"cert-reminder:{cert_id}:{step}"
                if org_settings.notifications.certification_reminder:
                    emails.append(
                        EmailSpec(organisation_id, row[5], "certification_reminder", context, f"{key}:contractor")
                    )
                # Each company's digest goes to its own compliance address, never another's.
                compliance = org_settings.compliance_email or (settings.compliance_email if is_platform else None)
                if compliance:
                    emails.append(
                        EmailSpec(
                            organisation_id, compliance, "certification_reminder_staff", context, f"{key}:compliance"
                        )
                    )
                by_step.setdefault(step, []).append(cert_id)
            report.emails += await enqueue_many(session, emails)
            for step, ids in by_step.items():
                await session.execute(
                    update(Certification)
                    .where(Certification.id.in_(ids))
                    .values(last_reminder_step=step)
                    .execution_options(synchronize_session=False)
                )
            report.sent += len(claimed)
    return report
