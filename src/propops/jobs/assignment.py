"""Contractor eligibility for a job, and ranked suggestions, in a bounded number of statements.

A contractor is eligible when it is active, works in the job's trade, covers the property's point
and holds a valid (unexpired, current) certificate of every active type the trade requires. The
same ``evaluate`` decides an assignment and the suggestion list, so they can never disagree.

Statements per call, whatever the number of contractors: the coverage cells at the point
(``contractors.coverage.CELLS_AT_POINT``, then Shapely in Python), the contractor rows (with trade
membership and the trade's name), the required certificate types joined with the valid
certificates held, and for ranking one grouped workload/record query plus one grouped recall
query. An assignment (one contractor) runs the first three as Core statements built once, on the
driver in the request's transaction (as ORM statements they cost ~2 ms of CPU per assign); the
suggestions bind the candidates found at the point as a list, through the session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Date, Select, and_, bindparam, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from propops.certifications.models import Certification, CertificationType, CertificationTypeTrade
from propops.contractors import coverage as cov
from propops.contractors.models import Contractor, ContractorCoverageCell, ContractorTrade
from propops.geo.geometry import cell_of, haversine_km
from propops.infra.executor import Executor
from propops.jobs.models import COMPLETED_STATUSES, OPEN_STATUSES, Job, JobRecall, JobRow
from propops.lookups.models import Trade
from propops.properties.models import Property

# Ranking: lower is better. One open job weighs like 3 km; a fully late or fully recalled record
# like 20 km each. Distances are from the contractor's base to the property.
WEIGHT_OPEN_JOB = 3.0
WEIGHT_LATE_SHARE = 20.0
WEIGHT_RECALL_SHARE = 20.0
MAX_EXCLUDED = 50


@dataclass(frozen=True)
class ContractorRef:
    """What an assignment needs of the contractor: who, and where to send the email."""

    id: int
    email: str | None
    first_name: str


@dataclass(frozen=True)
class Place:
    """What an assignment needs of the property: the point for coverage, the address for the email."""

    latitude: float | None
    longitude: float | None
    postcode: str
    address: str


ORGANISATION = bindparam("organisation_id", type_=Contractor.organisation_id.type)  # the job's
_CONTRACTOR = select(Contractor.id, Contractor.email, Contractor.first_name).where(
    Contractor.organisation_id == ORGANISATION  # another organisation's contractor is an unknown one
)
# By uuid, by id, or both (both given must name the same contractor).
CONTRACTOR_BY = {
    "uuid": _CONTRACTOR.where(Contractor.uuid == bindparam("contractor_uuid")),
    "id": _CONTRACTOR.where(Contractor.id == bindparam("contractor_id")),
    "both": _CONTRACTOR.where(
        Contractor.uuid == bindparam("contractor_uuid"), Contractor.id == bindparam("contractor_id")
    ),
}
PLACE = select(
    Property.latitude,
    Property.longitude,
    Property.postcode,
    Property.address_line1,
    Property.address_line2,
    Property.town,
).where(Property.id == bindparam("property_id"))


async def contractor_ref(
    executor: Executor,
    session: AsyncSession,
    organisation_id: int,
    contractor_id: int | None,
    contractor_uuid: str | None,
) -> ContractorRef | None:
    shape = (
        "both"
        if contractor_id is not None and contractor_uuid is not None
        else "id"
        if contractor_uuid is None
        else "uuid"
    )
    row = await executor.in_transaction_one(
        session,
        CONTRACTOR_BY[shape],
        organisation_id=organisation_id,
        contractor_id=contractor_id,
        contractor_uuid=contractor_uuid,
    )
    return None if row is None else ContractorRef(int(row[0]), row[1], row[2])


async def place(executor: Executor, session: AsyncSession, property_id: int) -> Place:
    row = await executor.in_transaction_one(session, PLACE, property_id=property_id)
    assert row is not None
    lat, lon, postcode, line1, line2, town = row
    return Place(lat, lon, postcode, ", ".join(x for x in (line1, line2, town, postcode) if x))


@dataclass
class Evaluation:
    contractor_id: int
    uuid: str = ""
    name: str = ""
    distance_km: float | None = None
    reasons: list[str] = field(default_factory=list)


def _name(first: str, last: str, company: str | None) -> str:
    return f"{first} {last}".strip() + (f" ({company})" if company else "")


Scope = Callable[[Any], ColumnElement[bool]]
TRADE = bindparam("trade_id", type_=Trade.id.type)


def _contractor_rows(scope: Scope) -> Select[Any]:
    """The contractors of the job's organisation in ``scope`` with their active flag, base,
    membership of the trade and the trade's name (membership as a correlated EXISTS: a primary-key
    probe). Everything ``evaluate`` reports is about these rows, so no other company's contractor
    is ever a candidate."""
    in_trade = exists().where(ContractorTrade.contractor_id == Contractor.id, ContractorTrade.trade_id == TRADE)
    trade_name = select(Trade.name).where(Trade.id == TRADE).scalar_subquery()
    c = Contractor
    columns = (c.id, c.uuid, c.first_name, c.last_name, c.company_name, c.is_active, c.base_latitude,
               c.base_longitude, in_trade, trade_name)  # fmt: skip
    return select(*columns).where(scope(Contractor.id), Contractor.organisation_id == ORGANISATION)


def _certificates(scope: Scope) -> Select:  # type: ignore[type-arg]
    """The certificate types the trade requires, each with the contractors in ``scope`` holding a
    valid one (one row per holder; a type nobody holds comes once with NULL)."""
    valid = and_(
        Certification.certification_type_id == CertificationType.id,
        scope(Certification.contractor_id),
        Certification.superseded_at.is_(None),
        Certification.expires_on >= bindparam("today", type_=Date()),
    )
    return (
        select(CertificationType.id, CertificationType.name, Certification.contractor_id)
        .join(CertificationTypeTrade, CertificationTypeTrade.certification_type_id == CertificationType.id)
        .outerjoin(Certification, valid)
        .where(CertificationTypeTrade.trade_id == TRADE, CertificationType.is_active.is_(True))
        .order_by(CertificationType.name, CertificationType.id)
    )


def _one(column: Any) -> ColumnElement[bool]:
    return column == bindparam("contractor_id")  # type: ignore[no-any-return]


# An assignment's three statements (one contractor).
CELLS_OF_ONE = cov.CELLS_AT_POINT.where(ContractorCoverageCell.contractor_id == bindparam("contractor_id"))
CONTRACTOR_OF_ONE = _contractor_rows(_one)
CERTIFICATES_OF_ONE = _certificates(_one)


async def evaluate(
    executor: Executor,
    session: AsyncSession,
    job: JobRow,
    prop: Place,
    contractor_id: int | None,
    today: date | None = None,
) -> dict[int, Evaluation]:
    """Every failing reason per contractor: ``contractor_id``, or with None every contractor that
    covers the point or works in the trade (the suggestion candidates)."""
    today = today or date.today()
    has_point = prop.latitude is not None and prop.longitude is not None
    covering: dict[int, float] = {}
    if has_point:
        assert prop.latitude is not None
        assert prop.longitude is not None
        lat, lon = prop.latitude, prop.longitude
        point = {"cell": cell_of(lat, lon), "lat": lat, "lon": lon, "organisation_id": job.organisation_id}
        if contractor_id is None:
            cells = await executor.in_transaction(session, cov.CELLS_AT_POINT, **point)
        else:
            cells = await executor.in_transaction(session, CELLS_OF_ONE, **point, contractor_id=contractor_id)
        covering = dict(cov.exact_filter(cells, lat, lon))
    params = {"trade_id": job.trade_id, "today": today, "organisation_id": job.organisation_id}
    if contractor_id is not None:
        contractors = await executor.in_transaction(session, CONTRACTOR_OF_ONE, **params, contractor_id=contractor_id)
        cert_rows = await executor.in_transaction(session, CERTIFICATES_OF_ONE, **params, contractor_id=contractor_id)
    else:
        candidates = list(covering)
        holders = select(ContractorTrade.contractor_id).where(ContractorTrade.trade_id == TRADE)

        def scope(column: Any) -> ColumnElement[bool]:
            return or_(column.in_(candidates), column.in_(holders))

        contractors = list(await session.execute(_contractor_rows(scope), params))
        cert_rows = list(await session.execute(_certificates(scope), params))
    trade_name = contractors[0][-1] if contractors else ""
    required = list(dict.fromkeys((int(r[0]), str(r[1])) for r in cert_rows))
    held = {(int(r[2]), int(r[0])) for r in cert_rows if r[2] is not None}
    out: dict[int, Evaluation] = {}
    for cid, cuuid, first, last, company, active, blat, blon, trade_ok, _ in contractors:
        ev = Evaluation(contractor_id=cid, uuid=cuuid, name=_name(first, last, company))
        if cid in covering:
            ev.distance_km = covering[cid]
        elif has_point and blat is not None and blon is not None:
            assert prop.latitude is not None
            assert prop.longitude is not None
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


async def suggest(executor: Executor, session: AsyncSession, job: JobRow, limit: int, offset: int) -> dict[str, Any]:
    """Eligible contractors ranked by distance, open workload and past SLA/recall record; and why
    the other candidates (covering the point or working in the trade) were excluded."""
    prop = await place(executor, session, job.property_id)
    evaluations = await evaluate(executor, session, job, prop, None)
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
