"""The postcode query (grid cells, clip bboxes, clipped shapes) against brute force over every
contractor's whole polygon: same set, count, order and distance_km, on whichever database the
suite runs on (SQLite, or PostgreSQL with PROPOPS_TEST_DATABASE_URL).

A few hundred contractors are generated densely over the West Midlands with radius, estimated
isochrone and drawn coverage (convex, concave, multi-part, and rectangles lying exactly on grid
lines), some inactive; a few go through the admin API so its cell writes are covered too.
"""

from __future__ import annotations

import csv
import math
import random
from importlib import resources
from typing import Any

import pytest
import shapely
from fastapi import FastAPI
from sqlalchemy import insert, select

from propops.contractors import coverage as cov
from propops.contractors import service
from propops.contractors.models import Contractor, ContractorCoverageCell, ContractorTrade
from propops.geo.geocoder import GeoPoint, lookup_centroid
from propops.geo.geometry import CELL_LAT, CELL_LON, cell_of, haversine_km
from propops.geo.postcodes import parse_postcode
from tests.conftest import AuthedClient, Templates, build_app, client_for, login_as
from tests.oldsql import run_old_sql

LIST = "/api/contractors/list"
REGION = (52.25, 52.75, -2.35, -1.45)  # min lat, max lat, min lon, max lon
N_GENERATED = 300


def _grid_lat(k: int) -> float:
    return k * CELL_LAT


def _grid_lon(k: int) -> float:
    return k * CELL_LON - 180.0


def _drawn(rng: random.Random, lat: float, lon: float) -> dict[str, Any]:
    kind = rng.random()
    if kind < 0.3:  # convex quad
        w, h = rng.uniform(0.03, 0.4), rng.uniform(0.03, 0.25)
        ring = [[lon - w, lat - h], [lon + w, lat - h], [lon + w * 0.6, lat + h], [lon - w * 0.6, lat + h]]
        return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
    if kind < 0.55:  # concave star
        pts = []
        for i in range(14):
            r = rng.uniform(0.05, 0.3) if i % 2 else rng.uniform(0.01, 0.08)
            a = 2 * math.pi * i / 14
            pts.append([lon + r * 1.6 * math.cos(a), lat + r * math.sin(a)])
        return {"type": "Polygon", "coordinates": [[*pts, pts[0]]]}
    if kind < 0.75:  # two separate parts, one with a hole
        outer = [[lon - 0.2, lat - 0.1], [lon, lat - 0.1], [lon, lat + 0.1], [lon - 0.2, lat + 0.1]]
        hole = [[lon - 0.15, lat - 0.05], [lon - 0.15, lat + 0.05], [lon - 0.05, lat + 0.05], [lon - 0.05, lat - 0.05]]
        other = [[lon + 0.1, lat], [lon + 0.3, lat], [lon + 0.3, lat + 0.15], [lon + 0.1, lat + 0.15]]
        return {
            "type": "MultiPolygon",
            "coordinates": [[[*outer, outer[0]], [*hole, hole[0]]], [[*other, other[0]]]],
        }
    # A rectangle whose edges lie exactly on grid lines (interior flags and clips at their edges).
    r0, c0 = math.floor(lat / CELL_LAT), math.floor((lon + 180.0) / CELL_LON)
    r1, c1 = r0 + rng.randint(1, 3), c0 + rng.randint(1, 3)
    ring = [
        [_grid_lon(c0), _grid_lat(r0)],
        [_grid_lon(c1), _grid_lat(r0)],
        [_grid_lon(c1), _grid_lat(r1)],
        [_grid_lon(c0), _grid_lat(r1)],
    ]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def _spec(rng: random.Random, lat: float, lon: float) -> cov.CoverageSpec:
    kind = rng.random()
    if kind < 0.4:
        return cov.CoverageSpec("radius", radius_km=round(rng.uniform(1, 45), 1))
    if kind < 0.7:
        return cov.CoverageSpec(
            "isochrone",
            travel_minutes=rng.randint(5, 60),
            profile=rng.choice(["driving", "driving", "cycling", "walking"]),
        )
    return cov.CoverageSpec("drawn", drawn=_drawn(rng, lat, lon))


