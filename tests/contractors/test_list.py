"""GET /api/contractors/list and list-with-coverage: seed shape, filters, paging, errors, GeoJSON."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from shapely.geometry import Point, shape

from propops.geo.geocoder import lookup_centroid
from propops.geo.geometry import haversine_km
from propops.geo.postcodes import parse_postcode
from tests.conftest import AuthedClient, assert_error, client_for, login_as

LIST = "/api/contractors/list?action=list"
COV = "/api/contractors/list-with-coverage"

SEED_ROW = {
    "ID": 20,
    "uuid": "770e8400-e29b-41d4-a716-446655440001",
    "first_name": "Contractor_001",
    "last_name": "Surname_001",
    "email": "contractor001@example.com",
    "phone": "07700000002",
    "trades": ["Gas & Heating", "Plumbing"],
    "is_active": True,
}


@pytest.fixture
async def fresh(make_app: Callable[..., Awaitable[FastAPI]]) -> Any:
    """A separate demo database, for exact counts."""
    app = await make_app()
    async with client_for(app) as http:
        yield await login_as(http, "admin@example.com")


async def test_seed_example(fresh: AuthedClient) -> None:
    r = await fresh.get(f"{LIST}&trade_id=1&limit=20")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True
    assert body["message"] == "Operation completed successfully"
    assert body["data"][0] == SEED_ROW
    assert all("Gas & Heating" in row["trades"] for row in body["data"])
    assert body["count"] == len(body["data"])
    r = await fresh.get(LIST)
    body = r.json()
    assert body["count"] == 30
    assert [row["ID"] for row in body["data"]] == list(range(20, 50))
    assert set(body["data"][0]) == set(SEED_ROW)


async def test_agent_can_list(agent: AuthedClient) -> None:
    r = await agent.get(f"{LIST}&search=Contractor_001")
    assert r.status_code == 200
    assert r.json()["data"][0]["ID"] == 20


@pytest.mark.parametrize("param", ["search", "name"])
async def test_name_filter(admin: AuthedClient, param: str) -> None:
    r = await admin.get(f"{LIST}&{param}=contractor_002")
    assert r.status_code == 200
    data = r.json()["data"]
    assert [row["first_name"] for row in data] == ["Contractor_002"]
    # Full name and wildcard characters are literal.
    url = LIST.split("?")[0]
    r = await admin.get(url, params={"action": "list", param: "Contractor_003 Surname_003"})
    assert [row["ID"] for row in r.json()["data"]] == [22]
    r = await admin.get(url, params={"action": "list", param: "%"})
    assert r.json()["count"] == 0


async def test_trade_filter(admin: AuthedClient) -> None:
    r = await admin.get(f"{LIST}&trade_id=4&limit=200")
    data = r.json()["data"]
    assert data
    assert all("Roofing" in row["trades"] for row in data)
    r = await admin.get(f"{LIST}&trade_id=999")
    assert r.json() == {"success": True, "data": [], "count": 0, "message": "Operation completed successfully"}


async def test_postcode_filter_matches_independent_computation(admin: AuthedClient) -> None:
    """Coverage answer vs a brute-force check of every contractor's polygon."""
    everyone = (await admin.get(f"{COV}?limit=200&search=Contractor_")).json()["data"]
    for postcode in ["SW1A 1AA", "M1", "EH1 1", "EC2R 8AH", "B15", "CF10 1EP"]:
        point = lookup_centroid(parse_postcode(postcode))
        assert point is not None
        lat, lon = point.latitude, point.longitude
        r = await admin.get("/api/contractors/list", params={"action": "list", "limit": 200, "postcode": postcode})
        assert r.status_code == 200, r.text
        got = r.json()["data"]
        expected = {
            row["ID"]
            for row in everyone
            if row["coverage"] and shape(row["coverage"]["geometry"]).intersects(Point(lon, lat))
        }
        assert {row["ID"] for row in got} >= expected
        demo = [row for row in got if row["ID"] in expected]
        assert len(demo) == len(expected)
        distances = [row["distance_km"] for row in got]
        assert distances == sorted(distances)


