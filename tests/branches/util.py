"""Helpers shared by the branch and agent tests: uniquely named records on the shared database."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import AuthedClient

AGENT_001 = "880e8400-e29b-41d4-a716-446655440001"


def unique_code(prefix: str = "T") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}".upper()


async def new_branch(admin: AuthedClient, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": f"Test {unique_code()}", "code": unique_code()}
    body.update(fields)
    r = await admin.post("/api/admin/branches", json=body)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def new_agent(admin: AuthedClient, branch_id: int, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "action": "create",
        "email": f"agent-{uuid.uuid4().hex[:10]}@example.com",
        "password": "agent-pass-123",
        "first_name": "Test",
        "last_name": "Agent",
        "branch_id": branch_id,
    }
    body.update(fields)
    r = await admin.post("/api/agents/manage", json=body)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    data["password"] = body["password"]
    return data
