"""GET /api/agents/performance: KPIs against a hand count on a fixed data set, date ranges, the
all-agents list, roles and visibility, bad input, and the demo data's Agent_001 (the seed's example).

The fixed data set lives in its own app and database (``make_app``), built once per test module
through the API (branches, agents) and straight rows (properties, jobs, recalls):

Agent A (branch X), jobs reported on 2026-01-10 00:00 ("January") or 2026-03-15 23:30 ("March"):
  January: 90 completed (60 Closed, 20 Complete, 10 Archived; 45 took 2 days, 45 took 6 days),
           10 open (4 New, 3 Assigned, 3 In progress — one of those with a stale completed_at),
           2 cancelled (one with a recall row), 3 recalls on completed jobs (one job recalled twice)
  March:   48 completed (24 took 4 days, 24 took 5.2 days), 2 New, 1 cancelled, 2 recalls
  → total 150, completed 138, 92.0 %, recalls 5, 3.3 %, open 12,
    avg (90 × 4.0 + 48 × 4.6) / 138 = 580.8 / 138 = 4.2087 → 4.2
  January only: 100, 90, 90.0, 3, 3.0, open 10, avg 4.0; March only: 50, 48, 96.0, 2, 4.0, 2, 4.6
Agent B (branch Y, not shared with X): 10 jobs in June 2026, 5 completed in 1.5 days, 1 recall
  → 50.0 %, 10.0 %, open 5, avg 1.5
Agent C (branch X): 4 jobs in X (2 completed in 3 days) and 2 in Y (completed in 1 day):
  staff see 6 / 4 / 66.7 % / avg (2×3 + 2×1)/4 = 2.0; agent A (sees X only) sees 4 / 2 / 50.0 % / 3.0
Agent D (branch X): no jobs → zeros, rates 0.0, avg null.
"""

from __future__ import annotations

import uuid as uuid_mod
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select

from propops.agents.models import Agent
from propops.jobs.models import Job, JobRecall
from propops.properties.models import Property
from tests.branches.util import AGENT_001, new_agent, new_branch
from tests.conftest import AuthedClient, Templates, assert_error, build_app, client_for, login_as

PERF = "/api/agents/performance"
FIELDS = [
    "agent_uuid",
    "agent_name",
    "total_jobs",
    "completed_jobs",
    "completion_rate",
    "avg_completion_days",
    "recall_count",
    "recall_rate",
    "open_jobs",
]
JAN = datetime(2026, 1, 10, 0, 0, tzinfo=UTC)
MAR = datetime(2026, 3, 15, 23, 30, tzinfo=UTC)
JUN = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
NEW, ASSIGNED, IN_PROGRESS, COMPLETE, CLOSED, ARCHIVED, CANCELLED = 1, 2, 3, 4, 5, 6, 7


def kpis(
    total: int, completed: int, rate: float, avg: float | None, recalls: int, recall_rate: float
) -> dict[str, Any]:
    return {
        "total_jobs": total,
        "completed_jobs": completed,
        "completion_rate": rate,
        "avg_completion_days": avg,
        "recall_count": recalls,
        "recall_rate": recall_rate,
        "open_jobs": total - completed,
    }


A_ALL = kpis(150, 138, 92.0, 4.2, 5, 3.3)
A_JAN = kpis(100, 90, 90.0, 4.0, 3, 3.0)
A_MAR = kpis(50, 48, 96.0, 4.6, 2, 4.0)
B_ALL = kpis(10, 5, 50.0, 1.5, 1, 10.0)
C_STAFF = kpis(6, 4, 66.7, 2.0, 0, 0.0)
C_SEEN_FROM_X = kpis(4, 2, 50.0, 3.0, 0, 0.0)
NONE = kpis(0, 0, 0.0, None, 0, 0.0)


