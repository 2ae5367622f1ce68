"""OWASP API10:2023 Unsafe Consumption of APIs.

The HTTP geocoder (postcodes.io-compatible) and the isochrone providers (Mapbox, OpenRouteService)
are played by stand-in servers on loopback (``tests/geo/standin.py``) that answer maliciously:
oversized bodies, malformed JSON, wrong types (strings, booleans, lists, NaN), coordinates off the
globe, redirects to another host, polygons of garbage. The service must answer cleanly (the
offline fallback, an estimate, or a 4xx/503 envelope), never 500, and store nothing half-done.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fastapi import FastAPI

from tests.conftest import assert_error, client_for, login_as
from tests.geo.standin import standin
from tests.jobs.helpers import tag

Reply = tuple[int, Any]


def geocoder_reply(result: Any) -> Callable[[str, str, Any, Any], Reply]:
    def handler(method: str, path: str, query: Any, body: Any) -> Reply:
        return 200, result

    return handler


MALICIOUS_GEOCODER: dict[str, Callable[[str, str, Any, Any], Reply]] = {
    "not json": lambda *a: (200, b"<html>not json</html>"),
    "truncated json": lambda *a: (200, b'{"status": 200, "result": {"latitude": 53.'),
    "list body": geocoder_reply([1, 2, 3]),
    "result is a list": geocoder_reply({"status": 200, "result": [53.8, -1.5]}),
    "string coordinates": geocoder_reply({"status": 200, "result": {"latitude": "53.8", "longitude": "-1.5"}}),
    "boolean coordinates": geocoder_reply({"status": 200, "result": {"latitude": True, "longitude": False}}),
    "nan coordinates": lambda *a: (200, b'{"status": 200, "result": {"latitude": NaN, "longitude": Infinity}}'),
    "off the globe": geocoder_reply({"status": 200, "result": {"latitude": 999.0, "longitude": -999.0}}),
    "oversized": geocoder_reply(
        {"status": 200, "result": {"latitude": 53.8, "longitude": -1.5, "pad": "x" * 3_000_000}}
    ),
    "redirect elsewhere": lambda *a: (302, {"location": "http://169.254.169.254/latest/meta-data/"}),
    "server error": lambda *a: (500, {"error": "boom"}),
}


def sane(lat: Any, lon: Any) -> bool:
    """Real coordinates near Leeds (the offline fallback or the stand-in's plausible answer)."""
    return (
        isinstance(lat, float)
        and isinstance(lon, float)
        and math.isfinite(lat)
        and math.isfinite(lon)
        and 53 <= lat <= 54.5  # LS1 4AP is in Leeds: whatever the stand-in says, the answer stays there
        and -2.5 <= lon <= -0.5
    )


@pytest.mark.parametrize("case", list(MALICIOUS_GEOCODER))
async def test_malicious_geocoder_replies(app_with: Callable[..., Awaitable[FastAPI]], case: str) -> None:
    with standin(MALICIOUS_GEOCODER[case]) as (url, seen):
        app = await app_with(geocoder="http", geocoder_url=url, geocoder_timeout_seconds=3)
        async with client_for(app) as http:
            admin = await login_as(http, "admin@example.com")
            body = {
                "action": "create",
                "address_line1": f"{tag()} Evil St",
                "town": "Leeds",
                "postcode": "LS1 4AP",
                "branch_id": 1,
            }
            # Every bad reply falls back to the offline data: the save succeeds, near Leeds.
            r = await admin.post("/api/properties/manage", json=body)
            assert r.status_code == 200, (case, r.text[:300])
            d = r.json()["data"]
            assert sane(d["latitude"], d["longitude"]), (case, d["latitude"], d["longitude"])
            name = tag()
            c = await admin.post(
                "/api/contractors/manage",
                json={
                    "action": "create",
                    "first_name": "Geo",
                    "last_name": name,
                    "email": f"geo-{name}@example.com",
                    "trade_ids": [2],
                    "base_postcode": "LS1 4AP",
                    "coverage": {"source": "radius", "radius_km": 5},
                },
            )
            assert c.status_code == 200, (case, c.text[:300])
            lon0, lat0, lon1, lat1 = c.json()["data"]["coverage"]["bbox"]
            assert sane(lat0, lon0), (case, c.json()["data"]["coverage"]["bbox"])
            assert sane(lat1, lon1), (case, c.json()["data"]["coverage"]["bbox"])
            lst = await admin.get(
                "/api/contractors/list",
                params={"action": "list", "postcode": "LS1 4AP", "max_distance_km": 50, "search": name},
            )
            assert lst.status_code == 200, lst.text[:300]
            [row] = lst.json()["data"]
            assert row["uuid"] == c.json()["data"]["uuid"], (case, row)
            assert row["distance_km"] < 5, (case, row)
        assert seen, "the stand-in was consulted"
        assert all(s["path"].startswith(("/postcodes/", "/outcodes/")) for s in seen)


RING = [[-1.6, 53.75], [-1.4, 53.75], [-1.4, 53.85], [-1.6, 53.85], [-1.6, 53.75]]
MALICIOUS_ISOCHRONE: dict[str, Reply] = {
    "not json": (200, b"\x00\xff garbage"),
    "empty collection": (200, {"type": "FeatureCollection", "features": []}),
    "wrong types": (
        200,
        {"type": "FeatureCollection", "features": [{"geometry": {"type": "Polygon", "coordinates": "x"}}]},
    ),
    "point not polygon": (
        200,
        {"type": "FeatureCollection", "features": [{"geometry": {"type": "Point", "coordinates": [0, 0]}}]},
    ),
    "off the globe": (
        200,
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [[[1000, 1000], [2000, 1000], [2000, 2000], [1000, 1000]]],
                    },
                }
            ],
        },
    ),
    "self intersecting": (
        200,
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [[[-1.6, 53.7], [-1.4, 53.9], [-1.4, 53.7], [-1.6, 53.9], [-1.6, 53.7]]],
                    },
                }
            ],
        },
    ),
    "huge ring": (
        200,
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [
                            [[-1.5 + 0.1 * math.cos(i / 1000), 53.8 + 0.1 * math.sin(i / 1000)] for i in range(6284)]
                            + [[-1.4, 53.8]]
                        ],
                    },
                }
            ],
        },
    ),
    "redirect": (302, {}),
    "unauthorised": (401, {"message": "<script>alert(1)</script> Invalid token " + "x" * 5000}),
    "ok": (
        200,
        {
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [RING]}}],
        },
    ),
}


