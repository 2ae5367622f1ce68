"""One rule for contact addresses: an email belongs to one account of the organisation.

Why: a contractor could set their profile email to a staff address (``admin@example.com``): only
other contractors' addresses were refused. Mail meant for the contractor then reached the admin,
and the address no longer told who an account is. Every write of a login email or a contractor's
contact email asks here: the address must be neither another user's login email (staff, agent or
contractor) nor another contractor's contact address; a 409 otherwise.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from propops.auth.models import User
from propops.core.db import Base
from propops.core.errors import Conflict

EMAIL_TAKEN = "This email address is already used by another account."


async def ensure_email_free(
    session: AsyncSession, email: str, *, user_id: int | None = None, contractor_id: int | None = None
) -> None:
    """``email`` (normalised lower case) is free, or a 409 naming the field. ``user_id`` and
    ``contractor_id``: the account being written, whose own addresses do not count."""
    users = select(User.id).where(func.lower(User.email) == email)
    if user_id is not None:
        users = users.where(User.id != user_id)
    # The contractors table by name: contractors sit above auth, which imports none of them.
    c = Base.metadata.tables["contractors"].c
    contractors = select(c.id).where(func.lower(c.email) == email)
    if contractor_id is not None:
        contractors = contractors.where(c.id != contractor_id)
    if user_id is not None:  # the account's own contractor profile
        contractors = contractors.where(or_(c.user_id.is_(None), c.user_id != user_id))
    for stmt in (users, contractors):
        if (await session.execute(stmt.limit(1))).first() is not None:
            raise Conflict(EMAIL_TAKEN, errors=[{"field": "email", "message": "already in use by another account"}])
