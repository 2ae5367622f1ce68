"""Accounts shared by the authorisation matrix and the OWASP suite: one signed-in session per
account type, including a staff user whose role holds one unrelated key only.

The narrow role is created in the test (a Staff role named ``QA narrow <hex>`` holding only
``api.contractors.trades.manage``), not taken from the demo data: ``finance@example.com`` holds
jobs, agents and contractor-list keys and so would not tell "staff without the key" apart from
"staff with most keys".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from propops.auth.models import ACCOUNT_STAFF, Role, RolePermission
from propops.auth.service import bump_permissions_epoch, create_user
from tests.conftest import AuthedClient, login_as

NARROW_KEY = "api.contractors.trades.manage"
NARROW_PASSWORD = "narrow-pass-123"  # noqa: S105 - test fixture
AGENT_001 = "880e8400-e29b-41d4-a716-446655440001"
ROLES = ("admin", "narrow", "agent", "contractor", "anon")


async def create_narrow_staff(app: FastAPI, key: str = NARROW_KEY) -> str:
    """A Staff role holding only ``key`` and a user with it; returns the user's email."""
    tag = uuid.uuid4().hex[:10]
    email = f"narrow-{tag}@example.com"
    async with app.state.ctx.db.sessionmaker() as s, s.begin():
        role = Role(name=f"QA narrow {tag}", account_type_id=ACCOUNT_STAFF, level=50, description="authz tests")
        s.add(role)
        await s.flush()
        s.add(RolePermission(role_id=role.id, permission_key=key))
        await create_user(
            s,
            organisation_id=1,
            email=email,
            password=NARROW_PASSWORD,
            account_type_id=ACCOUNT_STAFF,
            role=role.id,
            first_name="Narrow",
            last_name="Staff",
        )
        await bump_permissions_epoch(s)
    return email


@dataclass
class Accounts:
    http: httpx.AsyncClient
    sessions: dict[str, AuthedClient | None] = field(default_factory=dict)
    narrow_email: str = ""

    async def fresh(self, role: str) -> AuthedClient | None:
        """A second session of the same account (for cells that end the session)."""
        emails = {
            "admin": "admin@example.com",
            "agent": "agent001@example.com",
            "contractor": "contractor001@example.com",
        }
        if role == "anon":
            return None
        if role == "narrow":
            return await login_as(self.http, self.narrow_email, NARROW_PASSWORD)
        return await login_as(self.http, emails[role])

    async def request(self, role: str, method: str, url: str, **kw: Any) -> httpx.Response:
        session = self.sessions[role]
        if session is None:
            return await self.http.request(method, url, **kw)
        return await session.request(method, url, **kw)


async def sign_in_all(app: FastAPI, http: httpx.AsyncClient) -> Accounts:
    acc = Accounts(http=http)
    acc.narrow_email = await create_narrow_staff(app)
    for role in ROLES:
        acc.sessions[role] = await acc.fresh(role)
    return acc
