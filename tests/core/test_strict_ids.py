"""Ids in JSON bodies are JSON integers: ``true``, floats and strings are 400 naming the field
(issue 19 item 6: ``priority_id: true`` chose Emergency, ``branch_id: true`` branch 1)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import AuthedClient, assert_error
from tests.jobs.helpers import MANAGE, PROPS, new_property, tag


@pytest.mark.parametrize("value", [True, False, 1.0])
async def test_job_priority_id_must_be_an_integer(admin: AuthedClient, value: Any) -> None:
    prop = await new_property(admin)
    title = f"Strict {tag()}"
    body = {"action": "create", "job_title": title, "priority_id": value, "job_type_id": 4, "address_id": prop["ID"]}
    # (a string is a priority name or id, as before: "1" and "Emergency" both mean 1)
    body_err = assert_error(await admin.post(MANAGE, json=body), 400)
    assert "priority_id" in body_err["error"]
    listed = await admin.get(MANAGE, params={"action": "list", "search": title})
    assert listed.status_code == 200
    assert listed.json()["count"] == 0


@pytest.mark.parametrize("field", ["address_id", "trade_id", "contractor_id"])
async def test_other_job_ids_refuse_true(admin: AuthedClient, field: str) -> None:
    prop = await new_property(admin)
    body = {"action": "create", "job_title": f"Strict {tag()}", "priority_id": 3, "address_id": prop["ID"], field: True}
    err = assert_error(await admin.post(MANAGE, json=body), 400)
    assert field in err["error"]


@pytest.mark.parametrize("value", [True, 1.5, "1"])
async def test_property_branch_id_must_be_an_integer(admin: AuthedClient, value: Any) -> None:
    street = f"{tag()} Strict Street"
    body = {"action": "create", "address_line1": street, "town": "Leeds", "postcode": "LS1 4AP", "branch_id": value}
    err = assert_error(await admin.post(PROPS, json=body), 400)
    assert "branch_id" in err["error"]


async def test_agent_sharing_branch_id_true_is_refused(admin: AuthedClient) -> None:
    r = await admin.post(
        "/api/agents/sharing",
        json={"action": "share", "agent_uuid": "880e8400-e29b-41d4-a716-446655440001", "branch_id": True},
    )
    err = assert_error(r, 400)
    assert "branch_id" in err["error"]


@pytest.mark.parametrize("trade_ids", [[True], [1, False], [1.0]])
async def test_contractor_trade_ids_must_be_integers(admin: AuthedClient, trade_ids: list[Any]) -> None:
    name = f"Strict{tag()}"
    body = {
        "action": "create",
        "first_name": name,
        "last_name": "Trades",
        "email": f"{name.lower()}@example.com",
        "base_postcode": "LS1 4AP",
        "trade_ids": trade_ids,
    }
    err = assert_error(await admin.post("/api/contractors/manage", json=body), 400)
    assert "trade_ids" in err["error"]
    listed = await admin.get("/api/contractors/list", params={"action": "list", "search": name})
    assert listed.status_code == 200
    assert listed.json()["count"] == 0


@pytest.mark.parametrize("body", [{"trade_ids": [True]}, {"id": True}])
async def test_certification_type_ids_must_be_integers(admin: AuthedClient, body: dict[str, Any]) -> None:
    action = "update" if "id" in body else "create"
    sent = {"action": action, "name": f"Strict type {tag()}", "code": f"strict_{tag().lower()}", **body}
    err = assert_error(await admin.post("/api/contractors/certification-types", json=sent), 400)
    assert next(iter(body)) in err["error"]
