"""Contractor admin (POST/GET /api/contractors/manage) and own profile (/api/contractors/profile)."""

from __future__ import annotations

import uuid as uuid_mod
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from fastapi import FastAPI
from shapely.geometry import Point, shape

from tests.conftest import AuthedClient, assert_error, client_for, login_as
from tests.geo.standin import standin

MANAGE = "/api/contractors/manage"
LIST = "/api/contractors/list"


def _body(**kw: Any) -> dict[str, Any]:
    tag = uuid_mod.uuid4().hex[:8]
    body: dict[str, Any] = {
        "action": "create",
        "first_name": f"Test{tag}",
        "last_name": "Builder",
        "company_name": "Builder & Sons",
        "email": f"t{tag}@example.com",
        "phone": "07700 900123",
        "trade_ids": [3, 5],
        "base_postcode": "LS1 4",
        "coverage": {"source": "radius", "radius_km": 10},
    }
    body.update(kw)
    return body


async def _count(c: AuthedClient, **params: Any) -> int:
    r = await c.get(LIST, params={"action": "list", **params})
    return int(r.json()["count"])


async def test_create_get_update_deactivate(admin: AuthedClient) -> None:
    body = _body()
    r = await admin.post(MANAGE, json=body)
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    assert d["trades"] == ["Electrical", "General Maintenance"]
    assert d["trade_ids"] == [3, 5]
    assert d["coverage"]["source"] == "radius"
    assert d["coverage"]["parameters"] == {"radius_km": 10.0}
    assert d["coverage"]["base"]["postcode"] == "LS1 4"
    u = d["uuid"]
    assert (await admin.get(MANAGE, params={"action": "get", "uuid": u})).json()["data"]["ID"] == d["ID"]
    found = await admin.get(LIST, params={"action": "list", "postcode": "LS1", "search": body["first_name"]})
    assert [row["ID"] for row in found.json()["data"]] == [d["ID"]]

    # Coverage change is recomputed: an isochrone far away no longer covers LS1.
    r = await admin.post(
        MANAGE,
        json={
            "action": "update",
            "uuid": u,
            "base_postcode": "BS1",
            "coverage": {"source": "isochrone", "travel_minutes": 20},
        },
    )
    assert r.status_code == 200, r.text
    c = r.json()["data"]["coverage"]
    assert c["source"] == "isochrone"
    assert c["estimated"] is True
    assert c["parameters"]["profile"] == "driving"
    assert await _count(admin, postcode="LS1", search=body["first_name"]) == 0
    assert await _count(admin, postcode="BS1", search=body["first_name"]) == 1
    # Partial update keeps other fields.
    r = await admin.post(MANAGE, json={"action": "update", "uuid": u, "phone": "0113 496 0000", "trade_ids": [1]})
    d2 = r.json()["data"]
    assert d2["phone"] == "0113 496 0000"
    assert d2["trades"] == ["Gas & Heating"]
    assert d2["coverage"]["source"] == "isochrone"

    r = await admin.post(MANAGE, json={"action": "deactivate", "uuid": u})
    assert r.json()["data"]["is_active"] is False
    assert await _count(admin, search=body["first_name"]) == 0
    assert await _count(admin, postcode="BS1", search=body["first_name"]) == 0
    r = await admin.post(MANAGE, json={"action": "activate", "uuid": u})
    assert r.json()["data"]["is_active"] is True
    assert await _count(admin, search=body["first_name"]) == 1


async def test_drawn_coverage(admin: AuthedClient) -> None:
    ring = [[-1.60, 53.78], [-1.50, 53.78], [-1.50, 53.82], [-1.60, 53.82], [-1.60, 53.78]]
    body = _body(coverage={"source": "drawn", "geometry": {"type": "Polygon", "coordinates": [ring]}})
    r = await admin.post(MANAGE, json=body)
    assert r.status_code == 200, r.text
    geom = shape(r.json()["data"]["coverage"]["geometry"])
    assert geom.contains(Point(-1.55, 53.80))
    bad = _body(coverage={"source": "drawn", "geometry": {"type": "Polygon", "coordinates": [[[53.8, -1.6]] * 4]}})
    assert_error(await admin.post(MANAGE, json=bad), 400, "coverage.geometry")


