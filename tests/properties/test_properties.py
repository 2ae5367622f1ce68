"""/api/properties/manage: staff and agents (their branches) list, get, create and update addresses;
postcodes validated and geocoded."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from propops.properties.models import Property
from tests.branches.util import new_agent, new_branch
from tests.conftest import AuthedClient, assert_error, login_as
from tests.jobs.helpers import PROPS, new_property, tag


async def count(app: FastAPI) -> int:
    async with app.state.ctx.db.sessionmaker() as session:
        return int((await session.execute(select(func.count(Property.id)))).scalar_one())


async def test_create_geocodes_and_normalises(agent: AuthedClient) -> None:
    p = await new_property(agent, postcode=" ls1  4ap ", tenant_name="Ann Tenant", tenant_email="ann@example.com")
    assert p["postcode"] == "LS1 4AP"
    assert p["branch_id"] == 1
    assert p["branch_name"] == "Branch_001"
    assert 53.7 < p["latitude"] < 53.9
    assert -1.7 < p["longitude"] < -1.4
    assert p["geo_precision"] in ("unit", "sector")
    assert p["full_address"].endswith("Leeds, LS1 4AP")
    assert p["tenant_name"] == "Ann Tenant"
    r = await agent.get(PROPS, params={"action": "get", "uuid": p["uuid"]})
    assert r.json()["data"] == p


async def test_agent_without_branch_gets_primary(agent: AuthedClient) -> None:
    p = await new_property(agent, branch_id=None)
    assert p["branch_id"] == 1


@pytest.mark.parametrize(
    ("patch", "status", "field"),
    [
        ({"postcode": "NOT A POSTCODE"}, 400, "postcode"),
        ({"postcode": "LS1"}, 400, "postcode"),
        ({"postcode": "ZZ9 9ZZ"}, 400, "postcode"),
        ({"postcode": None}, 400, "postcode"),
        ({"address_line1": ""}, 400, "address_line1"),
        ({"tenant_email": "not-an-email"}, 400, "tenant_email"),
        ({"tenant_phone": "<script>"}, 400, "tenant_phone"),
        ({"branch_id": "one"}, 400, "branch_id"),
        ({"branch_id": 999999}, 404, None),
    ],
)
async def test_bad_input_writes_nothing(
    app: FastAPI, admin: AuthedClient, patch: dict[str, Any], status: int, field: str | None
) -> None:
    before = await count(app)
    body = {"action": "create", "branch_id": 1, "address_line1": "1 Road", "postcode": "LS1 4AP", **patch}
    err = assert_error(await admin.post(PROPS, json=body), status)
    if field:
        assert field in err["error"]
    assert await count(app) == before


async def test_update_regeocodes_and_keeps_unsent(admin: AuthedClient) -> None:
    p = await new_property(admin, tenant_name="Bob")
    r = await admin.post(
        PROPS, json={"action": "update", "uuid": p["uuid"], "postcode": "M1 1AE", "town": "Manchester"}
    )
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    assert d["postcode"] == "M1 1AE"
    assert 53.4 < d["latitude"] < 53.6
    assert d["tenant_name"] == "Bob"
    r = await admin.post(PROPS, json={"action": "update", "uuid": p["uuid"], "tenant_name": None, "is_active": False})
    assert r.json()["data"]["tenant_name"] is None
    assert r.json()["data"]["is_active"] is False
    r = await admin.get(PROPS, params={"action": "list", "search": p["address_line1"]})
    assert r.json()["count"] == 0
    r = await admin.get(PROPS, params={"action": "list", "search": p["address_line1"], "include_inactive": True})
    assert r.json()["count"] == 1


async def test_visibility_and_permissions(client: httpx.AsyncClient, admin: AuthedClient, agent: AuthedClient) -> None:
    branch = await new_branch(admin)
    a = await new_agent(admin, branch["ID"])
    outsider = await login_as(client, a["email"], a["password"])
    mine = await new_property(agent)
    assert_error(await outsider.get(PROPS, params={"action": "get", "uuid": mine["uuid"]}), 404, "Property not found")
    assert_error(await outsider.post(PROPS, json={"action": "update", "uuid": mine["uuid"], "town": "X"}), 404)
    assert_error(
        await outsider.post(
            PROPS, json={"action": "create", "branch_id": 1, "address_line1": "x", "postcode": "LS1 4AP"}
        ),
        404,
    )
    theirs = await new_property(outsider, branch_id=None)
    assert theirs["branch_id"] == branch["ID"]
    r = await outsider.get(PROPS, params={"action": "list"})
    assert [x["ID"] for x in r.json()["data"]] == [theirs["ID"]]
    assert r.json()["count"] == 1
    assert_error(
        await agent.post(PROPS, json={"action": "update", "uuid": mine["uuid"], "branch_id": branch["ID"]}), 404
    )
    assert_error(
        await agent.post(PROPS, json={"action": "create", "address_line1": "x", "postcode": "LS1 4AP"}, csrf=False), 403
    )
    c = await login_as(client, "contractor002@example.com")
    assert_error(await c.get(PROPS, params={"action": "list"}), 403)
    assert_error(await agent.get(PROPS, params={"action": "remove"}), 400, "action")
    assert_error(await agent.get(PROPS, params={"action": "get", "uuid": "nope"}), 400, "uuid")


async def test_list_filters_and_paging(admin: AuthedClient) -> None:
    branch = await new_branch(admin)
    t = tag()
    made = [await new_property(admin, branch_id=branch["ID"], address_line1=f"{i} {t} Lane") for i in range(3)]
    r = await admin.get(PROPS, params={"action": "list", "branch_id": branch["ID"], "limit": 2})
    assert [x["ID"] for x in r.json()["data"]] == [made[0]["ID"], made[1]["ID"]]
    assert r.json()["count"] == 3
    r = await admin.get(PROPS, params={"action": "list", "branch_id": branch["ID"], "offset": 2})
    assert [x["ID"] for x in r.json()["data"]] == [made[2]["ID"]]
    r = await admin.get(PROPS, params={"action": "list", "search": f"1 {t}"})
    assert [x["ID"] for x in r.json()["data"]] == [made[1]["ID"]]
    r = await admin.get(PROPS, params={"action": "list", "branch_id": branch["ID"], "postcode": "ls1 4ap"})
    assert r.json()["count"] == 3
    r = await admin.get(PROPS, params={"action": "list", "search": "%"})
    assert r.status_code == 200
