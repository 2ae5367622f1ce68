"""The app factory: routers, middleware, exception handlers, lifespan."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from propops import __version__
from propops.auth.deps import public
from propops.core.context import AppContext, TokenCache
from propops.core.db import Database
from propops.core.envelope import failure
from propops.core.errors import AppError
from propops.core.middleware import PropOpsMiddleware
from propops.core.ratelimit import MemoryRateLimitStore, RateLimitStore
from propops.core.settings import Settings, get_settings
from propops.infra.executor import PostgresReader, make_reader

log = logging.getLogger("propops")

DESCRIPTION = """Property-maintenance operations API. Every endpoint except login, mobile token
validation, health and these docs needs `Authorization: Bearer <token>`; every POST/PUT/PATCH/DELETE
also needs the session's CSRF token (`csrf_token` field or `X-CSRF-Token` header) from
`GET /api/security/csrf-token`."""


def _routers() -> list[Any]:
    """Domain routers, imported here so that importing ``main`` wires the whole API."""
    from propops.agents.router import router as agents_router
    from propops.auth.router import router as auth_router
    from propops.branches.router import router as branches_router
    from propops.certifications.router import router as certifications_router
    from propops.contractors.router import router as contractors_router
    from propops.jobs.router import router as jobs_router
    from propops.kpis.router import router as kpis_router
    from propops.notifications.router import router as notifications_router
    from propops.properties.router import router as properties_router
    from propops.tenancy.router import router as tenancy_router

    # Busiest first: FastAPI matches a request against the routes in order (its included routers
    # are walked one route at a time, ~3 µs a route), and the jobs routes last cost ~130 µs per
    # request against ~10 µs first. No two routers share a path, so the order changes nothing else.
    return [
        jobs_router,
        contractors_router,
        agents_router,
        kpis_router,
        auth_router,
        properties_router,
        branches_router,
        certifications_router,
        notifications_router,
        tenancy_router,
    ]


def install_domain_hooks(ctx: AppContext) -> None:
    """Wire what lower domains need from higher ones without importing them: the branch admin's
    agent and open-job counts (``branches.usage``)."""
    from propops.agents.service import active_agent_counts, sole_branch_agent_counts
    from propops.branches.usage import BranchUsage, install
    from propops.jobs.usage import open_job_counts

    install(
        ctx,
        BranchUsage(active_agents=active_agent_counts, sole_agents=sole_branch_agent_counts, open_jobs=open_job_counts),
    )


def iter_api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI >= 0.16x keeps those nested)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from iter_api_routes(route.original_router.routes)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form", "cookie")]
    return ".".join(parts) or "body"


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(
            failure(exc.message, exc.errors, _request_id(request)), exc.status_code, headers=exc.headers or None
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            field = _field_name(tuple(err.get("loc", ())))
            message = "is malformed JSON" if err.get("type") == "json_invalid" else str(err.get("msg", "invalid"))
            errors.append({"field": field, "message": message})
        fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
        return JSONResponse(
            failure(f"Invalid or missing required parameter: {fields}", errors, _request_id(request)), 400
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        messages = {404: "No endpoint matches this path.", 405: "This method is not allowed on this path."}
        message = messages.get(exc.status_code) or str(exc.detail)
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return JSONResponse(failure(message, None, _request_id(request)), exc.status_code, headers=headers or None)


def _allowed_methods(request: Request) -> list[str]:
    """Starlette names only the first matching route's methods; a path served by several routes
    (GET and POST handlers) must list them all."""
    path = request.url.path
    methods: set[str] = set()
    for route in iter_api_routes(request.app.routes):
        if route.path_regex.match(path):
            methods |= route.methods or set()
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def make_rate_limit_store(settings: Settings) -> RateLimitStore:
    """``PROPOPS_RATE_LIMIT_BACKEND``: ``redis`` shares the counters between processes."""
    if settings.rate_limit_backend == "redis":
        from propops.infra.ratelimit_redis import RedisRateLimitStore

        return RedisRateLimitStore(settings.redis_url)
    return MemoryRateLimitStore()


def make_token_cache(settings: Settings, reader: object) -> TokenCache | None:
    """``PROPOPS_TOKEN_CACHE``: ``notify`` needs PostgreSQL's LISTEN/NOTIFY (no cache on SQLite)."""
    wanted = settings.token_cache == "notify" and settings.auth_cache_seconds > 0  # noqa: S105 - a mode
    if wanted and isinstance(reader, PostgresReader):
        from propops.infra.token_cache import NotifyTokenCache

        return NotifyTokenCache(reader.dsn, settings.auth_cache_seconds)
    return None


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    ctx = AppContext(
        settings=settings,
        db=Database(settings.database_url),
        rate_limits=make_rate_limit_store(settings),
        reader=make_reader(settings.database_url),
    )
    ctx.token_cache = make_token_cache(settings, ctx.reader)
    install_domain_hooks(ctx)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from propops.worker import BackgroundSchedule

        schedule = BackgroundSchedule(ctx.db, settings) if settings.run_background_tasks else None
        # Everything built so far (modules, the app, its routes, models, pydantic validators: ~144,000
        # objects) lives as long as the process; freeze it out of the cyclic GC. Unfrozen, each full
        # collection walked it all: under the load report a worker stalled 8 times in 30 s, up to
        # 194 ms each (the whole queue waited), against 20 ms at most once frozen.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if schedule is not None:
                await schedule.stop()
            await ctx.aclose()

    app = FastAPI(title="PropOps API", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.ctx = ctx
    install_error_handlers(app)

    @app.get(
        "/api/ping",
        dependencies=[public()],
        tags=["system"],
        summary="Constant reply: the framework floor for benchmarks",
    )
    async def ping() -> dict[str, Any]:
        return {"success": True, "data": {"pong": True}, "message": "Operation completed successfully"}

    for router in _routers():
        app.include_router(router)

    app.add_middleware(PropOpsMiddleware, ctx=ctx)
    if settings.trusted_proxies:
        # Outermost, so the request id, rate limits and login throttle all see the forwarded client.
        # Only these peers' X-Forwarded-For/-Proto count (the servers' own handling is off, see
        # ``propops.infra.server``); uvicorn's middleware takes the rightmost address not a proxy.
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    install_openapi(app)
    return app


def install_openapi(app: FastAPI) -> None:
    """Validation failures are 400 here (the reference's status table), never FastAPI's 422: the
    document says so, so that clients and schema fuzzers see the statuses the API really sends."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.get("responses", {})
                if "422" in responses:
                    responses.pop("422")
                    responses.setdefault(
                        "400",
                        {
                            "description": "Invalid input",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
                        },
                    )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        if "ErrorEnvelope" not in components:
            from propops.core.envelope import ErrorEnvelope

            components["ErrorEnvelope"] = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def asgi() -> FastAPI:
    """Entry for ``uvicorn --factory propops.main:asgi`` (settings from the environment)."""
    return create_app()
