"""OWASP API6:2023 Unrestricted Access to Sensitive Business Flows.

Attacks: password guessing past the throttle, cross-site writes without or with a foreign CSRF
token (JSON, form and header), the CSRF token offered in the query string, repeated lifecycle
actions (double cancel, recall without a reason, assignment replays) that must not multiply side
effects, and the job's history growing only by real transitions.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI

from tests.conftest import assert_error, client_for, unique_ip
from tests.jobs.helpers import act, new_job, new_property
from tests.quality.authz import Accounts
from tests.quality.owasp.conftest import session


async def test_login_throttle_per_ip_across_accounts(app_with: Callable[..., Awaitable[FastAPI]]) -> None:
    app = await app_with(login_max_failures_per_ip=4, login_max_failures_per_account=100)
    tag = uuid.uuid4().hex[:10]
    async with client_for(app, ip=unique_ip()) as http:
        for n in range(4):  # four different addresses (failures are counted for unknown ones too)
            r = await http.post("/api/auth/login", json={"email": f"ip-{tag}-{n}@example.com", "password": "nope-1234"})
            assert r.status_code == 401
        r = await http.post("/api/auth/login", json={"email": "agent010@example.com", "password": "demo-pass-123"})
        assert_error(r, 429)


async def test_writes_without_session_csrf_are_refused(accounts: Accounts) -> None:
    agent = session(accounts, "agent")
    body = {"action": "create", "address_line1": "1 Forged Rd", "town": "Leeds", "postcode": "LS1 4AP"}
    assert_error(await agent.post("/api/properties/manage", json=body, csrf=False), 403, "CSRF")
    other = session(accounts, "contractor").csrf
    assert_error(await agent.post("/api/properties/manage", json={**body, "csrf_token": other}, csrf=False), 403)
    r = await agent.post("/api/properties/manage", json=body, csrf=False, params={"csrf_token": agent.csrf})
    assert_error(r, 403, "CSRF")  # the query string is not a CSRF channel
    r = await agent.post(
        "/api/jobs/case-notes",
        data={"csrf_token": other, "note_text": "x"},
        csrf=False,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_error(r, 403)
    # a simple cross-site form post with a text/plain body carries no token
    r = await agent.post(
        "/api/properties/manage", content=b"action=create", csrf=False, headers={"content-type": "text/plain"}
    )
    assert_error(r, 403)


async def test_repeated_lifecycle_actions_do_not_multiply(accounts: Accounts) -> None:
    admin = session(accounts, "admin")
    prop = await new_property(admin)
    job = await new_job(admin, prop)
    commits = await admin.get("/api/jobs/manage", params={"action": "list_commits", "uuid": job["uuid"], "limit": 200})
    start = commits.json()["count"]
    assert (await act(admin, job["uuid"], "cancel", reason="duplicate")).status_code == 200
    for _ in range(5):
        r = await act(admin, job["uuid"], "cancel", reason="again")
        assert_error(r, 409)
    for _ in range(3):
        assert_error(await act(admin, job["uuid"], "recall"), 409, "cannot recall a job that is cancelled")
    commits = await admin.get("/api/jobs/manage", params={"action": "list_commits", "uuid": job["uuid"], "limit": 200})
    assert commits.json()["count"] == start + 1


async def test_contractor_cannot_skip_the_lifecycle(accounts: Accounts) -> None:
    admin, me = session(accounts, "admin"), session(accounts, "contractor")
    mine = (await me.get("/api/contractors/profile")).json()["data"]
    job = await new_job(admin, await new_property(admin), contractor_uuid=mine["uuid"], override_reason="flow")
    # the contractor's own next steps are accept and start: complete is out of order (409); the rest
    # are office actions its account type may never take (403)
    expected = {"complete": 409, "close": 403, "archive": 403, "reopen": 403, "assign": 403, "delete": 403}
    for action, status in expected.items():
        r = await act(me, job["uuid"], action, contractor_uuid=mine["uuid"], reason="skip")
        assert_error(r, status)