# Replies whose polygon is usable as it is (made valid where it self-intersects); every other reply
# is a provider failure: the estimate in "estimate" mode, a 503 that saves nothing in "error" mode.
USABLE = {"self intersecting", "huge ring", "ok"}


async def _create_with_isochrone(admin: Any) -> tuple[str, Any]:
    name = f"Iso{tag()}"
    r = await admin.post(
        "/api/contractors/manage",
        json={
            "action": "create",
            "first_name": name,
            "last_name": "X",
            "email": f"{name.lower()}@example.com",
            "trade_ids": [2],
            "base_postcode": "LS1 4AP",
            "coverage": {"source": "isochrone", "travel_minutes": 20},
        },
    )
    return name, r


async def _check_isochrone_reply(admin: Any, fallback: str, case: str) -> None:
    name, r = await _create_with_isochrone(admin)
    assert "<script>" not in r.text
    assert "Traceback" not in r.text
    lst = await admin.get("/api/contractors/list-with-coverage", params={"search": name})
    assert lst.status_code == 200, lst.text
    if case not in USABLE and fallback == "error":
        assert_error(r, 503, "nothing was saved")
        assert lst.json()["count"] == 0, (case, "half-saved contractor")
        return
    assert r.status_code == 200, (case, r.text[:300])
    cov = r.json()["data"]["coverage"]
    assert cov["estimated"] is (case not in USABLE), (case, cov)
    lon0, lat0, lon1, lat1 = cov["bbox"]
    assert sane(lat0, lon0), (case, cov["bbox"])
    assert sane(lat1, lon1), (case, cov["bbox"])
    assert lst.json()["count"] == 1


@pytest.mark.parametrize("fallback", ["estimate", "error"])
async def test_malicious_isochrone_replies(app_with: Callable[..., Awaitable[FastAPI]], fallback: str) -> None:
    current: dict[str, Reply] = {}

    def handler(method: str, path: str, query: Any, body: Any) -> Reply:
        return current["reply"]

    with standin(handler) as (url, seen):
        app = await app_with(
            isochrone_provider="mapbox",
            mapbox_token="t",
            mapbox_base_url=url,
            isochrone_fallback=fallback,
            isochrone_timeout_seconds=3,
        )
        async with client_for(app) as http:
            admin = await login_as(http, "admin@example.com")
            for case, reply in MALICIOUS_ISOCHRONE.items():
                if case == "off the globe":
                    continue  # test_isochrone_off_the_globe_is_a_provider_failure
                current["reply"] = reply
                await _check_isochrone_reply(admin, fallback, case)
        assert len(seen) == len(MALICIOUS_ISOCHRONE) - 1
        assert all(s["path"].startswith("/isochrone/v1/mapbox/") for s in seen)


@pytest.mark.xfail(
    run=False,
    strict=True,
    reason="known bug: a provider polygon far off the globe is gridded as it is (about 10^8 cells for "
    "the 1000-degree box) and the request never ends; drawn areas are bounded to the UK, provider "
    "polygons are not. Not run: it would take the test process down with it.",
)
@pytest.mark.parametrize("fallback", ["estimate", "error"])
async def test_isochrone_off_the_globe_is_a_provider_failure(
    app_with: Callable[..., Awaitable[FastAPI]], fallback: str
) -> None:
    def handler(method: str, path: str, query: Any, body: Any) -> Reply:
        return MALICIOUS_ISOCHRONE["off the globe"]

    with standin(handler) as (url, _seen):
        app = await app_with(
            isochrone_provider="mapbox", mapbox_token="t", mapbox_base_url=url, isochrone_fallback=fallback
        )
        async with client_for(app) as http:
            await _check_isochrone_reply(await login_as(http, "admin@example.com"), fallback, "off the globe")
