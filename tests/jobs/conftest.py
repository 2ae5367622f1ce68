"""Fixtures for job tests: a contractor able to take plumbing jobs near LS1, signed in."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import AuthedClient, login_as
from tests.jobs.helpers import PASSWORD, new_contractor, new_property


@pytest.fixture
async def plumber(admin: AuthedClient) -> dict[str, Any]:
    return await new_contractor(admin)


@pytest.fixture
async def plumber_client(client: httpx.AsyncClient, plumber: dict[str, Any]) -> AuthedClient:
    return await login_as(client, plumber["email"], PASSWORD)


@pytest.fixture
async def prop(admin: AuthedClient) -> dict[str, Any]:
    return await new_property(admin)
