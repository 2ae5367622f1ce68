"""``limit``/``offset`` as the reference defines them: default 50, 1..200, offset >= 0.

The bounds live in the OpenAPI document (integer, minimum, maximum), so a bad value is refused by
validation, which answers 400 naming the parameter (see ``install_error_handlers``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

from propops.core.errors import InvalidInput

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
MAX_INT32 = 2_147_483_647


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


async def page_params(  # async: FastAPI runs a plain-def dependency in a thread pool (two hops)
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Maximum records to return (1-200).", examples=[50])
    ] = DEFAULT_LIMIT,
    offset: Annotated[
        int, Query(ge=0, le=MAX_INT32, description="Number of records to skip (>= 0).", examples=[0])
    ] = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


PageParams = Annotated[Page, Depends(page_params)]


def require_action(action: str | None, allowed: set[str]) -> str:
    if not action:
        raise InvalidInput.field("action", f"is required (one of: {', '.join(sorted(allowed))})")
    if action not in allowed:
        raise InvalidInput.field("action", f"must be one of: {', '.join(sorted(allowed))}")
    return action
