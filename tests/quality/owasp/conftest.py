"""Fixtures for the OWASP API Security Top 10 (2023) suite: one signed-in session per account type
(see ``tests/quality/authz.py``), shared by the whole package on the session database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

from tests.conftest import AuthedClient, client_for
from tests.quality.authz import Accounts, sign_in_all

# Strings every text field and identifier is attacked with.
SQLI = ["' OR '1'='1", "1; DROP TABLE users; --", '" OR 1=1 --', "1' UNION SELECT password_hash FROM users --"]
HTML = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']
TRAVERSAL = ["../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "/etc/passwd", "cert_1_1_1.pdf/../../x"]
WEIRD = ["\x00", "A" * 5000, "%00", "{{7*7}}", "${jndi:ldap://127.0.0.1/x}", "\u202e\u0000"]
HOSTILE = SQLI + HTML + TRAVERSAL + WEIRD


@pytest.fixture(scope="package")
async def accounts(app: FastAPI) -> AsyncIterator[Accounts]:
    async with client_for(app) as http:
        yield await sign_in_all(app, http)


def session(acc: Accounts, role: str) -> AuthedClient:
    s = acc.sessions[role]
    assert s is not None
    return s
