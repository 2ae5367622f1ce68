"""OWASP API7:2023 Server Side Request Forgery.

The geocoder and isochrone URLs come from settings only. Attacks: URLs (loopback, link-local cloud
metadata, file://, gopher://, a second stand-in) in every field a request can carry (postcode,
base_postcode, coverage geometry, search, names, query parameters named like the settings), and
postcode strings crafted as paths (``../``, ``?``, ``#``, ``@host``). The configured stand-in only
ever sees ``/postcodes/<unit>`` or ``/outcodes/<district>``, and the decoy server sees nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI

from tests.conftest import client_for, login_as
from tests.geo.standin import standin

URLS = [
    "http://127.0.0.1:{decoy}/steal",
    "http://169.254.169.254/latest/meta-data/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_FLUSHALL",
    "//127.0.0.1:{decoy}/x",
    "LS1 4AP@127.0.0.1:{decoy}",
    "LS1/../../admin",
    "LS1 4AP?x=http://127.0.0.1:{decoy}",
    "LS1 4AP#@127.0.0.1:{decoy}",
]


def ok_geo(method: str, path: str, query: Any, body: Any) -> tuple[int, Any]:
    return 200, {"status": 200, "result": {"latitude": 53.8, "longitude": -1.55}}


def decoy_handler(method: str, path: str, query: Any, body: Any) -> tuple[int, Any]:
    return 200, {"stolen": True}


async def test_urls_in_request_fields_are_never_fetched(app_with: Callable[..., Awaitable[FastAPI]]) -> None:
    with standin(decoy_handler) as (decoy_url, decoy_seen), standin(ok_geo) as (geo_url, geo_seen):
        port = decoy_url.rsplit(":", 1)[1]
        app = await app_with(
            geocoder="http",
            geocoder_url=geo_url,
            isochrone_provider="mapbox",
            mapbox_token="t",
            mapbox_base_url=geo_url,
            geocoder_timeout_seconds=2,
        )
        async with client_for(app) as http:
            admin = await login_as(http, "admin@example.com")
            for raw in URLS:
                value = raw.format(decoy=port)
                r = await admin.post(
                    "/api/properties/manage",
                    json={
                        "action": "create",
                        "address_line1": value,
                        "town": value,
                        "postcode": value,
                        "branch_id": 1,
                        "geocoder_url": decoy_url,
                        "url": decoy_url,
                        "callback": decoy_url,
                    },
                )
                assert r.status_code == 400, (value, r.text)
                r = await admin.post(
                    "/api/contractors/manage",
                    json={
                        "action": "create",
                        "first_name": value[:100],
                        "last_name": "X",
                        "trade_ids": [2],
                        "base_postcode": value[:16],
                        "coverage": {
                            "source": "drawn",
                            "geometry": {"type": "Polygon", "$ref": value, "coordinates": value},
                        },
                    },
                )
                assert r.status_code == 400, (value, r.text)
                r = await admin.get(
                    "/api/contractors/list",
                    params={
                        "action": "list",
                        "postcode": value,
                        "search": value,
                        "geocoder_url": decoy_url,
                        "mapbox_base_url": decoy_url,
                    },
                )
                assert r.status_code == 400, (value, r.text)
            # a valid postcode goes to the configured service only, at a fixed path
            r = await admin.post(
                "/api/properties/manage",
                json={
                    "action": "create",
                    "address_line1": "1 Safe St",
                    "town": "Leeds",
                    "postcode": "LS1 4AP",
                    "branch_id": 1,
                    "geocoder_url": decoy_url,
                },
            )
            assert r.status_code == 200, r.text
        assert decoy_seen == []
        assert geo_seen, geo_seen
        assert all(s["path"] in ("/postcodes/LS1 4AP", "/postcodes/LS1%204AP") for s in geo_seen), geo_seen
