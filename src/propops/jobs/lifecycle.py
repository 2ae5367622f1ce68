"""The job status machine: who may take which action, from which status, and what it changes.

New → Assigned → In progress → Complete → Closed → Archived, plus Cancelled. ``accept`` keeps the
job Assigned and stamps ``accepted_at``; ``archive`` from Closed or Cancelled; ``reopen`` takes a
Cancelled job back to New; ``recall`` takes a Complete job back to In progress (or Assigned).

Who (``api.jobs.manage.manage`` is required for everything):
- staff: every action (accept/start/complete on a contractor's behalf, recorded);
- agents: everything but accept/start/complete and delete;
- contractors: only accept, start and complete (on their own jobs: ``repository.readable_jobs``).

Pure functions of a ``JobRow``: no database here. ``service`` locks the row, asks this module for
the change and writes it with its history entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from propops.auth.models import ACCOUNT_AGENT, ACCOUNT_CONTRACTOR, ACCOUNT_STAFF
from propops.auth.service import Principal
from propops.core.errors import Conflict, Forbidden, InvalidInput
from propops.jobs.models import (
    STATUS_ARCHIVED,
    STATUS_ASSIGNED,
    STATUS_CANCELLED,
    STATUS_CLOSED,
    STATUS_COMPLETE,
    STATUS_IN_PROGRESS,
    STATUS_NEW,
    JobRow,
)

# action -> statuses it may start from. The target status is decided by ``transition``.
FROM_STATUSES: dict[str, tuple[int, ...]] = {
    "update": (STATUS_NEW, STATUS_ASSIGNED, STATUS_IN_PROGRESS, STATUS_COMPLETE),
    "assign": (STATUS_NEW, STATUS_ASSIGNED),
    "accept": (STATUS_ASSIGNED,),
    "start": (STATUS_ASSIGNED,),
    "complete": (STATUS_IN_PROGRESS,),
    "close": (STATUS_COMPLETE,),
    "archive": (STATUS_CLOSED, STATUS_CANCELLED),
    "cancel": (STATUS_NEW, STATUS_ASSIGNED, STATUS_IN_PROGRESS),
    "recall": (STATUS_COMPLETE,),
    "reopen": (STATUS_CANCELLED,),
    "delete": tuple(range(1, 8)),
}
CONTRACTOR_ACTIONS = frozenset({"accept", "start", "complete"})
STAFF_ONLY_ACTIONS = frozenset({"delete"})
STATUS_NAMES = {1: "New", 2: "Assigned", 3: "In progress", 4: "Complete", 5: "Closed", 6: "Archived", 7: "Cancelled"}
# The lifecycle columns: what a lifecycle write may change (besides updated_at), written as one UPDATE.
LIFECYCLE_COLUMNS = ("status_id", "contractor_id", "assigned_at", "accepted_at", "started_at", "completed_at",
                     "closed_at", "recall_count")  # fmt: skip
_STAMPS = ("assigned_at", "accepted_at", "started_at", "completed_at", "closed_at")
# History event per action (others record "status").
EVENTS = {"recall": "recalled", "accept": "accepted", "assign": "assigned"}


def is_staff(principal: Principal) -> bool:
    return principal.account_type_id == ACCOUNT_STAFF


def role_actions(principal: Principal) -> frozenset[str]:
    """The actions the caller's account type may perform at all."""
    everything = frozenset(FROM_STATUSES)
    if principal.account_type_id == ACCOUNT_STAFF:
        return everything
    if principal.account_type_id == ACCOUNT_AGENT:
        return everything - CONTRACTOR_ACTIONS - STAFF_ONLY_ACTIONS
    if principal.account_type_id == ACCOUNT_CONTRACTOR:
        return CONTRACTOR_ACTIONS
    return frozenset()


def allowed_actions(status_id: int, accepted: bool, principal: Principal) -> list[str]:
    """What the caller may do next with a job in ``status_id`` (``accepted``: already accepted)."""
    mine = role_actions(principal)
    out = [a for a, froms in FROM_STATUSES.items() if a in mine and status_id in froms]
    if accepted and "accept" in out:
        out.remove("accept")
    return sorted(out)


def ensure_may(principal: Principal, action: str) -> None:
    """403 unless the caller's account type may take ``action`` at all."""
    if action not in role_actions(principal):
        if action in CONTRACTOR_ACTIONS:
            raise Forbidden(f"Only the assigned contractor (or staff) may {action} a job.")
        if action in STAFF_ONLY_ACTIONS:
            raise Forbidden(f"Only staff may {action} a job.")
        raise Forbidden(f"Your account type may not {action} jobs.")


