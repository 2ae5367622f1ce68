"""Jobs at scale: 1,000,000 jobs over 50 branches, 500 agents and 5,000 contractors.

Builds a fresh database (migrations + the demo data, for the logins), bulk-loads the generated
rows (PostgreSQL: asyncpg ``copy_records_to_table``; SQLite: multi-row executemany), runs
VACUUM ANALYZE, prints EXPLAIN ANALYZE of the hot queries, then measures over HTTP with a uvicorn
server (1 worker) and wrk, next to the framework floor ``GET /api/ping`` measured the same way:

- ``GET /api/jobs/manage?action=list`` filtered to one branch (~20,000 jobs) and to one contractor
  (~190 jobs), with the total ``count`` (staff; and an agent for the branch list);
- ``GET /api/agents/performance`` for one agent (~2,000 jobs) and for all agents (one page of 50,
  one of 200, and all 500+ through three pages of 200);
- job creation (``POST action=create``): sequential, then concurrent (wrk, 8 connections).

Each latency run rotates over 50 different branches / contractors / agents, with 1 connection
(latency) and 8 connections (throughput). Goals: list p50 <= 30 ms, one agent's performance p50 <=
100 ms, all agents <= 1 s. The database is dropped at the end (``--keep`` keeps it).

Usage: python bench/jobs_scale.py [--jobs 1000000] [--db postgresql|sqlite] [--seconds 8]
Needs wrk; ports 8600-8699.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from _common import WrkResult, free_port, fresh_database, parse_wrk, server

N_BRANCHES, N_AGENTS, N_CONTRACTORS = 50, 500, 5000
PROPERTIES_PER_BRANCH = 2000
CHUNK = 50_000
SAMPLE = 50  # distinct branches / contractors / agents each latency run rotates over


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# --------------------------------------------------------------------------- generation


class Generator:
    """Deterministic rows; ids start above whatever the demo data used."""

    def __init__(self, n_jobs: int, base: dict[str, int], password_hash: str, now: datetime) -> None:
        self.rng = random.Random(42)  # noqa: S311 - benchmark data
        self.n_jobs, self.base, self.hash, self.now = n_jobs, base, password_hash, now
        self.branch_ids = [base["branches"] + i for i in range(N_BRANCHES)]
        self.agent_ids = [base["agents"] + i for i in range(N_AGENTS)]
        self.contractor_ids = [base["contractors"] + i for i in range(N_CONTRACTORS)]
        self.user_ids = [base["users"] + i for i in range(N_AGENTS)]

    def branches(self) -> list[tuple[Any, ...]]:
        now = self.now
        return [
            (bid, f"Scale branch {i:02d}", f"SCALE{i:02d}", f"{i} Scale Street", "London", "N1 9GU", True,
             _uuid(self.rng), now, now)
            for i, bid in enumerate(self.branch_ids)
        ]  # fmt: skip

    def users(self) -> list[tuple[Any, ...]]:
        now = self.now
        return [
            (uid, f"scale-agent{i:03d}@example.com", self.hash, f"Scale{i:03d}", "Agent", 2, 1, 6,
             self.branch_ids[i // 10], _uuid(self.rng), now, now)
            for i, uid in enumerate(self.user_ids)
        ]  # fmt: skip

    def agents(self) -> list[tuple[Any, ...]]:
        now = self.now
        return [(aid, self.user_ids[i], _uuid(self.rng), now, now) for i, aid in enumerate(self.agent_ids)]

    def agent_branches(self) -> list[tuple[Any, ...]]:
        return [(aid, self.branch_ids[i // 10], True, self.now) for i, aid in enumerate(self.agent_ids)]

    def contractors(self) -> list[tuple[Any, ...]]:
        now = self.now
        return [
            (cid, f"Scale{i:04d}", "Contractor", f"scale-c{i:04d}@example.com", True, "radius", False,
             _uuid(self.rng), now, now)
            for i, cid in enumerate(self.contractor_ids)
        ]  # fmt: skip

    def properties(self) -> list[tuple[Any, ...]]:
        now, rows, pid = self.now, [], self.base["properties"]
        for bid in self.branch_ids:
            for k in range(PROPERTIES_PER_BRANCH):
                rows.append((pid, bid, f"{k + 1} Scale Road", "N1 9GU", True, _uuid(self.rng), now, now))
                pid += 1
        return rows

    def jobs(self) -> Any:
        """Chunks of job rows and the recall rows that go with them."""
        rng, now = self.rng, self.now
        span = 3 * 365 * 86400
        jid = self.base["jobs"]
        budget = Decimal("250.00")
        for start in range(0, self.n_jobs, CHUNK):
            jobs, recalls = [], []
            for _ in range(min(CHUNK, self.n_jobs - start)):
                a = rng.randrange(N_AGENTS)
                branch_idx = a // 10
                prop = (
                    self.base["properties"] + branch_idx * PROPERTIES_PER_BRANCH + rng.randrange(PROPERTIES_PER_BRANCH)
                )
                reported = now - timedelta(seconds=rng.randrange(span))
                age_days = (now - reported).days
                r = rng.random()
                completed_at = closed_at = assigned_at = None
                contractor = None
                recall_count = 0
                if age_days > 14 and r < 0.92 or age_days <= 14 and r < 0.3:
                    status = 6 if age_days > 365 else 5 if r < 0.85 else 4
                    completed_at = reported + timedelta(seconds=rng.randrange(3600, 10 * 86400))
                    closed_at = completed_at + timedelta(days=1) if status != 4 else None
                    contractor = self.contractor_ids[rng.randrange(N_CONTRACTORS)]
                    assigned_at = reported + timedelta(hours=2)
                    if rng.random() < 0.03:
                        recall_count = 1
                        recalls.append((jid, "Fault came back", completed_at - timedelta(hours=1)))
                elif r < 0.95:
                    status = 7
                else:
                    status = rng.choice((1, 2, 3))
                    if status > 1:
                        contractor = self.contractor_ids[rng.randrange(N_CONTRACTORS)]
                        assigned_at = reported + timedelta(hours=2)
                due = reported + timedelta(hours=72)
                notified = due + timedelta(minutes=5) if status in (1, 2, 3) and due < now else None
                jobs.append(
                    (jid, f"JOB-{jid:07d}", "Scale job", "", prop, self.branch_ids[branch_idx], self.agent_ids[a],
                     2, 4, rng.randint(1, 4), status, contractor, budget, budget, reported, assigned_at,
                     completed_at, closed_at, 72, due, notified, recall_count, _uuid(rng),
                     reported, completed_at or reported)
                )  # fmt: skip
                jid += 1
            yield jobs, recalls


JOB_COLUMNS = [
    "id", "job_ref", "title", "description", "property_id", "branch_id", "agent_id", "trade_id", "job_type_id",
    "priority_id", "status_id", "contractor_id", "contractor_budget", "client_budget", "reported_at",
    "assigned_at", "completed_at", "closed_at", "sla_target_hours", "sla_due_at", "sla_breach_notified_at",
    "recall_count", "uuid",
    "created_at", "updated_at", "organisation_id",
]  # fmt: skip
TABLES = {
    "branches": ["id", "name", "code", "address_line1", "town", "postcode", "is_active", "uuid", "created_at",
                 "updated_at"],
    "users": ["id", "email", "password_hash", "first_name", "last_name", "account_type_id", "account_status_id",
              "role_id", "branch_id", "uuid", "created_at", "updated_at"],
    "agents": ["id", "user_id", "uuid", "created_at", "updated_at"],
    "agent_branches": ["agent_id", "branch_id", "is_primary", "created_at"],
    "contractors": ["id", "first_name", "last_name", "email", "is_active", "coverage_source", "coverage_estimated",
                    "uuid", "created_at", "updated_at"],
    "properties": ["id", "branch_id", "address_line1", "postcode", "is_active", "uuid", "created_at", "updated_at"],
}  # fmt: skip
ORGANISATION_ID = 1  # the demo's first organisation (the seed's data): every generated row is its
OWNED = {"branches", "users", "agents", "contractors", "properties"}  # tables with organisation_id
for _table in OWNED:
    TABLES[_table].append("organisation_id")


def owned(table: str, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """``rows`` with the organisation appended where ``table`` has the column (``TABLES``)."""
    return [(*r, ORGANISATION_ID) for r in rows] if table in OWNED or table == "jobs" else rows


# --------------------------------------------------------------------------- loading


async def _prepare(url: str) -> dict[str, Any]:
    """Migrate, seed the demo data, issue tokens; returns what the loader and the runs need."""
    from sqlalchemy import select, text

    from propops.auth.models import User
    from propops.core.db import Database
    from propops.core.migrate import upgrade_async
    from propops.demo import seed_demo

    t0 = time.perf_counter()
    await upgrade_async(url)
    db = Database(url)
    await seed_demo(db, "bench-password")
    async with db.sessionmaker() as s:
        base = {}
        for table in ("branches", "users", "agents", "contractors", "properties", "jobs"):
            base[table] = int((await s.execute(text(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}"))).scalar_one())  # noqa: S608
        admin = (await s.execute(select(User).where(User.email == "admin@example.com"))).scalar_one()
        password_hash = admin.password_hash
    await db.dispose()
    return {"base": base, "hash": password_hash, "migrate_seed_s": time.perf_counter() - t0}


async def _existing(url: str, n_jobs: int) -> Generator:
    """The generator's ids for a database loaded earlier (first id of each generated range)."""
    from sqlalchemy import text

    from propops.core.db import Database

    db = Database(url)
    queries = {
        "branches": "SELECT MIN(id) FROM branches WHERE code LIKE 'SCALE%'",
        "users": "SELECT MIN(id) FROM users WHERE email LIKE 'scale-agent%'",
        "agents": "SELECT MIN(a.id) FROM agents a JOIN users u ON u.id = a.user_id WHERE u.email LIKE 'scale-agent%'",
        "contractors": "SELECT MIN(id) FROM contractors WHERE email LIKE 'scale-c%'",
        "properties": "SELECT MIN(id) FROM properties WHERE address_line1 LIKE '% Scale Road'",
        "jobs": "SELECT MIN(id) FROM jobs WHERE title = 'Scale job'",
    }
    async with db.sessionmaker() as s:
        base = {k: int((await s.execute(text(q))).scalar_one()) for k, q in queries.items()}
    await db.dispose()
    return Generator(n_jobs, base, "", datetime.now(UTC))


