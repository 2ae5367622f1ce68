"""Organisation administration (the platform's staff) and an organisation's own settings.

An organisation is never erased (its rows and history point at it); it is disabled, which refuses
every login and every token of its users at once in every process (the token check reads the
organisation's flag; the permissions epoch moves so cached lookups are dropped). The platform
organisation cannot be disabled. No HTTP here; never commits.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from propops.auth.models import ACCOUNT_STAFF, User
from propops.auth.service import bump_permissions_epoch, create_user
from propops.core import audit
from propops.core.clock import iso
from propops.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from propops.core.pagination import Page
from propops.core.validation import clean_text, like_pattern
from propops.organisations.models import Organisation
from propops.organisations.settings import OrganisationSettings, read_settings
from propops.tenancy.schemas import OrganisationWrite, SettingsWrite

NOT_FOUND = "Organisation not found."


def payload(org: Organisation, user_count: int | None = None) -> dict[str, Any]:
    return {
        "ID": org.id,
        "id": org.id,
        "uuid": org.uuid,
        "name": org.name,
        "slug": org.slug,
        "is_active": org.is_active,
        "is_platform": org.is_platform,
        "settings": read_settings(org.settings).model_dump(mode="json"),
        "user_count": user_count,
        "created_at": iso(org.created_at),
        "updated_at": iso(org.updated_at),
    }


async def _user_counts(session: AsyncSession, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    stmt = (
        select(User.organisation_id, func.count()).where(User.organisation_id.in_(ids)).group_by(User.organisation_id)
    )
    return {int(org): int(n) for org, n in await session.execute(stmt)}


async def list_organisations(
    session: AsyncSession, page: Page, *, search: str | None, is_active: bool | None
) -> tuple[list[dict[str, Any]], int]:
    stmt = select(Organisation)
    if search:
        pattern = like_pattern(search)
        stmt = stmt.where(
            or_(
                func.lower(Organisation.name).like(pattern, escape="\\"),
                func.lower(Organisation.slug).like(pattern, escape="\\"),
            )
        )
    if is_active is not None:
        stmt = stmt.where(Organisation.is_active.is_(is_active))
    count = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = list(
        (
            await session.execute(
                stmt.order_by(Organisation.name, Organisation.id).limit(page.limit).offset(page.offset)
            )
        ).scalars()
    )
    counts = await _user_counts(session, [o.id for o in rows])
    return [payload(o, counts.get(o.id, 0)) for o in rows], int(count)


async def get_organisation(
    session: AsyncSession, *, org_id: int | None, uuid: str | None, for_update: bool = False
) -> Organisation:
    if org_id is None and not uuid:
        raise InvalidInput.field("id", "is required (or uuid)")
    stmt = select(Organisation)
    stmt = stmt.where(Organisation.id == org_id) if org_id is not None else stmt.where(Organisation.uuid == uuid)
    if for_update:
        stmt = stmt.with_for_update()
    org = (await session.execute(stmt)).scalar_one_or_none()
    if org is None:
        raise NotFound(NOT_FOUND)
    return org


async def detail(session: AsyncSession, org: Organisation) -> dict[str, Any]:
    return payload(org, (await _user_counts(session, [org.id])).get(org.id, 0))


async def _ensure_free(session: AsyncSession, name: str, slug: str, exclude_id: int | None = None) -> None:
    for column, value, field in ((Organisation.name, name, "name"), (Organisation.slug, slug, "slug")):
        stmt = select(Organisation.id).where(func.lower(column) == value.lower())
        if exclude_id is not None:
            stmt = stmt.where(Organisation.id != exclude_id)
        if (await session.execute(stmt)).first() is not None:
            raise Conflict(
                f"An organisation with this {field} already exists.",
                errors=[{"field": field, "message": "already in use"}],
            )


async def create_organisation(session: AsyncSession, body: OrganisationWrite, *, actor_id: int) -> Organisation:
    """The organisation, and with ``admin`` its first SysOps login, in one transaction."""
    name = clean_text(body.name, "name", 120, required=True) or ""
    if not body.slug:
        raise InvalidInput.field("slug", "is required for action=create")
    await _ensure_free(session, name, body.slug)
    settings = (body.settings or OrganisationSettings()).model_dump(mode="json", exclude_defaults=True)
    org = Organisation(name=name, slug=body.slug, is_active=True, is_platform=False, settings=settings)
    session.add(org)
    await session.flush()
    admin_uuid = None
    if body.admin is not None:
        user = await create_user(
            session,
            organisation_id=org.id,
            email=body.admin.email,
            password=body.admin.password,
            account_type_id=ACCOUNT_STAFF,
            role="SysOps",
            first_name=clean_text(body.admin.first_name, "admin.first_name", 100) or "",
            last_name=clean_text(body.admin.last_name, "admin.last_name", 100) or "",
            actor_id=actor_id,
        )
        admin_uuid = user.uuid
    await audit.record(
        session,
        organisation_id=org.id,
        user_id=actor_id,
        action="create",
        entity="organisation",
        entity_id=org.id,
        after={"name": org.name, "slug": org.slug, "settings": settings, "admin_uuid": admin_uuid},
    )
    return org


def merged_settings(current: dict[str, Any] | None, changes: dict[str, Any]) -> dict[str, Any]:
    """``current`` with ``changes`` applied (``notifications`` merged key by key), validated; a
    bad value is a 400 naming the setting."""
    merged = read_settings(current).model_dump(mode="json")
    for key, value in changes.items():
        if key == "notifications" and isinstance(value, dict):
            merged["notifications"] = {**merged["notifications"], **value}
        else:
            merged[key] = value
    try:
        valid = OrganisationSettings.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "settings"
        raise InvalidInput.field(f"settings.{field}", first["msg"]) from None
    return valid.model_dump(mode="json", exclude_defaults=True)


async def update_organisation(
    session: AsyncSession, org: Organisation, body: OrganisationWrite, *, actor_id: int
) -> Organisation:
    before = payload(org)
    sent = body.model_fields_set
    name = clean_text(body.name, "name", 120, required=True) if "name" in sent else org.name
    slug = body.slug if "slug" in sent and body.slug else org.slug
    await _ensure_free(session, name or org.name, slug, exclude_id=org.id)
    org.name, org.slug = name or org.name, slug
    if body.settings is not None:
        org.settings = merged_settings(org.settings, body.settings.model_dump(mode="json", exclude_unset=True))
    await session.flush()
    await audit.record(
        session,
        organisation_id=org.id,
        user_id=actor_id,
        action="update",
        entity="organisation",
        entity_id=org.id,
        before=before,
        after=payload(org),
    )
    return org


async def set_active(session: AsyncSession, org: Organisation, active: bool, *, actor_id: int) -> Organisation:
    """Idempotent. Disabling refuses its users' logins and tokens at once, in every process."""
    if org.is_platform and not active:
        raise Forbidden("The platform organisation cannot be disabled.")
    if org.is_active == active:
        return org
    org.is_active = active
    await session.flush()
    await bump_permissions_epoch(session)  # token caches in every process drop their entries
    await audit.record(
        session,
        organisation_id=org.id,
        user_id=actor_id,
        action="enable" if active else "disable",
        entity="organisation",
        entity_id=org.id,
        before={"is_active": not active},
        after={"is_active": active},
    )
    return org


# --- an organisation's own settings ----------------------------------------------------------------


async def own_settings(session: AsyncSession, organisation_id: int) -> dict[str, Any]:
    org = await session.get_one(Organisation, organisation_id)
    return {
        "organisation_id": org.id,
        "organisation_uuid": org.uuid,
        "name": org.name,
        "settings": read_settings(org.settings).model_dump(mode="json"),
    }


async def update_own_settings(
    session: AsyncSession, organisation_id: int, body: SettingsWrite, *, actor_id: int
) -> dict[str, Any]:
    org = (
        await session.execute(select(Organisation).where(Organisation.id == organisation_id).with_for_update())
    ).scalar_one()
    changes = body.model_dump(mode="json", exclude_unset=True, exclude={"csrf_token"})
    if not changes:
        raise InvalidInput("Send at least one setting to change.")
    before = read_settings(org.settings).model_dump(mode="json")
    org.settings = merged_settings(org.settings, changes)
    await session.flush()
    await audit.record(
        session,
        organisation_id=org.id,
        user_id=actor_id,
        action="update_settings",
        entity="organisation",
        entity_id=org.id,
        before=before,
        after=read_settings(org.settings).model_dump(mode="json"),
    )
    return await own_settings(session, organisation_id)