def _districts_in_region() -> list[tuple[str, float, float]]:
    lo_lat, hi_lat, lo_lon, hi_lon = REGION
    with resources.files("propops.geo").joinpath("data", "gb_postcode_districts.csv").open() as fh:
        return [
            (r["outcode"], float(r["latitude"]), float(r["longitude"]))
            for r in csv.DictReader(fh)
            if lo_lat <= float(r["latitude"]) <= hi_lat and lo_lon <= float(r["longitude"]) <= hi_lon
        ]


def _units_in_region() -> list[str]:
    lo_lat, hi_lat, lo_lon, hi_lon = REGION
    with resources.files("propops.geo").joinpath("data", "gb_postcodes_sample.csv").open() as fh:
        return [
            r["postcode"]
            for r in csv.DictReader(fh)
            if lo_lat <= float(r["latitude"]) <= hi_lat and lo_lon <= float(r["longitude"]) <= hi_lon
        ]


async def _generate(app: FastAPI, rng: random.Random) -> None:
    districts = _districts_in_region()
    lo_lat, hi_lat, lo_lon, hi_lon = REGION
    contractors, areas = [], []
    for i in range(N_GENERATED):
        if rng.random() < 0.6:
            out, lat, lon = rng.choice(districts)
            if rng.random() < 0.5:  # some share a base exactly: ties ordered by id
                lat, lon = lat + rng.uniform(-0.03, 0.03), lon + rng.uniform(-0.04, 0.04)
        else:
            out, lat, lon = "GEN", rng.uniform(lo_lat, hi_lat), rng.uniform(lo_lon, hi_lon)
        base = GeoPoint(out, lat, lon, "district", "test")
        area = cov.compute_static(_spec(rng, lat, lon), base)
        c = Contractor(
            organisation_id=1,
            first_name=f"Equiv{i}",
            last_name="Generated",
            email=f"equiv{i}@example.invalid",
            is_active=rng.random() > 0.08,
        )
        cov.apply(c, base, area)
        contractors.append(c)
        areas.append(area)
    async with app.state.ctx.db.sessionmaker() as session, session.begin():
        session.add_all(contractors)
        await session.flush()
        trades, cells = [], []
        for c, area in zip(contractors, areas, strict=True):
            trades += [{"contractor_id": c.id, "trade_id": t} for t in rng.sample([1, 2, 3, 4, 5], rng.randint(1, 3))]
            cells += cov.cell_rows(c, area.geometry)
        await session.execute(insert(ContractorTrade), trades)
        await session.execute(insert(ContractorCoverageCell), cells)


async def _through_api(admin: AuthedClient) -> None:
    """Creates, a coverage update, a deactivation and a reactivation, via the admin endpoint."""
    made = []
    for i, (postcode, coverage) in enumerate(
        [
            ("B1", {"source": "radius", "radius_km": 12.5}),
            ("CV1", {"source": "isochrone", "travel_minutes": 40, "profile": "driving"}),
            ("WV1", {"source": "radius", "radius_km": 30}),
            ("DY1", {"source": "drawn", "geometry": _drawn(random.Random(7), 52.5, -2.08)}),
        ]
    ):
        body = {
            "action": "create",
            "first_name": f"Api{i}",
            "last_name": "Equiv",
            "email": f"api-equiv{i}@example.com",
            "trade_ids": [1, 2],
            "base_postcode": postcode,
            "coverage": coverage,
        }
        r = await admin.post("/api/contractors/manage", json=body)
        assert r.status_code == 200, r.text
        made.append(r.json()["data"]["uuid"])
    r = await admin.post(
        "/api/contractors/manage",
        json={
            "action": "update",
            "uuid": made[0],
            "base_postcode": "WS1",
            "coverage": {"source": "radius", "radius_km": 25},
        },
    )
    assert r.status_code == 200, r.text
    for action, uuid in [("deactivate", made[1]), ("deactivate", made[2]), ("activate", made[2])]:
        r = await admin.post("/api/contractors/manage", json={"action": action, "uuid": uuid})
        assert r.status_code == 200, r.text


