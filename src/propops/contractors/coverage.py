"""Coverage areas: computing them from settings, storing them, and asking who covers a point.

"Who covers this point" is two steps so that it stays fast at 50k contractors and behaves the
same on SQLite and PostgreSQL: one indexed range of the grid table (the point's cell, filtered by
each part's clip bbox) gives the candidates with their base points, then Shapely decides exactly,
vectorised, on the parts that are not wholly inside (each a small clip of the area to the cell,
never the whole polygon). Distances are computed over those rows only; contractor rows are read
for the requested page alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import Connection, Select, bindparam, delete, exists, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from propops.contractors.models import (
    COVERAGE_DRAWN,
    COVERAGE_ISOCHRONE,
    COVERAGE_RADIUS,
    Contractor,
    ContractorCoverageCell,
    ContractorTrade,
)
from propops.core.clock import utcnow
from propops.core.errors import InvalidInput
from propops.geo.geocoder import GeoPoint
from propops.geo.geometry import cell_of, circle, grid_cells, haversine_km_many, parse_drawn, to_geojson, to_wkb
from propops.geo.isochrone import PROFILES, EstimatedIsochrone, IsochroneProvider
from propops.infra.executor import Executor

DEFAULT_RADIUS_KM = 25.0
MAX_RADIUS_KM = 200.0
MAX_TRAVEL_MINUTES = 60


@dataclass(frozen=True)
class CoverageSpec:
    """What the admin asked for: the source and its parameters."""

    source: str
    radius_km: float | None = None
    travel_minutes: int | None = None
    profile: str | None = None
    drawn: Any = None


@dataclass(frozen=True)
class Coverage:
    """A computed area, ready to store."""

    spec: CoverageSpec
    geometry: Polygon | MultiPolygon
    estimated: bool
    provider: str


def validate_spec(spec: CoverageSpec) -> CoverageSpec:
    """Fill defaults and reject impossible parameters before any provider is called."""
    if spec.source == COVERAGE_RADIUS:
        radius = DEFAULT_RADIUS_KM if spec.radius_km is None else spec.radius_km
        if not 0.5 <= radius <= MAX_RADIUS_KM:
            raise InvalidInput.field("coverage.radius_km", f"must be between 0.5 and {MAX_RADIUS_KM:g}")
        return CoverageSpec(COVERAGE_RADIUS, radius_km=float(radius))
    if spec.source == COVERAGE_ISOCHRONE:
        minutes = spec.travel_minutes
        if minutes is None:
            raise InvalidInput.field("coverage.travel_minutes", "is required for an isochrone")
        if not 1 <= minutes <= MAX_TRAVEL_MINUTES:
            raise InvalidInput.field("coverage.travel_minutes", f"must be between 1 and {MAX_TRAVEL_MINUTES}")
        profile = spec.profile or "driving"
        if profile not in PROFILES:
            raise InvalidInput.field("coverage.profile", f"must be one of: {', '.join(PROFILES)}")
        return CoverageSpec(COVERAGE_ISOCHRONE, travel_minutes=int(minutes), profile=profile)
    if spec.source == COVERAGE_DRAWN:
        if spec.drawn is None:
            raise InvalidInput.field("coverage.geometry", "is required for a drawn area")
        return CoverageSpec(COVERAGE_DRAWN, drawn=spec.drawn)
    raise InvalidInput.field("coverage.source", "must be one of: radius, isochrone, drawn")


async def compute(spec: CoverageSpec, base: GeoPoint, provider: IsochroneProvider) -> Coverage:
    """The area for ``spec`` around ``base``; provider failures are handled by the provider wrapper."""
    spec = validate_spec(spec)
    if spec.source == COVERAGE_ISOCHRONE:
        assert spec.travel_minutes is not None
        assert spec.profile is not None
        iso = await provider.isochrone(base.latitude, base.longitude, spec.travel_minutes, spec.profile)
        return Coverage(spec, iso.geometry, iso.estimated, iso.provider)
    return compute_static(spec, base)


def compute_static(spec: CoverageSpec, base: GeoPoint) -> Coverage:
    """Radius, drawn and estimated isochrones: no network, so usable from the seeder."""
    spec = validate_spec(spec)
    if spec.source == COVERAGE_RADIUS:
        assert spec.radius_km is not None
        return Coverage(spec, circle(base.latitude, base.longitude, spec.radius_km), False, "radius")
    if spec.source == COVERAGE_DRAWN:
        return Coverage(spec, parse_drawn(spec.drawn), False, "drawn")
    assert spec.travel_minutes is not None
    assert spec.profile is not None
    iso = EstimatedIsochrone().compute(base.latitude, base.longitude, spec.travel_minutes, spec.profile)
    return Coverage(spec, iso.geometry, True, iso.provider)


def apply(contractor: Contractor, base: GeoPoint, cov: Coverage, now: datetime | None = None) -> None:
    """Copy a computed area onto the row (the cells are written by ``write_cells`` after flush)."""
    contractor.base_postcode = base.postcode
    contractor.base_latitude = base.latitude
    contractor.base_longitude = base.longitude
    contractor.coverage_source = cov.spec.source
    contractor.coverage_radius_km = cov.spec.radius_km
    contractor.coverage_travel_minutes = cov.spec.travel_minutes
    contractor.coverage_profile = cov.spec.profile
    contractor.coverage_geojson = json.dumps(to_geojson(cov.geometry), separators=(",", ":"))
    contractor.coverage_wkb = to_wkb(cov.geometry)
    min_lon, min_lat, max_lon, max_lat = cov.geometry.bounds
    contractor.coverage_min_lat, contractor.coverage_max_lat = min_lat, max_lat
    contractor.coverage_min_lon, contractor.coverage_max_lon = min_lon, max_lon
    contractor.coverage_estimated = cov.estimated
    contractor.coverage_provider = cov.provider
    contractor.coverage_computed_at = now or utcnow()


def cell_rows(contractor: Contractor, geom: Polygon | MultiPolygon) -> list[dict[str, Any]]:
    """The grid rows for a contractor whose id, base and active flag are set."""
    return [
        {
            "cell": p.cell,
            "contractor_id": contractor.id,
            "interior": p.interior,
            "active": bool(contractor.is_active),
            "organisation_id": contractor.organisation_id,
            "base_latitude": contractor.base_latitude,
            "base_longitude": contractor.base_longitude,
            "min_lat": p.min_lat,
            "max_lat": p.max_lat,
            "min_lon": p.min_lon,
            "max_lon": p.max_lon,
            "shape_wkb": p.wkb,
        }
        for p in grid_cells(geom)
    ]


async def write_cells(session: AsyncSession, contractor: Contractor, geom: Polygon | MultiPolygon) -> None:
    """Replace the contractor's grid cells (after the row has an id and its base)."""
    await session.execute(delete(ContractorCoverageCell).where(ContractorCoverageCell.contractor_id == contractor.id))
    rows = cell_rows(contractor, geom)
    if rows:
        await session.execute(insert(ContractorCoverageCell), rows)


