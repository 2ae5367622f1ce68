"""The SLA rule, in one place: the target a job gets, its due time, the at-risk and breach verdicts.

- Target (``target_hours``): the branch's rule for the job's priority and job type, else its
  generic rule for the priority, else none (no SLA). Job create reads it inside its context
  statement and update through ``TARGET``; both use this one expression.
- Due time: ``reported_at + target`` (``due_at``), fixed at creation, recomputed only when the
  priority or job type changes.
- Verdict (``verdict``/``status_case``): one SQL expression, used by the ``sla_status`` filter and
  the ``sla_status`` field, so a job listed under ``breached`` always says ``breached``. An open job
  is breached past its due time and at risk when less than ``AT_RISK_SHARE`` of its target is left;
  a finished job keeps the verdict of its completion; no deadline (or cancelled): no verdict.

The scheduled scan that notifies each breach once is ``jobs.breaches``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, case, func, or_, select

from propops.branches.models import SlaRule
from propops.core.db import UTCDateTime
from propops.core.sqlfuncs import minus_minutes
from propops.jobs.models import COMPLETED_STATUSES, OPEN_STATUSES

SLA_STATUSES = ("on_track", "at_risk", "breached")
AT_RISK_SHARE = 0.25  # at risk when less than a quarter of the target is left
_RISK_MINUTES_PER_HOUR = round(60 * AT_RISK_SHARE)
if _RISK_MINUTES_PER_HOUR != 60 * AT_RISK_SHARE:  # pragma: no cover - the SQL counts whole minutes
    raise RuntimeError("AT_RISK_SHARE must be a whole number of minutes per target hour")

# The verdict's clock, bound by each statement that shows or filters by it.
NOW = bindparam("now", type_=UTCDateTime())


# --------------------------------------------------------------------------- target and due time


def target_hours(branch_id: Any, priority_id: Any, job_type_id: Any) -> Select[int]:
    """The target that applies (``branch_id``, ... are columns or bound parameters): the job-type
    rule first, else the generic rule. A NULL job type matches only the generic rule."""
    return (
        select(SlaRule.target_hours)
        .where(
            SlaRule.branch_id == branch_id,
            SlaRule.priority_id == priority_id,
            or_(SlaRule.job_type_id == job_type_id, SlaRule.job_type_id.is_(None)),
        )
        .order_by(SlaRule.job_type_id.is_(None))
        .limit(1)
    )


TARGET = target_hours(
    bindparam("branch_id", type_=SlaRule.branch_id.type),
    bindparam("priority_id", type_=SlaRule.priority_id.type),
    bindparam("job_type_id", type_=SlaRule.job_type_id.type),
)


def due_at(reported_at: datetime, target: int | None) -> datetime | None:
    return None if target is None else reported_at + timedelta(hours=target)


# --------------------------------------------------------------------------- verdict


def verdict(jobs: Any, which: str) -> ColumnElement[bool]:
    """The condition of one verdict (``on_track``, ``at_risk``, ``breached``) on ``jobs`` (``Job``
    or an alias of it), at ``NOW``."""
    due, done_at = jobs.sla_due_at, jobs.completed_at
    open_ = jobs.status_id.in_(OPEN_STATUSES)
    done = and_(jobs.status_id.in_(COMPLETED_STATUSES), done_at.is_not(None))
    at_risk_from = minus_minutes(due, func.coalesce(jobs.sla_target_hours, 0) * _RISK_MINUTES_PER_HOUR)
    if which == "breached":
        return and_(due.is_not(None), or_(and_(open_, due < NOW), and_(done, done_at > due)))
    if which == "at_risk":
        return and_(due.is_not(None), open_, due >= NOW, at_risk_from <= NOW)
    if which == "on_track":
        return and_(due.is_not(None), or_(and_(open_, at_risk_from > NOW), and_(done, done_at <= due)))
    raise ValueError(f"unknown SLA verdict {which!r}")


def status_case(jobs: Any) -> ColumnElement[str | None]:
    """The ``sla_status`` field: the verdict whose condition holds, else NULL."""
    return case(*((verdict(jobs, which), which) for which in ("breached", "at_risk", "on_track")))