async def test_postcode_distance_values(admin: AuthedClient) -> None:
    r = await admin.get(f"{LIST}&postcode=SW1A%201AA&search=Contractor_0")
    rows = r.json()["data"]
    assert rows[0]["ID"] == 20
    cov = (await admin.get(f"{COV}?search=Contractor_001")).json()["data"][0]["coverage"]
    # SW1A 1AA is a unit postcode; without NSPL import it geocodes at sector precision (SW1A 1).
    assert cov["base"]["postcode"] == "SW1A"
    assert rows[0]["distance_km"] < 2


async def test_postcode_with_trade_and_name_combined(admin: AuthedClient) -> None:
    r = await admin.get(f"{LIST}&postcode=SW1A&trade_id=2&search=Contractor_001")
    assert [row["ID"] for row in r.json()["data"]] == [20]
    r = await admin.get(f"{LIST}&postcode=SW1A&trade_id=4&search=Contractor_001")
    assert r.json()["count"] == 0
    r = await admin.get(f"{LIST}&postcode=M1&trade_id=1")
    assert 20 not in [row["ID"] for row in r.json()["data"]]


async def test_max_distance(admin: AuthedClient) -> None:
    r = await admin.get(f"{LIST}&postcode=EC2R%208AH&limit=200")
    all_rows = r.json()["data"]
    assert len(all_rows) >= 2
    r = await admin.get(f"{LIST}&postcode=EC2R%208AH&limit=200&max_distance_km=2")
    near = r.json()["data"]
    assert all(row["distance_km"] <= 2 for row in near)
    assert len(near) < len(all_rows)
    assert_error(await admin.get(f"{LIST}&max_distance_km=5"), 400, "max_distance_km")
    for bad in ("-1", "0", "abc", "nan", "1e9"):
        assert_error(await admin.get(f"{LIST}&postcode=SW1A&max_distance_km={bad}"), 400, "max_distance_km")


async def test_max_travel_minutes(admin: AuthedClient) -> None:
    r = await admin.get(f"{COV}?max_travel_minutes=30&limit=200&search=Contractor_")
    rows = r.json()["data"]
    assert rows
    for row in rows:
        assert row["coverage"]["source"] == "isochrone"
        assert row["coverage"]["parameters"]["travel_minutes"] <= 30
    r = await admin.get(f"{LIST}&postcode=B1&max_travel_minutes=30")
    assert 24 in [row["ID"] for row in r.json()["data"]]  # Contractor_005: 30 min from B1
    r = await admin.get(f"{LIST}&postcode=B1&max_travel_minutes=20")
    assert 24 not in [row["ID"] for row in r.json()["data"]]
    assert_error(await admin.get(f"{LIST}&max_travel_minutes=0"), 400, "max_travel_minutes")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("offset=-1", "offset"),
        ("trade_id=abc", "trade_id"),
        ("trade_id=1.5", "trade_id"),
        ("trade_id=0", "trade_id"),
    ],
)
async def test_bad_params(admin: AuthedClient, query: str, field: str) -> None:
    body = assert_error(await admin.get(f"{LIST}&{query}"), 400, field)
    assert body["errors"][0]["field"] == field


async def test_paging_edges(admin: AuthedClient) -> None:
    one = (await admin.get(f"{LIST}&limit=1")).json()
    assert len(one["data"]) == 1
    assert one["count"] >= 30
    big = (await admin.get(f"{LIST}&limit=200")).json()
    assert len(big["data"]) == min(200, big["count"])
    second = (await admin.get(f"{LIST}&limit=1&offset=1")).json()
    assert second["data"][0]["ID"] == big["data"][1]["ID"]
    beyond = (await admin.get(f"{LIST}&offset=100000")).json()
    assert beyond["data"] == []
    assert beyond["count"] == big["count"]
    p1 = (await admin.get(f"{LIST}&postcode=SW1A&limit=1&offset=1")).json()
    p_all = (await admin.get(f"{LIST}&postcode=SW1A&limit=200")).json()
    assert p1["count"] == p_all["count"]
    assert p1["data"][0]["ID"] == p_all["data"][1]["ID"]


async def test_action_missing_or_wrong(admin: AuthedClient) -> None:
    assert_error(await admin.get("/api/contractors/list"), 400, "action")
    assert_error(await admin.get("/api/contractors/list?action=delete"), 400, "action")
    assert_error(await admin.get(f"{COV}?action=nope"), 400, "action")
    assert (await admin.get(f"{COV}?action=list&limit=1")).status_code == 200


