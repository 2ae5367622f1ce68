"""Accounts, sessions and permission resolution. No HTTP here.

The per-request authentication is one indexed query (token hash -> token, user and the permissions
epoch) on a pooled connection, without an ORM session, or on PostgreSQL a hit in the process's token
cache (``core.context.TokenCache``), which every change to users, tokens or permissions empties in every
process; resolved permission sets are cached per process and dropped whenever the shared epoch
moves, so a revoked token or a revoked permission fails on its next request in every process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from propops.auth.models import (
    STATUS_ACTIVE,
    STATUS_DISABLED,
    AccountStatus,
    AccountType,
    ApiToken,
    LoginFailure,
    Permission,
    Role,
    RolePermission,
    SystemState,
    User,
    UserPermission,
)
from propops.core import audit
from propops.core.clock import as_utc, iso, utcnow
from propops.core.context import AppContext
from propops.core.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests, Unauthorized
from propops.core.security import (
    csrf_token_for,
    hash_password,
    new_token,
    token_hash,
    verify_password,
)
from propops.core.validation import normalise_email, validate_email
from propops.organisations.models import Organisation

EPOCH_KEY = "permissions_epoch"
BAD_CREDENTIALS = "Invalid email or password."
ORGANISATION_DISABLED = "This organisation's access is suspended. Contact your administrator."


@dataclass
class Principal:
    """The authenticated caller of one request."""

    user_id: int
    uuid: str
    email: str
    first_name: str
    last_name: str
    account_type_id: int
    role_id: int
    token_id: int
    session_hash: str
    permissions: frozenset[str]
    organisation_id: int
    is_platform: bool  # a member of the organisation that runs the deployment
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def has(self, key: str) -> bool:
        return key in self.permissions


def validate_password(password: str) -> str:
    if len(password) < 8:
        raise InvalidInput.field("password", "must be at least 8 characters")
    if len(password) > 256:
        raise InvalidInput.field("password", "must be at most 256 characters")
    return password


# --- authentication fast path -------------------------------------------------------------------

_tokens, _users, _orgs = ApiToken.__table__, User.__table__, Organisation.__table__
_AUTH = (
    select(
        _tokens.c.id,
        _tokens.c.expires_at,
        _tokens.c.revoked_at,
        _users.c.id,
        _users.c.uuid,
        _users.c.email,
        _users.c.first_name,
        _users.c.last_name,
        _users.c.account_type_id,
        _users.c.role_id,
        _users.c.account_status_id,
        select(SystemState.value).where(SystemState.key == EPOCH_KEY).scalar_subquery(),
        _users.c.organisation_id,
        _orgs.c.is_active,
        _orgs.c.is_platform,
    )
    .select_from(
        _tokens.join(_users, _users.c.id == _tokens.c.user_id).join(_orgs, _orgs.c.id == _users.c.organisation_id)
    )
    .where(_tokens.c.token_hash == bindparam("token_hash"))
)
_ROLE_PERMS = select(RolePermission.permission_key).where(RolePermission.role_id == bindparam("role_id"))
_USER_PERMS = select(UserPermission.permission_key, UserPermission.granted).where(
    UserPermission.user_id == bindparam("user_id")
)


async def authenticate_token(ctx: AppContext, raw_token: str) -> Principal:
    """One indexed read on the raw driver, unless the token cache has the row; the permission set
    is cached per process and keyed by the shared epoch, so grants and revocations apply on the
    next request."""
    if not raw_token or len(raw_token) > 512:
        raise Unauthorized("Invalid or expired token.")
    hashed = token_hash(ctx.settings.secret_key, raw_token)
    cache = ctx.token_cache
    row = cache.get(hashed) if cache is not None else None
    if row is None:
        gen = cache.generation() if cache is not None else 0
        row = await ctx.executor.committed_one(_AUTH, token_hash=hashed)
        if row is None:
            raise Unauthorized("Invalid or expired token.")
        if cache is not None:
            cache.put(hashed, gen, row)
    (
        token_id,
        expires_at,
        revoked_at,
        user_id,
        user_uuid,
        email,
        first,
        last,
        account_type_id,
        role_id,
        status_id,
        epoch,
        organisation_id,
        organisation_active,
        is_platform,
    ) = row
    if revoked_at is not None:
        raise Unauthorized("This session has been revoked. Please log in again.")
    if expires_at <= utcnow():
        raise Unauthorized("This session has expired. Please log in again.")
    if status_id != STATUS_ACTIVE:
        raise Unauthorized("This account is disabled.")
    if not organisation_active:
        raise Unauthorized(ORGANISATION_DISABLED)
    epoch = int(epoch or 0)
    cached = ctx.permission_cache.get(user_id)
    if cached is not None and cached[0] == epoch:
        perms = cached[1]
    else:
        keys = {r[0] for r in await ctx.executor.committed(_ROLE_PERMS, role_id=role_id)}
        for key, granted in await ctx.executor.committed(_USER_PERMS, user_id=user_id):
            if granted:
                keys.add(key)
            else:
                keys.discard(key)
        perms = frozenset(keys)
        ctx.permission_cache[user_id] = (epoch, perms)
    return Principal(
        user_id=user_id,
        uuid=user_uuid,
        organisation_id=organisation_id,
        is_platform=bool(is_platform),
        email=email,
        first_name=first,
        last_name=last,
        account_type_id=account_type_id,
        role_id=role_id,
        token_id=token_id,
        session_hash=hashed,
        permissions=perms,
    )


def csrf_token(ctx: AppContext, principal: Principal) -> str:
    return csrf_token_for(ctx.settings.secret_key, principal.session_hash)


async def bump_permissions_epoch(session: AsyncSession) -> None:
    """Call in the same transaction as any change to roles, grants or role assignment."""
    await session.execute(update(SystemState).where(SystemState.key == EPOCH_KEY).values(value=SystemState.value + 1))


# --- login, sessions ----------------------------------------------------------------------------


async def _check_throttle(session: AsyncSession, ctx: AppContext, email: str, ip: str) -> None:
    s = ctx.settings
    since = utcnow() - timedelta(seconds=s.login_window_seconds)
    # The account's count restarts at its last password login (a root session); the IP's count
    # never does: a success with one account must not unblock an address guessing at others.
    last_login = (
        select(func.max(ApiToken.created_at))
        .join(User, User.id == ApiToken.user_id)
        .where(User.email == email, ApiToken.parent_token_id.is_(None))
        .scalar_subquery()
    )
    by_email = (
        await session.execute(
            select(func.count(), func.min(LoginFailure.created_at)).where(
                LoginFailure.email == email,
                LoginFailure.created_at > since,
                or_(last_login.is_(None), LoginFailure.created_at > last_login),
            )
        )
    ).one()
    by_ip = (
        await session.execute(
            select(func.count(), func.min(LoginFailure.created_at)).where(
                LoginFailure.ip_address == ip, LoginFailure.created_at > since
            )
        )
    ).one()
    oldest: datetime | None = None
    if by_email[0] >= s.login_max_failures_per_account:
        oldest = by_email[1]
    if by_ip[0] >= s.login_max_failures_per_ip:
        oldest = by_ip[1] if oldest is None else min(as_utc(oldest), as_utc(by_ip[1]))
    if oldest is not None:
        retry = int((as_utc(oldest) + timedelta(seconds=s.login_window_seconds) - utcnow()).total_seconds()) + 1
        raise TooManyRequests(
            "Too many failed login attempts. Please wait before trying again.",
            headers={"Retry-After": str(max(1, retry))},
        )


async def login(
    ctx: AppContext, *, email: str, password: str, ip: str, user_agent: str | None
) -> tuple[str, ApiToken, User, AccountType]:
    """Same reply and the same argon2 cost for an unknown email and a wrong password."""
    email_n = normalise_email(email)[:254]
    if "\x00" in email_n:
        # No account can hold a NUL (PostgreSQL text refuses it, which would be a 500): the same
        # reply and the same argon2 cost as an unknown address, without touching the database.
        verify_password(password, None)
        raise Unauthorized(BAD_CREDENTIALS)
    async with ctx.db.sessionmaker() as session:
        await _check_throttle(session, ctx, email_n, ip)
        user = (await session.execute(select(User).where(User.email == email_n))).scalar_one_or_none()
        valid = verify_password(password, user.password_hash if user else None)
        if user is None or not valid or user.account_status_id != STATUS_ACTIVE:
            session.add(LoginFailure(email=email_n, ip_address=ip))
            await session.commit()
            raise Unauthorized(BAD_CREDENTIALS)
        organisation = await session.get_one(Organisation, user.organisation_id)
        if not organisation.is_active:  # told only to someone who proved the password
            raise Unauthorized(ORGANISATION_DISABLED)
        raw, token = await _issue(session, ctx, user, kind="login", ip=ip, user_agent=user_agent)
        account_type = await session.get_one(AccountType, user.account_type_id)
        await session.commit()
        return raw, token, user, account_type


async def _issue(
    session: AsyncSession,
    ctx: AppContext,
    user: User,
    *,
    kind: str,
    ip: str | None = None,
    user_agent: str | None = None,
    platform: str | None = None,
    device_type: str | None = None,
    app_version: str | None = None,
    parent: ApiToken | None = None,
    expires_at: datetime | None = None,
) -> tuple[str, ApiToken]:
    raw = new_token()
    hours = ctx.settings.mobile_token_lifetime_hours if kind == "mobile" else ctx.settings.token_lifetime_hours
    token = ApiToken(
        parent_token_id=None if parent is None else parent.id,
        depth=0 if parent is None else parent.depth + 1,
        user_id=user.id,
        token_hash=token_hash(ctx.settings.secret_key, raw),
        kind=kind,
        expires_at=expires_at or utcnow() + timedelta(hours=hours),
        ip_address=ip,
        user_agent=(user_agent or "")[:255] or None,
        platform=platform,
        device_type=device_type,
        app_version=app_version,
    )
    session.add(token)
    await session.flush()
    return raw, token


async def issue_token(
    session: AsyncSession, ctx: AppContext, user: User, *, kind: str = "login", **meta: Any
) -> tuple[str, ApiToken]:
    return await _issue(session, ctx, user, kind=kind, **meta)


async def revoke_session(session: AsyncSession, token_id: int, *, user_id: int | None = None) -> int:
    """Revoke a session and every session minted from it, in the caller's transaction; returns how
    many descendants were revoked.

    One UPDATE per level rather than one recursive statement: each statement sees the rows
    committed before it started, and the first one locks the session's row, so a child minted
    concurrently (``mobile_session`` locks the parent first) is either committed before the next
    level is read or sees its parent revoked. Depth is bounded by ``MAX_SESSION_DEPTH``."""
    now = utcnow()
    await session.execute(
        update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None)).values(revoked_at=now)
    )
    level, descendants = [token_id], 0
    for _ in range(MAX_SESSION_DEPTH):
        result = await session.execute(
            update(ApiToken)
            .where(ApiToken.parent_token_id.in_(level))
            .values(revoked_at=func.coalesce(ApiToken.revoked_at, now))
            .returning(ApiToken.id)
            .execution_options(synchronize_session=False)
        )
        level = list(result.scalars())
        if not level:
            break
        descendants += len(level)
    if descendants:
        owner = select(User.organisation_id).join(ApiToken, ApiToken.user_id == User.id).where(ApiToken.id == token_id)
        await audit.record(
            session,
            organisation_id=(await session.execute(owner)).scalar_one_or_none(),
            user_id=user_id,
            action="revoke_descendants",
            entity="api_token",
            entity_id=token_id,
            after={"revoked": descendants},
        )
    return descendants


async def revoke_all_sessions(session: AsyncSession, user_id: int) -> int:
    result = await session.execute(
        update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


MAX_SESSION_DEPTH = 5
"""A password login is depth 0; sessions minted from sessions stop at this depth."""
MINT_WINDOW = timedelta(hours=1)


async def mobile_session(
    session: AsyncSession,
    ctx: AppContext,
    *,
    raw_token: str,
    platform: str | None,
    device_type: str | None,
    app_version: str | None,
    ip: str | None,
) -> tuple[str, Principal, User]:
    """Mint a child of the presented session: it expires no later than its parent, ends with it
    (``revoke_session``), is limited per account per hour and is audited.

    Order matters for concurrent logouts and mints. PostgreSQL: the account row and then the parent
    row are locked (``FOR NO KEY UPDATE``) before the insert, so a logout either committed first
    (the parent is seen revoked) or waits and then revokes the new child. SQLite serialises writers
    but reads outside a write: the parent and the hourly count are re-read after the INSERT, which
    holds the write lock, so they are current."""
    principal = await authenticate_token(ctx, raw_token)
    if not principal.has("api.security.mobile_auth.use"):
        raise Unauthorized("This account may not open mobile sessions.")
    await session.execute(select(User.id).where(User.id == principal.user_id).with_for_update(key_share=True))
    parent = (
        await session.execute(select(ApiToken).where(ApiToken.id == principal.token_id).with_for_update(key_share=True))
    ).scalar_one()
    _check_parent(parent.revoked_at, parent.expires_at)
    if parent.depth >= MAX_SESSION_DEPTH:
        raise Forbidden(
            f"Sessions may be opened from sessions at most {MAX_SESSION_DEPTH} levels deep; log in with your password."
        )
    user = await session.get_one(User, principal.user_id)
    lifetime = utcnow() + timedelta(hours=ctx.settings.mobile_token_lifetime_hours)
    raw, token = await _issue(
        session,
        ctx,
        user,
        kind="mobile",
        ip=ip,
        platform=platform,
        device_type=device_type,
        app_version=app_version,
        parent=parent,
        expires_at=min(lifetime, as_utc(parent.expires_at)),
    )
    state = (
        await session.execute(select(ApiToken.revoked_at, ApiToken.expires_at).where(ApiToken.id == parent.id))
    ).one()
    _check_parent(state[0], state[1])
    since = utcnow() - MINT_WINDOW
    minted, oldest = (
        await session.execute(
            select(func.count(), func.min(ApiToken.created_at)).where(
                ApiToken.user_id == user.id, ApiToken.created_at > since, ApiToken.parent_token_id.is_not(None)
            )
        )
    ).one()
    limit = ctx.settings.mobile_mint_per_hour
    if minted > limit:  # the new row is counted: the transaction rolls back and nothing is minted
        retry = int((as_utc(oldest) + MINT_WINDOW - utcnow()).total_seconds()) + 1
        raise TooManyRequests(
            f"At most {limit} sessions may be opened from existing sessions per hour.",
            headers={"Retry-After": str(max(1, retry))},
        )
    await audit.record(
        session,
        organisation_id=user.organisation_id,
        user_id=user.id,
        action="mint_session",
        entity="api_token",
        entity_id=token.id,
        after={
            "parent_token_id": parent.id,
            "depth": token.depth,
            "expires_at": iso(token.expires_at),
            "platform": platform,
            "ip_address": ip,
        },
    )
    new_principal = Principal(
        **{**principal.__dict__, "token_id": token.id, "session_hash": token.token_hash, "cache": {}}
    )
    return raw, new_principal, user


def _check_parent(revoked_at: datetime | None, expires_at: datetime) -> None:
    if revoked_at is not None:
        raise Unauthorized("This session has been revoked. Please log in again.")
    if as_utc(expires_at) <= utcnow():
        raise Unauthorized("This session has expired. Please log in again.")


# --- users --------------------------------------------------------------------------------------


async def get_role(session: AsyncSession, role: int | str) -> Role:
    stmt = select(Role).where(Role.id == role) if isinstance(role, int) else select(Role).where(Role.name == role)
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise InvalidInput.field("role", f"unknown role {role!r}")
    return found


async def default_role_for(session: AsyncSession, account_type_id: int) -> Role:
    role = (
        (
            await session.execute(
                select(Role)
                .where(Role.account_type_id == account_type_id, Role.is_active.is_(True))
                .order_by(Role.level.desc(), Role.id)
            )
        )
        .scalars()
        .first()
    )
    if role is None:
        raise InvalidInput.field("account_type_id", "no role exists for this account type")
    return role


async def create_user(
    session: AsyncSession,
    *,
    organisation_id: int,
    email: str,
    password: str,
    account_type_id: int,
    role: int | str | None = None,
    first_name: str = "",
    last_name: str = "",
    phone: str | None = None,
    actor_id: int | None = None,
) -> User:
    email_n = validate_email(email)
    validate_password(password)
    if await session.get(AccountType, account_type_id) is None:
        raise InvalidInput.field("account_type_id", "unknown account type")
    role_obj = await get_role(session, role) if role is not None else await default_role_for(session, account_type_id)
    if role_obj.account_type_id != account_type_id:
        raise InvalidInput.field("role", "role belongs to another account type")
    exists = (await session.execute(select(User.id).where(User.email == email_n))).first()
    if exists:
        raise Conflict(
            "An account with this email already exists.", errors=[{"field": "email", "message": "already in use"}]
        )
    user = User(
        organisation_id=organisation_id,
        email=email_n,
        password_hash=hash_password(password),
        account_type_id=account_type_id,
        role_id=role_obj.id,
        first_name=first_name,
        last_name=last_name,
        phone=phone,
    )
    session.add(user)
    await session.flush()
    await audit.record(
        session,
        organisation_id=user.organisation_id,
        user_id=actor_id,
        action="create",
        entity="user",
        entity_id=user.id,
        after={"email": email_n, "account_type_id": account_type_id, "role_id": role_obj.id},
    )
    return user


async def get_user_by_uuid(session: AsyncSession, organisation_id: int, user_uuid: str) -> User:
    """A user of the organisation; another organisation's is the same 404 as a missing one."""
    stmt = select(User).where(User.uuid == user_uuid, User.organisation_id == organisation_id)
    user = (await session.execute(stmt)).scalar_one_or_none()
    if user is None:
        raise NotFound("User not found.")
    return user


