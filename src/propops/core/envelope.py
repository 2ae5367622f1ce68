"""The PropOps response envelope: ``{success, data, count, message}`` and its failure twin."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import pydantic_core
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

T = TypeVar("T")

OK_MESSAGE = "Operation completed successfully"


class Envelope(BaseModel, Generic[T]):
    success: bool = True
    data: T
    message: str = OK_MESSAGE


class ListEnvelope(BaseModel, Generic[T]):
    success: bool = True
    data: list[T]
    count: int = Field(description="Total number of matching records before paging.")
    message: str = OK_MESSAGE


class MessageEnvelope(BaseModel):
    success: bool = True
    message: str = OK_MESSAGE


class FieldError(BaseModel):
    field: str
    message: str


class ErrorEnvelope(BaseModel):
    success: bool = False
    error: str
    message: str
    errors: list[FieldError] = []
    request_id: str | None = None


class RawJSONResponse(JSONResponse):
    """For a route that returns an envelope it built from plain values (ints, strings, floats,
    None, lists, dicts) without validating it again: rendered by pydantic-core, several times
    faster than ``json.dumps`` on a page of jobs."""

    def render(self, content: Any) -> bytes:
        return pydantic_core.to_json(content)


def ok(data: Any, message: str = OK_MESSAGE) -> dict[str, Any]:
    return {"success": True, "data": data, "message": message}


def ok_list(data: list[Any], count: int, message: str = OK_MESSAGE) -> dict[str, Any]:
    return {"success": True, "data": data, "count": count, "message": message}


def failure(message: str, errors: list[dict[str, Any]] | None = None, request_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"success": False, "error": message, "message": message, "errors": errors or []}
    if request_id:
        body["request_id"] = request_id
    return body


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries so every documented error carries the failure envelope."""
    descriptions = {
        400: "Invalid input",
        401: "Missing, invalid, expired or revoked token",
        403: "Missing permission or CSRF token",
        404: "Not found (also for records the caller may not see)",
        409: "Conflict with the current state",
        413: "Payload too large",
        415: "Unsupported media type",
        429: "Rate limited",
        503: "Temporarily unavailable",
    }
    return {c: {"model": ErrorEnvelope, "description": descriptions.get(c, "Error")} for c in codes}
