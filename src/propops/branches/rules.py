"""SLA rules: a branch's targets in whole hours per priority, optionally narrowed to one job type
(a job-type rule overrides the generic rule for that priority). Validation of a sent rule list,
replacing a branch's rules, reading them for the admin view, and the target that applies to a job.
No HTTP here; never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from propops.branches.models import MAX_TARGET_HOURS, SlaRule
from propops.branches.schemas import SlaRuleIn
from propops.core.errors import InvalidInput
from propops.lookups.models import JobType, Priority
from propops.lookups.service import Lookups


@dataclass(frozen=True)
class RuleSpec:
    priority_id: int
    job_type_id: int | None
    target_hours: int


def validate_rules(rules: Sequence[SlaRuleIn], lookups: Lookups, prefix: str = "sla_rules") -> list[RuleSpec]:
    """Every rule checked; duplicates (same priority and job type twice) refused."""
    out: list[RuleSpec] = []
    seen: set[tuple[int, int | None]] = set()
    for i, rule in enumerate(rules):
        field = f"{prefix}[{i}]"
        if rule.priority_id is not None and rule.priority is not None:
            raise InvalidInput.field(f"{field}.priority", "send priority or priority_id, not both")
        priority_value = rule.priority_id if rule.priority_id is not None else rule.priority
        priority_id = lookups.priority(priority_value, f"{field}.priority")
        job_type_value = rule.job_type_id if rule.job_type_id is not None else rule.job_type
        job_type_id = lookups.job_type(job_type_value, f"{field}.job_type")
        out.append(RuleSpec(priority_id, job_type_id, check_hours(rule.target_hours, f"{field}.target_hours")))
        if (priority_id, job_type_id) in seen:
            raise InvalidInput.field(field, "duplicate rule for this priority and job type")
        seen.add((priority_id, job_type_id))
    return out


def check_hours(value: int, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput.field(field, "must be a whole number of hours")
    if not 1 <= value <= MAX_TARGET_HOURS:
        raise InvalidInput.field(field, f"must be a whole number of hours between 1 and {MAX_TARGET_HOURS}")
    return value


async def replace_rules(session: AsyncSession, branch_id: int, specs: Sequence[RuleSpec]) -> None:
    """The sent list becomes the branch's whole rule set (deleted first, so swaps never collide)."""
    await session.execute(delete(SlaRule).where(SlaRule.branch_id == branch_id))
    await session.flush()
    for spec in specs:
        session.add(
            SlaRule(
                branch_id=branch_id,
                priority_id=spec.priority_id,
                job_type_id=spec.job_type_id,
                target_hours=spec.target_hours,
            )
        )
    await session.flush()


async def rules_by_branch(session: AsyncSession, branch_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Every rule of the given branches in one joined query, ordered by priority rank, generic first."""
    out: dict[int, list[dict[str, Any]]] = {b: [] for b in branch_ids}
    if not branch_ids:
        return out
    stmt = (
        select(
            SlaRule.branch_id,
            SlaRule.uuid,
            SlaRule.priority_id,
            Priority.name,
            SlaRule.job_type_id,
            JobType.name,
            SlaRule.target_hours,
        )
        .join(Priority, Priority.id == SlaRule.priority_id)
        .outerjoin(JobType, JobType.id == SlaRule.job_type_id)
        .where(SlaRule.branch_id.in_(list(branch_ids)))
        .order_by(SlaRule.branch_id, Priority.rank, SlaRule.job_type_id.is_not(None), JobType.name, SlaRule.id)
    )
    for branch_id, uuid, pid, pname, jid, jname, hours in await session.execute(stmt):
        out[branch_id].append(
            {
                "uuid": uuid,
                "priority_id": pid,
                "priority_name": pname,
                "job_type_id": jid,
                "job_type_name": jname,
                "target_hours": hours,
            }
        )
    return out


async def sla_target_hours(
    session: AsyncSession, branch_id: int, priority_id: int, job_type_id: int | None
) -> int | None:
    """The SLA target for a job: the branch's job-type rule if one exists, else its generic rule for
    the priority, else None (no SLA). One indexed query."""
    conditions = [SlaRule.branch_id == branch_id, SlaRule.priority_id == priority_id]
    if job_type_id is None:
        conditions.append(SlaRule.job_type_id.is_(None))
    else:
        conditions.append(or_(SlaRule.job_type_id == job_type_id, SlaRule.job_type_id.is_(None)))
    stmt = select(SlaRule.target_hours).where(*conditions).order_by(SlaRule.job_type_id.is_(None)).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()
