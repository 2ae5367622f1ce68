"""Route guards. Every route declares exactly one: ``require(key)``, ``require(AUTHENTICATED)`` or
``public()``. The same guard enforces CSRF on every unsafe method, so no route can forget it, and a
test walks all routes to prove each declares one.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Request

from propops.auth.service import Principal, authenticate_token, csrf_token
from propops.core.context import AppContext, app_ctx
from propops.core.errors import Forbidden, TooManyRequests, Unauthorized
from propops.core.permissions import AUTHENTICATED, PUBLIC, USED_KEYS
from propops.core.security import constant_time_equals

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("Authentication required. Please log in.")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip() or " " in value.strip():
        raise Unauthorized("Malformed Authorization header; expected 'Bearer <token>'.")
    return value.strip()


async def _submitted_csrf(request: Request) -> str | None:
    header = request.headers.get("x-csrf-token")
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            body: Any = json.loads(await request.body() or b"null")
        except (ValueError, UnicodeDecodeError):
            return None
        value = body.get("csrf_token") if isinstance(body, dict) else None
        return value if isinstance(value, str) else None
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()
        value = form.get("csrf_token")
        return value if isinstance(value, str) else None
    return None


async def authenticate_request(request: Request, ctx: AppContext) -> Principal:
    """Bearer token, then the per-account rate limit, then CSRF on unsafe methods."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal = await authenticate_token(ctx, bearer_token(request))
    s = ctx.settings
    if s.rate_limit_enabled:
        result = await ctx.rate_limits.hit(
            f"user:{principal.user_id}", s.rate_limit_per_account, s.rate_limit_window_seconds
        )
        request.state.rate_limit = result.tighter(getattr(request.state, "rate_limit", None))
        if result.exceeded:
            raise TooManyRequests(headers={"Retry-After": str(result.retry_after)})
    if request.method in UNSAFE_METHODS:
        submitted = await _submitted_csrf(request)
        if not submitted:
            raise Forbidden("CSRF token missing. Fetch one from GET /api/security/csrf-token.")
        if not constant_time_equals(submitted, csrf_token(ctx, principal)):
            raise Forbidden("CSRF token invalid for this session.")
    request.state.principal = principal
    return principal


class Require:
    """Dependency that authenticates, checks CSRF on writes, then checks one permission key."""

    def __init__(self, key: str) -> None:
        self.key = key
        if key not in (AUTHENTICATED, PUBLIC):
            USED_KEYS.add(key)

    async def __call__(self, request: Request) -> Principal:
        principal = await authenticate_request(request, app_ctx(request))
        if self.key != AUTHENTICATED and self.key not in principal.permissions:
            raise Forbidden()
        return principal

    def __repr__(self) -> str:
        return f"require({self.key!r})"


class Public:
    """Marks a route as deliberately open to anonymous callers."""

    key = PUBLIC

    async def __call__(self) -> None:
        return None


def require(key: str) -> Any:
    return Depends(Require(key))


def public() -> Any:
    return Depends(Public())


CurrentUser = Annotated[Principal, Depends(Require(AUTHENTICATED))]
