"""HTTP for contractors: trades, lists (with coverage), admin and own profile."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from propops.auth.deps import require
from propops.auth.service import Principal
from propops.contractors import coverage as cov
from propops.contractors import listing, service
from propops.contractors.schemas import (
    ContractorCoverageRead,
    ContractorDetail,
    ContractorManageRequest,
    ContractorRead,
    CoverageIn,
    ProfileUpdateRequest,
    TradeRead,
)
from propops.core.deps import Ctx, DbSession
from propops.core.envelope import Envelope, ListEnvelope, RawJSONResponse, error_responses, ok, ok_list
from propops.core.errors import InvalidInput
from propops.core.pagination import MAX_INT32, PageParams
from propops.core.params import PostcodeQuery
from propops.core.validation import MAX_SEARCH
from propops.geo.geocoder import geocode, make_geocoder
from propops.geo.isochrone import make_isochrone_provider
from propops.lookups import service as lookups

router = APIRouter(tags=["contractors"])

LIST_ERRORS = error_responses(400, 401, 403, 429)


@router.get(
    "/api/contractors/trades",
    response_model=Envelope[list[TradeRead]],
    dependencies=[require("api.contractors.trades.manage")],
    responses=error_responses(401, 403, 429),
    summary="List trade categories",
)
async def trades(ctx: Ctx) -> JSONResponse:
    """A hot lookup: on the committed-row reader, returned pre-serialised."""
    return JSONResponse(ok(await lookups.list_trades(ctx)))


async def _filters(
    ctx: Ctx,
    search: str | None,
    name: str | None,
    trade_id: int | None,
    postcode: str | None,
    max_distance_km: float | None,
    max_travel_minutes: int | None,
) -> listing.ListFilters:
    """Shapes and ranges are checked by the schema; what is left is postcode existence and the
    rule that a distance needs a postcode to measure from."""
    term = ((search if search not in (None, "") else name) or "").strip() or None
    point = await geocode(make_geocoder(ctx), postcode) if postcode not in (None, "") else None
    if max_distance_km is not None and point is None:
        raise InvalidInput.field("max_distance_km", "needs a postcode to measure from")
    return listing.ListFilters(
        search=term,
        trade_id=trade_id,
        point=point,
        max_distance_km=max_distance_km,
        max_travel_minutes=max_travel_minutes,
    )


Search = Annotated[
    str | None,
    Query(max_length=MAX_SEARCH, description="Name filter (first, last, full or company name)."),
]
Name = Annotated[str | None, Query(max_length=MAX_SEARCH, description="Alias of `search`.")]
TradeId = Annotated[int | None, Query(ge=1, le=MAX_INT32, description="Trade id from /api/contractors/trades.")]
MaxDistance = Annotated[
    float | None, Query(gt=0, le=1000, description="Straight line from the base in km (needs postcode).")
]
MaxTravel = Annotated[
    int | None,
    Query(ge=1, le=600, description="Contractors whose travel-time area is at most this many minutes."),
]


@router.get(
    "/api/contractors/list",
    response_model=None,
    responses={200: {"model": ListEnvelope[ContractorRead]}, **LIST_ERRORS},
    summary="List active contractors (name, trade, postcode coverage, distance and travel-time filters)",
)
async def list_contractors(
    principal: Annotated[Principal, require("api.contractors.list.manage")],
    ctx: Ctx,
    db: DbSession,
    page: PageParams,
    action: Annotated[Literal["list"], Query(description="Must be `list`.")],
    search: Search = None,
    name: Name = None,
    trade_id: TradeId = None,
    postcode: PostcodeQuery = None,
    max_distance_km: MaxDistance = None,
    max_travel_minutes: MaxTravel = None,
) -> RawJSONResponse:
    """The coverage search, a hot path: rows are plain values, sent without ``jsonable_encoder``."""
    f = await _filters(ctx, search, name, trade_id, postcode, max_distance_km, max_travel_minutes)
    rows, count = await listing.list_contractors(
        db, f, page, organisation_id=principal.organisation_id, executor=ctx.executor
    )
    return RawJSONResponse(ok_list(rows, count))


@router.get(
    "/api/contractors/list-with-coverage",
    response_model=None,
    responses={
        200: {
            "model": ListEnvelope[ContractorCoverageRead],
            "description": "Envelope; with `format=geojson` a GeoJSON FeatureCollection (application/geo+json)",
            "content": {"application/geo+json": {"schema": {"type": "object"}}},
        },
        **LIST_ERRORS,
    },
    summary="Contractors with their coverage areas, for the coverage map",
)
async def list_with_coverage(
    principal: Annotated[Principal, require("api.contractors.list-with-coverage.view")],
    ctx: Ctx,
    db: DbSession,
    page: PageParams,
    action: Annotated[Literal["list"] | None, Query(description="Optional; `list` if given.")] = None,
    search: Search = None,
    name: Name = None,
    trade_id: TradeId = None,
    postcode: PostcodeQuery = None,
    max_distance_km: MaxDistance = None,
    max_travel_minutes: MaxTravel = None,
    format: Annotated[Literal["json", "geojson"], Query(description="`json` (default) or `geojson`.")] = "json",
) -> Any:
    f = await _filters(ctx, search, name, trade_id, postcode, max_distance_km, max_travel_minutes)
    rows, count = await listing.list_contractors(
        db, f, page, organisation_id=principal.organisation_id, with_coverage=True, executor=ctx.executor
    )
    if format == "geojson":
        return JSONResponse(listing.feature_collection(rows, count), media_type="application/geo+json")
    return ok_list(rows, count)


def _input(body: ContractorManageRequest | ProfileUpdateRequest, *, trades: bool) -> service.ContractorInput:
    return service.ContractorInput(
        first_name=body.first_name,
        last_name=body.last_name,
        company_name=body.company_name,
        email=body.email,
        phone=body.phone,
        trade_ids=body.trade_ids if trades else None,
        base_postcode=body.base_postcode,
        coverage=_spec(body.coverage),
    )


def _spec(c: CoverageIn | None) -> cov.CoverageSpec | None:
    if c is None:
        return None
    return cov.CoverageSpec(c.source, c.radius_km, c.travel_minutes, c.profile, c.geometry)


@router.get(
    "/api/contractors/manage",
    response_model=Envelope[ContractorDetail],
    responses=error_responses(400, 401, 403, 404, 429),
    summary="Read one contractor (any status) with trades and coverage",
)
async def manage_get(
    db: DbSession,
    principal: Annotated[Principal, require("api.contractors.manage.manage")],
    action: Annotated[Literal["get"], Query(description="Must be `get`.")],
    uuid: Annotated[str, Query(min_length=1, max_length=64, description="Unknown or malformed: 404.")],
) -> dict[str, Any]:
    return ok(await service.detail(db, await service.get_by_uuid(db, principal, uuid)))


@router.post(
    "/api/contractors/manage",
    response_model=Envelope[ContractorDetail],
    responses=error_responses(400, 401, 403, 404, 409, 429, 503),
    summary="Create, update, deactivate or reactivate a contractor",
)
async def manage_post(
    ctx: Ctx,
    db: DbSession,
    body: ContractorManageRequest,
    principal: Annotated[Principal, require("api.contractors.manage.manage")],
) -> dict[str, Any]:
    geocoder, provider = make_geocoder(ctx), make_isochrone_provider(ctx)
    if body.action == "create":
        if body.create_login and not body.password:
            raise InvalidInput.field("password", "is required when create_login is true")
        c = await service.create_contractor(
            db,
            _input(body, trades=True),
            geocoder=geocoder,
            provider=provider,
            organisation_id=principal.organisation_id,
            actor_id=principal.user_id,
            login_password=body.password if body.create_login else None,
        )
        return ok(await service.detail(db, c), "Contractor created")
    if not body.uuid:
        raise InvalidInput.field("uuid", "is required")
    c = await service.get_by_uuid(db, principal, body.uuid)
    if body.action == "update":
        await service.update_contractor(
            db, c, _input(body, trades=True), geocoder=geocoder, provider=provider, actor_id=principal.user_id
        )
        return ok(await service.detail(db, c), "Contractor updated")
    await service.set_active(db, c, body.action == "activate", actor_id=principal.user_id)
    return ok(await service.detail(db, c), f"Contractor {body.action}d")


@router.get(
    "/api/contractors/profile",
    response_model=Envelope[ContractorDetail],
    responses=error_responses(401, 403, 404, 429),
    summary="The signed-in contractor's own profile",
)
async def profile_get(
    db: DbSession, principal: Annotated[Principal, require("api.contractors.profile.manage")]
) -> dict[str, Any]:
    return ok(await service.detail(db, await service.get_own(db, principal)))


@router.post(
    "/api/contractors/profile",
    response_model=Envelope[ContractorDetail],
    responses=error_responses(400, 401, 403, 404, 409, 429, 503),
    summary="Update one's own contact details and coverage (not trades or active status)",
)
async def profile_post(
    ctx: Ctx,
    db: DbSession,
    body: ProfileUpdateRequest,
    principal: Annotated[Principal, require("api.contractors.profile.manage")],
) -> dict[str, Any]:
    service.forbid_self_managed(body.trade_ids, body.is_active)
    c = await service.get_own(db, principal)
    await service.update_contractor(
        db,
        c,
        _input(body, trades=False),
        geocoder=make_geocoder(ctx),
        provider=make_isochrone_provider(ctx),
        actor_id=principal.user_id,
    )
    return ok(await service.detail(db, c), "Profile updated")
