"""OWASP API9:2023 Improper Inventory Management.

Checks: every route is in the OpenAPI document with its method, and nothing in the document is
unserved; no debug, test, internal or versioned shadow routes are mounted; the only routes outside
``/api`` are the docs; the public routes are exactly the documented four plus ping, and
``/api/ping`` is documented and answers anonymously; every operation documents its error statuses.
"""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import Route

from propops.main import iter_api_routes

SHADOW = [
    "/api/debug",
    "/api/test",
    "/api/internal",
    "/api/v0/jobs/manage",
    "/api/v2/jobs/manage",
    "/debug",
    "/admin",
    "/api/admin",
    "/.env",
    "/api/.git/config",
    "/metrics",
    "/api/auth/token",
    "/api/users/list",
    "/api/jobs/manage.bak",
    "/api/graphql",
    "/console",
    "/server-status",
]


def test_every_route_documented_and_nothing_else(app: FastAPI) -> None:
    doc = app.openapi()
    documented = {(m.upper(), p) for p, item in doc["paths"].items() for m in item if m != "parameters"}
    served = {(m, r.path) for r in iter_api_routes(app.routes) for m in r.methods}
    assert served == documented
    for method, path in served:
        op = doc["paths"][path][method.lower()]
        assert op.get("summary"), (method, path)
        if path not in ("/api/ping",):
            codes = set(op["responses"])
            assert codes & {"400", "401", "403", "503"}, (method, path, codes)


def test_no_debug_or_unlisted_mounts(app: FastAPI) -> None:
    served = {r.path for r in iter_api_routes(app.routes)}
    for path in served:
        assert path.startswith("/api/"), path
        assert not re.search(r"debug|test|internal|tmp|backup|v\d", path), path
    others = {r.path for r in app.routes if isinstance(r, Route)} - served
    assert others <= {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}, others


@pytest.mark.parametrize("path", SHADOW)
async def test_shadow_paths_are_404(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 404, (path, r.status_code)


async def test_ping_is_documented_public(app: FastAPI, client: httpx.AsyncClient) -> None:
    op = app.openapi()["paths"]["/api/ping"]["get"]
    assert not op.get("security")
    r = await client.get("/api/ping")
    assert r.status_code == 200
    assert r.json()["data"] == {"pong": True}
