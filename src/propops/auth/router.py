"""HTTP for login/logout, mobile sessions, CSRF tokens, the caller's identity and permissions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from sqlalchemy import select, text

from propops.auth import schemas, service
from propops.auth.deps import CurrentUser, authenticate_request, public, require
from propops.auth.models import ApiToken, Role, User
from propops.core.clock import iso
from propops.core.deps import Ctx, DbSession
from propops.core.envelope import Envelope, MessageEnvelope, error_responses, ok
from propops.core.errors import Forbidden, ServiceUnavailable
from propops.core.middleware import client_ip
from propops.core.params import UUID_EXAMPLE, UUID_PATTERN

router = APIRouter(tags=["auth"])
AUTH_ERRORS = error_responses(400, 401, 403, 429)


@router.post(
    "/api/auth/login",
    response_model=schemas.LoginResponse,
    dependencies=[public()],
    responses=error_responses(400, 401, 429),
    summary="Authenticate and get a bearer token",
)
async def login(body: schemas.LoginRequest, request: Request, ctx: Ctx) -> dict[str, Any]:
    raw, token, user, account_type = await service.login(
        ctx,
        email=body.email,
        password=body.password,
        ip=client_ip(request.scope),
        user_agent=request.headers.get("user-agent"),
    )
    login_user = {
        "name": f"{user.first_name} {user.last_name}".strip(),
        "email": user.email,
        "account_type": account_type.name,
    }
    data = {"token": raw, "token_type": "Bearer", "expires_at": iso(token.expires_at), "user": login_user}
    return {
        "success": True,
        **data,
        "usage": f"Authorization: Bearer {raw}",
        "data": data,
        "message": "Login successful",
    }


@router.post(
    "/api/auth/logout", response_model=MessageEnvelope, responses=AUTH_ERRORS, summary="Revoke the current session"
)
async def logout(principal: CurrentUser, session: DbSession) -> dict[str, Any]:
    """Takes no body: the CSRF token may come as JSON, form field or header."""
    await service.revoke_session(session, principal.token_id, user_id=principal.user_id)
    return {"success": True, "message": "Logged out"}


@router.get(
    "/api/auth/me", response_model=Envelope[schemas.UserRead], responses=AUTH_ERRORS, summary="The signed-in account"
)
async def me(principal: CurrentUser, session: DbSession) -> dict[str, Any]:
    user = await session.get_one(User, principal.user_id)
    return ok(await service.user_payload(session, user))


@router.get(
    "/api/security/csrf-token",
    response_model=Envelope[schemas.CsrfData],
    responses=AUTH_ERRORS,
    summary="CSRF token bound to this session",
)
async def csrf(principal: CurrentUser, ctx: Ctx) -> dict[str, Any]:
    return ok({"token": service.csrf_token(ctx, principal)}, "CSRF token issued")


@router.post(
    "/api/security/mobile-auth",
    response_model=schemas.MobileAuthResponse,
    dependencies=[public()],
    responses=AUTH_ERRORS,
    summary="Open (validate_token) or close (logout) a mobile session",
)
async def mobile_auth(
    body: schemas.MobileAuthRequest, request: Request, ctx: Ctx, session: DbSession
) -> dict[str, Any]:
    """``validate_token`` exchanges a valid token for a mobile session that is its child (no CSRF:
    no session exists yet): it expires no later than the token's session and ends with it, at most
    ``PROPOPS_MOBILE_MINT_PER_HOUR`` per account (429), five levels deep (403). ``logout`` is an
    ordinary authenticated write and so needs bearer and CSRF; it ends the session's children too."""
    if isinstance(body, schemas.MobileLogoutRequest):
        principal = await authenticate_request(request, ctx)
        if not principal.has("api.security.mobile_auth.use"):
            raise Forbidden()
        await service.revoke_session(session, principal.token_id, user_id=principal.user_id)
        return {"success": True, "message": "Logged out"}
    raw, principal, user = await service.mobile_session(
        session,
        ctx,
        raw_token=body.token,
        platform=body.platform,
        device_type=body.device_type,
        app_version=body.app_version,
        ip=client_ip(request.scope),
    )
    token = await session.get_one(ApiToken, principal.token_id)
    return {
        "success": True,
        "message": "Token validated",
        "session_token": raw,
        "csrf_token": service.csrf_token(ctx, principal),
        "expires_at": iso(token.expires_at),
        "user": await service.user_payload(session, user),
    }


@router.get(
    "/api/users/permissions",
    response_model=Envelope[schemas.PermissionsData],
    responses=AUTH_ERRORS,
    summary="The caller's resolved permission keys",
)
async def my_permissions(principal: CurrentUser, session: DbSession) -> dict[str, Any]:
    role_name = (await session.execute(select(Role.name).where(Role.id == principal.role_id))).scalar_one()
    keys = sorted(principal.permissions)
    return ok(
        {
            "user_uuid": principal.uuid,
            "account_type_id": principal.account_type_id,
            "role_id": principal.role_id,
            "role_name": role_name,
            "permissions": keys,
            "permission_map": dict.fromkeys(keys, True),
        }
    )


@router.get(
    "/api/users/users",
    response_model=Envelope[schemas.UserRead],
    responses=error_responses(400, 401, 403, 404, 429),
    summary="Retrieve a user (action=get_user)",
)
async def get_user(
    session: DbSession,
    principal: Annotated[service.Principal, require("api.users.users.manage")],
    action: Annotated[Literal["get_user"], Query(description="Must be `get_user`.")],
    uuid: Annotated[str, Query(pattern=UUID_PATTERN, examples=[UUID_EXAMPLE])],
) -> dict[str, Any]:
    user = await service.get_user_by_uuid(session, principal.organisation_id, uuid)
    return ok(await service.user_payload(session, user))


@router.post(
    "/api/users/users",
    response_model=Envelope[schemas.UsersPostData],
    responses=error_responses(400, 401, 403, 404, 429),
    summary="Administer a user (toggle_status)",
)
async def post_user(
    body: schemas.UsersPostRequest,
    session: DbSession,
    principal: Annotated[service.Principal, require("api.users.users.manage")],
) -> dict[str, Any]:
    target = await service.get_user_by_uuid(session, principal.organisation_id, body.uuid)
    if target.id == principal.user_id:
        raise Forbidden("You cannot change the status of your own account.")
    mine = await session.get_one(Role, principal.role_id)
    theirs = await session.get_one(Role, target.role_id)
    if theirs.level <= mine.level:
        raise Forbidden("You cannot change an account whose role is at or above your own level.")
    active = (not target.is_active) if body.is_active is None else body.is_active
    await service.set_user_active(session, target, active, actor_id=principal.user_id)
    return ok({"uuid": target.uuid, "is_active": target.is_active}, "User status updated")


@router.get(
    "/api/health",
    dependencies=[public()],
    tags=["system"],
    summary="Liveness and database check",
    responses=error_responses(503),
)
async def health(ctx: Ctx) -> dict[str, Any]:
    try:
        async with ctx.db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "database down" to a health probe
        raise ServiceUnavailable("The database is unreachable.") from exc
    return ok({"status": "ok", "database": ctx.db.dialect})
