"""HTTP for certifications: the seed's download, the reference's upload/delete, listing, compliance
and the certification-type catalogue.

Uploads go through ``CappedBodyRoute``: the request body is counted as it arrives and the request is
refused with 413 as soon as it passes the cap (or at once when Content-Length already says so), so
an oversized upload is never read in full, whoever parses the form first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import UploadFile
from starlette.types import Message

from propops.auth.deps import require
from propops.auth.service import Principal
from propops.certifications import catalogue, files, service
from propops.certifications.filetypes import CONTENT_TYPES
from propops.certifications.schemas import (
    CertificationDeleted,
    CertificationRead,
    CertificationTypeRead,
    CertificationTypeWrite,
    ComplianceRead,
)
from propops.certifications.storage import storage_for
from propops.core.context import app_ctx
from propops.core.deps import Ctx, DbSession
from propops.core.envelope import Envelope, ListEnvelope, MessageEnvelope, error_responses, ok, ok_list
from propops.core.errors import Forbidden, InvalidInput, NotFound, PayloadTooLarge
from propops.core.pagination import MAX_INT32, PageParams, require_action
from propops.core.params import UUID_PATTERN, UuidQuery
from propops.core.validation import check_form_fields

CERT_KEY = "api.contractors.certification.manage"
TYPES_KEY = "api.contractors.certification_types.manage"
EXAMPLE_FILE = "cert_20_5_1704873600.pdf"
FORM_OVERHEAD = 64 * 1024  # room for the other form fields and multipart boundaries


class CappedBodyRoute(APIRoute):
    """Refuse request bodies larger than ``max_upload_bytes`` plus form overhead, without reading them."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def capped(request: Request) -> Response:
            if request.method not in ("POST", "PUT", "PATCH"):
                return await handler(request)
            cap = app_ctx(request).settings.max_upload_bytes + FORM_OVERHEAD
            too_large = PayloadTooLarge(f"The upload is larger than the {cap - FORM_OVERHEAD} byte limit.")
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap:
                raise too_large
            received = 0
            receive = request.receive

            async def counted() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > cap:
                        raise too_large
                return message

            try:
                return await handler(Request(request.scope, counted))
            except Exception as exc:
                if exc is too_large or exc.__cause__ is too_large or exc.__context__ is too_large:
                    raise too_large from None
                raise

        return capped


router = APIRouter(tags=["certifications"], route_class=CappedBodyRoute)

UPLOAD_FORM: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["action"],
                    "properties": {
                        "action": {"type": "string", "enum": ["upload", "delete"]},
                        "contractor_uuid": {
                            "type": "string",
                            "pattern": f"^$|{UUID_PATTERN}",
                            "description": "Required for staff; a contractor may omit it for themselves.",
                        },
                        "csrf_token": {"type": "string", "description": "CSRF token (or X-CSRF-Token)."},
                        "cert_type": {
                            "type": "string",
                            "description": "Type by name, code or alias, e.g. 'Gas Safe Certificate'.",
                        },
                        "certification_type_id": {
                            "type": "integer",
                            "minimum": 1,
                            "description": "Type by ID (wins).",
                        },
                        "certificate_number": {"type": "string", "maxLength": 100},
                        "issue_date": {
                            "type": "string",
                            "anyOf": [{"format": "date"}, {"maxLength": 0}],
                            "description": "Optional; empty means not given.",
                        },
                        "expiry_date": {"type": "string", "format": "date", "description": "Required for upload."},
                        "file": {"type": "string", "format": "binary", "description": "PDF, JPEG, PNG, DOC or DOCX."},
                        "certification_uuid": {
                            "type": "string",
                            "pattern": f"^$|{UUID_PATTERN}",
                            "description": "delete: which certificate.",
                        },
                        "certification_id": {
                            "type": "integer",
                            "minimum": 1,
                            "description": "delete: which certificate (ID).",
                        },
                        "file_name": {"type": "string", "description": "delete: which certificate (stored name)."},
                    },
                }
            }
        },
    }
}


class UploadFormFields(BaseModel):
    """The form's text fields, checked against the documented schema (UPLOAD_FORM) before dispatch,
    so the handler refuses exactly what the document refuses, whichever action is chosen."""

    action: Literal["upload", "delete"]
    contractor_uuid: str | None = Field(default=None, pattern=f"^$|{UUID_PATTERN}")
    certification_uuid: str | None = Field(default=None, pattern=f"^$|{UUID_PATTERN}")
    certification_type_id: int | None = Field(default=None, ge=1)
    certification_id: int | None = Field(default=None, ge=1)
    certificate_number: str | None = Field(default=None, max_length=100)


def _check_form(form: Any) -> None:
    check_form_fields(form)  # the rule JSON bodies follow: no control characters in any text field
    fields = {k: v for k, v in form.items() if isinstance(v, str) and k in UploadFormFields.model_fields}
    try:
        UploadFormFields.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None


def _text(form: Any, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


@router.get(
    "/api/contractors/certification",
    response_class=Response,
    responses={
        200: {
            "description": "The file as an attachment",
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in CONTENT_TYPES.values()},
        },
        **error_responses(400, 401, 403, 404, 429),
    },
    summary="Download a certification file",
)
async def download(
    principal: Annotated[Principal, require(CERT_KEY)],
    session: DbSession,
    ctx: Ctx,
    file: Annotated[
        str,
        Query(
            pattern=f"^{files.FILE_RE.pattern}$",
            max_length=files.MAX_FILE_PARAM,
            description="cert_{id}_{id}_{id}.{ext}",
            examples=[EXAMPLE_FILE],
        ),
    ],
) -> Response:
    cert = await files.find_download(session, principal, file)
    storage = storage_for(ctx, principal.organisation_id)
    chunks = storage.open(cert.file_name)
    try:
        first = await anext(chunks)
    except (FileNotFoundError, StopAsyncIteration):
        await chunks.aclose()
        if cert.size_bytes == 0:
            first = b""
        else:
            raise NotFound(files.NOT_FOUND) from None

    async def body() -> AsyncIterator[bytes]:
        try:
            yield first
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()

    return StreamingResponse(
        body(),
        media_type=cert.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{cert.file_name}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Length": str(cert.size_bytes),
        },
    )


