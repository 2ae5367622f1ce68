"""HTTP for jobs: /api/jobs/manage (reads and actions), /api/jobs/case-notes, /api/jobs/remedials."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from propops.auth.deps import require
from propops.auth.service import Principal
from propops.core.deps import Ctx, DbSession
from propops.core.envelope import Envelope, ListEnvelope, RawJSONResponse, error_responses, ok, ok_list
from propops.core.errors import Forbidden, InvalidInput, NotFound
from propops.core.pagination import PageParams
from propops.core.params import UUID_EXAMPLE, UUID_PATTERN, SearchQuery, UuidQuery
from propops.core.validation import check_uuid, clean_search
from propops.jobs import assignment, history, lifecycle, notes, repository, service
from propops.jobs.schemas import (
    CaseNoteCreated,
    CaseNoteRead,
    CaseNoteRequest,
    JobCommit,
    JobDetail,
    JobManageRequest,
    JobRead,
    JobRef,
    RemedialLink,
    RemedialRequest,
    Suggestions,
)

router = APIRouter(tags=["jobs"])
JobsCaller = Annotated[Principal, require("api.jobs.manage.manage")]
# Reading is its own key so that a role may see jobs and budgets without acting on them (Finance).
JobsReader = Annotated[Principal, require("api.jobs.read.view")]
NotesCaller = Annotated[Principal, require("api.jobs.case-notes.manage")]
RemedialsCaller = Annotated[Principal, require("api.jobs.remedials.manage")]
IdQuery = Annotated[int | None, Query(ge=1, le=2_147_483_647)]
GET_ACTIONS = {"list", "get", "list_commits", "suggest_contractors"}


def _date(value: str | None, field: str, *, end: bool = False) -> datetime | None:
    """YYYY-MM-DD (whole UTC day; date_to inclusive) or a full ISO datetime."""
    if value is None or value == "":
        return None
    try:
        if len(value) == 10:
            d = date.fromisoformat(value)
            start = datetime.combine(d, time.min, tzinfo=UTC)
            return start + timedelta(days=1) if end else start
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput.field(field, "must be a date (YYYY-MM-DD) or an ISO 8601 datetime") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@router.get(
    "/api/jobs/manage",
    response_model=ListEnvelope[JobRead] | Envelope[JobDetail] | ListEnvelope[JobCommit] | Envelope[Suggestions],
    responses=error_responses(400, 401, 403, 404, 429),
    summary="List jobs, get one, its history (list_commits) or contractor suggestions",
)
async def read_jobs(
    principal: JobsReader,
    ctx: Ctx,
    page: PageParams,
    action: Annotated[
        Literal["list", "get", "list_commits", "suggest_contractors"],
        Query(description="list, get, list_commits or suggest_contractors"),
    ],
    uuid: Annotated[UuidQuery, Query(description="get/list_commits/suggest_contractors")] = None,
    search: Annotated[SearchQuery, Query(description="Title, job_ref or description contains")] = None,
    status_id: IdQuery = None,
    priority_id: IdQuery = None,
    branch_id: IdQuery = None,
    trade_id: IdQuery = None,
    job_type_id: IdQuery = None,
    agent_id: IdQuery = None,
    agent_uuid: UuidQuery = None,
    contractor_id: IdQuery = None,
    contractor_uuid: UuidQuery = None,
    created_by: IdQuery = None,
    address_id: IdQuery = None,
    sla_status: Annotated[Literal["on_track", "at_risk", "breached"] | None, Query()] = None,
    date_from: Annotated[str | None, Query(max_length=40, description="reported on or after")] = None,
    date_to: Annotated[str | None, Query(max_length=40, description="reported on or before (whole day)")] = None,
) -> Any:
    """list and get read committed rows on the raw driver and reply without re-validating them
    (``reads`` builds exactly the documented fields; the schema tests check every reply): the
    busiest endpoint, no ORM session, no transaction. The history and the suggestions use a
    read-only session."""
    chosen = action
    if chosen == "get":
        # Committed data on the driver: one query, no ORM, no transaction.
        wanted = check_uuid(uuid, "uuid")
        if not wanted:
            raise InvalidInput.field("uuid", "is required")
        detail = await repository.job_detail(ctx.executor, principal, wanted)
        if detail is None:
            raise NotFound(service.NOT_FOUND)
        return RawJSONResponse(ok(detail))
    if chosen == "list":  # the busiest read: no session at all
        filters = repository.JobFilters(
            search=clean_search(search),
            status_id=status_id,
            priority_id=priority_id,
            branch_id=branch_id,
            trade_id=trade_id,
            job_type_id=job_type_id,
            agent_id=agent_id,
            agent_uuid=check_uuid(agent_uuid, "agent_uuid"),
            contractor_id=contractor_id,
            contractor_uuid=check_uuid(contractor_uuid, "contractor_uuid"),
            created_by=created_by,
            address_id=address_id,
            sla_status=sla_status,
            date_from=_date(date_from, "date_from"),
            date_to=_date(date_to, "date_to", end=True),
        )
        rows, count = await repository.list_jobs(ctx.executor, principal, page, filters)
        return RawJSONResponse(ok_list(rows, count))
    async with ctx.db.sessionmaker() as session:
        if chosen == "list_commits":
            rows, count = await history.list_commits(ctx.executor, session, principal, uuid, page)
            return ok_list(rows, count)
        # suggest_contractors: part of assigning, so it needs the key that acts on jobs
        if not principal.has("api.jobs.manage.manage"):
            raise Forbidden()
        lifecycle.ensure_may(principal, "assign")
        job = await service.find_job(ctx.executor, session, principal, uuid, lock=False)
        return ok(await assignment.suggest(ctx.executor, session, job, page.limit, page.offset))


MESSAGES = {
    "create": "Job created",
    "update": "Job updated",
    "assign": "Job assigned",
    "accept": "Job accepted",
    "start": "Job started",
    "complete": "Job completed",
    "close": "Job closed",
    "archive": "Job archived",
    "cancel": "Job cancelled",
    "recall": "Job recalled",
    "reopen": "Job reopened",
}


@router.post(
    "/api/jobs/manage",
    response_model=Envelope[JobDetail] | Envelope[JobRef],
    responses=error_responses(400, 401, 403, 404, 409, 429),
    summary="create, update, delete, assign, accept, start, complete, close, archive, cancel, recall, reopen",
)
async def manage_job(principal: JobsCaller, ctx: Ctx, session: DbSession, body: JobManageRequest) -> RawJSONResponse:
    """Every action locks the job first (``service.find_job``); the reply is the job as action=get
    shows it, read in this transaction, and is sent without re-validation against the response
    union (a measurable share of a write's CPU)."""
    ex = ctx.executor
    if body.action == "create":
        job = await service.create_job(ex, session, principal, body)
    else:
        job = await service.find_job(ex, session, principal, body.uuid)
        if body.action == "delete":
            ref = {"ID": job.id, "uuid": job.uuid, "job_ref": job.job_ref}
            await service.delete_job(session, principal, job)
            return RawJSONResponse(ok(ref, "Job deleted"))
        if body.action == "update":
            await service.update_job(ex, session, principal, job, body)
        elif body.action == "assign":
            lifecycle.ensure_allowed(principal, job, "assign")  # the state error before input errors
            contractor = await service.resolve_contractor(
                ex, session, principal.organisation_id, body.contractor_id, body.contractor_uuid
            )
            await service.assign(ex, session, principal, job, contractor, body.override_reason)
        else:
            await service.transition(
                ex, session, principal, job, body.action, reason=body.reason, to_status_id=body.to_status_id
            )
    detail = await repository.job_detail_in(ex, session, principal, job.id)
    return RawJSONResponse(ok(detail, MESSAGES[body.action]))


@router.get(
    "/api/jobs/case-notes",
    response_model=ListEnvelope[CaseNoteRead],
    responses=error_responses(400, 401, 403, 404, 429),
    summary="List a job's case notes (action=list&job_uuid=)",
)
async def list_case_notes(
    principal: NotesCaller,
    ctx: Ctx,
    session: DbSession,
    page: PageParams,
    action: Annotated[Literal["list"], Query(description="Must be list.")],
    job_uuid: Annotated[str, Query(pattern=UUID_PATTERN, examples=[UUID_EXAMPLE])],
) -> dict[str, Any]:
    rows, count = await notes.list_notes(ctx.executor, session, principal, job_uuid, page)
    return ok_list(rows, count)


@router.post(
    "/api/jobs/case-notes",
    response_model=Envelope[CaseNoteCreated],
    responses=error_responses(400, 401, 403, 404, 409, 429),
    summary="Add a case note to a job (send_email mails the other parties)",
)
async def create_case_note(
    principal: NotesCaller, ctx: Ctx, session: DbSession, body: CaseNoteRequest
) -> dict[str, Any]:
    return ok(await notes.create_note(ctx.executor, session, principal, body), "Case note added")


@router.post(
    "/api/jobs/remedials",
    response_model=Envelope[RemedialLink],
    responses=error_responses(400, 401, 403, 404, 409, 429),
    summary="Link a remedial job to its parent (or raise a new one), or remove the link",
)
async def remedials(principal: RemedialsCaller, ctx: Ctx, session: DbSession, body: RemedialRequest) -> dict[str, Any]:
    result = await notes.remedial(ctx.executor, session, principal, body)
    return ok(result, "Remedial link created" if body.action == "create" else "Remedial link removed")
