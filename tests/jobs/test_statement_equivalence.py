"""Old SQL text against the new Core statements: the jobs list (filter combinations, each principal
kind, pages), the job get (and the read after a write) and the SLA verdict give the same rows, on
the demo data and on generated data that sits on every SLA boundary.

The old statements live here only (they were ``jobs.reads``' string templates, in the numbered
``{n}`` placeholder style, with the old branch-visibility text); this file goes with them
once the new statements have stood on their own for a release.
"""

from __future__ import annotations

import json
import random
import uuid as uuid_mod
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi import FastAPI
from sqlalchemy import bindparam, insert, select

from propops.agents.models import Agent
from propops.auth.models import ACCOUNT_AGENT, ACCOUNT_CONTRACTOR, ACCOUNT_STAFF, User
from propops.auth.service import Principal
from propops.contractors.models import Contractor
from propops.core.clock import as_utc, utcnow
from propops.core.pagination import Page
from propops.core.validation import like_pattern
from propops.infra.executor import Executor
from propops.jobs import repository, sla
from propops.jobs.models import COMPLETED_STATUSES, OPEN_STATUSES, Job
from propops.jobs.repository import JobFilters
from propops.properties.models import Property
from tests.branches.util import new_agent
from tests.conftest import client_for, login_as
from tests.oldsql import run_old_sql

# --------------------------------------------------------------------------- the old SQL text

_OPEN = ", ".join(str(s) for s in OPEN_STATUSES)
_DONE = ", ".join(str(s) for s in COMPLETED_STATUSES)


