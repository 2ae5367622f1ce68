"""The envelope on every error class, the headers on every response, rate limits, route guards."""

from __future__ import annotations

import time

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from propops.auth.deps import Public, Require
from propops.core.permissions import AUTHENTICATED, PUBLIC, USED_KEYS
from propops.core.ratelimit import MemoryRateLimitStore
from propops.core.settings import Settings
from propops.main import iter_api_routes
from tests.conftest import AuthedClient, assert_error, client_for, login_as

# Routes deliberately open to anonymous callers (README "API notes").
DOCUMENTED_PUBLIC = {
    ("POST", "/api/auth/login"),
    ("POST", "/api/security/mobile-auth"),
    ("GET", "/api/health"),
    ("GET", "/api/ping"),
}
RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
TIMING_HEADERS = ("x-response-time-ms", "x-db-query-time-ms", "x-request-id")


def _guards(route: APIRoute) -> list[object]:
    found: list[object] = []
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, (Require, Public)):
            found.append(dep.call)
        stack.extend(dep.dependencies)
    return found


class TestRouteGuards:
    def test_every_route_declares_exactly_one_guard(self, app: FastAPI) -> None:
        missing, public = [], set()
        for route in iter_api_routes(app.routes):
            guards = _guards(route)
            keys = {getattr(g, "key", None) for g in guards}
            if not guards:
                missing.append((sorted(route.methods), route.path))
            assert len(keys) == 1, f"{route.path} declares several guards: {keys}"
            if keys == {PUBLIC}:
                public |= {(m, route.path) for m in route.methods}
        assert not missing, f"routes without a permission: {missing}"
        assert public == DOCUMENTED_PUBLIC

    async def test_every_declared_key_exists_as_data(self, app: FastAPI) -> None:
        from propops.auth.service import permission_keys

        async with app.state.ctx.db.sessionmaker() as s:
            keys = await permission_keys(s)
        assert USED_KEYS - keys == set()
        assert AUTHENTICATED not in keys

    async def test_every_non_public_route_rejects_anonymous(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        for route in iter_api_routes(app.routes):
            if {getattr(g, "key", None) for g in _guards(route)} == {PUBLIC}:
                continue
            path = route.path.replace("{", "").replace("}", "")
            for method in route.methods:
                r = await client.request(method, path)
                assert r.status_code == 401, f"{method} {route.path} -> {r.status_code}"


class TestEnvelope:
    async def test_unknown_route_404(self, client: httpx.AsyncClient) -> None:
        assert_error(await client.get("/api/does-not-exist"), 404)
        assert_error(await client.get("/../../etc/passwd"), 404)

    async def test_wrong_method_405(self, admin: AuthedClient) -> None:
        r = await admin.delete("/api/contractors/trades")
        assert_error(r, 405)
        assert "GET" in r.headers["allow"]

    async def test_invalid_input_400_names_fields(self, client: httpx.AsyncClient) -> None:
        r = await client.post("/api/auth/login", json={"email": ["x"]})
        body = assert_error(r, 400, "email")
        assert {e["field"] for e in body["errors"]} == {"email", "password"}

    async def test_malformed_json_400(self, client: httpx.AsyncClient) -> None:
        r = await client.post("/api/auth/login", content=b'{"email": ', headers={"content-type": "application/json"})
        assert_error(r, 400)

    async def test_unexpected_exception_is_generic_500(self, app_with) -> None:  # type: ignore[no-untyped-def]
        app = await app_with()
        from propops.auth.deps import public

        async def boom() -> None:
            raise RuntimeError("secret internal detail /srv/db password=hunter2")

        app.add_api_route("/api/test-boom", boom, dependencies=[public()])
        async with client_for(app) as c:
            r = await c.get("/api/test-boom")
        body = assert_error(r, 500)
        assert "secret" not in r.text
        assert "Traceback" not in r.text
        assert "RuntimeError" not in r.text
        assert body["request_id"] == r.headers["x-request-id"]
        for h in TIMING_HEADERS:
            assert h in r.headers

    async def test_oversized_body_413(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        big = b"x" * (app.state.ctx.settings.max_upload_bytes + 2 * 1024 * 1024)
        r = await client.post("/api/auth/login", content=big, headers={"content-type": "application/json"})
        assert_error(r, 413)

    async def test_oversized_chunked_body_413(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        size = app.state.ctx.settings.max_upload_bytes + 2 * 1024 * 1024

        async def chunks():  # type: ignore[no-untyped-def]
            sent = 0
            while sent < size:
                yield b"y" * 65536
                sent += 65536

        r = await client.post("/api/auth/login", content=chunks(), headers={"content-type": "application/json"})
        assert_error(r, 413)


class TestHeaders:
    @pytest.mark.parametrize("path", ["/api/health", "/api/contractors/trades", "/api/nope"])
    async def test_headers_on_every_response(self, client: httpx.AsyncClient, path: str) -> None:
        r = await client.get(path)
        for h in RATE_HEADERS + TIMING_HEADERS:
            assert h in r.headers, (path, h)
        assert float(r.headers["x-response-time-ms"]) >= 0
        assert int(r.headers["x-ratelimit-reset"]) > time.time() - 1

    async def test_db_time_is_measured(self, admin: AuthedClient) -> None:
        r = await admin.get("/api/contractors/trades")
        assert float(r.headers["x-db-query-time-ms"]) > 0

    async def test_health(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/api/health")
        assert r.status_code == 200
        assert r.json()["data"]["status"] == "ok"

    async def test_openapi_and_docs(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/openapi.json")
        assert r.status_code == 200
        assert "/api/contractors/trades" in r.json()["paths"]
        assert (await client.get("/docs")).status_code == 200


class TestRateLimits:
    async def test_per_ip_limit_429_with_retry_after(self, app_with) -> None:  # type: ignore[no-untyped-def]
        app = await app_with(rate_limit_per_ip=3)
        async with client_for(app, ip="198.51.100.1") as c:
            statuses = [(await c.get("/api/health")).status_code for _ in range(4)]
            assert statuses == [200, 200, 200, 429]
            r = await c.get("/api/health")
            assert_error(r, 429)
            assert int(r.headers["retry-after"]) >= 1
            assert r.headers["x-ratelimit-remaining"] == "0"
        async with client_for(app, ip="198.51.100.2") as other:
            assert (await other.get("/api/health")).status_code == 200

    async def test_per_account_limit(self, app_with) -> None:  # type: ignore[no-untyped-def]
        app = await app_with(rate_limit_per_account=3)
        async with client_for(app) as c:
            s = await login_as(c, "finance@example.com")  # csrf-token call counts as one
            assert (await s.get("/api/contractors/trades")).status_code == 200
            assert (await s.get("/api/contractors/trades")).status_code == 200
            r = await s.get("/api/contractors/trades")
            assert_error(r, 429)
            assert "retry-after" in r.headers
            other = await login_as(c, "manager@example.com")
            assert (await other.get("/api/contractors/trades")).status_code == 200

    async def test_memory_store_windows(self) -> None:
        store = MemoryRateLimitStore()
        results = [await store.hit("k", 2, 60) for _ in range(3)]
        assert [r.remaining for r in results] == [1, 0, -1]
        assert results[-1].exceeded
        assert not results[0].exceeded


class TestSettings:
    def test_production_refuses_default_secret(self) -> None:
        with pytest.raises(ValueError, match="SECRET_KEY"):
            Settings(environment="production")
        with pytest.raises(ValueError, match="SECRET_KEY"):
            Settings(environment="production", secret_key="short")
        assert Settings(environment="production", secret_key="k" * 40).environment == "production"

    def test_env_prefix(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PROPOPS_DATABASE_URL", "sqlite+aiosqlite:///./x.db")
        monkeypatch.setenv("PROPOPS_LOGIN_MAX_FAILURES_PER_ACCOUNT", "7")
        s = Settings()
        assert s.database_url.endswith("x.db")
        assert s.login_max_failures_per_account == 7