async def set_user_active(session: AsyncSession, user: User, active: bool, *, actor_id: int | None) -> None:
    """Disabling an account also revokes every session it holds."""
    before = user.account_status_id
    user.account_status_id = STATUS_ACTIVE if active else STATUS_DISABLED
    if not active:
        await revoke_all_sessions(session, user.id)
    await session.flush()
    await audit.record(
        session,
        organisation_id=user.organisation_id,
        user_id=actor_id,
        action="toggle_status",
        entity="user",
        entity_id=user.id,
        before={"account_status_id": before},
        after={"account_status_id": user.account_status_id},
    )


async def user_payload(session: AsyncSession, user: User) -> dict[str, Any]:
    """The reference's user object."""
    names = (
        await session.execute(
            select(AccountType.name, AccountStatus.name, Role.name)
            .select_from(User)
            .join(AccountType, AccountType.id == User.account_type_id)
            .join(AccountStatus, AccountStatus.id == User.account_status_id)
            .join(Role, Role.id == User.role_id)
            .where(User.id == user.id)
        )
    ).one()
    return {
        "ID": user.id,
        "uuid": user.uuid,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "phone": user.phone,
        "account_type_id": user.account_type_id,
        "account_type_name": names[0],
        "account_status_id": user.account_status_id,
        "account_status_name": names[1],
        "branch_id": user.branch_id,
        "role_id": user.role_id,
        "role_name": names[2],
        "created_at": iso(user.created_at),
    }


async def permission_keys(session: AsyncSession) -> set[str]:
    return set((await session.execute(select(Permission.key))).scalars())
