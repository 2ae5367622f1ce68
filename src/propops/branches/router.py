"""HTTP for branch administration: /api/admin/branches (GET/POST/PUT/DELETE), enable and disable.

Every admin endpoint needs a Staff account as well as its permission key (reference §2.7).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from propops.auth.deps import require
from propops.auth.models import ACCOUNT_STAFF
from propops.auth.service import Principal
from propops.branches import csv_import, service
from propops.branches.schemas import BranchCreate, BranchRead, BranchRef, BranchUpdate, ImportResult
from propops.branches.usage import BranchUsage, Usage
from propops.core.deps import DbSession
from propops.core.envelope import Envelope, ListEnvelope, error_responses, ok, ok_list
from propops.core.errors import Forbidden, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from propops.core.pagination import PageParams, require_action
from propops.core.params import SearchQuery, UuidQuery
from propops.core.validation import clean_search

router = APIRouter(tags=["admin: branches"])

KEY = "api.admin.branches.manage"
Admin = Annotated[Principal, require(KEY)]
IdQuery = Annotated[int | None, Query(ge=1, le=2_147_483_647, description="Branch id.")]


def _staff(principal: Principal) -> Principal:
    if principal.account_type_id != ACCOUNT_STAFF:
        raise Forbidden()
    return principal


@router.get(
    "/api/admin/branches",
    response_model=ListEnvelope[BranchRead] | Envelope[BranchRead],
    responses={
        **error_responses(400, 401, 403, 404, 429),
        200: {
            "description": "action=list (default): branches with paging; action=get: one branch; "
            "action=download_template: the CSV import header row (text/csv).",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
    },
    summary="List branches, get one, or download the CSV import template",
)
async def get_branches(
    principal: Admin,
    session: DbSession,
    usage: Usage,
    page: PageParams,
    action: Annotated[
        Literal["list", "get", "download_template"], Query(description="list (default) | get | download_template")
    ] = "list",
    id: IdQuery = None,
    uuid: UuidQuery = None,
    search: Annotated[SearchQuery, Query(description="Name or code contains (case-insensitive).")] = None,
    is_active: Annotated[bool | None, Query(description="Only active (true) or disabled (false) branches.")] = None,
) -> Any:
    _staff(principal)
    if action == "download_template":
        return Response(
            csv_import.csv_template(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="branches_import_template.csv"'},
        )
    if action == "get":
        branch = await service.get_branch(session, organisation_id=principal.organisation_id, branch_id=id, uuid=uuid)
        return ok(await service.branch_detail(session, usage, branch))
    rows, count = await service.list_branches(
        session,
        usage,
        page,
        organisation_id=principal.organisation_id,
        search=clean_search(search),
        is_active=is_active,
    )
    return ok_list(rows, count)


_CREATE_SCHEMA = {
    "content": {
        "application/json": {"schema": BranchCreate.model_json_schema()},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["action", "csv_file"],
                "properties": {
                    "action": {"type": "string", "enum": ["bulk_import", "import_csv"]},
                    "csv_file": {"type": "string", "format": "binary"},
                    "csrf_token": {"type": "string"},
                },
            }
        },
    },
    "required": True,
}


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"null")
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput.field("body", "is malformed JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput.field("body", "must be a JSON object")
    return body


async def _read_upload(upload: UploadFile) -> bytes:
    """Read at most one byte past the cap, so a huge file is refused without being held in memory."""
    data = await upload.read(csv_import.CSV_MAX_BYTES + 1)
    if len(data) > csv_import.CSV_MAX_BYTES:
        raise PayloadTooLarge(f"csv_file is larger than {csv_import.CSV_MAX_BYTES // 1024} KB.")
    return data


@router.post(
    "/api/admin/branches",
    response_model=Envelope[BranchRead] | Envelope[ImportResult],
    responses=error_responses(400, 401, 403, 409, 413, 415, 429),
    openapi_extra={"requestBody": _CREATE_SCHEMA},
    summary="Create a branch (JSON) or bulk-import branches from CSV (multipart, action=bulk_import)",
)
async def post_branches(principal: Admin, session: DbSession, usage: Usage, request: Request) -> dict[str, Any]:
    """One path, two bodies (as the reference documents): JSON creates one branch; multipart with
    ``action=bulk_import`` (alias ``import_csv``) and ``csv_file`` imports all rows or none."""
    _staff(principal)
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=20)
        action = form.get("action")
        require_action(action if isinstance(action, str) else None, {"bulk_import", "import_csv"})
        upload = form.get("csv_file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput.field("csv_file", "is required (a CSV file)")
        result = await csv_import.bulk_import(
            session, await _read_upload(upload), organisation_id=principal.organisation_id, actor_id=principal.user_id
        )
        return ok(result, f"{result['imported']} branch(es) imported")
    if not content_type.startswith("application/json"):
        raise UnsupportedMediaType("Send JSON to create a branch, or multipart/form-data with csv_file to import.")
    data = await _json_body(request)
    if data.get("action") in ("bulk_import", "import_csv"):
        raise UnsupportedMediaType("action=bulk_import needs multipart/form-data with a csv_file part.")
    try:
        body = BranchCreate.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    branch = await service.create_branch(
        session, body, organisation_id=principal.organisation_id, actor_id=principal.user_id
    )
    return ok(await service.branch_detail(session, usage, branch), "Branch created")


@router.put(
    "/api/admin/branches",
    response_model=Envelope[BranchRead],
    responses=error_responses(400, 401, 403, 404, 409, 429),
    summary="Update branch details and SLA configuration",
)
async def put_branches(principal: Admin, session: DbSession, usage: Usage, body: BranchUpdate) -> dict[str, Any]:
    _staff(principal)
    branch = await service.update_branch(
        session, body, organisation_id=principal.organisation_id, actor_id=principal.user_id
    )
    return ok(await service.branch_detail(session, usage, branch), "Branch updated")


@router.delete(
    "/api/admin/branches",
    response_model=Envelope[BranchRead],
    responses=error_responses(400, 401, 403, 404, 409, 429),
    summary="Remove a branch: disabled (kept for history); 409 while it has open jobs or sole agents",
)
async def delete_branches(
    principal: Admin,
    session: DbSession,
    usage: Usage,
    id: IdQuery = None,
    branch_id: IdQuery = None,
    uuid: UuidQuery = None,
    body: Annotated[BranchRef | None, Body()] = None,
) -> dict[str, Any]:
    _staff(principal)
    ref_id = id or branch_id or (body.branch_id or body.id if body else None)
    ref_uuid = uuid or (body.uuid if body else None)
    branch = await service.get_branch(
        session, organisation_id=principal.organisation_id, branch_id=ref_id, uuid=ref_uuid, for_update=True
    )
    branch = await service.delete_branch(session, usage, branch, actor_id=principal.user_id)
    return ok(await service.branch_detail(session, usage, branch), "Branch removed (disabled)")


async def _toggle(
    principal: Principal, session: DbSession, usage: BranchUsage, body: BranchRef, active: bool
) -> dict[str, Any]:
    _staff(principal)
    branch = await service.get_branch(
        session,
        organisation_id=principal.organisation_id,
        branch_id=body.branch_id if body.branch_id is not None else body.id,
        uuid=body.uuid,
        for_update=True,
    )
    branch = await service.set_branch_active(session, branch, active, actor_id=principal.user_id)
    return ok(await service.branch_detail(session, usage, branch), "Branch enabled" if active else "Branch disabled")


@router.post(
    "/api/admin/enable-branch",
    response_model=Envelope[BranchRead],
    responses=error_responses(400, 401, 403, 404, 429),
    summary="Re-enable a disabled branch",
)
async def enable_branch(
    principal: Annotated[Principal, require("api.admin.enable_branch.manage")],
    session: DbSession,
    usage: Usage,
    body: BranchRef,
) -> dict[str, Any]:
    return await _toggle(principal, session, usage, body, True)


@router.post(
    "/api/admin/disable-branch",
    response_model=Envelope[BranchRead],
    responses=error_responses(400, 401, 403, 404, 429),
    summary="Disable a branch: existing jobs are kept, no new work can be assigned to it",
)
async def disable_branch(
    principal: Annotated[Principal, require("api.admin.disable_branch.manage")],
    session: DbSession,
    usage: Usage,
    body: BranchRef,
) -> dict[str, Any]:
    return await _toggle(principal, session, usage, body, False)
