"""``certifications.repository``: a certificate is visible exactly when its contractor is, run
directly."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import select

from propops.certifications.models import Certification
from propops.certifications.repository import readable_certifications
from propops.contractors.models import Contractor
from tests.conftest import AuthedClient, login_as
from tests.scopes import build_world, ids_of, principal


async def test_readable_certifications_per_caller(app: FastAPI, admin: AuthedClient) -> None:
    world = await build_world(app, admin)
    everything = await ids_of(app, select(Certification.id))
    async with app.state.ctx.db.sessionmaker() as session:
        own = set(
            (
                await session.execute(
                    select(Certification.id)
                    .join(Contractor, Contractor.id == Certification.contractor_id)
                    .where(Contractor.email == "contractor001@example.com")
                )
            ).scalars()
        )
    assert own
    assert everything - own
    assert await ids_of(app, readable_certifications(world.callers["staff"])) == everything
    assert await ids_of(app, readable_certifications(world.callers["contractor"])) == own
    for name in ("solo", "sharer"):
        assert await ids_of(app, readable_certifications(world.callers[name])) == set()
    second = await principal(app, await login_as(admin.http, "contractor002@example.com"))
    theirs = await ids_of(app, readable_certifications(second))
    assert theirs
    assert not theirs & own
