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

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from propops.contractors import coverage as cov
from propops.geo.geometry import cell_of, haversine_km
from propops.jobs import reads
from propops.jobs.models import COMPLETED_STATUSES, OPEN_STATUSES, Job, JobRecall
from propops.jobs.state import JobState, Place
from propops.properties.models import Property

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


def _day(runner: reads.SessionRunner, day: date) -> Any:
    """A DATE parameter: the driver's date on PostgreSQL, the stored ISO text on SQLite."""
    return day if runner.pg else day.isoformat()


def _ids(q: reads._Sql, ids: list[int]) -> str:
    """``IN (...)`` contents, one bound parameter per id (an empty list matches nothing)."""
    return ", ".join(q.p(i) for i in ids) if ids else "NULL"


def _name(first: str, last: str, company: str | None) -> str:
    return f"{first} {last}".strip() + (f" ({company})" if company else "")


async def evaluate(
    runner: reads.SessionRunner,
    job: Job | JobState,
    prop: Property | Place,
    contractor_ids: list[int] | None,
    today: date | None = None,
) -> dict[int, Evaluation]:
    """Every failing reason per contractor. ``contractor_ids=None``: every contractor that covers
    the point or works in the trade (the suggestion candidates). Plain SQL in the request's
    transaction (an assignment runs it on every call: three ORM statements cost ~2 ms of CPU)."""
    today = today or date.today()
    has_point = prop.latitude is not None and prop.longitude is not None
    covering: dict[int, float] = {}
    if has_point:
        assert prop.latitude is not None and prop.longitude is not None
        lat, lon = prop.latitude, prop.longitude
        # coverage.candidates_stmt without its active filter (same grid rows and columns), so an
        # inactive contractor is reported as inactive and not also as out of coverage.
        q = reads.sql_for(runner)
        sql = (
            "SELECT g.contractor_id, g.shape_wkb, g.base_latitude, g.base_longitude FROM contractor_coverage_cells g "
            f"WHERE g.cell = {q.p(cell_of(lat, lon))} AND g.min_lat <= {q.p(lat)} AND g.max_lat >= {q.p(lat)} "
            f"AND g.min_lon <= {q.p(lon)} AND g.max_lon >= {q.p(lon)}"
        )
        if contractor_ids is not None:
            sql += f" AND g.contractor_id IN ({_ids(q, contractor_ids)})"
        covering = dict(cov.exact_filter(await runner(sql, *q.params), lat, lon))

    def scope(q: reads._Sql, column: str) -> str:
        if contractor_ids is not None:
            return f"{column} IN ({_ids(q, contractor_ids)})"
        holders = f"SELECT th.contractor_id FROM contractor_trades th WHERE th.trade_id = {q.p(job.trade_id)}"
        return f"({column} IN ({_ids(q, list(covering))}) OR {column} IN ({holders}))"

    q = reads.sql_for(runner)
    contractors = await runner(
        "SELECT c.id, c.uuid, c.first_name, c.last_name, c.company_name, c.is_active, c.base_latitude, "
        "c.base_longitude, EXISTS (SELECT 1 FROM contractor_trades ct WHERE ct.contractor_id = c.id "
        f"AND ct.trade_id = {q.p(job.trade_id)}), (SELECT t.name FROM trades t WHERE t.id = {q.p(job.trade_id)}) "
        f"FROM contractors c WHERE {scope(q, 'c.id')}",
        *q.params,
    )
    trade_name = contractors[0][-1] if contractors else ""
    # The certificate types the trade requires, each with the candidates holding a valid one (one
    # row per holder; a type nobody holds comes once with NULL), in one query.
    q = reads.sql_for(runner)
    cert_rows = await runner(
        "SELECT ty.id, ty.name, ce.contractor_id FROM certification_types ty "
        "JOIN certification_type_trades tt ON tt.certification_type_id = ty.id "
        f"LEFT JOIN certifications ce ON ce.certification_type_id = ty.id AND {scope(q, 'ce.contractor_id')} "
        f"AND ce.superseded_at IS NULL AND ce.expires_on >= {q.p(_day(runner, today))} "
        f"WHERE tt.trade_id = {q.p(job.trade_id)} AND ty.is_active = {q.p(True)} ORDER BY ty.name, ty.id",
        *q.params,
    )
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
    evaluations = await evaluate(reads.SessionRunner(session), job, prop, None)
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