@router.post(
    "/api/contractors/certification",
    response_model=Envelope[CertificationRead] | Envelope[CertificationDeleted],
    openapi_extra=UPLOAD_FORM,
    responses=error_responses(400, 401, 403, 404, 413, 415, 429),
    summary="Upload (or replace) or delete a contractor certification",
)
async def upload_or_delete(
    principal: Annotated[Principal, require(CERT_KEY)], request: Request, session: DbSession, ctx: Ctx
) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        raise InvalidInput("Send the certification as multipart/form-data.")
    form = await request.form(max_files=1, max_fields=30)
    action = require_action(_text(form, "action"), {"upload", "delete"})
    _check_form(form)
    storage = storage_for(ctx, principal.organisation_id)
    if action == "delete":
        deleted = await files.delete_certification(
            session,
            storage,
            principal,
            contractor_uuid=_text(form, "contractor_uuid"),
            certification_uuid=_text(form, "certification_uuid"),
            certification_id=_text(form, "certification_id"),
            file_name=_text(form, "file_name") or _text(form, "file"),
        )
        return ok(deleted, "Certification deleted")
    upload = form.get("file")
    created = await files.upload_certification(
        session,
        storage,
        ctx.settings,
        principal,
        contractor_uuid=_text(form, "contractor_uuid"),
        type_id=_text(form, "certification_type_id"),
        type_name=_text(form, "cert_type"),
        certificate_number=_text(form, "certificate_number"),
        issue_date=_text(form, "issue_date"),
        expiry_date=_text(form, "expiry_date"),
        upload=upload if isinstance(upload, UploadFile) else None,
    )
    return ok(created, "Certification uploaded")


@router.get(
    "/api/contractors/certifications",
    response_model=ListEnvelope[CertificationRead],
    responses=error_responses(400, 401, 403, 404, 429),
    summary="List certifications with expiry status",
)
async def list_certifications(
    principal: Annotated[Principal, require(CERT_KEY)],
    session: DbSession,
    ctx: Ctx,
    page: PageParams,
    action: Annotated[Literal["list"], Query(description="Must be `list`.")],
    contractor_uuid: Annotated[UuidQuery, Query(description="One contractor (staff: any; contractor: self)")] = None,
    status: Annotated[Literal["valid", "expiring", "expired"] | None, Query()] = None,
    certification_type_id: Annotated[int | None, Query(ge=1, le=MAX_INT32)] = None,
    include_history: Annotated[bool, Query(description="Also list replaced certificates")] = False,
) -> dict[str, Any]:
    rows, count = await service.list_certifications(
        session,
        principal,
        ctx.settings,
        contractor_uuid=contractor_uuid,
        status=status,
        type_id=certification_type_id,
        include_history=include_history,
        page=page,
    )
    return ok_list(rows, count)


@router.get(
    "/api/contractors/certifications/compliance",
    response_model=Envelope[ComplianceRead],
    responses=error_responses(400, 401, 403, 404, 429),
    summary="Which of a contractor's trade requirements are met",
)
async def compliance(
    principal: Annotated[Principal, require(CERT_KEY)],
    session: DbSession,
    ctx: Ctx,
    contractor_uuid: Annotated[UuidQuery, Query(description="Staff: required; contractor: self if omitted")] = None,
) -> dict[str, Any]:
    return ok(await service.compliance_summary(session, principal, ctx.settings, contractor_uuid))


@router.get(
    "/api/contractors/certification-types",
    response_model=Envelope[list[CertificationTypeRead]],
    dependencies=[require(CERT_KEY)],
    responses=error_responses(400, 401, 403, 429),
    summary="Certification types and the trades that require them",
)
async def list_types(
    session: DbSession, include_inactive: Annotated[bool, Query(description="Also retired types")] = False
) -> dict[str, Any]:
    return ok(await catalogue.list_types(session, include_inactive=include_inactive))


@router.post(
    "/api/contractors/certification-types",
    response_model=Envelope[CertificationTypeRead] | MessageEnvelope,
    responses=error_responses(400, 401, 403, 404, 409, 429),
    summary="Create, update or delete a certification type",
)
async def write_type(
    body: CertificationTypeWrite, principal: Annotated[Principal, require(TYPES_KEY)], session: DbSession
) -> dict[str, Any]:
    if not principal.is_platform:
        # The catalogue is shared by every organisation: only the platform's staff change it.
        raise Forbidden("Certification types are shared by every organisation; only platform staff change them.")
    data = body.model_dump(exclude_unset=True, exclude={"csrf_token", "action", "id"})
    if body.action == "create":
        return ok(await catalogue.create_type(session, principal.user_id, data), "Certification type created")
    if body.id is None:
        raise InvalidInput.field("id", "is required")
    if body.action == "update":
        return ok(await catalogue.update_type(session, principal.user_id, body.id, data), "Certification type updated")
    await catalogue.delete_type(session, principal.user_id, body.id)
    return {"success": True, "message": "Certification type deleted"}
