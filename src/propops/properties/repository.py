"""Property statements: what a caller may see.

A property belongs to an organisation (another one's is a missing property) and to a branch, and
it is visible exactly when its branch is
(``agents.repository.visible_branch_ids``: staff all, agents their assigned and shared branches,
anyone else none). Every list, get and write of properties starts from ``readable_properties``.
"""

from __future__ import annotations

from sqlalchemy import Select, select

from propops.agents.repository import in_visible_branches
from propops.auth.service import Principal
from propops.branches.models import Branch
from propops.properties.models import Property


def readable_properties(principal: Principal) -> Select[Property]:
    """The properties the caller may see (active or not)."""
    stmt = select(Property).where(Property.organisation_id == principal.organisation_id)
    condition = in_visible_branches(Property.branch_id, principal)
    return stmt if condition is None else stmt.where(condition)


def readable_properties_with_branch(principal: Principal) -> Select[Property, str]:
    """``readable_properties`` with each property's branch name (the payload shows it)."""
    return readable_properties(principal).add_columns(Branch.name).join(Branch, Branch.id == Property.branch_id)
