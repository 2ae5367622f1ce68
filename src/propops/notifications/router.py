"""HTTP for the email outbox: staff see what is stuck and can retry a parked email."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from propops.auth.deps import require
from propops.auth.service import Principal
from propops.core.deps import DbSession
from propops.core.envelope import Envelope, ListEnvelope, error_responses, ok, ok_list
from propops.core.pagination import PageParams
from propops.notifications import service
from propops.notifications.schemas import OutboxAction, OutboxRead

router = APIRouter(tags=["notifications"])
OUTBOX_KEY = "api.notifications.outbox.manage"


@router.get(
    "/api/notifications/outbox",
    response_model=ListEnvelope[OutboxRead],
    responses=error_responses(400, 401, 403, 429),
    summary="List queued and failed emails (or one status)",
)
async def list_outbox(
    principal: Annotated[Principal, require(OUTBOX_KEY)],
    session: DbSession,
    page: PageParams,
    action: Annotated[Literal["list"], Query(description="Must be `list`.")],
    status: Annotated[
        Literal["queued", "sent", "failed"] | None, Query(description="Default: failed and queued.")
    ] = None,
) -> dict[str, Any]:
    rows, count = await service.list_outbox(
        session, organisation_id=principal.organisation_id, status=status, page=page
    )
    return ok_list(rows, count)


@router.post(
    "/api/notifications/outbox",
    response_model=Envelope[OutboxRead],
    responses=error_responses(400, 401, 403, 404, 409, 429),
    summary="Retry a failed email",
)
async def outbox_action(
    body: OutboxAction, principal: Annotated[Principal, require(OUTBOX_KEY)], session: DbSession
) -> dict[str, Any]:
    retried = await service.retry_email(session, principal.organisation_id, body.id)
    return ok(retried, "Email queued for another delivery attempt")