class BruteForce:
    """Every contractor's whole polygon, tested one by one: no grid, no clips, no SQL filter."""

    def __init__(self, rows: list[Any], trades: dict[int, set[int]]) -> None:
        self.rows = [
            (cid, shapely.from_wkb(wkb), lat, lon) for cid, active, lat, lon, wkb in rows if active and wkb is not None
        ]
        self.trades = trades

    def covering(
        self, lat: float, lon: float, trade_id: int | None = None, max_km: float | None = None
    ) -> list[tuple[int, float]]:
        point = shapely.Point(lon, lat)
        hits = []
        for cid, geom, blat, blon in self.rows:
            if trade_id is not None and trade_id not in self.trades.get(cid, set()):
                continue
            if geom.intersects(point):
                hits.append((haversine_km(lat, lon, blat, blon), cid))
        hits.sort()
        out = [(cid, round(d, 2)) for d, cid in hits]
        return [m for m in out if max_km is None or m[1] <= max_km]


async def _brute_force(app: FastAPI) -> BruteForce:
    async with app.state.ctx.db.sessionmaker() as session:
        rows = list(
            await session.execute(
                select(
                    Contractor.id,
                    Contractor.is_active,
                    Contractor.base_latitude,
                    Contractor.base_longitude,
                    Contractor.coverage_wkb,
                )
            )
        )
        trades: dict[int, set[int]] = {}
        for cid, tid in await session.execute(select(ContractorTrade.contractor_id, ContractorTrade.trade_id)):
            trades.setdefault(cid, set()).add(tid)
    return BruteForce(rows, trades)


PAGE = 40


async def _api_list(admin: AuthedClient, **params: Any) -> tuple[list[tuple[int, float]], int]:
    """Every page (small pages, so paging by distance is exercised), each reporting the same count."""
    out: list[tuple[int, float]] = []
    counts = set()
    offset = 0
    while True:
        r = await admin.get(LIST, params={"action": "list", "limit": PAGE, "offset": offset, **params})
        assert r.status_code == 200, r.text
        body = r.json()
        counts.add(body["count"])
        out += [(row["ID"], row["distance_km"]) for row in body["data"]]
        offset += PAGE
        if offset >= body["count"]:
            break
    assert len(counts) == 1
    return out, counts.pop()


