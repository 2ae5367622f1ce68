"""Load report: a realistic mix against uvicorn with several workers on PostgreSQL, at rising concurrency.

1. Builds a fresh PostgreSQL database: migrations + demo data (the logins), then the large data
   sets of the earlier benchmarks with their own generators: ``jobs_scale.Generator`` (branches,
   agents, contractors, properties, jobs; default 200,000 jobs / 50 branches / 500 agents / 5,000
   contractors) and ``contractors_coverage.generate`` (5,000 contractors with real coverage areas
   and trades, for the postcode search).
2. Starts ``python -m propops.infra.server propops.main:asgi --factory --workers N`` (default 2; what
   ``propops serve --workers N`` runs: uvicorn workers on SO_REUSEPORT sockets) with the Redis rate-limit
   store (counters shared by the workers; limits set high) on a port in 8800-8899.
3. Finds eligible (property, job type, contractor) triples through ``suggest_contractors`` (the
   contractor has a login, the trade, the coverage and the certificates), then drives the mix with
   an asyncio load generator (one kept-alive connection per client, ``_rawhttp``: httpx's pool was
   the bottleneck, see there), closed loop (each client sends its next request when the previous
   one is answered), at each concurrency level (default 8, 16, 32, 64 clients):

   - lists: jobs by branch, by contractor, by branch + sla_status (staff); own branch (agent);
     contractors by postcode and by postcode + trade (coverage search);
   - gets: one job, an agent's SLA figures, the trades;
   - the job lifecycle: agent creates and assigns, the contractor accepts, starts and completes;
   - ``GET /api/ping`` inside the mix (the floor under the same load), and a ping-only run right
     after each level (the framework floor at that concurrency).

Prints per endpoint and per level: requests, throughput, p50/p95/p99/max (client side), server
p99 (``X-Response-Time-ms``), error rate; the load generator's own CPU share (it runs on the same
machine); where the tail comes from: per server process (connections, req/s, p50/p99) and the
mix's throughput per second (``--samples DIR`` writes every request to a CSV); then a summary block
against the goal (p99 <= 250 ms, 0 errors at 64 clients).
Everything is removed at the end (``--keep`` keeps the database; ``--reuse URL`` measures it again).

    .venv/bin/python bench/load_report.py --help
    .venv/bin/python bench/load_report.py                       # 200,000 jobs, ~10 minutes
    .venv/bin/python bench/load_report.py --jobs 1000000 --seconds 60   # the full data set
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contractors_coverage as cc  # noqa: E402 - the coverage generator (contractors issue)
import jobs_scale as js  # noqa: E402 - the jobs generator (jobs issue)
from _common import PG_ADMIN, free_port, fresh_database, server  # noqa: E402
from _rawhttp import RawClient, RawResponse  # noqa: E402

SECRET = "load-report-secret-" + "k" * 32
GOAL_P99_MS = 250.0
TIMEOUT_S = 10.0
DEMO_CONTRACTORS = [f"contractor{i:03d}@example.com" for i in range(1, 31)]
DEMO_AGENTS = [f"agent{i:03d}@example.com" for i in range(1, 16)]

# (operation, weight). A "flow" is five requests (create, assign, accept, start, complete).
MIX: list[tuple[str, int]] = [
    ("jobs list by branch", 12),
    ("jobs list by contractor", 8),
    ("jobs list branch+sla_status", 6),
    ("jobs list own branch (agent)", 4),
    ("contractors by postcode", 10),
    ("contractors by postcode+trade", 5),
    ("job get", 12),
    ("agent sla", 6),
    ("trades", 8),
    ("ping (in mix)", 4),
    ("flow", 5),
]
FLOW_STEPS = ["job create (agent)", "job assign (agent)", "job accept (contractor)", "job start (contractor)",
              "job complete (contractor)"]  # fmt: skip


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))]


# --------------------------------------------------------------------------- data


def configure_generator(args: argparse.Namespace) -> None:
    """The jobs generator reads its sizes from module constants (10 agents per branch)."""
    js.N_BRANCHES = args.branches
    js.N_AGENTS = args.branches * 10
    js.N_CONTRACTORS = args.contractors


def load(url: str, args: argparse.Namespace) -> js.Generator:
    t0 = time.perf_counter()
    prep = asyncio.run(js._prepare(url))
    print(f"migrate + demo seed: {prep['migrate_seed_s']:.1f} s", flush=True)
    gen = js.Generator(args.jobs, prep["base"], prep["hash"], datetime.now(UTC).replace(microsecond=0))
    for label, seconds in asyncio.run(js._load_pg(url, gen)).items():
        print(f"  {label:<78} {seconds:>7.1f} s", flush=True)
    if args.coverage_contractors:
        s = asyncio.run(cc.generate(url, args.coverage_contractors, args.seed))
        print(f"  {'coverage contractors (' + format(args.coverage_contractors, ',') + ') with cells and trades':<78}"
              f" {s:>7.1f} s", flush=True)  # fmt: skip
    print(f"data set ready in {time.perf_counter() - t0:.0f} s", flush=True)
    return gen


async def issue_tokens(url: str, emails: list[str]) -> dict[str, str]:
    from sqlalchemy import select

    from propops.auth.models import User
    from propops.auth.service import issue_token
    from propops.core.context import AppContext
    from propops.core.db import Database
    from propops.core.ratelimit import MemoryRateLimitStore
    from propops.core.settings import Settings

    settings = Settings(database_url=url, secret_key=SECRET)
    db = Database(url)
    ctx = AppContext(settings=settings, db=db, rate_limits=MemoryRateLimitStore())
    out: dict[str, str] = {}
    async with db.sessionmaker() as s, s.begin():
        users = (await s.execute(select(User).where(User.email.in_(emails)))).scalars().all()
        for user in users:
            out[user.email], _ = await issue_token(s, ctx, user)
    await db.dispose()
    return out


async def sample_ids(url: str, gen: js.Generator) -> dict[str, Any]:
    """What the mix picks from: job uuids, agent uuids, demo agents/contractors/properties."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        first_job = gen.base["jobs"]
        job_uuids = [
            r[0]
            for r in await conn.fetch(
                "SELECT uuid FROM jobs WHERE id >= $1 AND id % 97 = 0 ORDER BY id LIMIT 2000", first_job
            )
        ]
        agent_uuids = [r[0] for r in await conn.fetch("SELECT uuid FROM agents ORDER BY id")]
        demo_agents = await conn.fetch(
            "SELECT u.email, ab.branch_id FROM users u JOIN agents a ON a.user_id = u.id "
            "JOIN agent_branches ab ON ab.agent_id = a.id WHERE u.email = ANY($1::text[]) ORDER BY u.email",
            DEMO_AGENTS,
        )
        demo_contractors = await conn.fetch(
            "SELECT c.id, u.email FROM contractors c JOIN users u ON u.id = c.user_id WHERE u.email = ANY($1::text[])",
            DEMO_CONTRACTORS,
        )
        demo_props = await conn.fetch(
            "SELECT id, branch_id FROM properties WHERE latitude IS NOT NULL AND is_active AND branch_id <= 5 "
            "AND id < $1 ORDER BY id",
            gen.base["properties"],
        )
        pg_max = await conn.fetchval("SHOW max_connections")
    finally:
        await conn.close()
    agents_by_branch: dict[int, list[str]] = defaultdict(list)
    for email, branch in demo_agents:
        agents_by_branch[int(branch)].append(email)
    return {
        "job_uuids": job_uuids,
        "agent_uuids": agent_uuids,
        "agents_by_branch": dict(agents_by_branch),
        "contractor_email": {int(cid): email for cid, email in demo_contractors},
        "demo_props": [(int(p), int(b)) for p, b in demo_props],
        "pg_max_connections": pg_max,
    }


