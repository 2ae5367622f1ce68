"""Certification statements: which certificates a caller may see.

A certificate belongs to its contractor's organisation and is visible exactly when its contractor
is (``contractors.repository.readable_contractors``: within the caller's organisation, staff all,
a contractor account its own, anyone else none). Listing, download and every write start here.
"""

from __future__ import annotations

from sqlalchemy import Select, select

from propops.auth.service import Principal
from propops.certifications.models import Certification
from propops.contractors.repository import readable_contractor_ids


def readable_certifications(principal: Principal) -> Select[Certification]:
    """The certificates the caller may see (current and superseded)."""
    stmt = select(Certification).where(Certification.organisation_id == principal.organisation_id)
    ids = readable_contractor_ids(principal)
    return stmt if ids is None else stmt.where(Certification.contractor_id.in_(ids))
