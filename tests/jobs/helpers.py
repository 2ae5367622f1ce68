"""Builders for job tests: uniquely named contractors, properties and jobs on the shared database."""

from __future__ import annotations

import uuid as uuid_mod
from datetime import date, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from propops.certifications.demo import pdf_bytes
from propops.jobs.models import Job
from tests.conftest import AuthedClient

MANAGE = "/api/jobs/manage"
PROPS = "/api/properties/manage"
NOTES = "/api/jobs/case-notes"
REMEDIALS = "/api/jobs/remedials"
PASSWORD = "contractor-pass-123"  # noqa: S105 - test fixture
PLUMBING, GAS, ELECTRICAL, GENERAL = 2, 1, 3, 5
PDF = pdf_bytes("test certificate")
FUTURE = (date.today() + timedelta(days=365)).isoformat()


def tag() -> str:
    return uuid_mod.uuid4().hex[:10]


async def new_contractor(
    admin: AuthedClient,
    *,
    trades: list[int] | None = None,
    postcode: str = "LS1 4",
    radius_km: float = 10,
    certs: tuple[str, ...] = ("Public Liability",),
    active: bool = True,
) -> dict[str, Any]:
    """A contractor with a login, trades, radius coverage and the named certificates (valid)."""
    t = tag()
    body = {
        "action": "create",
        "first_name": f"C{t}",
        "last_name": "Fixer",
        "email": f"c{t}@example.com",
        "trade_ids": trades or [PLUMBING],
        "base_postcode": postcode,
        "coverage": {"source": "radius", "radius_km": radius_km},
        "create_login": True,
        "password": PASSWORD,
    }
    r = await admin.post("/api/contractors/manage", json=body)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    for cert in certs:
        up = await admin.post(
            "/api/contractors/certification",
            data={
                "action": "upload",
                "cert_type": cert,
                "expiry_date": FUTURE,
                "certificate_number": f"N-{t}",
                "contractor_uuid": data["uuid"],
            },
            files={"file": ("cert.pdf", PDF)},
        )
        assert up.status_code == 200, up.text
    if not active:
        r = await admin.post("/api/contractors/manage", json={"action": "deactivate", "uuid": data["uuid"]})
        assert r.status_code == 200, r.text
    data["email"] = body["email"]
    return data


async def new_property(
    who: AuthedClient, branch_id: int | None = 1, postcode: str = "LS1 4AP", **kw: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "action": "create",
        "address_line1": f"{tag()} Test Street",
        "town": "Leeds",
        "postcode": postcode,
    }
    if branch_id is not None:
        body["branch_id"] = branch_id
    body.update(kw)
    r = await who.post(PROPS, json=body)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def create_job(who: AuthedClient, prop: dict[str, Any], **kw: Any) -> httpx.Response:
    body: dict[str, Any] = {
        "action": "create",
        "job_title": f"Leaking tap {tag()}",
        "job_description": "Kitchen tap drips",
        "priority_id": 3,
        "job_type_id": 4,
        "address_id": prop["ID"],
    }
    body.update(kw)
    return await who.post(MANAGE, json=body)


async def new_job(who: AuthedClient, prop: dict[str, Any], **kw: Any) -> dict[str, Any]:
    r = await create_job(who, prop, **kw)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def act(who: AuthedClient, job_uuid: str, action: str, **kw: Any) -> httpx.Response:
    return await who.post(MANAGE, json={"action": action, "uuid": job_uuid, **kw})


async def get_job(who: AuthedClient, job_uuid: str) -> httpx.Response:
    return await who.get(MANAGE, params={"action": "get", "uuid": job_uuid})


async def job_count(app: FastAPI) -> int:
    async with app.state.ctx.db.sessionmaker() as session:
        return int((await session.execute(select(func.count(Job.id)))).scalar_one())