@dataclass
class Actor:
    token: str
    csrf: str

    def headers(self, write: bool = False) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self.token}"}
        if write:
            h["X-CSRF-Token"] = self.csrf
        return h


async def actors(base: str, tokens: dict[str, str]) -> dict[str, Actor]:
    out: dict[str, Actor] = {}
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        for email, token in tokens.items():
            r = await c.get("/api/security/csrf-token", headers={"Authorization": f"Bearer {token}"})
            r.raise_for_status()
            out[email] = Actor(token, r.json()["data"]["token"])
    return out


async def find_pairs(base: str, ids: dict[str, Any], people: dict[str, Actor], per_type: int) -> list[dict[str, Any]]:
    """Eligible (property, job type, contractor with a login) via the API's suggest_contractors.
    The probe jobs are deleted afterwards."""
    admin = people["admin@example.com"]
    pairs: list[dict[str, Any]] = []
    rng = random.Random(3)  # noqa: S311 - benchmark sampling
    props = list(ids["demo_props"])
    rng.shuffle(props)
    async with httpx.AsyncClient(base_url=base, timeout=60) as c:
        for job_type in range(1, 7):
            found = 0
            for prop, branch in props:
                if found >= per_type:
                    break
                if branch not in ids["agents_by_branch"]:
                    continue
                r = await c.post(
                    "/api/jobs/manage",
                    headers=admin.headers(True),
                    json={"action": "create", "job_title": "Probe", "address_id": prop, "priority_id": 3,
                          "job_type_id": job_type},
                )  # fmt: skip
                r.raise_for_status()
                uuid = r.json()["data"]["uuid"]
                s = await c.get(
                    "/api/jobs/manage",
                    headers=admin.headers(),
                    params={"action": "suggest_contractors", "uuid": uuid, "limit": 200},
                )
                s.raise_for_status()
                for e in s.json()["data"]["eligible"]:
                    email = ids["contractor_email"].get(e["contractor_id"])
                    if email and email in people:
                        pairs.append({"prop": prop, "branch": branch, "job_type": job_type,
                                      "contractor_id": e["contractor_id"], "contractor": email,
                                      "agent": ids["agents_by_branch"][branch][0]})  # fmt: skip
                        found += 1
                        break
                await c.post("/api/jobs/manage", headers=admin.headers(True), json={"action": "delete", "uuid": uuid})
    return pairs