async def test_validation_errors_write_nothing(admin: AuthedClient) -> None:
    cases = [
        (_body(base_postcode="not a postcode!"), "base_postcode"),
        (_body(base_postcode="ZZ9 9ZZ"), "not in the postcode data"),
        (_body(trade_ids=[99]), "trade_ids"),
        (_body(trade_ids=[]), "trade_ids"),
        (_body(email="nope"), "email"),
        (_body(first_name="   "), "first_name"),
        (_body(first_name="x" * 101), "first_name"),
        (_body(phone="<b>call</b>"), "phone"),
        (_body(coverage={"source": "radius", "radius_km": 9999}), "radius_km"),
        (_body(coverage={"source": "isochrone"}), "travel_minutes"),
        (_body(coverage={"source": "isochrone", "travel_minutes": 600}), "travel_minutes"),
        (_body(coverage={"source": "teleport"}), "coverage"),
        (_body(trade_ids="abc"), "trade_ids"),
        (_body(create_login=True), "password"),
        (_body(action="explode"), "action"),
    ]
    for body, says in cases:
        r = await admin.post(MANAGE, json=body)
        assert_error(r, 400, says)
        if body["first_name"].strip():
            assert await _count(admin, search=body["first_name"][:100]) == 0
    assert_error(await admin.post(MANAGE, json={"action": "update"}), 400, "uuid")
    assert_error(await admin.post(MANAGE, json={"action": "update", "uuid": "nope"}), 404)
    assert_error(await admin.get(MANAGE, params={"action": "get", "uuid": str(uuid_mod.uuid4())}), 404)
    assert_error(await admin.get(MANAGE, params={"action": "list"}), 400, "action")


async def test_duplicate_email_conflict(admin: AuthedClient) -> None:
    body = _body()
    assert (await admin.post(MANAGE, json=body)).status_code == 200
    again = _body(email=body["email"].upper())
    assert_error(await admin.post(MANAGE, json=again), 409)
    assert await _count(admin, search=again["first_name"]) == 0


async def test_hostile_strings_are_stored_literally(admin: AuthedClient) -> None:
    name = "<script>alert(1)</script>'); DROP TABLE contractors;--"
    r = await admin.post(MANAGE, json=_body(first_name=name, company_name="' OR '1'='1"))
    assert r.status_code == 200
    got = (await admin.get(MANAGE, params={"action": "get", "uuid": r.json()["data"]["uuid"]})).json()["data"]
    assert got["first_name"] == name
    assert got["company_name"] == "' OR '1'='1"
    assert await _count(admin) >= 30


