"""Certificates: who may act on which contractor's, their expiry status, the listing and compliance
per trade. The catalogue of types is ``certifications.catalogue``, uploads, deletion and downloads
``certifications.files``; access is ``contractors.repository`` / ``certifications.repository``.
No HTTP here.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from propops.auth.models import ACCOUNT_CONTRACTOR
from propops.auth.service import Principal
from propops.certifications.models import Certification, CertificationType, CertificationTypeTrade
from propops.certifications.repository import readable_certifications
from propops.contractors.models import Contractor, ContractorTrade
from propops.contractors.repository import own_contractor, readable_contractors
from propops.core.clock import iso
from propops.core.errors import InvalidInput, NotFound
from propops.core.pagination import Page
from propops.core.settings import Settings
from propops.lookups.models import Trade

CONTRACTOR_NOT_FOUND = "Contractor not found."
STATUS_VALID, STATUS_EXPIRING, STATUS_EXPIRED = "valid", "expiring", "expired"


# --- access ---------------------------------------------------------------------------------------


async def own_contractor_id(session: AsyncSession, principal: Principal) -> int | None:
    if principal.account_type_id != ACCOUNT_CONTRACTOR:
        return None
    found = await session.execute(own_contractor(principal).with_only_columns(Contractor.id))
    return found.scalar_one_or_none()


async def resolve_contractor(session: AsyncSession, principal: Principal, contractor_uuid: str | None) -> Contractor:
    """By uuid within the caller's scope; a contractor may omit it to mean themselves."""
    if not contractor_uuid:
        if principal.account_type_id == ACCOUNT_CONTRACTOR:
            own = (await session.execute(readable_contractors(principal))).scalar_one_or_none()
            if own is not None:
                return own
        raise InvalidInput.field("contractor_uuid", "is required")
    if len(contractor_uuid) > 36:
        raise NotFound(CONTRACTOR_NOT_FOUND)
    found = (
        await session.execute(readable_contractors(principal).where(Contractor.uuid == contractor_uuid))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(CONTRACTOR_NOT_FOUND)
    return found


# --- status ---------------------------------------------------------------------------------------


def expiring_window_days(settings: Settings) -> int:
    """'Expiring' means within the first reminder's reach (30 days by default)."""
    return max([0, *settings.reminder_days_before])


def status_of(expires_on: date, today: date, settings: Settings) -> tuple[str, int]:
    days = (expires_on - today).days
    if days < 0:
        return STATUS_EXPIRED, days
    if days <= expiring_window_days(settings):
        return STATUS_EXPIRING, days
    return STATUS_VALID, days


def certification_payload(
    cert: Certification, cert_type: CertificationType, contractor: Contractor, today: date, settings: Settings
) -> dict[str, Any]:
    status, days = status_of(cert.expires_on, today, settings)
    return {
        "ID": cert.id,
        "uuid": cert.uuid,
        "contractor_id": contractor.id,
        "contractor_uuid": contractor.uuid,
        "certification_type_id": cert_type.id,
        "cert_type": cert_type.name,
        "certificate_number": cert.certificate_number,
        "issue_date": cert.issued_on.isoformat() if cert.issued_on else None,
        "expiry_date": cert.expires_on.isoformat(),
        "status": status,
        "days_to_expiry": days,
        "file": cert.file_name,
        "original_filename": cert.original_filename,
        "content_type": cert.content_type,
        "size_bytes": cert.size_bytes,
        "sha256": cert.sha256,
        "is_current": cert.superseded_at is None,
        "uploaded_at": iso(cert.created_at),
        "superseded_at": iso(cert.superseded_at),
    }


# --- listing and compliance ---------------------------------------------------------------------


async def list_certifications(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    *,
    contractor_uuid: str | None,
    status: str | None,
    type_id: int | None,
    include_history: bool,
    page: Page,
    today: date | None = None,
) -> tuple[list[dict[str, Any]], int]:
    today = today or date.today()
    conds: list[Any] = [readable_certifications(principal).whereclause]  # the one visibility rule
    if contractor_uuid:
        contractor = await resolve_contractor(session, principal, contractor_uuid)
        conds.append(Certification.contractor_id == contractor.id)
    if not include_history:
        conds.append(Certification.superseded_at.is_(None))
    if type_id is not None:
        conds.append(Certification.certification_type_id == type_id)
    horizon = today + timedelta(days=expiring_window_days(settings))
    if status == STATUS_EXPIRED:
        conds.append(Certification.expires_on < today)
    elif status == STATUS_EXPIRING:
        conds.append(and_(Certification.expires_on >= today, Certification.expires_on <= horizon))
    elif status == STATUS_VALID:
        conds.append(Certification.expires_on > horizon)
    elif status:
        raise InvalidInput.field("status", "must be one of: valid, expiring, expired")
    where = and_(*conds)
    count = (await session.execute(select(func.count()).select_from(Certification).where(where))).scalar_one()
    rows = (
        await session.execute(
            select(Certification, CertificationType, Contractor)
            .join(CertificationType, CertificationType.id == Certification.certification_type_id)
            .join(Contractor, Contractor.id == Certification.contractor_id)
            .where(where)
            .order_by(Certification.expires_on, Certification.id)
            .limit(page.limit)
            .offset(page.offset)
        )
    ).all()
    return [certification_payload(c, t, k, today, settings) for c, t, k in rows], int(count)


async def _current_by_type(session: AsyncSession, contractor_id: int) -> dict[int, Certification]:
    """The current certificate per type (latest expiry if several were left current)."""
    rows = (
        await session.execute(
            select(Certification)
            .where(Certification.contractor_id == contractor_id, Certification.superseded_at.is_(None))
            .order_by(Certification.expires_on)
        )
    ).scalars()
    return {c.certification_type_id: c for c in rows}


async def compliance_gaps(
    session: AsyncSession, contractor_id: int, trade_id: int, today: date | None = None
) -> list[str]:
    """Names of certification types ``trade_id`` requires that the contractor lacks or has expired.

    Empty means compliant. An expiring (not yet expired) certificate still counts as met.
    """
    today = today or date.today()
    required = (
        await session.execute(
            select(CertificationType.id, CertificationType.name)
            .join(CertificationTypeTrade, CertificationTypeTrade.certification_type_id == CertificationType.id)
            .where(CertificationTypeTrade.trade_id == trade_id, CertificationType.is_active.is_(True))
            .order_by(CertificationType.name)
        )
    ).all()
    if not required:
        return []
    held = set(
        (
            await session.execute(
                select(Certification.certification_type_id).where(
                    Certification.contractor_id == contractor_id,
                    Certification.superseded_at.is_(None),
                    Certification.expires_on >= today,
                    Certification.certification_type_id.in_([r[0] for r in required]),
                )
            )
        ).scalars()
    )
    return [name for type_id, name in required if type_id not in held]


async def compliance_summary(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    contractor_uuid: str | None,
    today: date | None = None,
) -> dict[str, Any]:
    """Per trade the contractor works in: each required type and whether a valid certificate meets it."""
    today = today or date.today()
    contractor = await resolve_contractor(session, principal, contractor_uuid)
    trades = (
        await session.execute(
            select(Trade.id, Trade.name)
            .join(ContractorTrade, ContractorTrade.trade_id == Trade.id)
            .where(ContractorTrade.contractor_id == contractor.id)
            .order_by(Trade.id)
        )
    ).all()
    reqs = (
        await session.execute(
            select(CertificationTypeTrade.trade_id, CertificationType.id, CertificationType.name)
            .join(CertificationType, CertificationType.id == CertificationTypeTrade.certification_type_id)
            .where(
                CertificationTypeTrade.trade_id.in_([t[0] for t in trades]),
                CertificationType.is_active.is_(True),
            )
            .order_by(CertificationType.id)
        )
    ).all()
    current = await _current_by_type(session, contractor.id)
    out_trades: list[dict[str, Any]] = []
    for trade_id, trade_name in trades:
        requirements: list[dict[str, Any]] = []
        for r_trade, type_id, type_name in reqs:
            if r_trade != trade_id:
                continue
            cert = current.get(type_id)
            status, days = status_of(cert.expires_on, today, settings) if cert else ("missing", None)
            requirements.append(
                {
                    "certification_type_id": type_id,
                    "cert_type": type_name,
                    "met": cert is not None and status != STATUS_EXPIRED,
                    "status": status,
                    "expiry_date": cert.expires_on.isoformat() if cert else None,
                    "days_to_expiry": days,
                    "file": cert.file_name if cert else None,
                }
            )
        out_trades.append(
            {
                "trade_id": trade_id,
                "name": trade_name,
                "compliant": all(r["met"] for r in requirements),
                "requirements": requirements,
            }
        )
    return {
        "contractor_id": contractor.id,
        "contractor_uuid": contractor.uuid,
        "compliant": all(t["compliant"] for t in out_trades),
        "trades": out_trades,
        "gaps": sorted({r["cert_type"] for t in out_trades for r in t["requirements"] if not r["met"]}),
    }
