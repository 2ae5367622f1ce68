"""The black-box probe's low findings, each as fixed: JSON shape limits before any handler, forwarded
headers believed only from configured proxies, per-IP login failures that survive successes, contact
emails unique across accounts, and the control-character rule on multipart fields."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta

from fastapi import FastAPI
from sqlalchemy import func, select
from tests.certifications.helpers import PDF, contractor_uuid
from tests.conftest import DEMO_PASSWORD, AuthedClient, assert_error, client_for, login_as, unique_ip

from propops.certifications.models import Certification

MakeApp = Callable[..., Awaitable[FastAPI]]
FUTURE = (date.today() + timedelta(days=200)).isoformat()


async def test_deep_json_is_a_400_naming_the_limit(admin: AuthedClient) -> None:
    body = '{"action": "create", "name": ' + "[" * 1000 + "]" * 1000 + "}"
    r = await admin.post("/api/admin/branches", content=body, headers={"Content-Type": "application/json"})
    err = assert_error(r, 400, "nested deeper than 32 levels")
    assert "PROPOPS_JSON_MAX_DEPTH" in err["error"]


async def test_huge_json_array_is_a_400_and_an_ordinary_body_passes(admin: AuthedClient) -> None:
    body = '{"action": "create", "name": [' + ",".join(["1"] * 20_000) + "]}"
    r = await admin.post("/api/admin/branches", content=body, headers={"Content-Type": "application/json"})
    assert_error(r, 400, "more than 10000 items")
    r = await admin.post("/api/admin/branches", json={"action": "create", "name": ["x"], "code": "ZZ1"})
    assert r.status_code == 400  # reached the handler: its own validation answers (name must be text)
    assert "nested" not in r.text
    assert "items" not in r.json()["error"]


async def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(make_app: MakeApp) -> None:
    """Default: rotating X-Forwarded-For does not escape the per-IP login throttle."""
    app = await make_app(login_max_failures_per_ip=3, login_max_failures_per_account=100)
    async with client_for(app, ip="10.9.9.9") as http:
        for i in range(3):
            r = await http.post(
                "/api/auth/login",
                json={"email": f"nobody{i}@example.com", "password": "wrong-password"},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
            )
            assert r.status_code == 401
        r = await http.post(
            "/api/auth/login",
            json={"email": "nobody9@example.com", "password": "wrong-password"},
            headers={"X-Forwarded-For": "203.0.113.99"},
        )
        assert_error(r, 429)
        assert int(r.headers["retry-after"]) > 0


async def test_a_trusted_proxy_forwards_the_client_address(make_app: MakeApp) -> None:
    app = await make_app(login_max_failures_per_ip=2, login_max_failures_per_account=100, trusted_proxies=["10.8.8.8"])
    async with client_for(app, ip="10.8.8.8") as http:
        for i in range(4):  # four clients behind the proxy, one failure each: none is throttled
            r = await http.post(
                "/api/auth/login",
                json={"email": f"nobody{i}@example.com", "password": "wrong-password"},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            )
            assert r.status_code == 401, r.text


async def test_a_success_does_not_clear_the_ips_failures(make_app: MakeApp) -> None:
    app = await make_app(login_max_failures_per_ip=3, login_max_failures_per_account=100)
    async with client_for(app, ip="10.7.7.7") as http:
        for _ in range(2):
            r = await http.post("/api/auth/login", json={"email": "agent001@example.com", "password": "wrong-pass"})
            assert r.status_code == 401
        r = await http.post("/api/auth/login", json={"email": "agent001@example.com", "password": DEMO_PASSWORD})
        assert r.status_code == 200, r.text
        r = await http.post("/api/auth/login", json={"email": "agent002@example.com", "password": "wrong-pass"})
        assert r.status_code == 401
        r = await http.post("/api/auth/login", json={"email": "agent003@example.com", "password": DEMO_PASSWORD})
        assert_error(r, 429)  # three failures from this address within the window


async def test_the_account_count_restarts_at_its_last_login(make_app: MakeApp) -> None:
    app = await make_app(login_max_failures_per_ip=100, login_max_failures_per_account=3)
    async with client_for(app, ip=unique_ip()) as http:
        for _ in range(2):
            await http.post("/api/auth/login", json={"email": "agent004@example.com", "password": "wrong-pass"})
        r = await http.post("/api/auth/login", json={"email": "agent004@example.com", "password": DEMO_PASSWORD})
        assert r.status_code == 200
        for _ in range(2):
            await http.post("/api/auth/login", json={"email": "agent004@example.com", "password": "wrong-pass"})
        r = await http.post("/api/auth/login", json={"email": "agent004@example.com", "password": DEMO_PASSWORD})
        assert r.status_code == 200, r.text  # two since the last login: under the limit


async def test_contact_email_of_a_contractor_cannot_be_a_staff_login(admin: AuthedClient, app: FastAPI) -> None:
    uuid = await contractor_uuid(app, "contractor011@example.com")
    for taken in ("admin@example.com", "agent001@example.com", "contractor012@example.com"):
        r = await admin.post("/api/contractors/manage", json={"action": "update", "uuid": uuid, "email": taken})
        assert_error(r, 409, "already used by another account")
    got = await admin.get("/api/contractors/manage", params={"action": "get", "uuid": uuid})
    assert got.json()["data"]["email"] == "contractor011@example.com"


async def test_contractor_changing_own_email_to_staff_address_is_refused(contractor: AuthedClient) -> None:
    r = await contractor.post("/api/contractors/profile", json={"email": "ADMIN@example.com"})
    assert_error(r, 409, "already used by another account")


async def test_multipart_fields_follow_the_control_character_rule(app: FastAPI) -> None:
    async with client_for(app, ip=unique_ip()) as http:
        me = await login_as(http, "contractor014@example.com")
        uuid = await contractor_uuid(app, "contractor014@example.com")
        async with app.state.ctx.db.sessionmaker() as session:
            before = (await session.execute(select(func.count()).select_from(Certification))).scalar_one()
        data = {
            "action": "upload",
            "contractor_uuid": uuid,
            "cert_type": "Gas Safe Certificate",
            "expiry_date": FUTURE,
            "certificate_number": "a\x00b",
        }
        r = await me.post(
            "/api/contractors/certification", data=data, files={"file": ("gas.pdf", PDF, "application/pdf")}
        )
        assert_error(r, 400, "certificate_number")
        async with app.state.ctx.db.sessionmaker() as session:
            after = (await session.execute(select(func.count()).select_from(Certification))).scalar_one()
        assert after == before