class Rows:
    """Job and recall rows for straight insertion."""

    def __init__(self) -> None:
        self.jobs: list[dict[str, Any]] = []
        self.recalls: list[tuple[int, int]] = []  # (job index, how many recalls)

    def add(
        self,
        agent_id: int,
        prop: tuple[int, int],
        reported: datetime,
        status: int,
        days: float | None = None,
        *,
        recalls: int = 0,
        stale_completed: bool = False,
    ) -> None:
        property_id, branch_id = prop
        completed = reported + timedelta(days=days) if days is not None else None
        if stale_completed:
            completed = reported + timedelta(days=1)
        self.recalls += [(len(self.jobs), recalls)] if recalls else []
        self.jobs.append(
            {
                "uuid": str(uuid_mod.uuid4()),
                "organisation_id": 1,
                "job_ref": f"KPI-{uuid_mod.uuid4().hex[:12]}",
                "title": "KPI fixture",
                "description": "",
                "property_id": property_id,
                "branch_id": branch_id,
                "agent_id": agent_id,
                "trade_id": 2,
                "priority_id": 3,
                "status_id": status,
                "reported_at": reported,
                "completed_at": completed,
                "recall_count": recalls,
                "created_at": reported,
                "updated_at": reported,
            }
        )

    def many(self, n: int, *args: Any, **kw: Any) -> None:
        for _ in range(n):
            self.add(*args, **kw)


@pytest.fixture(scope="module")
async def world(templates: Templates, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Any]]:
    """The fixed data set in its own app (module-scoped: built once)."""
    built = await build_app(templates, tmp_path_factory.mktemp("kpi"))
    app = built.app
    async with client_for(app) as http:
        admin = await login_as(http, "admin@example.com")
        x, y = await new_branch(admin), await new_branch(admin)
        a = await new_agent(admin, x["ID"], first_name="Alice", last_name="Able")
        b = await new_agent(admin, y["ID"], first_name="Bob", last_name="Baker")
        c = await new_agent(admin, x["ID"], first_name="Cara", last_name="Cole")
        d = await new_agent(admin, x["ID"], first_name="Dan", last_name="Dale")
    ids = {k: v["ID"] for k, v in {"a": a, "b": b, "c": c, "d": d}.items()}
    async with app.state.ctx.db.sessionmaker() as session, session.begin():
        now = datetime(2026, 1, 1, tzinfo=UTC)
        props = {}
        for branch in (x, y):
            prop = Property(
                organisation_id=1,
                branch_id=branch["ID"],
                address_line1="1 KPI Street",
                postcode="LS1 4AP",
                created_at=now,
                updated_at=now,
            )
            session.add(prop)
            await session.flush()
            props[branch["ID"]] = (prop.id, branch["ID"])
        px, py = props[x["ID"]], props[y["ID"]]
        r = Rows()
        # Agent A, January
        r.many(59, ids["a"], px, JAN, CLOSED)
        r.add(ids["a"], px, JAN, CLOSED, recalls=2)  # recalled twice, then completed
        r.many(19, ids["a"], px, JAN, COMPLETE)
        r.add(ids["a"], px, JAN, COMPLETE, recalls=1)
        r.many(10, ids["a"], px, JAN, ARCHIVED)
        r.many(4, ids["a"], px, JAN, NEW)
        r.many(3, ids["a"], px, JAN, ASSIGNED)
        r.many(2, ids["a"], px, JAN, IN_PROGRESS)
        r.add(ids["a"], px, JAN, IN_PROGRESS, stale_completed=True)  # completed_at left over: not completed
        r.add(ids["a"], px, JAN, CANCELLED, recalls=1)  # cancelled: neither the job nor its recall counts
        r.add(ids["a"], px, JAN, CANCELLED, 3)
        # Agent A, March
        r.many(23, ids["a"], px, MAR, CLOSED, 4)
        r.add(ids["a"], px, MAR, CLOSED, 4, recalls=1)
        r.many(23, ids["a"], px, MAR, ARCHIVED, 5.2)
        r.add(ids["a"], px, MAR, COMPLETE, 5.2, recalls=1)
        r.many(2, ids["a"], px, MAR, NEW)
        r.add(ids["a"], px, MAR, CANCELLED)
        # Agent B
        r.many(4, ids["b"], py, JUN, CLOSED, 1.5)
        r.add(ids["b"], py, JUN, CLOSED, 1.5, recalls=1)
        r.many(5, ids["b"], py, JUN, IN_PROGRESS)
        # Agent C: two branches
        r.many(2, ids["c"], px, JUN, CLOSED, 3)
        r.many(2, ids["c"], px, JUN, NEW)
        r.many(2, ids["c"], py, JUN, CLOSED, 1)
        # January completions: the first 45 took 2 days, the other 45 took 6 days.
        jan_done = [j for j in r.jobs if j["reported_at"] == JAN and j["status_id"] in (CLOSED, COMPLETE, ARCHIVED)]
        assert len(jan_done) == 90
        for i, job in enumerate(jan_done):
            job["completed_at"] = JAN + timedelta(days=2 if i < 45 else 6)
        result = await session.execute(insert(Job).returning(Job.id, sort_by_parameter_order=True), r.jobs)
        job_ids = list(result.scalars())
        recall_rows = [
            {"job_id": job_ids[index], "reason": "again", "created_at": JUN} for index, n in r.recalls for _ in range(n)
        ]
        await session.execute(insert(JobRecall), recall_rows)
        uuids = dict((await session.execute(select(Agent.id, Agent.uuid).where(Agent.id.in_(ids.values())))).all())
    yield {
        "app": app,
        "x": x,
        "y": y,
        **{
            k: {"ID": v, "uuid": uuids[v], "email": {"a": a, "b": b, "c": c, "d": d}[k]["email"]}
            for k, v in ids.items()
        },
    }
    await built.aclose()


