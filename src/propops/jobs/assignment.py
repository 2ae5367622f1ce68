"""Contractor eligibility for a job, and ranked suggestions, in a bounded number of queries.

A contractor is eligible when it is active, works in the job's trade, covers the property's point
and holds a valid (unexpired, current) certificate of every active type the trade requires. The
same ``evaluate`` decides an assignment and the suggestion list, so they can never disagree.

Queries per call, whatever the number of contractors: coverage candidates (grid cell + bbox, then
Shapely in Python), the contractor rows (with trade membership and the trade's name), the required
certificate types joined with the valid certificates held, and for ranking one grouped
workload/record query plus one grouped recall query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from propops.certifications.models import Certification, CertificationType, CertificationTypeTrade
from propops.contractors import coverage as cov
from propops.contractors.models import Contractor, ContractorCoverageCell, ContractorTrade, Trade
from propops.geo.geometry import cell_of, haversine_km
from propops.jobs.models import COMPLETED_STATUSES, OPEN_STATUSES, Job, JobRecall, Property
from propops.jobs.state import JobState, Place

# Ranking: lower is better. One open job weighs like 3 km; a fully late or fully recalled record
# like 20 km each. Distances are from the contractor's base to the property.
WEIGHT_OPEN_JOB = 3.0
WEIGHT_LATE_SHARE = 20.0
WEIGHT_RECALL_SHARE = 20.0
MAX_EXCLUDED = 50


@dataclass
class Evaluation:
    contractor_id: int
    uuid: str = ""
    name: str = ""
    distance_km: float | None = None
    reasons: list[str] = field(default_factory=list)


def _covering_stmt(lat: float, lon: float) -> Any:
    """``coverage.candidates_stmt`` without its active filter (same grid rows and columns), so an
    inactive contractor is reported as inactive and not also as out of coverage."""
    cell = ContractorCoverageCell
    return select(cell.contractor_id, cell.shape_wkb, cell.base_latitude, cell.base_longitude).where(
        cell.cell == cell_of(lat, lon),
        cell.min_lat <= lat,
        cell.max_lat >= lat,
        cell.min_lon <= lon,
        cell.max_lon >= lon,
    )


def _name(first: str, last: str, company: str | None) -> str:
    return f"{first} {last}".strip() + (f" ({company})" if company else "")


async def evaluate(
    session: AsyncSession,
    job: Job | JobState,
    prop: Property | Place,
    contractor_ids: list[int] | None,
    today: date | None = None,
) -> dict[int, Evaluation]:
    """Every failing reason per contractor. ``contractor_ids=None``: every contractor that covers
    the point or works in the trade (the suggestion candidates)."""
    today = today or date.today()
    has_point = prop.latitude is not None and prop.longitude is not None
    covering: dict[int, float] = {}
    if has_point:
        assert prop.latitude is not None and prop.longitude is not None
        stmt = _covering_stmt(prop.latitude, prop.longitude)
        if contractor_ids is not None:
            stmt = stmt.where(ContractorCoverageCell.contractor_id.in_(contractor_ids))
        rows = list((await session.execute(stmt)).all())
        covering = dict(cov.exact_filter(rows, prop.latitude, prop.longitude))
    trade_holders = select(ContractorTrade.contractor_id).where(ContractorTrade.trade_id == job.trade_id)
    if contractor_ids is not None:
        scope: Any = Contractor.id.in_(contractor_ids)
        cert_scope: Any = Certification.contractor_id.in_(contractor_ids)
    else:
        scope = or_(Contractor.id.in_(list(covering)), Contractor.id.in_(trade_holders))
        cert_scope = or_(
            Certification.contractor_id.in_(list(covering)), Certification.contractor_id.in_(trade_holders)
        )
    # Correlated EXISTS (one primary-key probe per contractor row), not ``IN (trade holders)``: for
    # an assignment (one contractor) PostgreSQL otherwise hashed every holder of the trade, 0.6 ms.
    has_trade = (
        select(ContractorTrade.contractor_id)
        .where(ContractorTrade.contractor_id == Contractor.id, ContractorTrade.trade_id == job.trade_id)
        .exists()
    )
    contractors = (
        await session.execute(
            select(
                Contractor.id,
                Contractor.uuid,
                Contractor.first_name,
                Contractor.last_name,
                Contractor.company_name,
                Contractor.is_active,
                Contractor.base_latitude,
                Contractor.base_longitude,
                has_trade.label("has_trade"),
                select(Trade.name).where(Trade.id == job.trade_id).scalar_subquery().label("trade_name"),
            ).where(scope)
        )
    ).all()
    trade_name = contractors[0][-1] if contractors else ""
    # The certificate types the trade requires, each with the candidates holding a valid one (one
    # row per holder; a type nobody holds comes once with NULL), in one query.
    valid = and_(
        Certification.certification_type_id == CertificationType.id,
        cert_scope,
        Certification.superseded_at.is_(None),
        Certification.expires_on >= today,
    )
    cert_rows = (
        await session.execute(
            select(CertificationType.id, CertificationType.name, Certification.contractor_id)
            .join(CertificationTypeTrade, CertificationTypeTrade.certification_type_id == CertificationType.id)
            .outerjoin(Certification, valid)
            .where(CertificationTypeTrade.trade_id == job.trade_id, CertificationType.is_active.is_(True))
            .order_by(CertificationType.name, CertificationType.id)
        )
    ).all()
    required = list(dict.fromkeys((int(r[0]), str(r[1])) for r in cert_rows))
    held = {(int(r[2]), int(r[0])) for r in cert_rows if r[2] is not None}
    out: dict[int, Evaluation] = {}
    for cid, cuuid, first, last, company, active, blat, blon, trade_ok, _ in contractors:
        ev = Evaluation(contractor_id=cid, uuid=cuuid, name=_name(first, last, company))
        if cid in covering:
            ev.distance_km = covering[cid]
        elif has_point and blat is not None and blon is not None:
            assert prop.latitude is not None and prop.longitude is not None
            ev.distance_km = round(haversine_km(prop.latitude, prop.longitude, blat, blon), 2)
        if not active:
            ev.reasons.append("contractor is not active")
        if not trade_ok:
            ev.reasons.append(f"contractor does not work in the trade {trade_name}")
        if not has_point:
            ev.reasons.append("the property has no map location, so coverage cannot be checked")
        elif cid not in covering:
            ev.reasons.append(f"the property ({prop.postcode}) is outside the contractor's coverage area")
        missing = [name for type_id, name in required if (cid, type_id) not in held]
        if missing:
            ev.reasons.append(f"missing or expired certificates required for {trade_name}: {', '.join(missing)}")
        out[cid] = ev
    return out


async def _records(session: AsyncSession, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Open workload and past record per contractor: two grouped queries."""
    if not ids:
        return {}
    done = Job.status_id.in_(COMPLETED_STATUSES) & Job.completed_at.is_not(None)
    rows = (
        await session.execute(
            select(
                Job.contractor_id,
                func.sum(case((Job.status_id.in_(OPEN_STATUSES), 1), else_=0)),
                func.sum(case((done, 1), else_=0)),
                func.sum(case((done & (Job.completed_at > Job.sla_due_at), 1), else_=0)),
            )
            .where(Job.contractor_id.in_(ids))
            .group_by(Job.contractor_id)
        )
    ).all()
    recalls = dict(
        (
            await session.execute(
                select(Job.contractor_id, func.count(JobRecall.id))
                .join(Job, Job.id == JobRecall.job_id)
                .where(Job.contractor_id.in_(ids))
                .group_by(Job.contractor_id)
            )
        ).all()
    )
    out = {cid: {"open": 0, "completed": 0, "late": 0, "recalls": int(recalls.get(cid, 0))} for cid in ids}
    for cid, open_, completed, late in rows:
        out[cid].update(open=int(open_ or 0), completed=int(completed or 0), late=int(late or 0))
    return out


