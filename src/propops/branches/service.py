"""Branch administration: list, get, create, update, enable/disable and remove (disable) branches.

Staff only (the router checks); a branch's agent and open-job counts come from the domains above
it through ``branches.usage``. SLA rules are ``branches.rules``, the CSV import
``branches.csv_import``. No HTTP here; never commits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from propops.branches import repository
from propops.branches.models import Branch
from propops.branches.rules import RuleSpec, replace_rules, rules_by_branch, validate_rules
from propops.branches.schemas import BranchCreate, BranchUpdate
from propops.branches.usage import BranchUsage
from propops.core import audit
from propops.core.clock import iso
from propops.core.errors import Conflict, InvalidInput, NotFound
from propops.core.pagination import Page
from propops.core.validation import check_uuid, clean_email, clean_phone, clean_text
from propops.lookups.service import load_lookups
from propops.organisations.models import Organisation
from propops.organisations.settings import read_settings

BRANCH_NOT_FOUND = "Branch not found."
CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,19}$")
POSTCODE_RE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")


# --- field validation ---------------------------------------------------------------------------


def clean_code(value: str | None, field: str = "code") -> str:
    code = (value or "").strip().upper()
    if not code:
        raise InvalidInput.field(field, "is required")
    if not CODE_RE.match(code):
        raise InvalidInput.field(field, "must be 1-20 letters, digits, '-' or '_' (e.g. LDN-N)")
    return code


def clean_postcode(value: str | None, field: str = "postcode") -> str | None:
    if value is None or not value.strip():
        return None
    compact = re.sub(r"\s+", "", value).upper()
    match = POSTCODE_RE.match(compact)
    if not match:
        raise InvalidInput.field(field, "must be a UK postcode such as N1 9GU")
    return f"{match.group(1)} {match.group(2)}"


# --- branches -----------------------------------------------------------------------------------


async def default_rules(session: AsyncSession, organisation_id: int, priorities: set[int]) -> list[RuleSpec]:
    """The organisation's default SLA targets (its ``sla_rules`` setting) as generic branch rules;
    a priority that no longer exists is skipped."""
    stored = (await session.execute(select(Organisation.settings).where(Organisation.id == organisation_id))).scalar()
    rules = read_settings(stored).sla_rules
    return [RuleSpec(p, None, hours) for p, hours in sorted(rules.items()) if p in priorities]


async def list_branches(
    session: AsyncSession,
    usage: BranchUsage,
    page: Page,
    *,
    organisation_id: int,
    search: str | None = None,
    is_active: bool | None = None,
) -> tuple[list[dict[str, Any]], int]:
    base = repository.branches_matching(organisation_id, search, is_active)
    count = (await session.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
    stmt = base.order_by(Branch.name, Branch.id).limit(page.limit).offset(page.offset)
    rows = list((await session.execute(stmt)).scalars())
    return await _payloads(session, usage, rows), int(count)


async def _payloads(session: AsyncSession, usage: BranchUsage, rows: Sequence[Branch]) -> list[dict[str, Any]]:
    """Four statements for any page: the rows (done), their rules, agent counts and open jobs."""
    ids = [b.id for b in rows]
    rules = await rules_by_branch(session, ids)
    organisation_id = rows[0].organisation_id if rows else 0
    agents = await usage.active_agents(session, organisation_id, ids)
    jobs = await usage.open_jobs(session, organisation_id, ids)
    return [branch_payload(b, agents.get(b.id, 0), jobs.get(b.id, 0), rules.get(b.id, [])) for b in rows]


def branch_payload(branch: Branch, agent_count: int, open_jobs: int, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": branch.id,
        "ID": branch.id,
        "uuid": branch.uuid,
        "name": branch.name,
        "code": branch.code,
        "address_line1": branch.address_line1,
        "address_line2": branch.address_line2,
        "town": branch.town,
        "postcode": branch.postcode,
        "phone": branch.phone,
        "email": branch.email,
        "is_active": branch.is_active,
        "agent_count": int(agent_count or 0),
        "open_jobs": int(open_jobs),
        "created_at": iso(branch.created_at),
        "updated_at": iso(branch.updated_at),
        "sla_rules": rules,
    }


async def branch_detail(session: AsyncSession, usage: BranchUsage, branch: Branch) -> dict[str, Any]:
    return (await _payloads(session, usage, [branch]))[0]


async def get_branch(
    session: AsyncSession,
    *,
    organisation_id: int,
    branch_id: int | None = None,
    uuid: str | None = None,
    for_update: bool = False,
) -> Branch:
    if branch_id is None and not uuid:
        raise InvalidInput.field("branch_id", "is required")
    stmt = repository.branch_by(
        organisation_id, branch_id=branch_id, uuid=None if branch_id is not None else check_uuid(uuid, "uuid")
    )
    if for_update:
        stmt = stmt.with_for_update()
    branch = (await session.execute(stmt)).scalar_one_or_none()
    if branch is None:
        raise NotFound(BRANCH_NOT_FOUND)
    return branch


async def _ensure_code_free(
    session: AsyncSession, organisation_id: int, code: str, exclude_id: int | None = None
) -> None:
    if (await session.execute(repository.code_taken(organisation_id, [code], exclude_id))).first() is not None:
        raise Conflict(
            f"A branch with code {code} already exists.", errors=[{"field": "code", "message": "already in use"}]
        )


def _details(body: BranchCreate | BranchUpdate) -> dict[str, Any]:
    """Validated optional detail fields that were actually sent (so an update leaves the rest)."""
    sent = body.model_fields_set
    cleaners: dict[str, Callable[[str | None], str | None]] = {
        "address_line1": lambda v: clean_text(v, "address_line1", 200),
        "address_line2": lambda v: clean_text(v, "address_line2", 200),
        "town": lambda v: clean_text(v, "town", 100),
        "postcode": clean_postcode,
        "phone": clean_phone,
        "email": clean_email,
    }
    return {name: fn(getattr(body, name)) for name, fn in cleaners.items() if name in sent}


def _snapshot(branch: Branch) -> dict[str, Any]:
    return {
        "name": branch.name,
        "code": branch.code,
        "address_line1": branch.address_line1,
        "address_line2": branch.address_line2,
        "town": branch.town,
        "postcode": branch.postcode,
        "phone": branch.phone,
        "email": branch.email,
        "is_active": branch.is_active,
    }


async def create_branch(
    session: AsyncSession, body: BranchCreate, *, organisation_id: int, actor_id: int | None
) -> Branch:
    name = clean_text(body.name, "name", 120, required=True)
    code = clean_code(body.code)
    details = _details(body)
    lookups = await load_lookups(session)
    if body.sla_rules is not None:
        specs = validate_rules(body.sla_rules, lookups)
    else:  # a new branch starts with its organisation's default service levels
        specs = await default_rules(session, organisation_id, set(lookups.priorities))
    await _ensure_code_free(session, organisation_id, code)
    branch = Branch(organisation_id=organisation_id, name=name, code=code, is_active=True, **details)
    session.add(branch)
    await session.flush()
    if specs:
        await replace_rules(session, branch.id, specs)
    await audit.record(
        session,
        organisation_id=organisation_id,
        user_id=actor_id,
        action="create",
        entity="branch",
        entity_id=branch.id,
        after=_snapshot(branch),
    )
    return branch


async def update_branch(
    session: AsyncSession, body: BranchUpdate, *, organisation_id: int, actor_id: int | None
) -> Branch:
    branch = await get_branch(
        session,
        organisation_id=organisation_id,
        branch_id=body.id if body.id is not None else body.branch_id,
        uuid=body.uuid,
    )
    before = _snapshot(branch)
    sent = body.model_fields_set
    if "name" in sent:
        branch.name = clean_text(body.name, "name", 120, required=True) or branch.name
    if "code" in sent:
        code = clean_code(body.code)
        await _ensure_code_free(session, branch.organisation_id, code, exclude_id=branch.id)
        branch.code = code
    for key, value in _details(body).items():
        setattr(branch, key, value)
    if body.sla_rules is not None:
        await replace_rules(session, branch.id, validate_rules(body.sla_rules, await load_lookups(session)))
    await session.flush()
    await audit.record(
        session,
        organisation_id=branch.organisation_id,
        user_id=actor_id,
        action="update",
        entity="branch",
        entity_id=branch.id,
        before=before,
        after=_snapshot(branch),
    )
    return branch


async def delete_branch(session: AsyncSession, usage: BranchUsage, branch: Branch, *, actor_id: int | None) -> Branch:
    """DELETE keeps history: the branch is disabled, and refused while it still carries work."""
    open_jobs = (await usage.open_jobs(session, branch.organisation_id, [branch.id])).get(branch.id, 0)
    if open_jobs:
        raise Conflict(f"The branch has {open_jobs} open job(s); close or move them before removing it.")
    sole = (await usage.sole_agents(session, branch.organisation_id, [branch.id])).get(branch.id, 0)
    if sole:
        raise Conflict(
            f"The branch is the only branch of {sole} active agent(s); assign them another branch before removing it."
        )
    return await set_branch_active(session, branch, False, actor_id=actor_id, action="delete")


async def set_branch_active(
    session: AsyncSession, branch: Branch, active: bool, *, actor_id: int | None, action: str | None = None
) -> Branch:
    """Idempotent: disabling a disabled branch changes nothing and writes no audit row."""
    if branch.is_active == active:
        return branch
    branch.is_active = active
    await session.flush()
    await audit.record(
        session,
        organisation_id=branch.organisation_id,
        user_id=actor_id,
        action=action or ("enable" if active else "disable"),
        entity="branch",
        entity_id=branch.id,
        before={"is_active": not active},
        after={"is_active": active},
    )
    return branch
