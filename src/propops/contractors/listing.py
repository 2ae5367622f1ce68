"""Contractor lists: the directory (every active contractor of the caller's organisation to whoever
holds the list permission),
filtered by name, trade, postcode coverage, distance and travel time, with or without the coverage
areas (JSON or GeoJSON). The postcode filter is ``contractors.coverage``'s candidates and exact
test. No HTTP here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Select, and_, bindparam, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from propops.contractors import coverage as cov
from propops.contractors.models import COVERAGE_ISOCHRONE, Contractor, ContractorCoverageCell, ContractorTrade
from propops.core.pagination import Page
from propops.core.validation import like_pattern
from propops.geo.geocoder import GeoPoint
from propops.infra.executor import Executor
from propops.lookups.models import Trade

_LIST_COLUMNS = (
    Contractor.id,
    Contractor.uuid,
    Contractor.first_name,
    Contractor.last_name,
    Contractor.email,
    Contractor.phone,
    Contractor.is_active,
)


@dataclass(frozen=True)
class ListFilters:
    search: str | None = None
    trade_id: int | None = None
    point: GeoPoint | None = None
    max_distance_km: float | None = None
    max_travel_minutes: int | None = None


def has_trade(trade_id: int, id_col: Any = Contractor.id) -> Any:
    return exists().where(ContractorTrade.contractor_id == id_col, ContractorTrade.trade_id == trade_id)


def _apply_filters(stmt: Select[int], f: ListFilters) -> Select[int]:
    """The contractor-row filters (name, trade, travel time) on a query over ``contractors``."""
    if f.search:
        pattern = like_pattern(f.search)
        full = func.lower(Contractor.first_name + " " + Contractor.last_name)
        stmt = stmt.where(
            or_(
                full.like(pattern, escape="\\"),
                func.lower(Contractor.company_name).like(pattern, escape="\\"),
            )
        )
    if f.trade_id is not None:
        stmt = stmt.where(has_trade(f.trade_id))
    if f.max_travel_minutes is not None:
        stmt = stmt.where(
            and_(
                Contractor.coverage_source == COVERAGE_ISOCHRONE,
                Contractor.coverage_travel_minutes <= f.max_travel_minutes,
            )
        )
    return stmt


def _apply_cell_filters(stmt: cov.CellRows, f: ListFilters) -> cov.CellRows:
    """The same filters on a query over the grid table: correlated EXISTS, so the common case (no
    filter besides the postcode) never touches ``contractors``."""
    cell_id = ContractorCoverageCell.contractor_id
    if f.trade_id is not None:
        stmt = stmt.where(has_trade(f.trade_id, cell_id))
    if f.search or f.max_travel_minutes is not None:
        rows = _apply_filters(select(Contractor.id).where(Contractor.id == cell_id), replace(f, trade_id=None))
        stmt = stmt.where(rows.exists())
    return stmt


async def list_contractors(
    session: AsyncSession,
    f: ListFilters,
    page: Page,
    *,
    organisation_id: int,
    with_coverage: bool = False,
    executor: Executor | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Active contractors matching every filter, and the total before paging.

    ``executor`` puts the postcode query, and the plain list's page rows, on the committed-row
    reader; without it (or with a name or travel-time filter) the same
    queries run through the session.
    """
    if f.point is None:
        active = select(Contractor.id).where(Contractor.organisation_id == organisation_id, Contractor.is_active)
        base = _apply_filters(active, f)
        count = (await session.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
        ids = list(
            (await session.execute(base.order_by(Contractor.id).limit(page.limit).offset(page.offset))).scalars()
        )
        rows = await _rows(session, ids, with_coverage)
        return rows, count
    lat, lon = f.point.latitude, f.point.longitude
    # Count, order and page from the grid rows alone (id, base point, clip); the page's contractor
    # rows are read afterwards, by id: one raw query with their trade names (two through the session).
    if executor is not None and not f.search and f.max_travel_minutes is None:
        matches = await cov.covering_committed(executor, lat, lon, organisation_id, trade_id=f.trade_id)
    else:
        candidates = cov.candidates_stmt(lat, lon, organisation_id)
        matches = await cov.covering(session, lat, lon, _apply_cell_filters(candidates, f))
    if f.max_distance_km is not None:
        matches = [m for m in matches if m[1] <= f.max_distance_km]
    window = matches[page.offset : page.offset + page.limit]
    ids = [m[0] for m in window]
    if executor is not None and not with_coverage:
        rows = await _page_rows_committed(executor, ids)
    else:
        rows = await _rows(session, ids, with_coverage)
    for row, (_, dist) in zip(rows, window, strict=True):
        row["distance_km"] = dist
    return rows, len(matches)


async def _rows(session: AsyncSession, ids: list[int], with_coverage: bool) -> list[dict[str, Any]]:
    """Two queries for any page size: the contractors, then all their trade names."""
    if not ids:
        return []
    trades = await trade_names(session, ids)
    if with_coverage:
        stmt = select(Contractor).where(Contractor.id.in_(ids)).options(defer(Contractor.coverage_wkb))
        contractors = {c.id: c for c in (await session.execute(stmt)).scalars()}
        out = []
        for cid in ids:
            c = contractors[cid]
            row = contractor_payload(c, trades.get(cid, []))
            row["company_name"] = c.company_name
            row["coverage"] = coverage_payload(c)
            out.append(row)
        return out
    # The plain list needs eight columns, not the coverage blobs: select just those.
    cols = select(*_LIST_COLUMNS).where(Contractor.id.in_(ids))
    by_id = {r.id: r for r in await session.execute(cols)}
    return [
        {
            "ID": r.id,
            "uuid": r.uuid,
            "first_name": r.first_name,
            "last_name": r.last_name,
            "email": r.email,
            "phone": r.phone,
            "trades": trades.get(r.id, []),
            "is_active": r.is_active,
        }
        for r in (by_id[cid] for cid in ids)
    ]


# The id list is repeated on contractor_trades: with only the join condition, PostgreSQL's generic
# plan hashed the whole table (a sequential scan per page: 1.8 ms at 10,000 rows, growing with it);
# with it, the page's trades are read through the primary key (0.55 ms). One statement per page
# size (at most ``pagination`` 's limit of 200 shapes), so each is compiled once.
PageRows = Select[int, str, str, str, str, str | None, bool, str]
_PAGE_SHAPES: dict[int, PageRows] = {}


def _page_statement(size: int) -> PageRows:
    cached = _PAGE_SHAPES.get(size)
    if cached is not None:
        return cached
    ids: list[Any] = [bindparam(f"id{i}") for i in range(size)]
    stmt: PageRows = (
        select(*_LIST_COLUMNS, Trade.name)
        .select_from(Contractor)
        .outerjoin(
            ContractorTrade,
            and_(ContractorTrade.contractor_id == Contractor.id, ContractorTrade.contractor_id.in_(ids)),
        )
        .outerjoin(Trade, Trade.id == ContractorTrade.trade_id)
        .where(Contractor.id.in_(ids))
        .order_by(Contractor.id, Trade.name)
    )
    _PAGE_SHAPES[size] = stmt
    return stmt


async def _page_rows_committed(executor: Executor, ids: list[int]) -> list[dict[str, Any]]:
    """``_rows`` for the plain list in one query: the page's contractors with their trade names."""
    if not ids:
        return []
    rows = await executor.committed(_page_statement(len(ids)), **{f"id{i}": v for i, v in enumerate(ids)})
    by_id: dict[int, dict[str, Any]] = {}
    for cid, uuid, first, last, email, phone, active, trade in rows:
        row = by_id.get(cid)
        if row is None:
            row = by_id[cid] = {
                "ID": cid,
                "uuid": uuid,
                "first_name": first,
                "last_name": last,
                "email": email,
                "phone": phone,
                "trades": [],
                "is_active": bool(active),
            }
        if trade is not None:
            row["trades"].append(trade)
    return [by_id[cid] for cid in ids]


async def trade_names(session: AsyncSession, ids: list[int]) -> dict[int, list[str]]:
    stmt = (
        select(ContractorTrade.contractor_id, Trade.name)
        .join(Trade, Trade.id == ContractorTrade.trade_id)
        .where(ContractorTrade.contractor_id.in_(ids))
        .order_by(ContractorTrade.contractor_id, Trade.name)
    )
    out: dict[int, list[str]] = {}
    for cid, name in await session.execute(stmt):
        out.setdefault(cid, []).append(name)
    return out


def contractor_payload(c: Contractor, trades: list[str]) -> dict[str, Any]:
    """The seed's contractor shape."""
    return {
        "ID": c.id,
        "uuid": c.uuid,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "email": c.email,
        "phone": c.phone,
        "trades": trades,
        "is_active": c.is_active,
    }


def coverage_payload(c: Contractor) -> dict[str, Any] | None:
    if c.coverage_geojson is None:
        return None
    params: dict[str, Any]
    if c.coverage_source == "radius":
        params = {"radius_km": c.coverage_radius_km}
    elif c.coverage_source == COVERAGE_ISOCHRONE:
        params = {
            "travel_minutes": c.coverage_travel_minutes,
            "profile": c.coverage_profile,
            "provider": c.coverage_provider,
        }
    else:
        params = {}
    return {
        "source": c.coverage_source,
        "parameters": params,
        "base": {"postcode": c.base_postcode, "latitude": c.base_latitude, "longitude": c.base_longitude},
        "geometry": json.loads(c.coverage_geojson),
        "bbox": [c.coverage_min_lon, c.coverage_min_lat, c.coverage_max_lon, c.coverage_max_lat],
        "estimated": c.coverage_estimated,
        "computed_at": c.coverage_computed_at.isoformat() if c.coverage_computed_at else None,
    }


def feature_collection(rows: list[dict[str, Any]], count: int) -> dict[str, Any]:
    """A GeoJSON FeatureCollection any web map can add as a source; ``count`` is a foreign member."""
    features = []
    for row in rows:
        coverage = row.get("coverage")
        props = {k: v for k, v in row.items() if k != "coverage"}
        if coverage:
            props.update(
                coverage_source=coverage["source"],
                coverage_parameters=coverage["parameters"],
                base=coverage["base"],
                estimated=coverage["estimated"],
                computed_at=coverage["computed_at"],
            )
        features.append(
            {
                "type": "Feature",
                "id": row["ID"],
                "geometry": coverage["geometry"] if coverage else None,
                "bbox": coverage["bbox"] if coverage else None,
                "properties": props,
            }
        )
    return {"type": "FeatureCollection", "features": features, "count": count}
