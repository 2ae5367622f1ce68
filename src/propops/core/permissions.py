"""The permission-key registry and the default roles.

Keys are data (table ``permissions``) and roles hold sets of them; this module only names the keys
the code checks, so that a test can prove every route declares one and every key exists as data.
"""

from __future__ import annotations

AUTHENTICATED = "authenticated"
"""Pseudo-key: any signed-in account (used for csrf-token, me, own permissions, logout)."""

PUBLIC = "public"
"""Pseudo-key: no authentication (login, health, mobile token validation, docs)."""

# Keys the foundation migration seeds; later migrations add their own.
FOUNDATION_KEYS: dict[str, str] = {
    "api.contractors.trades.manage": "List contractor trade categories",
    "api.contractors.list.manage": "List contractors for job assignment",
    "api.contractors.list-with-coverage.view": "List contractors with coverage geometry",
    "api.contractors.certification.manage": "Upload, list and download certification documents",
    "api.agents.list.manage": "List agents, their SLA and performance",
    "api.agents.branches.manage": "View and change agent branch assignments and sharing",
    "api.admin.branches.manage": "Create, update and disable branches",
    "api.jobs.manage.manage": "Create, read and act on jobs",
    "api.security.mobile_auth.use": "Exchange a token for a mobile session",
    "api.users.users.manage": "Administer user accounts",
    "api.users.permissions.manage": "Grant, revoke or sync a user's permissions",
}

USED_KEYS: set[str] = set()
"""Every key a route has declared through ``require`` (filled at import of the routers)."""
