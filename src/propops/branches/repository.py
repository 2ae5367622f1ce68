"""Branch statements for the admin endpoints (staff only: every branch is theirs to read).

Caller-scoped branch reads (what an agent may see) are ``agents.repository.readable_branches``:
visibility is granted by ``agent_branches``, and agents sit above branches.
"""

from __future__ import annotations

from sqlalchemy import Select, func, or_, select

from propops.branches.models import Branch
from propops.core.validation import like_pattern


def branches_matching(search: str | None, is_active: bool | None) -> Select[Branch]:
    """Branches whose name or code contains ``search`` (literally, case-insensitive), optionally
    only active or only disabled ones."""
    stmt = select(Branch)
    if search:
        pattern = like_pattern(search)
        stmt = stmt.where(
            or_(func.lower(Branch.name).like(pattern, escape="\\"), func.lower(Branch.code).like(pattern, escape="\\"))
        )
    if is_active is not None:
        stmt = stmt.where(Branch.is_active.is_(is_active))
    return stmt


def branch_by(*, branch_id: int | None = None, uuid: str | None = None) -> Select[Branch]:
    """One branch by id, else by uuid (already checked)."""
    if branch_id is not None:
        return select(Branch).where(Branch.id == branch_id)
    return select(Branch).where(Branch.uuid == uuid)