@pytest.fixture
async def http(world: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(world["app"]) as c:
        yield c


@pytest.fixture
async def staff(http: httpx.AsyncClient) -> AuthedClient:
    return await login_as(http, "admin@example.com")


async def perf(who: AuthedClient | httpx.AsyncClient, **params: Any) -> httpx.Response:
    return await who.get(PERF, params=params)


def figures(data: dict[str, Any]) -> dict[str, Any]:
    return {k: data[k] for k in FIELDS[2:]}


# --- one agent ----------------------------------------------------------------------------------


async def test_shape_and_seed_ratios(world: dict[str, Any], staff: AuthedClient) -> None:
    r = await perf(staff, agent_uuid=world["a"]["uuid"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True
    assert body["message"] == "Operation completed successfully"
    assert list(body["data"]) == FIELDS
    assert body["data"]["agent_uuid"] == world["a"]["uuid"]
    assert body["data"]["agent_name"] == "Alice Able"
    assert figures(body["data"]) == A_ALL
    assert isinstance(body["data"]["completion_rate"], float)
    assert isinstance(body["data"]["recall_rate"], float)


async def test_other_agents(world: dict[str, Any], staff: AuthedClient) -> None:
    for key, expected in (("b", B_ALL), ("c", C_STAFF), ("d", NONE)):
        r = await perf(staff, agent_uuid=world[key]["uuid"])
        assert r.status_code == 200, r.text
        assert figures(r.json()["data"]) == expected, key


async def test_uuid_is_case_insensitive(world: dict[str, Any], staff: AuthedClient) -> None:
    r = await perf(staff, agent_uuid=world["a"]["uuid"].upper())
    assert r.status_code == 200
    assert figures(r.json()["data"]) == A_ALL


# --- date range ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("date_from", "date_to", "expected"),
    [
        ("2026-01-01", "2026-01-31", A_JAN),
        ("2026-01-10", "2026-01-10", A_JAN),  # both ends inclusive, the whole day
        (None, "2026-01-10", A_JAN),
        ("2026-03-15", None, A_MAR),
        ("2026-03-15", "2026-03-15", A_MAR),  # 23:30 on the last day still counts
        ("2026-01-11", "2026-03-14", NONE),
        ("2026-03-16", None, NONE),
        ("2026-01-10", "2026-03-15", A_ALL),
        ("", "", A_ALL),  # empty means no bound
    ],
)
async def test_date_range(
    world: dict[str, Any], staff: AuthedClient, date_from: str | None, date_to: str | None, expected: dict[str, Any]
) -> None:
    params = {"agent_uuid": world["a"]["uuid"]}
    if date_from is not None:
        params["date_from"] = date_from
    if date_to is not None:
        params["date_to"] = date_to
    r = await perf(staff, **params)
    assert r.status_code == 200, r.text
    assert figures(r.json()["data"]) == expected


async def test_date_range_applies_to_the_list(world: dict[str, Any], staff: AuthedClient) -> None:
    r = await perf(staff, date_from="2026-06-01", date_to="2026-06-30", limit=200)
    rows = {row["agent_uuid"]: figures(row) for row in r.json()["data"]}
    assert rows[world["a"]["uuid"]] == NONE
    assert rows[world["b"]["uuid"]] == B_ALL
    assert rows[world["c"]["uuid"]] == C_STAFF


# --- all agents ---------------------------------------------------------------------------------


async def test_all_agents_list(world: dict[str, Any], staff: AuthedClient) -> None:
    r = await perf(staff, limit=200)
    assert r.status_code == 200, r.text
    body = r.json()
    # 15 demo agents and the four made here
    assert body["count"] == 19
    assert len(body["data"]) == 19
    assert all(list(row) == FIELDS for row in body["data"])
    rows = {row["agent_uuid"]: row for row in body["data"]}
    assert figures(rows[world["a"]["uuid"]]) == A_ALL
    assert figures(rows[world["b"]["uuid"]]) == B_ALL
    assert figures(rows[world["c"]["uuid"]]) == C_STAFF
    assert figures(rows[world["d"]["uuid"]]) == NONE
    assert rows[AGENT_001]["agent_name"] == "Agent_001 Surname_001"
    assert figures(rows[AGENT_001]) == A_ALL  # the demo's Agent_001 reproduces the seed
    # every row agrees with the one-agent endpoint
    one = await perf(staff, agent_uuid=world["c"]["uuid"])
    assert one.json()["data"] == rows[world["c"]["uuid"]]


async def test_all_agents_paging(world: dict[str, Any], staff: AuthedClient) -> None:
    full = [row["agent_uuid"] for row in (await perf(staff, limit=200)).json()["data"]]
    r = await perf(staff, limit=5, offset=15)
    assert r.json()["count"] == 19
    assert [row["agent_uuid"] for row in r.json()["data"]] == full[15:20]
    assert [row["agent_uuid"] for row in r.json()["data"]][-4:] == [world[k]["uuid"] for k in "abcd"]
    r = await perf(staff, limit=5, offset=100)
    assert r.status_code == 200
    assert r.json()["data"] == []
    assert r.json()["count"] == 19
    assert len((await perf(staff)).json()["data"]) == 19  # default limit 50


async def test_deactivated_agent_listed_only_on_request(world: dict[str, Any], http: httpx.AsyncClient) -> None:
    admin = await login_as(http, "admin@example.com")
    extra = await new_agent(admin, world["x"]["ID"])
    assert (
        await admin.post("/api/agents/manage", json={"action": "deactivate", "agent_uuid": extra["uuid"]})
    ).status_code == 200
    listed = [row["agent_uuid"] for row in (await perf(admin, limit=200)).json()["data"]]
    assert extra["uuid"] not in listed
    r = await perf(admin, limit=200, include_inactive="true")
    assert extra["uuid"] in [row["agent_uuid"] for row in r.json()["data"]]
    # asked for by uuid, a deactivated agent's figures are still there
    r = await perf(admin, agent_uuid=extra["uuid"])
    assert r.status_code == 200
    assert figures(r.json()["data"]) == NONE


# --- roles and visibility -----------------------------------------------------------------------


async def test_agent_sees_self_and_branch_colleagues(world: dict[str, Any], http: httpx.AsyncClient) -> None:
    a = await login_as(http, world["a"]["email"], "agent-pass-123")
    r = await perf(a, agent_uuid=world["a"]["uuid"])
    assert r.status_code == 200
    assert figures(r.json()["data"]) == A_ALL
    # C also has jobs in branch Y, which A may not see: they are not counted for A
    r = await perf(a, agent_uuid=world["c"]["uuid"])
    assert r.status_code == 200
    assert figures(r.json()["data"]) == C_SEEN_FROM_X
    r = await perf(a, limit=200)
    assert r.json()["count"] == 3
    assert [row["agent_uuid"] for row in r.json()["data"]] == [world[k]["uuid"] for k in "acd"]


async def test_agent_of_another_branch_is_404(world: dict[str, Any], http: httpx.AsyncClient) -> None:
    a = await login_as(http, world["a"]["email"], "agent-pass-123")
    missing = await perf(a, agent_uuid=str(uuid_mod.uuid4()))
    hidden = await perf(a, agent_uuid=world["b"]["uuid"])
    assert_error(hidden, 404)
    assert_error(missing, 404)
    assert hidden.json()["error"] == missing.json()["error"]
    assert_error(await perf(a, agent_uuid=AGENT_001), 404)  # demo agents work elsewhere


async def test_manager_and_finance_see_everyone(world: dict[str, Any], http: httpx.AsyncClient) -> None:
    for email in ("manager@example.com", "finance@example.com"):
        who = await login_as(http, email)
        r = await perf(who, agent_uuid=world["a"]["uuid"])
        assert r.status_code == 200, email
        assert figures(r.json()["data"]) == A_ALL, email


async def test_contractor_is_403_and_anonymous_401(world: dict[str, Any], http: httpx.AsyncClient) -> None:
    contractor = await login_as(http, "contractor001@example.com")
    assert_error(await perf(contractor, agent_uuid=world["a"]["uuid"]), 403)
    assert_error(await perf(contractor), 403)
    assert_error(await perf(http, agent_uuid=world["a"]["uuid"]), 401)
    assert_error(await perf(http), 401)
    assert_error(await http.get(PERF, headers={"Authorization": "Bearer not-a-token"}), 401)


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date_from": "2026-13-01"}, "date_from"),
        ({"date_from": "2026-02-30"}, "date_from"),
        ({"date_from": "01/02/2026"}, "date_from"),
        ({"date_from": "20260101"}, "date_from"),
        ({"date_to": "2026-01-01T00:00:00"}, "date_to"),
        ({"date_to": "yesterday"}, "date_to"),
        ({"date_to": "2026-1-1"}, "date_to"),
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "date_from"),
        ({"agent_uuid": "not-a-uuid"}, "agent_uuid"),
        ({"agent_uuid": "880e8400-e29b-41d4-a716-44665544000Z"}, "agent_uuid"),
        ({"agent_uuid": "' OR 1=1 --"}, "agent_uuid"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
async def test_bad_input_is_400(staff: AuthedClient, params: dict[str, Any], field: str) -> None:
    body = assert_error(await perf(staff, **params), 400)
    assert field in [e["field"] for e in body["errors"]] or field in body["error"], body


async def test_overlong_uuid_is_400(staff: AuthedClient) -> None:
    assert_error(await perf(staff, agent_uuid="a" * 65), 400)


async def test_bad_dates_are_400_for_agents_too(world: dict[str, Any], http: httpx.AsyncClient) -> None:
    a = await login_as(http, world["a"]["email"], "agent-pass-123")
    assert_error(await perf(a, agent_uuid=world["a"]["uuid"], date_to="2026-02-29"), 400)
    r = await perf(a, agent_uuid=world["a"]["uuid"], date_from="0001-01-01", date_to="9999-12-31")
    assert r.status_code == 200
    assert figures(r.json()["data"]) == A_ALL


# --- the demo data ------------------------------------------------------------------------------


async def test_demo_agent_001_reproduces_the_seed(make_app: Callable[..., Awaitable[FastAPI]]) -> None:
    app = await make_app()
    async with client_for(app) as http:
        admin = await login_as(http, "admin@example.com")
        r = await perf(admin, agent_uuid=AGENT_001)
        assert r.status_code == 200, r.text
        assert r.json()["data"] == {
            "agent_uuid": AGENT_001,
            "agent_name": "Agent_001 Surname_001",
            "total_jobs": 150,
            "completed_jobs": 138,
            "completion_rate": 92.0,
            "avg_completion_days": 4.2,
            "recall_count": 5,
            "recall_rate": 3.3,
            "open_jobs": 12,
        }
        agent = await login_as(http, "agent001@example.com")
        assert (await perf(agent, agent_uuid=AGENT_001)).json()["data"]["total_jobs"] == 150
        everyone = await perf(admin)
        assert everyone.json()["count"] == 15
        assert all(row["total_jobs"] > 0 for row in everyone.json()["data"])
