"""HTTP for property addresses: /api/properties/manage (list, get, create, update)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from propops.auth.deps import require
from propops.auth.service import Principal
from propops.core.deps import Ctx, DbSession
from propops.core.envelope import Envelope, ListEnvelope, error_responses, ok, ok_list
from propops.core.pagination import PageParams
from propops.core.params import SearchQuery, UuidQuery
from propops.core.validation import clean_search
from propops.geo.geocoder import make_geocoder
from propops.properties import service
from propops.properties.schemas import PropertyManageRequest, PropertyRead

router = APIRouter(tags=["properties"])
KEY = "api.properties.manage.manage"
Caller = Annotated[Principal, require(KEY)]


@router.get(
    "/api/properties/manage",
    response_model=ListEnvelope[PropertyRead] | Envelope[PropertyRead],
    responses=error_responses(400, 401, 403, 404, 429),
    summary="List visible property addresses (action=list) or read one (action=get&uuid=)",
)
async def read_properties(
    principal: Caller,
    session: DbSession,
    page: PageParams,
    action: Annotated[Literal["list", "get"], Query(description="list or get")],
    uuid: Annotated[UuidQuery, Query(description="action=get: the property")] = None,
    branch_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    postcode: Annotated[str | None, Query(max_length=16)] = None,
    search: Annotated[SearchQuery, Query(description="Address lines, town, postcode or tenant name contain.")] = None,
    include_inactive: bool = False,
) -> dict[str, Any]:
    if action == "get":
        prop, branch_name = await service.get_visible(session, principal, uuid)
        return ok(service.payload(prop, branch_name))
    rows, count = await service.list_properties(
        session,
        principal,
        page,
        branch_id=branch_id,
        postcode=postcode,
        search=clean_search(search),
        include_inactive=include_inactive,
    )
    return ok_list(rows, count)


@router.post(
    "/api/properties/manage",
    response_model=Envelope[PropertyRead],
    responses=error_responses(400, 401, 403, 404, 409, 429),
    summary="Create or update a property address (postcode validated and geocoded)",
)
async def manage_property(
    principal: Caller, session: DbSession, ctx: Ctx, body: PropertyManageRequest
) -> dict[str, Any]:
    geocoder = make_geocoder(ctx)
    if body.action == "create":
        prop, branch_name = await service.create_property(session, principal, geocoder, body)
        return ok(service.payload(prop, branch_name), "Property created")
    prop, branch_name = await service.update_property(session, principal, geocoder, body)
    return ok(service.payload(prop, branch_name), "Property updated")