async def suggest(session: AsyncSession, job: Job, prop: Property, limit: int, offset: int) -> dict[str, Any]:
    """Eligible contractors ranked by distance, open workload and past SLA/recall record; and why
    the other candidates (covering the point or working in the trade) were excluded."""
    evaluations = await evaluate(session, job, prop, None)
    eligible = [e for e in evaluations.values() if not e.reasons]
    excluded = [e for e in evaluations.values() if e.reasons]
    records = await _records(session, [e.contractor_id for e in eligible])
    ranked = []
    for e in eligible:
        r = records[e.contractor_id]
        late_share = r["late"] / r["completed"] if r["completed"] else 0.0
        recall_share = r["recalls"] / r["completed"] if r["completed"] else 0.0
        score = (
            (e.distance_km or 0.0)
            + WEIGHT_OPEN_JOB * r["open"]
            + WEIGHT_LATE_SHARE * late_share
            + WEIGHT_RECALL_SHARE * min(recall_share, 1.0)
        )
        ranked.append(
            {
                "contractor_id": e.contractor_id,
                "contractor_uuid": e.uuid,
                "contractor_name": e.name,
                "distance_km": e.distance_km,
                "open_jobs": r["open"],
                "completed_jobs": r["completed"],
                "sla_met_rate": round(100.0 * (1 - late_share), 1) if r["completed"] else None,
                "recall_rate": round(100.0 * r["recalls"] / r["completed"], 1) if r["completed"] else None,
                "score": round(score, 2),
            }
        )
    ranked.sort(key=lambda x: (x["score"], x["contractor_id"]))
    excluded.sort(key=lambda e: (len(e.reasons), e.distance_km if e.distance_km is not None else 1e9, e.contractor_id))
    return {
        "job_uuid": job.uuid,
        "eligible": ranked[offset : offset + limit],
        "eligible_count": len(ranked),
        "excluded": [
            {
                "contractor_id": e.contractor_id,
                "contractor_uuid": e.uuid,
                "contractor_name": e.name,
                "distance_km": e.distance_km,
                "reasons": e.reasons,
            }
            for e in excluded[:MAX_EXCLUDED]
        ],
        "excluded_count": len(excluded),
    }
