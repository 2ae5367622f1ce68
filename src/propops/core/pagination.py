"""``limit``/``offset`` as the reference defines them: default 50, 1..200, offset >= 0."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

from propops.core.errors import InvalidInput

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def _parse_int(name: str, raw: str | None, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput.field(name, "must be a whole number") from None


def page_params(
    limit: Annotated[str | None, Query(description="Maximum records to return (1-200).", examples=["50"])] = None,
    offset: Annotated[str | None, Query(description="Number of records to skip (>= 0).", examples=["0"])] = None,
) -> Page:
    """Parsed by hand so that every bad value gets the same clear 400 sentence."""
    lim = _parse_int("limit", limit, DEFAULT_LIMIT)
    off = _parse_int("offset", offset, 0)
    if not 1 <= lim <= MAX_LIMIT:
        raise InvalidInput.field("limit", f"must be between 1 and {MAX_LIMIT}")
    if off < 0:
        raise InvalidInput.field("offset", "must be 0 or more")
    return Page(limit=lim, offset=off)


PageParams = Annotated[Page, Depends(page_params)]


def require_action(action: str | None, allowed: set[str]) -> str:
    if not action:
        raise InvalidInput.field("action", f"is required (one of: {', '.join(sorted(allowed))})")
    if action not in allowed:
        raise InvalidInput.field("action", f"must be one of: {', '.join(sorted(allowed))}")
    return action