async def set_cells_active(session: AsyncSession, contractor_id: int, active: bool) -> None:
    """Keep the grid's copy of the active flag in step with the contractor's."""
    cell = ContractorCoverageCell
    await session.execute(update(cell).where(cell.contractor_id == contractor_id).values(active=active))


_cell = ContractorCoverageCell
# Contractors' cell parts that may cover the point: one index range, no join. Rows are
# (contractor id, clip WKB or None when the cell is interior, base lat, base lon), the shape
# ``exact_filter`` takes. Only the grid table is read: its PK (cell, contractor_id) is the range, the
# clip bbox drops most parts that miss the point, and interior parts need no WKB. Active or not:
# the assignment check reports an inactive contractor as inactive, not also as out of coverage.
CellRows = Select[int, bytes | None, float | None, float | None]
CELLS_AT_POINT: CellRows = select(
    _cell.contractor_id, _cell.shape_wkb, _cell.base_latitude, _cell.base_longitude
).where(
    _cell.cell == bindparam("cell"),
    _cell.organisation_id == bindparam("organisation_id"),  # the searcher's: no other company's contractor
    _cell.min_lat <= bindparam("lat"),
    _cell.max_lat >= bindparam("lat"),
    _cell.min_lon <= bindparam("lon"),
    _cell.max_lon >= bindparam("lon"),
)
# The candidates of a search: active contractors only.
CANDIDATES: CellRows = CELLS_AT_POINT.where(_cell.active.is_(True))
CANDIDATES_IN_TRADE: CellRows = CANDIDATES.where(
    exists().where(
        ContractorTrade.contractor_id == _cell.contractor_id, ContractorTrade.trade_id == bindparam("trade_id")
    )
)


