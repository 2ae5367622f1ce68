"""HTTP for organisations: the platform's staff administer them (``/api/admin/organisations``,
``api.admin.organisations.manage``); each organisation's staff read and change its own settings
(``/api/organisation/settings``, ``api.admin.organisation_settings.manage``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from propops.auth.deps import require
from propops.auth.models import ACCOUNT_STAFF
from propops.auth.service import Principal
from propops.core.deps import DbSession
from propops.core.envelope import Envelope, ListEnvelope, error_responses, ok, ok_list
from propops.core.errors import Forbidden, InvalidInput
from propops.core.pagination import PageParams
from propops.core.params import SearchQuery, UuidQuery
from propops.core.validation import clean_search
from propops.tenancy import service
from propops.tenancy.schemas import OrganisationRead, OrganisationWrite, SettingsWrite

router = APIRouter(tags=["admin: organisations"])

KEY = "api.admin.organisations.manage"
SETTINGS_KEY = "api.admin.organisation_settings.manage"
PlatformAdmin = Annotated[Principal, require(KEY)]
IdQuery = Annotated[int | None, Query(ge=1, le=2_147_483_647, description="Organisation id.")]


def _platform_staff(principal: Principal) -> Principal:
    """Organisations are the platform's to administer: a customer's SysOps holds the key too (roles
    are shared), so the caller must also be staff of the platform organisation."""
    if principal.account_type_id != ACCOUNT_STAFF or not principal.is_platform:
        raise Forbidden()
    return principal


@router.get(
    "/api/admin/organisations",
    response_model=ListEnvelope[OrganisationRead] | Envelope[OrganisationRead],
    responses=error_responses(400, 401, 403, 404, 429),
    summary="List organisations (action=list) or get one (action=get)",
)
async def get_organisations(
    principal: PlatformAdmin,
    session: DbSession,
    page: PageParams,
    action: Annotated[Literal["list", "get"], Query(description="list (default) | get")] = "list",
    id: IdQuery = None,
    uuid: UuidQuery = None,
    search: Annotated[SearchQuery, Query(description="Name or slug contains (case-insensitive).")] = None,
    is_active: Annotated[bool | None, Query(description="Only active (true) or disabled (false).")] = None,
) -> dict[str, Any]:
    _platform_staff(principal)
    if action == "get":
        org = await service.get_organisation(session, org_id=id, uuid=uuid)
        return ok(await service.detail(session, org))
    rows, count = await service.list_organisations(session, page, search=clean_search(search), is_active=is_active)
    return ok_list(rows, count)


MESSAGES = {
    "create": "Organisation created",
    "update": "Organisation updated",
    "enable": "Organisation enabled",
    "disable": "Organisation disabled",
}


@router.post(
    "/api/admin/organisations",
    response_model=Envelope[OrganisationRead],
    responses=error_responses(400, 401, 403, 404, 409, 429),
    summary="Create, update, enable or disable an organisation",
)
async def write_organisation(body: OrganisationWrite, principal: PlatformAdmin, session: DbSession) -> dict[str, Any]:
    _platform_staff(principal)
    if body.action == "create":
        if body.name is None:
            raise InvalidInput.field("name", "is required for action=create")
        org = await service.create_organisation(session, body, actor_id=principal.user_id)
    else:
        if body.id is None and body.uuid is None:
            raise InvalidInput.field("id", "is required (or uuid)")
        org = await service.get_organisation(session, org_id=body.id, uuid=body.uuid, for_update=True)
        if body.action == "update":
            org = await service.update_organisation(session, org, body, actor_id=principal.user_id)
        else:
            org = await service.set_active(session, org, body.action == "enable", actor_id=principal.user_id)
    return ok(await service.detail(session, org), MESSAGES[body.action])


@router.get(
    "/api/organisation/settings",
    response_model=Envelope[dict[str, Any]],
    responses=error_responses(401, 403, 429),
    summary="The caller's organisation's settings",
)
async def get_settings(principal: Annotated[Principal, require(SETTINGS_KEY)], session: DbSession) -> dict[str, Any]:
    return ok(await service.own_settings(session, principal.organisation_id))


@router.post(
    "/api/organisation/settings",
    response_model=Envelope[dict[str, Any]],
    responses=error_responses(400, 401, 403, 429),
    summary="Change the caller's organisation's settings (only the keys sent)",
)
async def update_settings(
    body: SettingsWrite, principal: Annotated[Principal, require(SETTINGS_KEY)], session: DbSession
) -> dict[str, Any]:
    if principal.account_type_id != ACCOUNT_STAFF:
        raise Forbidden()
    data = await service.update_own_settings(session, principal.organisation_id, body, actor_id=principal.user_id)
    return ok(data, "Settings updated")
