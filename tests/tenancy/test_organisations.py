"""Organisation administration by the platform's staff, and an organisation's own settings."""

from __future__ import annotations

import uuid as uuid_mod

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from propops.demo import SECOND_ADMIN
from propops.notifications.models import EmailOutbox
from tests.conftest import AuthedClient, assert_error, login_as

URL = "/api/admin/organisations"
SETTINGS = "/api/organisation/settings"


def slug() -> str:
    return f"org-{uuid_mod.uuid4().hex[:10]}"


async def create(platform: AuthedClient, **extra: object) -> httpx.Response:
    s = slug()
    return await platform.post(URL, json={"action": "create", "name": f"Lettings {s}", "slug": s, **extra})


async def test_platform_staff_list_both_demo_organisations(admin: AuthedClient) -> None:
    r = await admin.get(URL, params={"action": "list", "limit": 200})
    assert r.status_code == 200, r.text
    names = {o["name"]: o for o in r.json()["data"]}
    assert {"Demo Lettings", "Riverside Homes"} <= set(names)
    assert names["Demo Lettings"]["is_platform"] is True
    assert names["Riverside Homes"]["is_platform"] is False
    assert names["Riverside Homes"]["user_count"] == 3
    one = await admin.get(URL, params={"action": "get", "uuid": names["Riverside Homes"]["uuid"]})
    assert one.status_code == 200
    assert one.json()["data"]["slug"] == "riverside"


async def test_customer_staff_cannot_administer_organisations(client: httpx.AsyncClient) -> None:
    """Riverside's SysOps holds the key (roles are shared) but is not platform staff."""
    r_admin = await login_as(client, SECOND_ADMIN)
    assert_error(await r_admin.get(URL, params={"action": "list"}), 403)
    assert_error(await r_admin.post(URL, json={"action": "create", "name": "Mine", "slug": "mine"}), 403)


async def test_onboard_an_organisation_end_to_end(admin: AuthedClient, client: httpx.AsyncClient) -> None:
    email = f"boss-{uuid_mod.uuid4().hex[:8]}@example.com"
    r = await create(
        admin,
        settings={"branding_name": "Brand <b>", "sla_rules": {"1": 4}},
        admin={"email": email, "password": "first-admin-pass", "first_name": "Bo", "last_name": "Ss"},
    )
    assert r.status_code == 200, r.text
    org = r.json()["data"]
    assert org["user_count"] == 1
    assert org["settings"]["branding_name"] == "Brand <b>"
    boss = await login_as(client, email, "first-admin-pass")
    jobs = await boss.get("/api/jobs/manage", params={"action": "list"})
    assert jobs.status_code == 200
    assert jobs.json()["count"] == 0
    branches = await boss.get("/api/admin/branches", params={"action": "list"})
    assert branches.json()["count"] == 0
    mine = await boss.get(SETTINGS)
    assert mine.json()["data"]["organisation_uuid"] == org["uuid"]

    # disabling refuses the open session at once, and the next login
    off = await admin.post(URL, json={"action": "disable", "uuid": org["uuid"]})
    assert off.status_code == 200, off.text
    assert off.json()["data"]["is_active"] is False
    assert_error(await boss.get("/api/auth/me"), 401, "suspended")
    r = await client.post("/api/auth/login", json={"email": email, "password": "first-admin-pass"})
    assert_error(r, 401, "suspended")
    on = await admin.post(URL, json={"action": "enable", "id": org["ID"]})
    assert on.json()["data"]["is_active"] is True
    again = await login_as(client, email, "first-admin-pass")
    assert (await again.get("/api/auth/me")).status_code == 200