# --------------------------------------------------------------------------- load


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    db_ms: list[float] = field(default_factory=list)
    errors: int = 0
    codes: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass
class Sample:
    """One mix request: start (s after the level began), endpoint, latency, status, client port."""

    start: float
    label: str
    ms: float
    status: str
    port: int


class Mix:
    def __init__(self, base: str, gen: js.Generator, ids: dict[str, Any], people: dict[str, Actor],
                 pairs: list[dict[str, Any]], postcodes: list[str]) -> None:  # fmt: skip
        self.base, self.gen, self.ids, self.people, self.pairs, self.postcodes = (
            base,
            gen,
            ids,
            people,
            pairs,
            postcodes,
        )
        self.admin = people["admin@example.com"]
        self.scale_agents = [
            (people[f"scale-agent{i:03d}@example.com"], gen.branch_ids[i // 10])
            for i in range(0, js.N_AGENTS, 10)
            if f"scale-agent{i:03d}@example.com" in people
        ]
        self.samples: list[Sample] = []
        self.workers: dict[int, int] = {}  # client port -> server process
        self.t0 = time.perf_counter()
        self.ops = [op for op, _ in MIX if op != "flow" or pairs]
        self.weights = [w for op, w in MIX if op != "flow" or pairs]

    async def _req(
        self, c: RawClient, stats: dict[str, Stats], label: str, method: str, path: str, **kw: Any
    ) -> RawResponse | None:
        st = stats[label]
        t0 = time.perf_counter()
        try:
            r = await c.request(method, path, **kw)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            ms = (time.perf_counter() - t0) * 1000
            st.latencies.append(ms)
            st.errors += 1
            code = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            st.codes[code] += 1
            self.samples.append(Sample(t0 - self.t0, label, ms, code, c.local_port))
            return None
        ms = (time.perf_counter() - t0) * 1000
        st.latencies.append(ms)
        st.codes[str(r.status_code)] += 1
        self.samples.append(Sample(t0 - self.t0, label, ms, str(r.status_code), c.local_port))
        try:
            st.server_ms.append(float(r.headers.get("x-response-time-ms", "nan")))
            st.db_ms.append(float(r.headers.get("x-db-query-time-ms", "nan")))
        except ValueError:
            pass
        if r.status_code >= 300:
            st.errors += 1
            return None
        return r

    async def one(self, c: RawClient, stats: dict[str, Stats], rng: random.Random) -> None:
        op = rng.choices(self.ops, self.weights)[0]
        a = self.admin
        g = self.gen
        if op == "jobs list by branch":
            b = rng.choice(g.branch_ids)
            await self._req(c, stats, op, "GET", f"/api/jobs/manage?action=list&branch_id={b}", headers=a.headers())
        elif op == "jobs list by contractor":
            cid = rng.choice(g.contractor_ids)
            await self._req(
                c, stats, op, "GET", f"/api/jobs/manage?action=list&contractor_id={cid}", headers=a.headers()
            )
        elif op == "jobs list branch+sla_status":
            b = rng.choice(g.branch_ids)
            sla = rng.choice(("breached", "at_risk", "on_track"))
            await self._req(
                c, stats, op, "GET", f"/api/jobs/manage?action=list&branch_id={b}&sla_status={sla}",
                headers=a.headers(),
            )  # fmt: skip
        elif op == "jobs list own branch (agent)":
            actor, b = rng.choice(self.scale_agents)
            await self._req(c, stats, op, "GET", f"/api/jobs/manage?action=list&branch_id={b}", headers=actor.headers())
        elif op == "contractors by postcode":
            pc = rng.choice(self.postcodes)
            await self._req(
                c, stats, op, "GET", "/api/contractors/list", params={"action": "list", "postcode": pc},
                headers=a.headers(),
            )  # fmt: skip
        elif op == "contractors by postcode+trade":
            pc = rng.choice(self.postcodes)
            await self._req(
                c, stats, op, "GET", "/api/contractors/list",
                params={"action": "list", "postcode": pc, "trade_id": rng.randint(1, 5)}, headers=a.headers(),
            )  # fmt: skip
        elif op == "job get":
            u = rng.choice(self.ids["job_uuids"])
            await self._req(c, stats, op, "GET", f"/api/jobs/manage?action=get&uuid={u}", headers=a.headers())
        elif op == "agent sla":
            u = rng.choice(self.ids["agent_uuids"])
            await self._req(c, stats, op, "GET", f"/api/agents/sla?agent_uuid={u}", headers=a.headers())
        elif op == "trades":
            await self._req(c, stats, op, "GET", "/api/contractors/trades", headers=a.headers())
        elif op == "ping (in mix)":
            await self._req(c, stats, op, "GET", "/api/ping")
        else:
            await self.flow(c, stats, rng.choice(self.pairs))

    async def flow(self, c: RawClient, stats: dict[str, Stats], pair: dict[str, Any]) -> None:
        agent = self.people[pair["agent"]]
        worker = self.people[pair["contractor"]]
        r = await self._req(
            c, stats, FLOW_STEPS[0], "POST", "/api/jobs/manage", headers=agent.headers(True),
            json={"action": "create", "job_title": "Load report leak", "job_description": "Dripping under the sink",
                  "address_id": pair["prop"], "priority_id": 3, "job_type_id": pair["job_type"]},
        )  # fmt: skip
        if r is None:
            return
        uuid = r.json()["data"]["uuid"]
        steps = [
            (FLOW_STEPS[1], agent, {"action": "assign", "uuid": uuid, "contractor_id": pair["contractor_id"]}),
            (FLOW_STEPS[2], worker, {"action": "accept", "uuid": uuid}),
            (FLOW_STEPS[3], worker, {"action": "start", "uuid": uuid}),
            (FLOW_STEPS[4], worker, {"action": "complete", "uuid": uuid}),
        ]
        for label, actor, body in steps:
            if (
                await self._req(c, stats, label, "POST", "/api/jobs/manage", headers=actor.headers(True), json=body)
                is None
            ):
                return


async def run_level(
    mix: Mix, clients: int, seconds: float, ping_only: bool = False
) -> tuple[dict[str, Stats], float, float]:
    """``clients`` closed-loop clients for ``seconds``; returns stats, wall time, generator CPU share."""
    stats: dict[str, Stats] = defaultdict(Stats)
    deadline = time.perf_counter() + seconds
    host, _, port = mix.base.removeprefix("http://").partition(":")

    async def client(n: int) -> None:
        rng = random.Random(1000 * clients + n)  # noqa: S311 - benchmark sampling
        c = RawClient(host, int(port), TIMEOUT_S)
        try:
            while time.perf_counter() < deadline:
                if ping_only:
                    await mix._req(c, stats, "floor GET /api/ping", "GET", "/api/ping")
                else:
                    await mix.one(c, stats, rng)
        finally:
            await c.close()

    async def map_workers() -> None:  # halfway through, every client's connection is open
        await asyncio.sleep(seconds / 2)
        mix.workers = await asyncio.to_thread(server_pid_by_client_port, int(port))

    mix.samples, mix.workers, mix.t0 = [], {}, time.perf_counter()
    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)), *([] if ping_only else [map_workers()]))
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    return stats, wall, cpu / wall