class OldSql:
    """``jobs.reads._Sql`` as it was: dialect fragments and a parameter list handing out ``{n}``."""

    def __init__(self, pg: bool) -> None:
        self.pg = pg
        self.params: list[Any] = []

    def p(self, value: Any) -> str:
        self.params.append(value)
        return "{" + str(len(self.params) - 1) + "}"

    def ts(self, value: datetime) -> str:
        value = as_utc(value)
        if self.pg:
            return self.p(value)
        return self.p(value.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f"))

    def iso(self, column: str) -> str:
        if self.pg:
            return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""
        return f"strftime('%Y-%m-%dT%H:%M:%SZ', {column})"

    def money(self, column: str) -> str:
        return f"CAST({column} AS {'double precision' if self.pg else 'REAL'})"

    def sla_verdict(self, now: datetime, which: str) -> str:
        minutes = "coalesce(j.sla_target_hours, 0) * 15"
        open_ = f"j.status_id IN ({_OPEN})"
        done = f"(j.status_id IN ({_DONE}) AND j.completed_at IS NOT NULL)"
        if self.pg:
            at_risk_from = f"(j.sla_due_at - make_interval(mins => {minutes}))"
        else:
            at_risk_from = f"datetime(j.sla_due_at, '-' || ({minutes}) || ' minutes')"

        def now_risk() -> str:
            if self.pg:
                return self.p(as_utc(now))
            return self.p(as_utc(now).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S"))

        if which == "breached":
            return (
                f"(j.sla_due_at IS NOT NULL AND (({open_} AND j.sla_due_at < {self.ts(now)}) "
                f"OR ({done} AND j.completed_at > j.sla_due_at)))"
            )
        if which == "at_risk":
            return (
                f"(j.sla_due_at IS NOT NULL AND {open_} AND j.sla_due_at >= {self.ts(now)} "
                f"AND {at_risk_from} <= {now_risk()})"
            )
        return (
            f"(j.sla_due_at IS NOT NULL AND (({open_} AND {at_risk_from} > {now_risk()}) "
            f"OR ({done} AND j.completed_at <= j.sla_due_at)))"
        )

    def sla_case(self, now: datetime) -> str:
        return (
            f"CASE WHEN {self.sla_verdict(now, 'breached')} THEN 'breached' "
            f"WHEN {self.sla_verdict(now, 'at_risk')} THEN 'at_risk' "
            f"WHEN {self.sla_verdict(now, 'on_track')} THEN 'on_track' END"
        )

    def children(self, visibility: str) -> str:
        where = "ch.parent_job_id = j.id" + (f" AND {visibility}" if visibility else "")
        if self.pg:
            return (
                "(SELECT coalesce(json_agg(json_build_object('uuid', ch.uuid, 'job_ref', ch.job_ref) "
                f"ORDER BY ch.id), '[]')::text FROM jobs ch WHERE {where})"
            )
        return (
            "(SELECT json_group_array(json_object('uuid', x.uuid, 'job_ref', x.job_ref)) FROM "
            f"(SELECT ch.uuid, ch.job_ref FROM jobs ch WHERE {where} ORDER BY ch.id) x)"
        )


def old_visibility(q: OldSql, principal: Principal, alias: str = "j") -> str:
    if principal.account_type_id not in (ACCOUNT_STAFF, ACCOUNT_AGENT, ACCOUNT_CONTRACTOR):
        return "1 = 0"
    # The organisation rule (migration 0012) is part of both forms since organisations exist.
    same_organisation = f"{alias}.organisation_id = {q.p(principal.organisation_id)}"
    if principal.account_type_id == ACCOUNT_STAFF:
        return same_organisation
    if principal.account_type_id == ACCOUNT_AGENT:
        branches = (
            "SELECT vb.branch_id FROM agent_branches vb JOIN agents va ON va.id = vb.agent_id "
            f"WHERE va.user_id = {q.p(principal.user_id)}"
        )
        return f"{same_organisation} AND {alias}.branch_id IN ({branches})"
    if principal.account_type_id == ACCOUNT_CONTRACTOR:
        return (
            f"{same_organisation} AND "
            f"{alias}.contractor_id IN (SELECT co.id FROM contractors co WHERE co.user_id = {q.p(principal.user_id)})"
        )
    return "1 = 0"


def old_columns(q: OldSql, now: datetime) -> str:
    stamps = ", ".join(
        q.iso(f"j.{c}")
        for c in ("reported_at", "assigned_at", "accepted_at", "started_at", "completed_at", "closed_at", "sla_due_at")
    )
    return (
        "j.id, j.uuid, j.job_ref, j.title, j.description, j.status_id, j.priority_id, j.job_type_id, "
        "j.trade_id, j.branch_id, j.agent_id, j.contractor_id, j.property_id, "
        f"{q.money('j.client_budget')}, {q.money('j.contractor_budget')}, {stamps}, "
        f"j.sla_target_hours, {q.sla_case(now)}, j.recall_count, {q.iso('j.created_at')}, {q.iso('j.updated_at')}, "
        "p.uuid, p.address_line1, p.address_line2, p.town, p.postcode, "
        "(SELECT st.name FROM job_statuses st WHERE st.id = j.status_id), "
        "(SELECT pr.name FROM priorities pr WHERE pr.id = j.priority_id), "
        "(SELECT jt.name FROM job_types jt WHERE jt.id = j.job_type_id), "
        "(SELECT t.name FROM trades t WHERE t.id = j.trade_id), "
        "(SELECT b.name FROM branches b WHERE b.id = j.branch_id), "
        "a.uuid, au.first_name, au.last_name, c.uuid, c.first_name, c.last_name, c.company_name, "
        "(SELECT pj.uuid FROM jobs pj WHERE pj.id = j.parent_job_id)"
    )


OLD_JOINS = (
    "JOIN properties p ON p.id = j.property_id "
    "LEFT JOIN agents a ON a.id = j.agent_id "
    "LEFT JOIN users au ON au.id = a.user_id "
    "LEFT JOIN contractors c ON c.id = j.contractor_id"
)


def old_list(pg: bool, principal: Principal, f: JobFilters, page: Page, now: datetime) -> tuple[Any, ...]:
    """``reads.list_query``: (count SQL, count params, page SQL, page params)."""
    q = OldSql(pg)
    conds: list[str] = []
    for column, value in (
        ("status_id", f.status_id),
        ("priority_id", f.priority_id),
        ("branch_id", f.branch_id),
        ("trade_id", f.trade_id),
        ("job_type_id", f.job_type_id),
        ("agent_id", f.agent_id),
        ("contractor_id", f.contractor_id),
        ("created_by_user_id", f.created_by),
        ("property_id", f.address_id),
    ):
        if value is not None:
            conds.append(f"j.{column} = {q.p(value)}")
    if f.agent_uuid is not None:
        conds.append(f"j.agent_id = (SELECT ag.id FROM agents ag WHERE ag.uuid = {q.p(f.agent_uuid)})")
    if f.contractor_uuid is not None:
        conds.append(
            f"j.contractor_id = (SELECT co2.id FROM contractors co2 WHERE co2.uuid = {q.p(f.contractor_uuid)})"
        )
    if f.date_from is not None:
        conds.append(f"j.reported_at >= {q.ts(f.date_from)}")
    if f.date_to is not None:
        conds.append(f"j.reported_at < {q.ts(f.date_to)}")
    if f.sla_status is not None:
        conds.append(q.sla_verdict(now, f.sla_status))
    if f.search:
        pattern = q.p(like_pattern(f.search))
        conds.append(
            f"(lower(j.title) LIKE {pattern} ESCAPE '\\' OR lower(j.job_ref) LIKE {pattern} ESCAPE '\\' "
            f"OR lower(j.description) LIKE {pattern} ESCAPE '\\')"
        )
    vis = old_visibility(q, principal)
    if vis:
        conds.append(vis)
    where = " AND ".join(conds) or "1 = 1"
    count_sql = f"SELECT count(*) FROM jobs j WHERE {where}"
    count_params = tuple(q.params)
    limit, offset = q.p(page.limit), q.p(page.offset)
    inner = f"SELECT j.id FROM jobs j WHERE {where} ORDER BY j.id DESC LIMIT {limit} OFFSET {offset}"
    page_sql = (
        f"SELECT {old_columns(q, now)}, ({count_sql}) FROM ({inner}) pg JOIN jobs j ON j.id = pg.id {OLD_JOINS} "
        "ORDER BY j.id DESC"
    )
    return count_sql, count_params, page_sql, tuple(q.params)


def old_detail(pg: bool, principal: Principal, now: datetime, *, job_uuid: str | None = None, job_id: int = 0) -> Any:
    """``reads._detail_sql`` by uuid (visible jobs only) or ``job_detail_by_id`` (no job filter)."""
    q = OldSql(pg)
    if job_uuid is not None:
        vis = old_visibility(q, principal)
        columns = old_columns(q, now)
        children = q.children(old_visibility(q, principal, "ch"))
        where = f"j.uuid = {q.p(job_uuid)}"
        sql = f"SELECT {columns}, {children} FROM jobs j {OLD_JOINS} WHERE {where}" + (f" AND {vis}" if vis else "")
    else:
        children = q.children(old_visibility(q, principal, "ch"))
        sql = f"SELECT {old_columns(q, now)}, {children} FROM jobs j {OLD_JOINS} WHERE j.id = {q.p(job_id)}"
    return sql, tuple(q.params)


def old_verdicts(pg: bool, now: datetime) -> Any:
    q = OldSql(pg)
    return f"SELECT j.id, {q.sla_case(now)} FROM jobs j ORDER BY j.id", tuple(q.params)


async def run_old(ex: Executor, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    return await run_old_sql(ex, sql, params)


# --------------------------------------------------------------------------- comparing


def _principal(user_id: int, account_type_id: int) -> Principal:
    return Principal(user_id, "", "", "", "", account_type_id, 0, 0, "", frozenset(), 1, True)


async def _principals(ex: Executor, extra: dict[str, Principal] | None = None) -> dict[str, Principal]:
    by_email = select(User.id, User.account_type_id).where(User.email == bindparam("email"))
    out = {}
    for name, email in (
        ("staff", "admin@example.com"),
        ("agent_shared", "agent001@example.com"),
        ("contractor", "contractor001@example.com"),
    ):
        row = await ex.committed_one(by_email, email=email)
        assert row is not None
        out[name] = _principal(int(row[0]), int(row[1]))
    out["nobody"] = _principal(out["staff"].user_id, 3)  # a landlord account: no job
    out["agent_no_jobs"] = _principal(out["staff"].user_id, ACCOUNT_AGENT)  # an agent row of nobody
    out.update(extra or {})
    return out


async def _filter_sets(ex: Executor, now: datetime) -> list[JobFilters]:
    ids = await ex.committed_one(
        select(Job.branch_id, Job.contractor_id, Job.agent_id, Job.property_id, Job.created_by_user_id)
        .where(Job.contractor_id.is_not(None), Job.agent_id.is_not(None))
        .order_by(Job.id)
        .limit(1)
    )
    assert ids is not None
    branch, contractor, agent, prop, creator = ids
    agent_uuid = (await ex.committed_one(select(Agent.uuid).where(Agent.id == agent)) or ("",))[0]
    c_uuid = (await ex.committed_one(select(Contractor.uuid).where(Contractor.id == contractor)) or ("",))[0]
    week = now - timedelta(days=7)
    sets = [
        JobFilters(),
        JobFilters(branch_id=branch),
        JobFilters(branch_id=1),
        JobFilters(contractor_id=contractor),
        JobFilters(contractor_uuid=c_uuid),
        JobFilters(agent_id=agent),
        JobFilters(agent_uuid=agent_uuid),
        JobFilters(agent_uuid=str(uuid_mod.uuid4())),
        JobFilters(status_id=2),
        JobFilters(status_id=4, priority_id=1),
        JobFilters(trade_id=2, job_type_id=4),
        JobFilters(created_by=creator),
        JobFilters(address_id=prop),
        JobFilters(date_from=week),
        JobFilters(date_from=now - timedelta(days=60), date_to=week),
        JobFilters(search="leak"),
        JobFilters(search="100%"),
        JobFilters(search="a_b"),
        JobFilters(search="job-0"),
        JobFilters(branch_id=branch, status_id=3, search="e"),
    ]
    for verdict in sla.SLA_STATUSES:
        sets += [JobFilters(sla_status=verdict), JobFilters(branch_id=branch, sla_status=verdict)]
        sets.append(JobFilters(contractor_id=contractor, sla_status=verdict))
    return sets


PAGES = (Page(limit=50, offset=0), Page(limit=7, offset=3), Page(limit=5, offset=100_000))


async def assert_lists_equal(ex: Executor, principals: dict[str, Principal], now: datetime) -> int:
    """Every filter set, for every principal and page: the same rows and count. Returns how many
    compared pages had rows (so the test knows it compared something)."""
    non_empty = 0
    for f in await _filter_sets(ex, now):
        for who, principal in principals.items():
            for page in PAGES:
                count_sql, count_params, page_sql, page_params = old_list(ex.pg, principal, f, page, now)
                old_rows = await run_old(ex, page_sql, page_params)
                old_count = (await run_old(ex, count_sql, count_params))[0][0]
                present, values = repository.list_parameters(f)
                st = repository.list_statements(repository.kind(principal), present, f.sla_status)
                params = {**repository.viewer(principal), **values, "now": now}
                new_rows = await ex.committed(st.page, **params, limit=page.limit, offset=page.offset)
                new_count = (await ex.committed(st.count, **params))[0][0]
                context = f"{who} {f} {page}"
                assert_rows(new_rows, old_rows, context)
                assert new_count == old_count, context
                # and through the service function (the empty page answers with the count alone)
                rows, count = await repository.list_jobs(ex, principal, page, f, now=now)
                assert count == old_count, context
                assert [r["ID"] for r in rows] == [r[0] for r in old_rows], context
                non_empty += bool(old_rows)
    return non_empty


def assert_rows(new: list[tuple[Any, ...]], old: list[tuple[Any, ...]], context: str) -> None:
    """Equal rows; on a difference, name the first row and the columns that differ."""
    assert len(new) == len(old), context
    for n, o in zip(new, old, strict=True):
        diff = [(i, a, b) for i, (a, b) in enumerate(zip(n, o, strict=True)) if a != b or type(a) is not type(b)]
        assert not diff, f"{context}: job {o[0]}: (column, new, old) {diff}"


def _same_detail(new: tuple[Any, ...] | None, old: list[tuple[Any, ...]]) -> None:
    if not old:
        assert new is None
        return
    assert new is not None
    *head, children = old[0]
    *new_head, new_children = new
    assert tuple(new_head) == tuple(head)
    assert json.loads(new_children) == json.loads(children)


async def assert_details_equal(ex: Executor, principals: dict[str, Principal], now: datetime) -> int:
    """The get (by uuid) and the read after a write (by id), for parents with children, jobs the
    caller may or may not see, and an unknown uuid."""
    rows = await ex.committed(
        select(Job.id, Job.uuid).where(Job.id.in_(select(Job.parent_job_id).where(Job.parent_job_id.is_not(None))))
    )
    sample = rows[:15] + (await ex.committed(select(Job.id, Job.uuid).order_by(Job.id.desc()).limit(15)))
    sample.append((0, str(uuid_mod.uuid4())))
    found = 0
    for who, principal in principals.items():
        k = repository.kind(principal)
        for job_id, job_uuid in sample:
            sql, params = old_detail(ex.pg, principal, now, job_uuid=job_uuid)
            old = await run_old(ex, sql, params)
            new = await ex.committed_one(
                repository.detail_by_uuid(k), **repository.viewer(principal), uuid=job_uuid, now=now
            )
            _same_detail(new, old)
            found += bool(old)
            sql, params = old_detail(ex.pg, principal, now, job_id=job_id)
            old = await run_old(ex, sql, params)
            new = await ex.committed_one(
                repository.detail_by_id(k), **repository.viewer(principal), job_id=job_id, now=now
            )
            _same_detail(new, old)
            assert who  # every principal kind is compared
    return found


async def assert_verdicts_equal(ex: Executor, now: datetime) -> dict[str | None, int]:
    sql, params = old_verdicts(ex.pg, now)
    old = await run_old(ex, sql, params)
    new = await ex.committed(select(Job.id, sla.status_case(Job)).order_by(Job.id), now=now)
    assert [tuple(r) for r in new] == [tuple(r) for r in old]
    tally: dict[str | None, int] = {}
    for _, verdict in new:
        tally[verdict] = tally.get(verdict, 0) + 1
    return tally


# --------------------------------------------------------------------------- the demo data


async def test_demo_data_same_rows(app: FastAPI) -> None:
    ex: Executor = app.state.ctx.executor
    now = utcnow()
    principals = await _principals(ex)
    assert await assert_lists_equal(ex, principals, now) > 50
    assert await assert_details_equal(ex, principals, now) > 10
    tally = await assert_verdicts_equal(ex, now)
    assert tally.get("on_track")
    assert tally.get("breached")


# --------------------------------------------------------------------------- generated data


def _boundary_offsets(target: int) -> list[timedelta]:
    """Due times relative to now at and around the verdict boundaries of a ``target``-hour SLA."""
    risk = timedelta(minutes=target * 15)
    tiny, second = timedelta(microseconds=1), timedelta(seconds=1)
    return [
        timedelta(0),
        -tiny,
        tiny,
        -second,
        second,
        risk,
        risk - tiny,
        risk + tiny,
        risk - second,
        risk + second,
        risk + timedelta(microseconds=500_000),
        -timedelta(days=3),
        timedelta(days=9),
    ]


async def _generate(app: FastAPI, now: datetime, n: int = 700) -> None:
    """Jobs in every status and on every SLA boundary, with children across branches, budgets,
    contractors and agents, written straight into the tables."""
    rng = random.Random(1337)
    ex: Executor = app.state.ctx.executor
    props = [(int(p), int(b)) for p, b in await ex.committed(select(Property.id, Property.branch_id))]
    contractors = [int(r[0]) for r in await ex.committed(select(Contractor.id).limit(6))]
    agents = [int(r[0]) for r in await ex.committed(select(Agent.id))]
    users = [int(r[0]) for r in await ex.committed(select(User.id).limit(5))]
    titles = ["Leak under sink", "100% blocked drain", "a_b test", "Boiler", "leaky tap\\", "Gutter"]
    rows: list[dict[str, Any]] = []
    for i in range(n):
        prop, branch = rng.choice(props)
        target = rng.choice([None, 1, 4, 24, 72, 168])
        status = rng.randint(1, 7)
        due = None if target is None else now + rng.choice(_boundary_offsets(target))
        completed = None
        if status in COMPLETED_STATUSES and rng.random() < 0.9:
            base = due or now
            completed = base + rng.choice(
                [timedelta(0), -timedelta(microseconds=1), timedelta(hours=2), -timedelta(hours=5)]
            )
        reported = (due or now) - timedelta(hours=target or 1) - timedelta(microseconds=rng.randint(0, 999_999))
        rows.append(
            {
                "organisation_id": 1,
                "job_ref": f"GEN-{i:06d}",
                "uuid": str(uuid_mod.uuid4()),
                "title": f"{rng.choice(titles)} {i}",
                "description": rng.choice(["", "Kitchen", "Upstairs 50% done", "JOB-000001 follow-up"]),
                "property_id": prop,
                "branch_id": branch,
                "agent_id": rng.choice([None, *agents[:20]]),
                "trade_id": rng.randint(1, 5),
                "job_type_id": rng.choice([None, 1, 2, 3, 4, 5, 6]),
                "priority_id": rng.randint(1, 4),
                "status_id": status,
                "contractor_id": rng.choice([None, *contractors]),
                "contractor_budget": rng.choice([None, Decimal("120.50"), Decimal("0.00")]),
                "client_budget": rng.choice([None, Decimal("999.99"), Decimal("35")]),
                "reported_at": reported,
                "assigned_at": rng.choice([None, reported + timedelta(minutes=5)]),
                "accepted_at": rng.choice([None, reported + timedelta(minutes=9)]),
                "started_at": None,
                "completed_at": completed,
                "closed_at": rng.choice([None, completed]) if completed else None,
                "sla_target_hours": target,
                "sla_due_at": due,
                "recall_count": rng.randint(0, 2),
                "created_by_user_id": rng.choice(users),
                "created_at": reported,
                "updated_at": reported + timedelta(seconds=rng.randint(0, 9000)),
            }
        )
    async with app.state.ctx.db.sessionmaker() as session, session.begin():
        await session.execute(insert(Job), rows)
    async with app.state.ctx.db.sessionmaker() as session, session.begin():
        ids = [int(r[0]) for r in (await session.execute(select(Job.id).where(Job.job_ref.like("GEN-%")))).all()]
        parents = rng.sample(ids, 40)
        for child in rng.sample([i for i in ids if i not in parents], 120):
            await session.execute(
                Job.__table__.update().where(Job.id == child).values(parent_job_id=rng.choice(parents))
            )


async def test_generated_data_same_rows(make_app: Callable[..., Awaitable[FastAPI]]) -> None:
    app = await make_app()
    now = utcnow().replace(microsecond=250_000)
    await _generate(app, now)
    ex: Executor = app.state.ctx.executor
    async with client_for(app) as http:
        admin = await login_as(http, "admin@example.com")
        plain = await new_agent(admin, 3)  # an agent of branch 3 alone: no shared branch
    row = await ex.committed_one(select(User.id).where(User.email == plain["email"]))
    assert row is not None
    principals = await _principals(ex, {"agent_plain": _principal(int(row[0]), ACCOUNT_AGENT)})
    assert await assert_lists_equal(ex, principals, now) > 100
    assert await assert_details_equal(ex, principals, now) > 30
    for at in (now, now + timedelta(seconds=1), now + timedelta(minutes=15), now - timedelta(hours=4)):
        tally = await assert_verdicts_equal(ex, at)
        assert {"on_track", "at_risk", "breached", None} <= set(tally), tally
    # the microsecond-exact boundary is where the dialects' arithmetic could differ: compare them all
    for offset in _boundary_offsets(4):
        await assert_verdicts_equal(ex, now + offset)