async def test_the_platform_organisation_cannot_be_disabled(admin: AuthedClient) -> None:
    assert_error(await admin.post(URL, json={"action": "disable", "id": 1}), 403)
    r = await admin.get("/api/auth/me")
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "create", "slug": "no-name"}, "name"),
        ({"action": "create", "name": "No slug"}, "slug"),
        ({"action": "create", "name": "Bad slug", "slug": "Not A Slug"}, "slug"),
        ({"action": "create", "name": "Bad slug", "slug": "../../etc"}, "slug"),
        ({"action": "create", "name": "x" * 121, "slug": "long"}, "name"),
        ({"action": "create", "name": "Ctl\x07", "slug": "ctl"}, "name"),
        ({"action": "create", "name": "Types", "slug": "types", "settings": {"sla_rules": {"1": 0}}}, "sla_rules"),
        ({"action": "create", "name": "Types", "slug": "types", "settings": {"colour": "red"}}, "colour"),
        (
            {"action": "create", "name": "Admin", "slug": "adm", "admin": {"email": "a@example.com", "password": "x"}},
            "password",
        ),
        ({"action": "update"}, "id"),
        ({"action": "update", "id": True}, "id"),
        ({"action": "explode"}, "action"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(
    admin: AuthedClient, body: dict[str, object], field: str
) -> None:
    before = (await admin.get(URL, params={"action": "list", "limit": 200})).json()["count"]
    r = await admin.post(URL, json=body)
    payload = assert_error(r, 400)
    assert field in r.text, payload
    after = (await admin.get(URL, params={"action": "list", "limit": 200})).json()["count"]
    assert after == before


async def test_duplicates_are_409(admin: AuthedClient) -> None:
    first = (await create(admin)).json()["data"]
    r = await admin.post(URL, json={"action": "create", "name": first["name"].upper(), "slug": slug()})
    assert_error(r, 409)
    r = await admin.post(URL, json={"action": "create", "name": "Other name", "slug": first["slug"]})
    assert_error(r, 409)
    r = await admin.post(URL, json={"action": "update", "id": first["ID"], "slug": "riverside"})
    assert_error(r, 409)


async def test_update_merges_settings_and_renames(admin: AuthedClient) -> None:
    org = (await create(admin, settings={"branding_name": "Old"})).json()["data"]
    r = await admin.post(
        URL,
        json={
            "action": "update",
            "id": org["ID"],
            "name": f"Renamed {org['slug']}",
            "settings": {"compliance_email": "c@example.com"},
        },
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["name"].startswith("Renamed")
    assert data["settings"]["branding_name"] == "Old"
    assert data["settings"]["compliance_email"] == "c@example.com"
    missing = await admin.post(URL, json={"action": "update", "id": 999_999, "name": "Ghost"})
    assert_error(missing, 404)


async def test_own_settings(client: httpx.AsyncClient) -> None:
    r_admin = await login_as(client, SECOND_ADMIN)
    r = await r_admin.get(SETTINGS)
    assert r.status_code == 200
    assert r.json()["data"]["settings"]["branding_name"] == "Riverside Homes"
    ok = await r_admin.post(SETTINGS, json={"notifications": {"case_note": False}, "job_type_ids": [4, 1, 4]})
    assert ok.status_code == 200, ok.text
    settings = ok.json()["data"]["settings"]
    assert settings["notifications"]["case_note"] is False
    assert settings["notifications"]["job_assigned"] is True
    assert settings["job_type_ids"] == [1, 4]
    for bad, field in (
        ({"sla_rules": {"1": 9000}}, "sla_rules"),
        ({"notifications": {"teleport": True}}, "teleport"),
        ({"compliance_email": "not-an-email"}, "compliance_email"),
        ({"branding_name": "<script>\x00"}, "branding_name"),
        ({}, "setting"),
    ):
        r = await r_admin.post(SETTINGS, json=bad)
        assert_error(r, 400)
        assert field in r.text
    after = (await r_admin.get(SETTINGS)).json()["data"]["settings"]
    assert after == settings
    # the first organisation's settings are untouched by Riverside's changes
    first = await login_as(client, "admin@example.com")
    assert (await first.get(SETTINGS)).json()["data"]["settings"]["notifications"]["case_note"] is True


async def test_the_organisations_notification_switch_is_honoured(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Riverside turns case-note mail off: a note asking for mail queues none; back on, it queues
    one to the contractor, signed with Riverside's branding name. The first organisation never
    sees Riverside's outbox."""
    from propops.demo import SECOND_AGENT, SECOND_CONTRACTOR

    r_admin = await login_as(client, SECOND_ADMIN)
    r_agent = await login_as(client, SECOND_AGENT)
    r_contractor = await login_as(client, SECOND_CONTRACTOR)
    job = (await r_contractor.get("/api/jobs/manage", params={"action": "list"})).json()["data"][0]

    async def queued_notes() -> int:
        r = await r_admin.get("/api/notifications/outbox", params={"action": "list", "status": "queued", "limit": 200})
        assert r.status_code == 200, r.text
        return sum(1 for e in r.json()["data"] if e["subject"].startswith(f"Case note on {job['job_ref']}"))

    before = await queued_notes()
    assert (await r_admin.post(SETTINGS, json={"notifications": {"case_note": False}})).status_code == 200
    r = await r_agent.post(
        "/api/jobs/case-notes", json={"job_uuid": job["uuid"], "note_text": "quiet", "send_email": True}
    )
    assert r.status_code == 200, r.text
    assert await queued_notes() == before
    assert (await r_admin.post(SETTINGS, json={"notifications": {"case_note": True}})).status_code == 200
    r = await r_agent.post(
        "/api/jobs/case-notes", json={"job_uuid": job["uuid"], "note_text": "loud", "send_email": True}
    )
    assert r.status_code == 200, r.text
    assert await queued_notes() == before + 1
    async with app.state.ctx.db.sessionmaker() as session:
        body = (
            await session.execute(
                select(EmailOutbox.body_text)
                .where(EmailOutbox.subject.startswith(f"Case note on {job['job_ref']}"))
                .order_by(EmailOutbox.id.desc())
                .limit(1)
            )
        ).scalar_one()
    assert "Riverside Homes (automated message)" in body
    first = await login_as(client, "admin@example.com")
    theirs = await first.get("/api/notifications/outbox", params={"action": "list", "status": "queued", "limit": 200})
    assert job["job_ref"] not in theirs.text
