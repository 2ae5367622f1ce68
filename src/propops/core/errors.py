"""The domain error hierarchy: each carries its HTTP status and a clear sentence.

Services raise these; one handler renders them into the PropOps failure envelope, so the status
code and wording of an outcome are decided in one place.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status_code = 400
    default_message = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.errors = errors or []
        self.headers = headers or {}
        super().__init__(self.message)


class InvalidInput(AppError):
    status_code = 400
    default_message = "Invalid or missing required parameter."

    @classmethod
    def field(cls, field: str, message: str) -> InvalidInput:
        return cls(f"{field}: {message}", errors=[{"field": field, "message": message}])


class Unauthorized(AppError):
    status_code = 401
    default_message = "Authentication required. Please log in."

    def __init__(self, message: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kw)


class Forbidden(AppError):
    status_code = 403
    default_message = "You do not have permission to perform this action"


class NotFound(AppError):
    status_code = 404
    default_message = "The requested record was not found."


class Conflict(AppError):
    status_code = 409
    default_message = "The request conflicts with the current state of the record."


class PayloadTooLarge(AppError):
    status_code = 413
    default_message = "The uploaded content is too large."


class UnsupportedMediaType(AppError):
    status_code = 415
    default_message = "The uploaded file type is not supported."


class TooManyRequests(AppError):
    status_code = 429
    default_message = "Too many requests. Please retry later."


class ServiceUnavailable(AppError):
    status_code = 503
    default_message = "The service is temporarily unavailable. Please retry shortly."