def server_pid_by_client_port(server_port: int) -> dict[int, int]:
    """Which server process holds each client connection (``ss``; empty where it is missing)."""
    try:
        out = subprocess.run(["ss", "-tnpH", "state", "established", f"( sport = :{server_port} )"],
                             capture_output=True, text=True, timeout=10, check=False).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return {}
    found: dict[int, int] = {}
    for line in out.splitlines():
        m = re.search(r':\d+\s+\S+:(\d+)\s+users:\(\("[^"]*",pid=(\d+)', line)
        if m:
            found[int(m.group(1))] = int(m.group(2))
    return found


def print_spread(clients: int, mix: Mix, wall: float, samples_dir: str | None) -> None:
    """Where the tail comes from: per server process (keep-alive connections stay on the process the
    kernel gave them) and per second (the machine's throughput over time)."""
    samples = mix.samples
    if samples_dir:
        os.makedirs(samples_dir, exist_ok=True)
        path = os.path.join(samples_dir, f"level-{clients}.csv")
        with open(path, "w", encoding="utf-8") as f:
            f.write("start_s,endpoint,latency_ms,status,client_port,server_pid\n")
            for x in samples:
                f.write(f"{x.start:.4f},{x.label},{x.ms:.2f},{x.status},{x.port},{mix.workers.get(x.port, '')}\n")
        print(f"samples: {path}")
    by_pid: dict[int, list[float]] = defaultdict(list)
    conns: dict[int, set[int]] = defaultdict(set)
    for x in samples:
        pid = mix.workers.get(x.port)
        if pid is not None:
            by_pid[pid].append(x.ms)
            conns[pid].add(x.port)
    if by_pid:
        parts = [
            f"pid {pid}: {len(conns[pid])} connections, {len(v) / wall:.0f} req/s, p50 {pct(v, 50):.0f}, "
            f"p99 {pct(v, 99):.0f} ms"
            for pid, v in sorted(by_pid.items())
        ]
        print("per server process: " + "; ".join(parts))
    per_second: dict[int, int] = defaultdict(int)
    for x in samples:
        per_second[int(x.start + x.ms / 1000)] += 1
    full = sorted(n for sec, n in per_second.items() if 0 < sec < int(wall))
    if full:
        print(f"mix throughput per whole second: min {full[0]}, median {full[len(full) // 2]}, max {full[-1]} req/s")