@pytest.mark.parametrize("bad", ["!!!", "12345", "SW1A 1AAA", "'; DROP TABLE contractors; --", "<script>", "A" * 40])
async def test_malformed_postcode(admin: AuthedClient, bad: str) -> None:
    body = assert_error(await admin.get(LIST.split("?")[0], params={"action": "list", "postcode": bad}), 400)
    assert body["errors"][0]["field"] == "postcode"
    assert "not in the postcode data" not in body["error"]


@pytest.mark.parametrize("unknown", ["ZZ99 9ZZ", "QQ1", "W1 1AA"])
async def test_unknown_postcode(admin: AuthedClient, unknown: str) -> None:
    body = assert_error(await admin.get(LIST.split("?")[0], params={"action": "list", "postcode": unknown}), 400)
    assert "not in the postcode data" in body["error"]


async def test_hostile_search(admin: AuthedClient) -> None:
    for s in ["' OR 1=1 --", "<img src=x onerror=alert(1)>", "\\", "a_b%", "Robert'); DROP TABLE contractors;--"]:
        r = await admin.get(LIST.split("?")[0], params={"action": "list", "search": s})
        assert r.status_code == 200, s
        assert r.json()["count"] == 0, s
    assert_error(await admin.get(LIST.split("?")[0], params={"action": "list", "search": "x" * 101}), 400, "search")
    assert (await admin.get(f"{LIST}&limit=1")).json()["count"] >= 30


async def test_permissions(client: httpx.AsyncClient, contractor: AuthedClient, agent: AuthedClient) -> None:
    assert_error(await contractor.get(LIST), 403)
    assert_error(await contractor.get(COV), 403)
    assert_error(await client.get(LIST), 401)
    assert (await agent.get(COV)).status_code == 200
    finance = await login_as(client, "finance@example.com")
    assert_error(await finance.get(COV), 403)


def _rings(geom: dict[str, Any]) -> list[list[list[float]]]:
    if geom["type"] == "Polygon":
        return list(geom["coordinates"])
    return [ring for poly in geom["coordinates"] for ring in poly]


async def test_coverage_shape_and_geojson_validity(admin: AuthedClient) -> None:
    r = await admin.get(f"{COV}?limit=200&search=Contractor_")
    rows = r.json()["data"]
    sources = {row["coverage"]["source"] for row in rows}
    assert sources == {"radius", "isochrone", "drawn"}
    for row in rows:
        c = row["coverage"]
        assert set(c) >= {"source", "parameters", "base", "geometry", "estimated", "computed_at"}
        assert c["geometry"]["type"] in ("Polygon", "MultiPolygon")
        for ring in _rings(c["geometry"]):
            assert len(ring) >= 4
            assert ring[0] == ring[-1]
            for lon, lat in ring:
                assert -9.5 <= lon <= 2.5
                assert 49 <= lat <= 61.5
        geom = shape(c["geometry"])
        assert geom.is_valid
        assert geom.intersects(Point(c["base"]["longitude"], c["base"]["latitude"]))
        if c["source"] == "radius":
            assert c["estimated"] is False
            edge = c["geometry"]["coordinates"][0][0]
            d = haversine_km(c["base"]["latitude"], c["base"]["longitude"], edge[1], edge[0])
            assert math.isclose(d, c["parameters"]["radius_km"], rel_tol=0.01)
        if c["source"] == "isochrone":
            assert c["estimated"] is True
            assert c["parameters"]["provider"] == "estimate"


async def test_geojson_format(admin: AuthedClient) -> None:
    r = await admin.get(f"{COV}?format=geojson&postcode=SW1A&limit=200")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    fc = r.json()
    assert fc["type"] == "FeatureCollection"
    assert fc["features"]
    assert fc["count"] >= len(fc["features"])
    f = fc["features"][0]
    assert f["type"] == "Feature"
    assert f["id"] == 20
    assert f["properties"]["uuid"] == SEED_ROW["uuid"]
    assert "distance_km" in f["properties"]
    assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert_error(await admin.get(f"{COV}?format=kml"), 400, "format")