def candidates_stmt(lat: float, lon: float, organisation_id: int) -> CellRows:
    """``CANDIDATES`` with the point bound, for the ORM path (which may add conditions)."""
    return CANDIDATES.params(cell=cell_of(lat, lon), lat=lat, lon=lon, organisation_id=organisation_id)


def exact_filter(rows: list[Any], lat: float, lon: float) -> list[tuple[int, float]]:
    """Keep rows whose polygon (or clip) covers (lon, lat); return (id, km from base), nearest first.

    Rows are (id, WKB or None when known to cover, base lat, base lon).
    """
    if not rows:
        return []
    n = len(rows)
    ids_col, wkb_col, lat_col, lon_col = zip(*rows, strict=True)
    ids = np.fromiter(ids_col, dtype=np.int64, count=n)
    keep = np.ones(n, dtype=bool)
    boundary = [i for i, w in enumerate(wkb_col) if w is not None]
    if boundary:
        geoms = shapely.from_wkb([wkb_col[i] for i in boundary])
        keep[boundary] = shapely.intersects_xy(geoms, lon, lat)
    lats, lons = _floats(lat_col), _floats(lon_col)
    dist = haversine_km_many(lat, lon, lats, lons)
    ids, dist = ids[keep], dist[keep]
    order = np.lexsort((ids, dist))
    # tolist() gives Python ints and floats in one call (indexing numpy scalars one by one is slow).
    return [(i, round(d, 2)) for i, d in zip(ids[order].tolist(), dist[order].tolist(), strict=True)]


def _floats(values: tuple[Any, ...]) -> np.ndarray:
    try:
        return np.array(values, dtype=float)
    except TypeError:  # a None among them (no base point): no distance, sorted last
        return np.array([np.nan if v is None else v for v in values], dtype=float)


async def covering_committed(
    executor: Executor, lat: float, lon: float, organisation_id: int, *, trade_id: int | None = None
) -> list[tuple[int, float]]:
    """``covering`` for active contractors (optionally in a trade) on the committed-row reader:
    through the async ORM stack, fetching ~1,300 rows cost several times what the database spends
    producing them."""
    point = {"cell": cell_of(lat, lon), "lat": lat, "lon": lon, "organisation_id": organisation_id}
    if trade_id is None:
        rows = await executor.committed(CANDIDATES, **point)
    else:
        rows = await executor.committed(CANDIDATES_IN_TRADE, **point, trade_id=trade_id)
    return exact_filter(rows, lat, lon)


async def covering(session: AsyncSession, lat: float, lon: float, stmt: CellRows) -> list[tuple[int, float]]:
    """Contractors covering the point (``stmt``: ``candidates_stmt`` with any further conditions)
    as (id, distance_km from their base), nearest first."""
    rows = list((await session.execute(stmt)).all())
    return exact_filter(rows, lat, lon)


def cluster_grid(conn: Connection) -> bool:
    """PostgreSQL only: store the grid in cell order, so one point's rows sit on a few pages.

    SQLite needs nothing (the table is WITHOUT ROWID, i.e. stored in primary-key order). Used by
    migration 0007 after it fills the grid and by ``propops geo cluster-coverage-grid``.
    """
    if conn.dialect.name != "postgresql":
        return False
    conn.execute(text("CLUSTER contractor_coverage_cells USING pk_contractor_coverage_cells"))
    conn.execute(text("ANALYZE contractor_coverage_cells"))
    return True


def geometry_of(contractor: Contractor) -> Polygon | MultiPolygon | None:
    if contractor.coverage_wkb is None:
        return None
    geom = shapely.from_wkb(contractor.coverage_wkb)
    return geom if isinstance(geom, Polygon | MultiPolygon) else None