class CpuMeter:
    """CPU seconds, from /proc, of the server processes on ``port``, of the PostgreSQL backends of
    this database, and of the whole machine: who used the cores during a level."""

    def __init__(self, port: int, dbname: str) -> None:
        self.port, self.dbname = port, dbname
        self.tick = os.sysconf("SC_CLK_TCK")

    def _procs(self) -> dict[int, tuple[int, str, float]]:
        out: dict[int, tuple[int, str, float]] = {}
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                stat = (d / "stat").read_text()
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            fields = stat.rpartition(")")[2].split()
            out[int(d.name)] = (int(fields[1]), cmd, (int(fields[11]) + int(fields[12])) / self.tick)
        return out

    def snapshot(self) -> dict[str, Any]:
        procs = self._procs()
        masters = {
            pid
            for pid, (_, cmd, _) in procs.items()
            if any(name in cmd for name in ("propops.infra.server", "uvicorn", "granian"))
            and f"--port {self.port}" in cmd
        }
        server = {pid: t for pid, (ppid, _, t) in procs.items() if pid in masters or ppid in masters}
        pg = {pid: t for pid, (_, cmd, t) in procs.items() if cmd.startswith("postgres:") and f" {self.dbname} " in cmd}
        with open("/proc/stat") as fh:
            cpu = [int(x) for x in fh.readline().split()[1:]]
        busy = (sum(cpu) - cpu[3] - cpu[4]) / self.tick
        return {"server": server, "pg": pg, "generator": time.process_time(), "machine": busy,
                "wall": time.monotonic()}  # fmt: skip

    @staticmethod
    def delta(a: dict[str, Any], b: dict[str, Any]) -> str:
        """Per process: CPU since the first snapshot (a process that started since: all of it; one
        that ended in between is missed, e.g. a pooled connection closed during the level)."""
        wall = b["wall"] - a["wall"]
        share = {k: sum(t - a[k].get(pid, 0.0) for pid, t in b[k].items()) / wall * 100 for k in ("server", "pg")}
        share["generator"] = (b["generator"] - a["generator"]) / wall * 100
        share["machine"] = (b["machine"] - a["machine"]) / wall * 100
        others = share["machine"] - share["server"] - share["pg"] - share["generator"]
        # Per server process (supervisor and workers): shows whether the workers share the load.
        each = sorted(((t - a["server"].get(pid, 0.0)) / wall * 100 for pid, t in b["server"].items()), reverse=True)
        return (
            f"CPU over the level, % of one core (the machine has {os.cpu_count()}): server workers "
            f"{share['server']:.0f}, PostgreSQL backends of this database {share['pg']:.0f}, load generator "
            f"{share['generator']:.0f}, everything else on the machine (other sessions) {others:.0f}; "
            f"per server process {' / '.join(f'{x:.0f}' for x in each)}"
        )