@pytest.fixture(scope="module")
async def dense(templates: Templates, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Built once for the module: the tests only read it."""
    built = await build_app(templates, tmp_path_factory.mktemp("dense"))
    try:
        app = built.app
        await _generate(app, random.Random(20261128))
        async with client_for(app) as http:
            admin = await login_as(http, "admin@example.com")
            await _through_api(admin)
            yield app, admin, await _brute_force(app)
    finally:
        await built.aclose()


async def test_postcode_list_equals_brute_force(dense: Any) -> None:
    app, admin, brute = dense
    postcodes = [d[0] for d in _districts_in_region()] + _units_in_region()[:80]
    assert len(postcodes) >= 100
    nonempty = big = 0
    for pc in postcodes:
        point = lookup_centroid(parse_postcode(pc))
        assert point is not None, pc
        expected = brute.covering(point.latitude, point.longitude)
        got, count = await _api_list(admin, postcode=pc)
        assert count == len(expected), pc
        assert got == expected, pc
        nonempty += bool(expected)
        big += len(expected) > PAGE
    # The set is dense enough to mean something: most points covered, some needing several pages.
    assert nonempty > len(postcodes) * 0.9
    assert big > len(postcodes) / 4


async def test_postcode_list_with_trade_and_distance_equals_brute_force(dense: Any) -> None:
    app, admin, brute = dense
    for i, pc in enumerate(_units_in_region()[:40]):
        point = lookup_centroid(parse_postcode(pc))
        assert point is not None
        trade = 1 + i % 5
        max_km = [5.0, 12.5, 30.0, None][i % 4]
        expected = brute.covering(point.latitude, point.longitude, trade, max_km)
        params: dict[str, Any] = {"postcode": pc, "trade_id": trade}
        if max_km is not None:
            params["max_distance_km"] = max_km
        got, count = await _api_list(admin, **params)
        assert (got, count) == (expected, len(expected)), pc


async def test_points_on_grid_lines_equal_brute_force(dense: Any) -> None:
    """Points exactly on cell edges and corners, and a hair either side of them."""
    app, _admin, brute = dense
    rng = random.Random(5)
    lo_lat, hi_lat, lo_lon, hi_lon = REGION
    points = []
    for _ in range(60):
        r = rng.randint(math.ceil(lo_lat / CELL_LAT), math.floor(hi_lat / CELL_LAT))
        c = rng.randint(math.ceil((lo_lon + 180) / CELL_LON), math.floor((hi_lon + 180) / CELL_LON))
        lat, lon = _grid_lat(r), _grid_lon(c)
        along_lat, along_lon = rng.uniform(lo_lat, hi_lat), rng.uniform(lo_lon, hi_lon)
        for d in (0.0, 1e-12, -1e-12, 1e-7, -1e-7):
            points += [(lat + d, lon + d), (lat + d, along_lon), (along_lat, lon - d)]
    async with app.state.ctx.db.sessionmaker() as session:
        for lat, lon in points:
            for trade in (None, 3):
                got = await service.contractors_covering(session, 1, lat, lon, trade_id=trade)
                assert got == brute.covering(lat, lon, trade), (lat, lon, trade)


# The candidate statement's SQL text before it became ``coverage.CANDIDATES`` (a Core statement run
# by the executor): kept here only, until no copy of the old form is left anywhere else.
_OLD_CANDIDATES = (
    "SELECT g.contractor_id, g.shape_wkb, g.base_latitude, g.base_longitude FROM contractor_coverage_cells g "
    "WHERE g.cell = {0} AND g.active = {1} AND g.min_lat <= {2} AND g.max_lat >= {3} "
    "AND g.min_lon <= {4} AND g.max_lon >= {5}"
    " AND g.organisation_id = {6}"  # the organisation rule (migration 0012), added to both forms
)
_OLD_TRADE = (
    " AND EXISTS (SELECT 1 FROM contractor_trades t WHERE t.contractor_id = g.contractor_id AND t.trade_id = {7})"
)


async def _old_candidates(app: FastAPI, lat: float, lon: float, trade_id: int | None) -> list[tuple[Any, ...]]:
    sql, params = _OLD_CANDIDATES, [cell_of(lat, lon), True, lat, lat, lon, lon, 1]
    if trade_id is not None:
        sql += _OLD_TRADE
        params.append(trade_id)
    return await run_old_sql(app.state.ctx, sql, params)


async def _new_candidates(app: FastAPI, lat: float, lon: float, trade_id: int | None) -> list[tuple[Any, ...]]:
    point = {"cell": cell_of(lat, lon), "lat": lat, "lon": lon, "organisation_id": 1}
    executor = app.state.ctx.executor
    if trade_id is None:
        return list(await executor.committed(cov.CANDIDATES, **point))
    return list(await executor.committed(cov.CANDIDATES_IN_TRADE, **point, trade_id=trade_id))


async def _same_candidates(app: FastAPI, points: list[tuple[float, float]]) -> int:
    """The same candidate rows (as sets: neither statement orders them) and the same covering
    contractors for every point and trade filter; returns how many rows were compared."""
    compared = 0
    for lat, lon in points:
        for trade in (None, 1, 2, 3, 4, 5):
            old = await _old_candidates(app, lat, lon, trade)
            new = await _new_candidates(app, lat, lon, trade)
            assert sorted(new, key=repr) == sorted(old, key=repr), (lat, lon, trade)
            assert cov.exact_filter(new, lat, lon) == cov.exact_filter(old, lat, lon)
            compared += len(old)
    return compared


async def test_candidate_statement_equals_the_old_sql_on_generated_data(dense: Any) -> None:
    app, _admin, _brute = dense
    rng = random.Random(11)
    lo_lat, hi_lat, lo_lon, hi_lon = REGION
    points = [(rng.uniform(lo_lat, hi_lat), rng.uniform(lo_lon, hi_lon)) for _ in range(60)]
    points += [
        (p.latitude, p.longitude) for pc in _units_in_region()[:20] if (p := lookup_centroid(parse_postcode(pc)))
    ]
    assert await _same_candidates(app, points) > 1000


async def test_candidate_statement_equals_the_old_sql_on_demo_data(app: FastAPI) -> None:
    points = [
        (p.latitude, p.longitude)
        for pc in ("SW1A 1AA", "M1 1AE", "B1 1BB", "LS1 4AP", "EH1 1YZ", "CF10 1EP", "BT1 5GS", "N1 9GU")
        if (p := lookup_centroid(parse_postcode(pc)))
    ]
    assert len(points) >= 6
    assert await _same_candidates(app, points) > 0
