"""Assignment: refused (409, every reason) for each single missing condition; staff override;
create-and-assign is all or nothing; suggestions rank the eligible and explain the excluded."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from tests.conftest import AuthedClient, assert_error
from tests.jobs.helpers import (
    ELECTRICAL,
    MANAGE,
    act,
    create_job,
    job_count,
    new_contractor,
    new_job,
)


async def _refused(who: AuthedClient, job_uuid: str, contractor: dict[str, Any]) -> list[str]:
    body = assert_error(
        await act(who, job_uuid, "assign", contractor_uuid=contractor["uuid"]), 409, "cannot be assigned"
    )
    return [e["message"] for e in body["errors"]]


async def test_each_single_missing_condition(admin: AuthedClient, agent: AuthedClient, prop: dict[str, Any]) -> None:
    u = (await new_job(agent, prop))["uuid"]
    inactive = await new_contractor(admin, active=False)
    assert await _refused(agent, u, inactive) == ["contractor is not active"]
    electrician = await new_contractor(admin, trades=[ELECTRICAL])
    assert await _refused(agent, u, electrician) == ["contractor does not work in the trade Plumbing"]
    far = await new_contractor(admin, postcode="M1 1", radius_km=5)
    [reason] = await _refused(agent, u, far)
    assert "outside the contractor's coverage area" in reason
    assert "LS1 4AP" in reason
    uncertified = await new_contractor(admin, certs=())
    [reason] = await _refused(agent, u, uncertified)
    assert reason.startswith("missing or expired certificates required for Plumbing")
    assert "Public liability" in reason
    # the job is untouched by the refusals
    r = await agent.get(MANAGE, params={"action": "get", "uuid": u})
    assert r.json()["data"]["status_name"] == "New"
    assert r.json()["data"]["contractor_id"] is None
    r = await agent.get(MANAGE, params={"action": "list_commits", "uuid": u})
    assert [e["event"] for e in r.json()["data"]] == ["created"]


async def test_every_reason_listed_at_once(admin: AuthedClient, agent: AuthedClient, prop: dict[str, Any]) -> None:
    u = (await new_job(agent, prop))["uuid"]
    hopeless = await new_contractor(admin, trades=[ELECTRICAL], postcode="M1 1", radius_km=5, certs=(), active=False)
    reasons = await _refused(agent, u, hopeless)
    assert len(reasons) == 4, reasons


async def test_staff_override_recorded_agent_cannot(
    admin: AuthedClient, agent: AuthedClient, prop: dict[str, Any]
) -> None:
    u = (await new_job(agent, prop))["uuid"]
    uncertified = await new_contractor(admin, certs=())
    assert_error(
        await act(agent, u, "assign", contractor_uuid=uncertified["uuid"], override_reason="urgent"), 403, "staff"
    )
    r = await act(admin, u, "assign", contractor_uuid=uncertified["uuid"], override_reason="Certificate seen on site")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["contractor_uuid"] == uncertified["uuid"]
    r = await admin.get(MANAGE, params={"action": "list_commits", "uuid": u})
    assigned = r.json()["data"][-1]
    assert assigned["event"] == "assigned"
    assert assigned["reason"] == "Certificate seen on site"
    assert assigned["after"]["override"][0].startswith("missing or expired certificates")


async def test_reassign_while_assigned_then_not_after_start(
    admin: AuthedClient, agent: AuthedClient, plumber: dict[str, Any], prop: dict[str, Any]
) -> None:
    other = await new_contractor(admin)
    u = (await new_job(agent, prop, contractor_uuid=plumber["uuid"]))["uuid"]
    r = await act(agent, u, "assign", contractor_uuid=other["uuid"])
    assert r.json()["data"]["contractor_uuid"] == other["uuid"]
    assert (await act(admin, u, "start")).status_code == 200
    assert_error(await act(agent, u, "assign", contractor_uuid=plumber["uuid"]), 409, "allowed now")


async def test_create_and_assign_is_all_or_nothing(
    app: FastAPI, admin: AuthedClient, agent: AuthedClient, prop: dict[str, Any]
) -> None:
    uncertified = await new_contractor(admin, certs=())
    before = await job_count(app)
    assert_error(await create_job(agent, prop, contractor_uuid=uncertified["uuid"]), 409, "cannot be assigned")
    assert_error(
        await create_job(agent, prop, contractor_uuid="00000000-0000-0000-0000-000000000000"), 400, "unknown contractor"
    )
    assert await job_count(app) == before
    ok = await create_job(admin, prop, contractor_uuid=uncertified["uuid"], override_reason="Known to us")
    assert ok.status_code == 200
    assert ok.json()["data"]["status_name"] == "Assigned"
    assert await job_count(app) == before + 1


async def test_suggestions_rank_and_explain(admin: AuthedClient, agent: AuthedClient, prop: dict[str, Any]) -> None:
    near = await new_contractor(admin, postcode="LS1 4", radius_km=15)
    busy = await new_contractor(admin, postcode="LS1 4", radius_km=15)
    uncertified = await new_contractor(admin, certs=())
    electrician = await new_contractor(admin, trades=[ELECTRICAL])
    for _ in range(2):
        await new_job(admin, prop, contractor_uuid=busy["uuid"])
    u = (await new_job(agent, prop))["uuid"]
    r = await agent.get(MANAGE, params={"action": "suggest_contractors", "uuid": u, "limit": 200})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    eligible = {e["contractor_uuid"]: e for e in data["eligible"]}
    assert near["uuid"] in eligible
    assert busy["uuid"] in eligible
    assert eligible[busy["uuid"]]["open_jobs"] == 2
    assert eligible[near["uuid"]]["open_jobs"] == 0
    order = [e["contractor_uuid"] for e in data["eligible"]]
    assert order.index(near["uuid"]) < order.index(busy["uuid"])
    scores = [e["score"] for e in data["eligible"]]
    assert scores == sorted(scores)
    excluded = {e["contractor_uuid"]: e["reasons"] for e in data["excluded"]}
    assert excluded[uncertified["uuid"]][0].startswith("missing or expired certificates")
    assert excluded[electrician["uuid"]] == ["contractor does not work in the trade Plumbing"]
    assert data["eligible_count"] == len(data["eligible"])
    # contractors cannot ask for suggestions
    c = await new_contractor(admin)
    from tests.conftest import login_as
    from tests.jobs.helpers import PASSWORD

    cc = await login_as(agent.http, c["email"], PASSWORD)
    assert_error(await cc.get(MANAGE, params={"action": "suggest_contractors", "uuid": u}), 403)


async def test_suggestions_bounded_queries(
    app: FastAPI, admin: AuthedClient, agent: AuthedClient, prop: dict[str, Any]
) -> None:
    """The number of statements does not grow with the number of candidates (no N+1)."""
    from sqlalchemy import event

    u = (await new_job(agent, prop))["uuid"]
    engine = app.state.ctx.db.engine.sync_engine
    counted: list[str] = []

    def _count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        counted.append(statement)

    event.listen(engine, "before_cursor_execute", _count)
    try:
        await agent.get(MANAGE, params={"action": "suggest_contractors", "uuid": u})
        first = len(counted)
        for _ in range(3):
            await new_contractor(admin)
        counted.clear()
        await agent.get(MANAGE, params={"action": "suggest_contractors", "uuid": u})
        assert len(counted) == first, (first, len(counted))
    finally:
        event.remove(engine, "before_cursor_execute", _count)
