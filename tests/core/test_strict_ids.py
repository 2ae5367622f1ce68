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
    assert listed.status_code == 200 and listed.json()["count"] == 0


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
