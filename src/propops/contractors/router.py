"""HTTP for contractors: trades, lists (with coverage), admin and own profile."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from propops.auth.deps import require
from propops.auth.service import Principal
from propops.contractors import coverage as cov
from propops.contractors import service
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
from propops.core.envelope import Envelope, ListEnvelope, error_responses, ok, ok_list
from propops.core.errors import InvalidInput
from propops.core.pagination import PageParams, require_action
from propops.geo.geocoder import geocode, make_geocoder
from propops.geo.isochrone import make_isochrone_provider

router = APIRouter(tags=["contractors"])

LIST_ERRORS = error_responses(400, 401, 403, 429)
Q = Annotated[str | None, Query()]


@router.get(
    "/api/contractors/trades",
    response_model=Envelope[list[TradeRead]],
    dependencies=[require("api.contractors.trades.manage")],
    responses=error_responses(401, 403, 429),
    summary="List trade categories",
)
async def trades(ctx: Ctx) -> JSONResponse:
    """A hot lookup: read on the raw driver and returned pre-serialised (see core.fastpath)."""
    rows = await ctx.read_all("SELECT id, name FROM trades ORDER BY id")
    return JSONResponse(ok([{"trade_id": r[0], "name": r[1]} for r in rows]))


def _int(name: str, raw: str | None, lo: int, hi: int) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput.field(name, "must be a whole number") from None
    if not lo <= value <= hi:
        raise InvalidInput.field(name, f"must be between {lo} and {hi}")
    return value


def _float(name: str, raw: str | None, lo: float, hi: float) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput.field(name, "must be a number") from None
    if not lo < value <= hi:  # also rejects nan
        raise InvalidInput.field(name, f"must be more than {lo:g} and at most {hi:g}")
    return value


async def _filters(
    ctx: Ctx,
    search: str | None,
    name: str | None,
    trade_id: str | None,
    postcode: str | None,
    max_distance_km: str | None,
    max_travel_minutes: str | None,
) -> service.ListFilters:
    """Hand-parsed so that every bad value gets a sentence naming the parameter."""
    term = (search if search not in (None, "") else name) or None
    if term is not None:
        term = term.strip()
        if len(term) > service.MAX_SEARCH:
            raise InvalidInput.field("search", f"must be at most {service.MAX_SEARCH} characters")
    point = await geocode(make_geocoder(ctx), postcode) if postcode not in (None, "") else None
    distance = _float("max_distance_km", max_distance_km, 0, 1000)
    if distance is not None and point is None:
        raise InvalidInput.field("max_distance_km", "needs a postcode to measure from")
    return service.ListFilters(
        search=term or None,
        trade_id=_int("trade_id", trade_id, 1, 2**31 - 1),
        point=point,
        max_distance_km=distance,
        max_travel_minutes=_int("max_travel_minutes", max_travel_minutes, 1, 600),
    )


@router.get(
    "/api/contractors/list",
    response_model=None,
    responses={200: {"model": ListEnvelope[ContractorRead]}, **LIST_ERRORS},
    dependencies=[require("api.contractors.list.manage")],
    summary="List active contractors (name, trade, postcode coverage, distance and travel-time filters)",
)
async def list_contractors(
    ctx: Ctx,
    db: DbSession,
    page: PageParams,
    action: Annotated[str | None, Query(description="Must be `list`.")] = None,
    search: Annotated[str | None, Query(description="Name filter (first, last, full or company name).")] = None,
    name: Annotated[str | None, Query(description="Alias of `search`.")] = None,
    trade_id: Annotated[str | None, Query(description="Trade id from /api/contractors/trades.")] = None,
    postcode: Annotated[
        str | None, Query(description="Unit, sector or district; keeps contractors whose area covers it.")
    ] = None,
    max_distance_km: Annotated[str | None, Query(description="Straight line from the base (needs postcode).")] = None,
    max_travel_minutes: Annotated[
        str | None, Query(description="Contractors whose travel-time area is at most this many minutes.")
    ] = None,
) -> dict[str, Any]:
    require_action(action, {"list"})
    f = await _filters(ctx, search, name, trade_id, postcode, max_distance_km, max_travel_minutes)
    rows, count = await service.list_contractors(db, f, page, read_all=ctx.read_all)
    return ok_list(rows, count)


@router.get(
    "/api/contractors/list-with-coverage",
    response_model=None,
    responses={
        200: {
            "model": ListEnvelope[ContractorCoverageRead],
            "description": "Envelope; with `format=geojson` a GeoJSON FeatureCollection (application/geo+json)",
        },
        **LIST_ERRORS,
    },
    dependencies=[require("api.contractors.list-with-coverage.view")],
    summary="Contractors with their coverage areas, for the coverage map",
)
async def list_with_coverage(
    ctx: Ctx,
    db: DbSession,
    page: PageParams,
    action: Annotated[str | None, Query(description="Optional; `list` if given.")] = None,
    search: Q = None,
    name: Q = None,
    trade_id: Q = None,
    postcode: Q = None,
    max_distance_km: Q = None,
    max_travel_minutes: Q = None,
    format: Annotated[str | None, Query(description="`json` (default) or `geojson`.")] = None,
) -> Any:
    if action not in (None, ""):
        require_action(action, {"list"})
    if format not in (None, "", "json", "geojson"):
        raise InvalidInput.field("format", "must be json or geojson")
    f = await _filters(ctx, search, name, trade_id, postcode, max_distance_km, max_travel_minutes)
    rows, count = await service.list_contractors(db, f, page, with_coverage=True, read_all=ctx.read_all)
    if format == "geojson":
        return JSONResponse(service.feature_collection(rows, count), media_type="application/geo+json")
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
    dependencies=[require("api.contractors.manage.manage")],
    summary="Read one contractor (any status) with trades and coverage",
)
async def manage_get(
    db: DbSession,
    action: Annotated[str | None, Query(description="Must be `get`.")] = None,
    uuid: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    require_action(action, {"get"})
    if not uuid:
        raise InvalidInput.field("uuid", "is required")
    return ok(await service.detail(db, await service.get_by_uuid(db, uuid)))


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
            actor_id=principal.user_id,
            login_password=body.password if body.create_login else None,
        )
        return ok(await service.detail(db, c), "Contractor created")
    if not body.uuid:
        raise InvalidInput.field("uuid", "is required")
    c = await service.get_by_uuid(db, body.uuid)
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
    return ok(await service.detail(db, await service.get_for_user(db, principal.user_id)))


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
    c = await service.get_for_user(db, principal.user_id)
    await service.update_contractor(
        db,
        c,
        _input(body, trades=False),
        geocoder=make_geocoder(ctx),
        provider=make_isochrone_provider(ctx),
        actor_id=principal.user_id,
    )
    return ok(await service.detail(db, c), "Profile updated")
