"""Per-app runtime state (settings, database, rate-limit store, caches), kept on ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.requests import Request

from propops.core.db import Database
from propops.core.ratelimit import RateLimitStore
from propops.core.settings import Settings
from propops.infra.executor import CommittedReader, Executor


class TokenCache(Protocol):
    """Token hash -> its authentication row, per process, emptied whenever accounts, tokens or
    permissions change. An interface so that core imports no domain and no implementation: the
    implementation (``propops.infra.token_cache``) is chosen by ``propops.main.create_app``."""

    def generation(self) -> int:
        """Read before a lookup and passed to ``put``: a change in between keeps the row out."""
        ...

    def get(self, key: str) -> tuple[Any, ...] | None: ...

    def put(self, key: str, gen: int, row: tuple[Any, ...]) -> None: ...

    async def close(self) -> None: ...


@dataclass
class AppContext:
    settings: Settings
    db: Database
    rate_limits: RateLimitStore
    # user_id -> (permissions epoch, resolved keys); invalidated by the epoch read on each request.
    permission_cache: dict[int, tuple[int, frozenset[str]]] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    # The raw-driver connection(s) for committed-row reads (``propops.infra.executor.make_reader``).
    reader: CommittedReader | None = None
    token_cache: TokenCache | None = None
    # Every Core statement runs here: on ``reader`` or inside a request's session.
    executor: Executor = field(init=False)

    def __post_init__(self) -> None:
        self.executor = Executor(self.db.engine, self.reader)

    async def aclose(self) -> None:
        """Release what the app holds: listener, rate-limit store, raw pool, engine."""
        if self.token_cache is not None:
            await self.token_cache.close()
        await self.rate_limits.close()
        if self.reader is not None:
            await self.reader.close()
        await self.db.dispose()


def app_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


async def get_ctx(request: Request) -> AppContext:
    """Async on purpose: FastAPI runs plain-def dependencies in a thread pool, a costly hop."""
    return app_ctx(request)