async def _tokens(url: str, agent_email: str) -> dict[str, str]:
    from sqlalchemy import select

    from propops.auth.models import User
    from propops.auth.service import issue_token
    from propops.core.context import AppContext
    from propops.core.db import Database
    from propops.core.ratelimit import MemoryRateLimitStore
    from propops.core.settings import Settings

    settings = Settings(database_url=url)
    db = Database(url)
    ctx = AppContext(settings=settings, db=db, rate_limits=MemoryRateLimitStore())
    out = {}
    async with db.sessionmaker() as s, s.begin():
        for key, email in (("admin", "admin@example.com"), ("agent", agent_email)):
            user = (await s.execute(select(User).where(User.email == email))).scalar_one()
            raw, _ = await issue_token(s, ctx, user)
            out[key] = raw
    await db.dispose()
    return out


async def _load_pg(url: str, gen: Generator) -> dict[str, float]:
    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    times: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        for table, columns in TABLES.items():
            rows = owned(table, getattr(gen, table)())
            await conn.copy_records_to_table(table, records=rows, columns=columns)
        times["reference rows (50 branches, 500 agents, 5,000 contractors, 100,000 properties)"] = (
            time.perf_counter() - t0
        )
        t0 = time.perf_counter()
        gen_s = 0.0
        n_recalls = 0
        chunks = gen.jobs()
        while True:
            g0 = time.perf_counter()
            chunk = next(chunks, None)
            gen_s += time.perf_counter() - g0
            if chunk is None:
                break
            jobs, recalls = chunk
            await conn.copy_records_to_table("jobs", records=owned("jobs", jobs), columns=JOB_COLUMNS)
            await conn.copy_records_to_table("job_recalls", records=recalls, columns=["job_id", "reason", "created_at"])
            n_recalls += len(recalls)
        times[f"jobs ({gen.n_jobs:,}) + recalls ({n_recalls:,}): total"] = time.perf_counter() - t0
        times["  of which generating the rows in Python"] = gen_s
        for table in ("branches", "users", "agents", "contractors", "properties", "jobs", "job_recalls"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
        t0 = time.perf_counter()
        await conn.execute("VACUUM (ANALYZE)")
        times["VACUUM ANALYZE (visibility map for index-only scans, statistics)"] = time.perf_counter() - t0
        size = await conn.fetchval("SELECT pg_size_pretty(pg_total_relation_size('jobs'))")
        print(f"jobs table with indexes: {size}")
    finally:
        await conn.close()
    return times


async def _load_sqlite(url: str, gen: Generator) -> dict[str, float]:
    import aiosqlite

    path = url.split("///", 1)[1]
    times: dict[str, float] = {}
    async with aiosqlite.connect(path) as conn:
        t0 = time.perf_counter()

        def values(row: tuple[Any, ...]) -> tuple[Any, ...]:
            return tuple(
                v.astimezone(UTC).replace(tzinfo=None).isoformat(" ") if isinstance(v, datetime)
                else str(v) if isinstance(v, Decimal) else v
                for v in row
            )  # fmt: skip

        async def put(table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
            marks = ", ".join("?" * len(columns))
            await conn.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608
                [values(r) for r in rows],
            )

        for table, columns in TABLES.items():
            await put(table, columns, owned(table, getattr(gen, table)()))
        await conn.commit()
        times["reference rows"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for jobs, recalls in gen.jobs():
            await put("jobs", JOB_COLUMNS, owned("jobs", jobs))
            await put("job_recalls", ["job_id", "reason", "created_at"], recalls)
            await conn.commit()
        times[f"jobs ({gen.n_jobs:,}) + recalls"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        await conn.execute("ANALYZE")
        await conn.commit()
        times["ANALYZE"] = time.perf_counter() - t0
    return times


# --------------------------------------------------------------------------- EXPLAIN


async def explain(url: str, gen: Generator, agent_user_id: int) -> None:
    """EXPLAIN ANALYZE of the statements the services really send (captured, then explained)."""
    from sqlalchemy import event, select

    from propops.agents import performance
    from propops.auth.models import User
    from propops.auth.service import Principal
    from propops.core.db import Database
    from propops.core.pagination import Page
    from propops.infra.executor import Executor
    from propops.jobs import repository as jobs

    db = Database(url)
    captured: list[tuple[str, Any]] = []

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def _capture(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        captured.append((statement, params))

    class CapturingExecutor(Executor):
        """Records the driver-level SQL of the Core statements (PostgreSQL runs them on asyncpg,
        past the engine's events)."""

        async def in_transaction(self, session: Any, stmt: Any, **params: Any) -> list[tuple[Any, ...]]:
            c = self.compiled(stmt)
            if self.pg:
                captured.append((c.sql, tuple(c.values(params))))
            return await super().in_transaction(session, stmt, **params)

    ex = CapturingExecutor(db.engine, None)

    def jobs_list(s: Any, who: Any, page: Any, f: Any) -> Any:
        return jobs.list_jobs(ex, who, page, f, session=s)

    def principal(user: User) -> Principal:
        return Principal(user.id, user.uuid, user.email, user.first_name, user.last_name, user.account_type_id,
                         user.role_id, 0, "", frozenset(), user.organisation_id, True)  # fmt: skip

    async with db.sessionmaker() as s:
        admin = principal((await s.execute(select(User).where(User.email == "admin@example.com"))).scalar_one())
        agent = principal((await s.execute(select(User).where(User.id == agent_user_id))).scalar_one())
        page = Page(limit=50, offset=0)
        cases: list[tuple[str, Any]] = [
            (
                "jobs list, one branch (staff)",
                jobs_list(s, admin, page, jobs.JobFilters(branch_id=gen.branch_ids[7])),
            ),
            (
                "jobs list, one branch (agent)",
                jobs_list(s, agent, page, jobs.JobFilters(branch_id=gen.branch_ids[0])),
            ),
            (
                "jobs list, one contractor",
                jobs_list(s, admin, page, jobs.JobFilters(contractor_id=gen.contractor_ids[9])),
            ),
            (
                "performance, all agents (page of 50)",
                performance.all_performance(s, admin, page, performance.DateRange()),
            ),
        ]
        from propops.agents.models import Agent

        agent_uuid = (await s.execute(select(Agent.uuid).where(Agent.id == gen.agent_ids[3]))).scalar_one()
        cases.append(
            ("performance, one agent", performance.agent_performance(s, admin, agent_uuid, performance.DateRange()))
        )
        for label, coro in cases:
            captured.clear()
            await coro
            statements = list(captured)
            print(f"\n##### {label}: {len(statements)} statement(s)")
            conn = await s.connection()
            for statement, params in statements:
                if "FROM jobs" not in statement and "kpi" not in statement:
                    continue
                if statement.lstrip().startswith("SELECT") and "$1" in statement:  # a Core statement on asyncpg
                    driver = (await conn.get_raw_connection()).driver_connection
                    res: Any = await driver.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *params)
                else:
                    explain_sql = (
                        "EXPLAIN (ANALYZE, BUFFERS) "
                        if db.engine.dialect.name == "postgresql"
                        else "EXPLAIN QUERY PLAN "
                    )
                    res = await conn.exec_driver_sql(explain_sql + statement, params)
                print("--", " ".join(statement.split())[:160], "...")
                for row in res:
                    print("   ", " | ".join(str(c) for c in row))
    await db.dispose()


# --------------------------------------------------------------------------- HTTP


def wrk_paths(
    base: str, paths: list[str], *, seconds: int, connections: int, headers: dict[str, str],
    method: str = "GET", body: str | None = None,
) -> WrkResult:  # fmt: skip
    """wrk rotating over ``paths`` (a Lua script), same parsing as ``_common.wrk``."""

    lua = "paths = {" + ", ".join(json.dumps(p) for p in paths) + "}\n"
    lua += "i = 0\n"
    if body is not None:
        lua += f"wrk.method = {json.dumps(method)}\nwrk.body = {json.dumps(body)}\n"
        lua += 'wrk.headers["Content-Type"] = "application/json"\n'
    lua += f"request = function()\n  i = i % #paths + 1\n  return wrk.format({json.dumps(method)}, paths[i])\nend\n"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
        script = f.name
    try:
        threads = min(2, connections)
        cmd = [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            script,
        ]
        for k, v in headers.items():
            cmd += ["-H", f"{k}: {v}"]
        out = subprocess.run(cmd + [base + paths[0]], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script)
    return parse_wrk(out)


def timed_gets(base: str, paths: list[str], headers: dict[str, str], rounds: int = 3) -> tuple[float, float, int]:
    """Sequential requests, one at a time: p50, max (ms) and the number of rows last seen."""
    import httpx

    times, rows = [], 0
    with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
        c.get(paths[0])
        for _ in range(rounds):
            for p in paths:
                t0 = time.perf_counter()
                r = c.get(p)
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, r.text[:300]
                rows = len(r.json()["data"])
    return statistics.median(times), max(times), rows


def http_runs(url: str, gen: Generator, tokens: dict[str, str], seconds: int, create_requests: int) -> None:
    import httpx

    env = {
        "PROPOPS_DATABASE_URL": url,
        "PROPOPS_RATE_LIMIT_PER_IP": "100000000",
        "PROPOPS_RATE_LIMIT_PER_ACCOUNT": "100000000",
        "PROPOPS_LOG_LEVEL": "WARNING",
        # The in-process schedule would run the SLA scan over ~50,000 breached jobs in the middle of
        # the measurements (and its updates clear the visibility map): the worker's job, not the API's.
        "PROPOPS_BACKGROUND_TASKS": "false",
    }
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    agent = {"Authorization": f"Bearer {tokens['agent']}"}
    port = free_port(8600)
    rng = random.Random(7)  # noqa: S311
    branches = rng.sample(gen.branch_ids, SAMPLE)
    contractors = rng.sample(gen.contractor_ids, SAMPLE)
    with server("propops.main:create_app", env, port) as base:
        with httpx.Client(base_url=base, headers=admin, timeout=60) as c:
            agent_uuids = []
            for offset in (0, 200, 400):
                r = c.get("/api/agents/list", params={"action": "list", "limit": 200, "offset": offset})
                agent_uuids += [a["uuid"] for a in r.json()["data"] if a["email"].startswith("scale-agent")]
            csrf = c.get("/api/security/csrf-token").json()["data"]["token"]
            r = c.get("/api/jobs/manage", params={"action": "list", "branch_id": branches[0], "limit": 1})
            branch_count = r.json()["count"]
            r = c.get("/api/jobs/manage", params={"action": "list", "contractor_id": contractors[0], "limit": 1})
            contractor_count = r.json()["count"]
            r = c.get("/api/agents/performance", params={"agent_uuid": agent_uuids[0]})
            print(f"\nsample: branch {branches[0]} count={branch_count}, contractor {contractors[0]} "
                  f"count={contractor_count}, agent performance {r.json()['data']}")  # fmt: skip
        agents = rng.sample(agent_uuids, SAMPLE)
        # the agent token belongs to the first scale agent: its own branch
        agent_branch = gen.branch_ids[0]
        runs: list[tuple[str, list[str], dict[str, str]]] = [
            ("floor GET /api/ping", ["/api/ping"], {}),
            ("jobs list, one branch (staff)", [f"/api/jobs/manage?action=list&branch_id={b}" for b in branches], admin),
            ("jobs list, own branch (agent)", [f"/api/jobs/manage?action=list&branch_id={agent_branch}"], agent),
            (
                "jobs list, one contractor",
                [f"/api/jobs/manage?action=list&contractor_id={c}" for c in contractors],
                admin,
            ),
            ("performance, one agent", [f"/api/agents/performance?agent_uuid={a}" for a in agents], admin),
            ("performance, all agents (page 50)", ["/api/agents/performance"], admin),
            ("performance, all agents (page 200)", ["/api/agents/performance?limit=200"], admin),
        ]
        wrk_paths(base, ["/api/ping"], seconds=2, connections=4, headers={})  # warm-up
        results: list[tuple[str, WrkResult, WrkResult]] = []
        for label, paths, headers in runs:
            wrk_paths(base, paths, seconds=1, connections=1, headers=headers)  # warm this path
            one = wrk_paths(base, paths, seconds=seconds, connections=1, headers=headers)
            eight = wrk_paths(base, paths, seconds=seconds, connections=8, headers=headers)
            results.append((label, one, eight))
        print(f"\n--- HTTP, 1 uvicorn worker, {seconds}s per run; latency at 1 connection, throughput at 8 ---")
        for label, one, eight in results:
            print(f"{label:<36} c=1: p50 {one.p50_ms:>7.2f} ms  p99 {one.p99_ms:>7.2f} ms  {one.rps:>6.0f} req/s | "
                  f"c=8: p50 {eight.p50_ms:>7.2f} ms  p99 {eight.p99_ms:>7.2f} ms  {eight.rps:>6.0f} req/s  "
                  f"errors {one.errors + eight.errors}")  # fmt: skip
        # every agent: three pages of 200, one after the other, timed end to end
        pages = [f"/api/agents/performance?limit=200&offset={o}" for o in (0, 200, 400)]
        totals = []
        with httpx.Client(base_url=base, headers=admin, timeout=60) as c:
            for _ in range(5):
                t0 = time.perf_counter()
                n = sum(len(c.get(p).json()["data"]) for p in pages)
                totals.append((time.perf_counter() - t0) * 1000)
        print(f"performance, every agent ({n}) in 3 pages of 200: median {statistics.median(totals):.0f} ms, "
              f"max {max(totals):.0f} ms (5 runs)")  # fmt: skip
        # job creation
        prop_ids = [gen.base["properties"] + i * PROPERTIES_PER_BRANCH for i in range(N_BRANCHES)]
        body = {"action": "create", "job_title": "Bench leak", "job_description": "Bench", "priority_id": 3,
                "job_type_id": 4}  # fmt: skip
        writes = {**admin, "X-CSRF-Token": csrf}
        latencies = []
        with httpx.Client(base_url=base, headers=writes, timeout=60) as c:
            t0 = time.perf_counter()
            for i in range(create_requests):
                s0 = time.perf_counter()
                r = c.post("/api/jobs/manage", json={**body, "address_id": prop_ids[i % len(prop_ids)]})
                latencies.append((time.perf_counter() - s0) * 1000)
                assert r.status_code == 200, r.text[:300]
            elapsed = time.perf_counter() - t0
        latencies.sort()
        print(
            f"\njob creation, sequential ({create_requests}): {create_requests / elapsed:.0f} jobs/s, "
            f"p50 {latencies[len(latencies) // 2]:.2f} ms, p99 {latencies[int(len(latencies) * 0.99) - 1]:.2f} ms"
        )
        concurrent = wrk_paths(
            base, ["/api/jobs/manage"], seconds=seconds, connections=8, headers=writes, method="POST",
            body=json.dumps({**body, "address_id": prop_ids[1]}),
        )  # fmt: skip
        ping8 = next(eight for label, _one, eight in results if label.startswith("floor"))
        print(concurrent.row("job creation, concurrent (c=8)"))
        print(ping8.row("floor GET /api/ping (c=8)"))


# --------------------------------------------------------------------------- main


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=1_000_000, help="jobs to generate (default 1,000,000)")
    p.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    p.add_argument("--seconds", type=int, default=8, help="seconds per wrk run (default 8)")
    p.add_argument("--creates", type=int, default=300, help="sequential job creations (default 300)")
    p.add_argument("--no-explain", action="store_true", help="skip the EXPLAIN ANALYZE output")
    p.add_argument("--keep", action="store_true", help="print the database URL and keep it")
    p.add_argument("--reuse", metavar="URL", help="measure a database kept by --keep (no load; not dropped)")
    a = p.parse_args()
    if a.reuse:
        url, drop = a.reuse, lambda: None
        a.keep = True
    else:
        url, drop = fresh_database(a.db)
    try:
        print(f"database: {url}")
        if a.reuse:
            gen = asyncio.run(_existing(url, a.jobs))
        else:
            prep = asyncio.run(_prepare(url))
            print(f"migrate + demo seed: {prep['migrate_seed_s']:.1f} s")
            gen = Generator(a.jobs, prep["base"], prep["hash"], datetime.now(UTC).replace(microsecond=0))
            times = asyncio.run(_load_pg(url, gen) if url.startswith("postgresql") else _load_sqlite(url, gen))
            print("\n--- load ---")
            for label, seconds in times.items():
                print(f"{label:<80} {seconds:>7.1f} s")
        if not a.no_explain:
            asyncio.run(explain(url, gen, gen.user_ids[0]))
        tokens = asyncio.run(_tokens(url, "scale-agent000@example.com"))
        http_runs(url, gen, tokens, a.seconds, a.creates)
    finally:
        if a.keep:
            print(f"kept: {url}")
        else:
            drop()
            print("benchmark database dropped")


if __name__ == "__main__":
    main()