def ensure_from(job: JobRow, action: str, principal: Principal) -> None:
    """409 naming what is allowed unless ``action`` may start from the job's status."""
    if job.status_id not in FROM_STATUSES[action]:
        allowed = allowed_actions(job.status_id, job.accepted_at is not None, principal)
        name = STATUS_NAMES.get(job.status_id, str(job.status_id))
        raise Conflict(
            f"Cannot {action} a job that is {name}. Allowed now: {', '.join(allowed) if allowed else 'none'}.",
            errors=[{"field": "action", "message": f"allowed now: {', '.join(allowed) or 'none'}"}],
        )


def ensure_allowed(principal: Principal, job: JobRow, action: str) -> None:
    ensure_may(principal, action)
    ensure_from(job, action, principal)


@dataclass(frozen=True)
class Change:
    """A lifecycle step: the job after it and the history entry's before/after."""

    job: JobRow
    before: dict[str, Any]
    after: dict[str, Any]


def _status(job: JobRow, to: int) -> tuple[dict[str, Any], dict[str, Any]]:
    return {"status_id": job.status_id, "status": STATUS_NAMES[job.status_id]}, {
        "status_id": to,
        "status": STATUS_NAMES[to],
    }


def transition(job: JobRow, action: str, now: datetime, to_status_id: int | None = None) -> Change:
    """accept / start / complete / close / archive / cancel / recall / reopen of ``job`` (the
    caller checked ``ensure_allowed``)."""
    if action == "accept":
        if job.accepted_at is not None:
            raise Conflict("The job was already accepted. Allowed now: start.")
        before, after = _status(job, STATUS_ASSIGNED)
        new = job._replace(accepted_at=now)
    elif action == "start":
        before, after = _status(job, STATUS_IN_PROGRESS)
        new = job._replace(status_id=STATUS_IN_PROGRESS, accepted_at=job.accepted_at or now, started_at=now)
    elif action == "complete":
        before, after = _status(job, STATUS_COMPLETE)
        new = job._replace(status_id=STATUS_COMPLETE, completed_at=now)
    elif action == "close":
        before, after = _status(job, STATUS_CLOSED)
        new = job._replace(status_id=STATUS_CLOSED, closed_at=now)
    elif action == "archive":
        before, after = _status(job, STATUS_ARCHIVED)
        new = job._replace(status_id=STATUS_ARCHIVED)
    elif action == "cancel":
        before, after = _status(job, STATUS_CANCELLED)
        new = job._replace(status_id=STATUS_CANCELLED)
    elif action == "reopen":
        before, after = _status(job, STATUS_NEW)
        before["contractor_id"], after["contractor_id"] = job.contractor_id, None
        new = job._replace(
            status_id=STATUS_NEW, contractor_id=None, assigned_at=None, accepted_at=None, started_at=None
        )
    elif action == "recall":
        target = to_status_id or STATUS_IN_PROGRESS
        if target not in (STATUS_IN_PROGRESS, STATUS_ASSIGNED):
            raise InvalidInput.field("to_status_id", "must be 3 (In progress) or 2 (Assigned)")
        before, after = _status(job, target)
        new = job._replace(status_id=target, completed_at=None, recall_count=job.recall_count + 1)
        if target == STATUS_ASSIGNED:
            new = new._replace(accepted_at=None, started_at=None)
        before["recall_count"], after["recall_count"] = job.recall_count, new.recall_count
    else:  # pragma: no cover - guarded by ensure_may
        raise InvalidInput.field("action", "unknown action")
    for key in _STAMPS:
        old, value = getattr(job, key), getattr(new, key)
        if old != value:
            before[key], after[key] = old, value
    return Change(new, before, after)


def assignment(job: JobRow, contractor_id: int, now: datetime, overridden: list[str]) -> Change:
    """``assign`` to ``contractor_id`` (checked by ``assignment.evaluate``; ``overridden``: the
    reasons a staff override set aside)."""
    before = {"status_id": job.status_id, "contractor_id": job.contractor_id}
    after: dict[str, Any] = {"status_id": STATUS_ASSIGNED, "contractor_id": contractor_id}
    if overridden:
        after["override"] = overridden
    new = job._replace(
        contractor_id=contractor_id, status_id=STATUS_ASSIGNED, assigned_at=now, accepted_at=None, started_at=None
    )
    return Change(new, before, after)
