"""The domain error hierarchy: each carries its HTTP status and a clear sentence.

Services raise these; one handler renders them into the PropOps failure envelope, so the status
code and wording of an outcome are decided in one place.
"""

from __future__ import annotations

import errno
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


# SQLSTATE classes that mean "the server is not there right now", not "your query is wrong":
# 08 connection exception, 53300 too many connections, 57P01-57P03 shutdown / starting up.
_UNAVAILABLE_SQLSTATES = ("08", "53300", "57P01", "57P02", "57P03")
_CONNECT_ERRNOS = {errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT,
                   errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EADDRNOTAVAIL}  # fmt: skip


def database_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) means the database (or the Redis rate-limit store)
    cannot be reached or is restarting:
    a lost or refused connection, a server shutting down or starting up, an exhausted pool. Such a
    failure is a 503 (retry shortly), never a 500. Query errors (bad SQL, constraint violations)
    are not matched."""
    from sqlalchemy import exc as sa_exc

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 10:
        seen.add(id(current))
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)):
            return True  # PEP 249: disconnects, server gone; TimeoutError: no pooled connection free
        if isinstance(current, (ConnectionError, TimeoutError)):
            return True
        if isinstance(current, OSError) and (
            current.errno in _CONNECT_ERRNOS
            or (current.errno is None and "connect call failed" in str(current).lower())
        ):
            return True  # asyncpg's "Multiple exceptions: ... Connect call failed" has no errno
        sqlstate = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        module = type(current).__module__
        if module.startswith("asyncpg") and type(current).__name__ in {
            "ConnectionDoesNotExistError",
            "InterfaceError",
            "InternalClientError",
            "ConnectionFailureError",
        }:
            return True
        current = current.__cause__ or current.__context__
    return False