async def test_create_with_login_then_own_profile(admin: AuthedClient, client: httpx.AsyncClient) -> None:
    body = _body(create_login=True, password="a-long-password-1")
    r = await admin.post(MANAGE, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["user_uuid"]
    me = await login_as(client, body["email"], "a-long-password-1")
    prof = await me.get("/api/contractors/profile")
    assert prof.status_code == 200
    assert prof.json()["data"]["email"] == body["email"]
    r = await me.post(
        "/api/contractors/profile", json={"phone": "020 7946 0000", "coverage": {"source": "radius", "radius_km": 30}}
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["coverage"]["parameters"]["radius_km"] == 30.0
    assert_error(await me.post("/api/contractors/profile", json={"trade_ids": [1, 2, 3, 4]}), 403)
    assert_error(await me.post("/api/contractors/profile", json={"is_active": False}), 403)
    assert (await me.get("/api/contractors/profile")).json()["data"]["trade_ids"] == [3, 5]
    assert_error(await me.get(MANAGE, params={"action": "get", "uuid": r.json()["data"]["uuid"]}), 403)
    assert_error(await me.post(MANAGE, json=_body()), 403)
    # The login email is taken: the whole create is rolled back, no contractor row is left.
    dup = _body(email="finance@example.com", create_login=True, password="a-long-password-1")
    assert_error(await admin.post(MANAGE, json=dup), 409)
    assert await _count(admin, search=dup["first_name"]) == 0


async def test_seed_contractor_profile(contractor: AuthedClient) -> None:
    r = await contractor.get("/api/contractors/profile")
    assert r.status_code == 200
    assert r.json()["data"]["ID"] == 20
    assert r.json()["data"]["coverage"]["base"]["postcode"] == "SW1A"


async def test_permissions_and_csrf(admin: AuthedClient, agent: AuthedClient, client: httpx.AsyncClient) -> None:
    body = _body()
    assert_error(await agent.post(MANAGE, json=body), 403)
    assert_error(await agent.get(MANAGE, params={"action": "get", "uuid": "x"}), 403)
    assert_error(await agent.get("/api/contractors/profile"), 403)
    r = await admin.post(MANAGE, json=body, csrf=False)
    assert_error(r, 403)
    assert await _count(admin, search=body["first_name"]) == 0
    created = (await admin.post(MANAGE, json=_body())).json()["data"]
    assert_error(await admin.post(MANAGE, json={"action": "deactivate", "uuid": created["uuid"]}, csrf=False), 403)
    again = (await admin.get(MANAGE, params={"action": "get", "uuid": created["uuid"]})).json()["data"]
    assert again["is_active"] is True
    manager = await login_as(client, "manager@example.com")  # creates no logins (migration 0010)
    assert_error(await manager.post(MANAGE, json=_body()), 403)
    assert_error(await client.post(MANAGE, json=body), 401)


def _failing(method: str, path: str, query: Any, body: Any) -> tuple[int, Any]:
    return 503, {"message": "upstream down"}


async def test_provider_failure_fallback_or_clear_error(app_with: Callable[..., Awaitable[FastAPI]]) -> None:
    with standin(_failing) as (url, seen):
        app = await app_with(isochrone_provider="mapbox", mapbox_token="t", mapbox_base_url=url)
        async with client_for(app) as http:
            admin = await login_as(http, "admin@example.com")
            r = await admin.post(MANAGE, json=_body(coverage={"source": "isochrone", "travel_minutes": 30}))
            assert r.status_code == 200, r.text
            assert r.json()["data"]["coverage"]["estimated"] is True
            assert seen
        strict = await app_with(
            isochrone_provider="openrouteservice", ors_api_key="k", ors_base_url=url, isochrone_fallback="error"
        )
        async with client_for(strict) as http:
            admin = await login_as(http, "admin@example.com")
            body = _body(coverage={"source": "isochrone", "travel_minutes": 30})
            before = await _count(admin)
            assert_error(await admin.post(MANAGE, json=body), 503, "nothing was saved")
            assert await _count(admin, search=body["first_name"]) == 0
            assert await _count(admin) == before


async def test_routing_provider_result_is_stored(app_with: Callable[..., Awaitable[FastAPI]]) -> None:
    ring = [[-2.7, 51.35], [-2.45, 51.35], [-2.45, 51.55], [-2.7, 51.55], [-2.7, 51.35]]

    def ors(method: str, path: str, query: Any, body: Any) -> tuple[int, Any]:
        feature = {
            "type": "Feature",
            "properties": {"value": 1800.0},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }
        return 200, {"type": "FeatureCollection", "features": [feature]}

    with standin(ors) as (url, _):
        app = await app_with(isochrone_provider="openrouteservice", ors_api_key="k", ors_base_url=url)
        async with client_for(app) as http:
            admin = await login_as(http, "admin@example.com")
            body = _body(base_postcode="BS1", coverage={"source": "isochrone", "travel_minutes": 30})
            r = await admin.post(MANAGE, json=body)
            c = r.json()["data"]["coverage"]
            assert c["estimated"] is False
            assert c["parameters"]["provider"] == "openrouteservice"
            assert await _count(admin, postcode="BS1", max_travel_minutes=30, search=body["first_name"]) == 1
