"""Branch statements for the admin endpoints (staff only: every branch of their organisation is theirs
to read; another organisation's is a missing one).

Caller-scoped branch reads (what an agent may see) are ``agents.repository.readable_branches``:
visibility is granted by ``agent_branches``, and agents sit above branches.
"""

from __future__ import annotations

from sqlalchemy import Select, func, or_, select

from propops.branches.models import Branch
from propops.core.validation import like_pattern


def branches_matching(organisation_id: int, search: str | None, is_active: bool | None) -> Select[Branch]:
    """The organisation's branches whose name or code contains ``search`` (literally,
    case-insensitive), optionally only active or only disabled ones."""
    stmt = select(Branch).where(Branch.organisation_id == organisation_id)
    if search:
        pattern = like_pattern(search)
        stmt = stmt.where(
            or_(func.lower(Branch.name).like(pattern, escape="\\"), func.lower(Branch.code).like(pattern, escape="\\"))
        )
    if is_active is not None:
        stmt = stmt.where(Branch.is_active.is_(is_active))
    return stmt


def branch_by(organisation_id: int, *, branch_id: int | None = None, uuid: str | None = None) -> Select[Branch]:
    """One branch of the organisation by id, else by uuid (already checked)."""
    stmt = select(Branch).where(Branch.organisation_id == organisation_id)
    if branch_id is not None:
        return stmt.where(Branch.id == branch_id)
    return stmt.where(Branch.uuid == uuid)


def code_taken(organisation_id: int, codes: list[str], exclude_id: int | None = None) -> Select[str]:
    """Which of ``codes`` the organisation's branches already use (codes are per organisation)."""
    stmt = select(Branch.code).where(Branch.organisation_id == organisation_id, Branch.code.in_(codes))
    return stmt if exclude_id is None else stmt.where(Branch.id != exclude_id)