async def pg_connections(url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        n: int = await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = $1", url.rpartition("/")[2])
    finally:
        await conn.close()
    return n


def print_level(
    clients: int, stats: dict[str, Stats], wall: float, cpu: float, conns: int, floor_wall: float
) -> list[dict[str, Any]]:
    print(f"\n=== {clients} concurrent clients, {wall:.0f} s (load generator used {cpu * 100:.0f} % of one core;"
          f" {conns} PostgreSQL connections open at the end) ===")  # fmt: skip
    header = (
        f"{'endpoint':<32}{'reqs':>7}{'req/s':>8}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}{'srv p50':>9}"
        f"{'srv p99':>9}{'db p50':>8}{'err %':>7}"
    )
    print(header + "   (ms; client side; srv = X-Response-Time-ms, db = X-DB-Query-Time-ms)")
    rows = []
    order = [op for op, _ in MIX if op != "flow"] + FLOW_STEPS + ["floor GET /api/ping"]
    total = Stats()
    for label in order:
        st = stats.get(label)
        if st is None or not st.latencies:
            continue
        if label.startswith("floor"):
            print("-" * len(header))
        else:
            total.latencies += st.latencies
        total.errors += st.errors
        n = len(st.latencies)
        span = floor_wall if label.startswith("floor") else wall
        row = {
            "clients": clients, "endpoint": label, "n": n, "rps": n / span, "p50": pct(st.latencies, 50),
            "p95": pct(st.latencies, 95), "p99": pct(st.latencies, 99), "max": max(st.latencies),
            "srv_p50": pct([x for x in st.server_ms if x == x], 50),
            "srv_p99": pct([x for x in st.server_ms if x == x], 99), "err": 100.0 * st.errors / n,
            "db_p50": pct([x for x in st.db_ms if x == x], 50),
            "errors": st.errors, "codes": dict(st.codes),
        }  # fmt: skip
        rows.append(row)
        bad = {k: v for k, v in st.codes.items() if not k.startswith("2")}
        print(f"{label:<32}{n:>7}{row['rps']:>8.1f}{row['p50']:>8.1f}{row['p95']:>8.1f}{row['p99']:>8.1f}"
              f"{row['max']:>8.0f}{row['srv_p50']:>9.1f}{row['srv_p99']:>9.1f}{row['db_p50']:>8.1f}"
              f"{row['err']:>7.2f}" + (f"   {bad}" if bad else ""))  # fmt: skip
    if total.latencies:
        n = len(total.latencies)
        print(f"{'-' * len(header)}")
        lat = total.latencies
        print(f"{'ALL':<32}{n:>7}{n / wall:>8.1f}{pct(lat, 50):>8.1f}{pct(lat, 95):>8.1f}"
              f"{pct(lat, 99):>8.1f}{max(lat):>8.0f}{'':>9}{100.0 * total.errors / n:>7.2f}")  # fmt: skip
    return rows


async def drive(args: argparse.Namespace, base: str, url: str, gen: js.Generator, ids: dict[str, Any],
                people: dict[str, Actor]) -> list[dict[str, Any]]:  # fmt: skip
    pairs = await find_pairs(base, ids, people, args.pairs_per_type)
    print(f"\neligible (property, job type, contractor with a login) triples found by suggest_contractors: {len(pairs)}"
          f" over job types {sorted({p['job_type'] for p in pairs})}")  # fmt: skip
    rng = random.Random(args.seed)  # noqa: S311
    postcodes = rng.sample(cc.sample_postcodes(), 400)
    mix = Mix(base, gen, ids, people, pairs, postcodes)
    print("warm-up (every worker, every endpoint) ...", flush=True)
    await run_level(mix, 4, args.warmup)
    rows: list[dict[str, Any]] = []
    meter = CpuMeter(int(base.rpartition(":")[2]), url.rpartition("/")[2])
    for clients in args.concurrency:
        before = meter.snapshot()
        stats, wall, cpu = await run_level(mix, clients, args.seconds)
        usage = CpuMeter.delta(before, meter.snapshot())
        spread = (mix.samples, mix.workers)
        conns = await pg_connections(url)
        floor, fwall, fcpu = await run_level(mix, clients, args.floor_seconds, ping_only=True)
        stats.update(floor)
        rows += print_level(clients, stats, wall, cpu, conns, fwall)
        print(usage)
        mix.samples, mix.workers = spread
        print_spread(clients, mix, wall, args.samples)
        print(f"(floor: {fwall:.0f} s of GET /api/ping alone right after the mix, generator "
              f"{fcpu * 100:.0f} % of a core; ALL = the mix only)")  # fmt: skip
    return rows


def summary(rows: list[dict[str, Any]], args: argparse.Namespace, dataset: str) -> None:
    top = max(args.concurrency)
    at_top = [r for r in rows if r["clients"] == top]
    mixed = [r for r in at_top if r["endpoint"] != "floor GET /api/ping"]
    misses = [r for r in mixed if r["p99"] > GOAL_P99_MS or r["errors"]]
    print("\n" + "=" * 100)
    print(f"SUMMARY  load_report  {dataset}; propops.infra.server --workers {args.workers} "
          f"--server {args.server or 'default'}; Redis rate limits; "
          f"client timeout {TIMEOUT_S:.0f} s")  # fmt: skip
    print(f"{'clients':>8}{'mix req/s':>11}{'mix p50':>9}{'mix p99':>9}{'errors':>8}{'ping-in-mix p99':>17}"
          f"{'floor req/s':>13}{'floor p99':>11}")  # fmt: skip
    for clients in args.concurrency:
        rs = [r for r in rows if r["clients"] == clients]
        mix_rows = [r for r in rs if r["endpoint"] != "floor GET /api/ping"]
        n = sum(r["n"] for r in mix_rows)
        rps = sum(r["rps"] for r in mix_rows)
        p50 = max(r["p50"] for r in mix_rows)
        p99 = max(r["p99"] for r in mix_rows)
        errs = sum(r["errors"] for r in mix_rows)
        ping = next((r for r in rs if r["endpoint"] == "ping (in mix)"), None)
        floor = next((r for r in rs if r["endpoint"] == "floor GET /api/ping"), None)
        print(f"{clients:>8}{rps:>11.1f}{p50:>9.1f}{p99:>9.1f}{errs:>8}"
              f"{(ping['p99'] if ping else float('nan')):>17.1f}"
              f"{(floor['rps'] if floor else float('nan')):>13.0f}{(floor['p99'] if floor else float('nan')):>11.1f}"
              f"   ({n} requests; p50/p99 = worst endpoint)")  # fmt: skip
    verdict = "MET" if not misses else "MISSED"
    print(f"goal at {top} clients (every endpoint p99 <= {GOAL_P99_MS:.0f} ms, 0 errors): {verdict}")
    held = [
        c
        for c in args.concurrency
        if all(r["p99"] <= GOAL_P99_MS and not r["errors"] for r in rows
               if r["clients"] == c and r["endpoint"] != "floor GET /api/ping")
    ]  # fmt: skip
    print(f"levels where every endpoint met it: {', '.join(map(str, held)) or 'none'} clients")
    for r in misses:
        print(f"  miss: {r['endpoint']:<32} p99 {r['p99']:.0f} ms (server p99 {r['srv_p99']:.0f} ms), "
              f"errors {r['errors']} {({k: v for k, v in r['codes'].items() if not k.startswith('2')})}")  # fmt: skip
    print("=" * 100)


# --------------------------------------------------------------------------- main


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=200_000, help="jobs to generate (default 200,000; full: 1,000,000)")
    p.add_argument("--branches", type=int, default=50, help="branches; 10 agents each (default 50 -> 500 agents)")
    p.add_argument("--contractors", type=int, default=5000, help="contractors the jobs are spread over (5,000)")
    p.add_argument("--coverage-contractors", type=int, default=5000,
                   help="contractors with coverage areas and trades for the postcode search (5,000)")  # fmt: skip
    p.add_argument("--workers", type=int, default=2, help="server worker processes (default 2)")
    p.add_argument("--server", choices=["supervisor", "granian"], default="",
                   help="how propops.infra.server runs the workers (default: PROPOPS_SERVER)")  # fmt: skip
    p.add_argument("--concurrency", default="8,16,32,64", help="client counts, comma separated")
    p.add_argument("--seconds", type=float, default=30, help="seconds of mixed load per level (default 30)")
    p.add_argument("--floor-seconds", type=float, default=5, help="seconds of ping-only load per level (default 5)")
    p.add_argument("--warmup", type=float, default=10, help="warm-up seconds (default 10)")
    p.add_argument("--pairs-per-type", type=int, default=4, help="eligible triples to find per job type")
    p.add_argument("--seed", type=int, default=20261128)
    p.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the jobs list queries")
    p.add_argument("--samples", metavar="DIR", help="write every mix request (start, endpoint, latency, status, "
                   "server process) to DIR/level-N.csv")  # fmt: skip
    p.add_argument("--keep", action="store_true", help="keep the database and print its URL")
    p.add_argument("--reuse", metavar="URL", help="measure a database kept by --keep (same sizes; not dropped)")
    args = p.parse_args()
    args.concurrency = [int(x) for x in args.concurrency.split(",") if x.strip()]
    if max(args.concurrency) > 256 or args.seconds > 600:
        p.error("at most 256 clients and 600 s per level")
    configure_generator(args)
    if args.reuse:
        url, drop = args.reuse, (lambda: None)
        args.keep = True
    else:
        url, drop = fresh_database("postgresql")
    dataset = (f"{args.jobs:,} jobs, {args.branches} branches, {args.branches * 10} agents, "
               f"{args.contractors:,} + {args.coverage_contractors:,} contractors")  # fmt: skip
    try:
        print(f"database: {url}\ndata set: {dataset}", flush=True)
        gen = asyncio.run(js._existing(url, args.jobs)) if args.reuse else load(url, args)
        if args.explain:
            asyncio.run(js.explain(url, gen, gen.user_ids[0]))
        emails = ["admin@example.com", *DEMO_AGENTS, *DEMO_CONTRACTORS] + [
            f"scale-agent{i:03d}@example.com" for i in range(0, js.N_AGENTS, 10)
        ]
        tokens = asyncio.run(issue_tokens(url, emails))
        ids = asyncio.run(sample_ids(url, gen))
        env = {
            "PROPOPS_DATABASE_URL": url,
            "PROPOPS_SECRET_KEY": SECRET,
            "PROPOPS_RATE_LIMIT_BACKEND": "redis",
            "PROPOPS_REDIS_URL": os.environ.get("PROPOPS_BENCH_REDIS", "redis://127.0.0.1:6379/7"),
            "PROPOPS_RATE_LIMIT_PER_IP": "100000000",
            "PROPOPS_RATE_LIMIT_PER_ACCOUNT": "100000000",
            "PROPOPS_LOG_LEVEL": "WARNING",
            "PROPOPS_BACKGROUND_TASKS": "false",  # the schedule runs in `propops worker`, not in the web workers
            "PROPOPS_STORAGE_DIR": "/tmp/propops-load-report-storage",
        }
        port = free_port(8800)
        print(f"propops.infra.server --workers {args.workers} --server {args.server or 'default'} on 127.0.0.1:{port}; "
              f"PostgreSQL max_connections "
              f"{ids['pg_max_connections']}", flush=True)  # fmt: skip
        with server("propops.main:asgi", env, port, workers=args.workers, kind=args.server) as base:

            async def go() -> list[dict[str, Any]]:
                people = await actors(base, tokens)
                return await drive(args, base, url, gen, ids, people)

            rows = asyncio.run(go())
        summary(rows, args, dataset)
    finally:
        if args.keep:
            print(f"kept: {url}")
        else:
            drop()
            print("benchmark database dropped; server stopped")


if __name__ == "__main__":
    main()
