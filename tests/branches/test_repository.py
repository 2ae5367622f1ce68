"""``branches.repository`` (the staff admin statements) and the ``branches.usage`` counters, run
directly. What an agent may see of branches is ``agents.repository`` (tests/agents/test_repository.py)."""

from __future__ import annotations

from fastapi import FastAPI

from propops.agents.service import active_agent_counts, sole_branch_agent_counts
from propops.branches import repository
from propops.branches.usage import BranchUsage, branch_usage
from propops.jobs.usage import open_job_counts
from tests.branches.util import new_agent, new_branch, unique_code
from tests.conftest import AuthedClient
from tests.jobs.helpers import act, new_job, new_property
from tests.scopes import build_world, ids_of


async def test_branches_matching_is_literal_and_filters_status(app: FastAPI, admin: AuthedClient) -> None:
    stem = unique_code("LIT")
    plain = await new_branch(admin, name=f"{stem} North")
    wild = await new_branch(admin, name=f"{stem} 100%_off")
    off = await new_branch(admin, name=f"{stem} Closed")
    r = await admin.post("/api/admin/disable-branch", json={"branch_id": off["ID"]})
    assert r.status_code == 200, r.text
    assert await ids_of(app, repository.branches_matching(1, stem.lower(), None)) == {
        plain["ID"],
        wild["ID"],
        off["ID"],
    }
    assert await ids_of(app, repository.branches_matching(1, f"{stem} 100%_", None)) == {wild["ID"]}
    assert await ids_of(app, repository.branches_matching(1, f"{stem} 1_0", None)) == set()  # _ is not a wildcard
    assert await ids_of(app, repository.branches_matching(1, stem, True)) == {plain["ID"], wild["ID"]}
    assert await ids_of(app, repository.branches_matching(1, stem, False)) == {off["ID"]}
    assert await ids_of(app, repository.branches_matching(1, plain["code"], None)) == {plain["ID"]}  # by code


async def test_branch_by_id_or_uuid(app: FastAPI, admin: AuthedClient) -> None:
    b = await new_branch(admin)
    assert await ids_of(app, repository.branch_by(1, branch_id=b["ID"])) == {b["ID"]}
    assert await ids_of(app, repository.branch_by(1, uuid=b["uuid"])) == {b["ID"]}
    assert await ids_of(app, repository.branch_by(1, branch_id=2_000_000_000)) == set()


async def test_usage_counters(app: FastAPI, admin: AuthedClient) -> None:
    world = await build_world(app, admin)
    a, b, c = (world.branches[n] for n in "ABC")
    async with app.state.ctx.db.sessionmaker() as session:
        assert await active_agent_counts(session, 1, [a, b, c]) == {a: 1, b: 1, c: 2}
        # solo has only A, third only C; sharer has two branches
        assert await sole_branch_agent_counts(session, 1, [a, b, c]) == {a: 1, b: 0, c: 1}
        assert await open_job_counts(session, 1, [a, b, c]) == {a: 0, b: 0, c: 0}
        assert await active_agent_counts(session, 1, []) == {}
    prop = await new_property(admin, branch_id=b)
    jobs = [await new_job(admin, prop) for _ in range(3)]
    assert (await act(admin, jobs[0]["uuid"], "cancel")).status_code == 200
    extra = await new_agent(admin, b)
    r = await admin.post("/api/agents/manage", json={"action": "deactivate", "agent_uuid": extra["uuid"]})
    assert r.status_code == 200, r.text
    async with app.state.ctx.db.sessionmaker() as session:
        assert await open_job_counts(session, 1, [b, c]) == {b: 2, c: 0}
        assert await active_agent_counts(session, 1, [b]) == {b: 1}  # the deactivated agent does not count


async def test_the_app_installs_the_counters(app: FastAPI) -> None:
    usage = await branch_usage(app.state.ctx)
    assert isinstance(usage, BranchUsage)
    assert usage.open_jobs is open_job_counts
    assert usage.active_agents is active_agent_counts
