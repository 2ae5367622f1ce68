"""Contractor statements: which contractor records a caller may act on.

Always within the caller's organisation (another company's contractor is a missing one):
- staff: every contractor of the organisation;
- a contractor account: only the contractor record linked to it;
- anyone else (agents): none.
Everything a caller may not see is the same 404 as something that does not exist. This decides
the records behind certificates, compliance, the profile and the admin read and writes; the
contractor lists are a directory instead (every active contractor to whoever holds the list
permission), and "who covers this point" is ``contractors.coverage``.
"""

from __future__ import annotations

from sqlalchemy import Select, false, select

from propops.auth.models import ACCOUNT_CONTRACTOR, ACCOUNT_STAFF
from propops.auth.service import Principal
from propops.contractors.models import Contractor


def readable_contractors(principal: Principal) -> Select[Contractor]:
    """The contractors ``principal`` may act on (any status)."""
    stmt = select(Contractor).where(Contractor.organisation_id == principal.organisation_id)
    if principal.account_type_id == ACCOUNT_STAFF:
        return stmt
    if principal.account_type_id == ACCOUNT_CONTRACTOR:
        return stmt.where(Contractor.user_id == principal.user_id)
    return stmt.where(false())


def readable_contractor_ids(principal: Principal) -> Select[int] | None:
    """The ids of ``readable_contractors`` as a subquery, or None when the caller may act on every
    contractor of the organisation (staff): the condition for rows that belong to a contractor and
    carry their own ``organisation_id``, which the caller compares too (``readable_certifications``)."""
    if principal.account_type_id == ACCOUNT_STAFF:
        return None
    return readable_contractors(principal).with_only_columns(Contractor.id).correlate(None)


def own_contractor(principal: Principal) -> Select[Contractor]:
    """The contractor record linked to the caller's login (none for staff and agents)."""
    return select(Contractor).where(
        Contractor.user_id == principal.user_id, Contractor.organisation_id == principal.organisation_id
    )
