"""Benchmark: GET /api/agents/sla (the agent SLA view, in the load report's mix) on the demo data.

For each backend (SQLite, PostgreSQL) it builds a fresh database (migrations + demo seed), starts
the real app under uvicorn on a free port, and times sequential requests by three callers: staff
asking about every demo agent in turn, an agent with shared branches asking about the agents it
may see, and that agent asking about itself (no agent_uuid). Server-side ``X-Response-Time-ms``
and client-side latency, p50/p99; ``/api/ping`` in the same run is the framework floor.
Everything it creates is removed at the end.

    python bench/agents_sla.py --help
    python bench/agents_sla.py --backends sqlite,postgresql --requests 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = os.environ.get("PROPOPS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "bench-pass-123"  # noqa: S105 - throwaway benchmark database
AGENT = "agent007@example.com"  # primary Branch_002, shares 001 and 003
N_AGENTS = 15


def agent_uuid(n: int) -> str:
    return f"880e8400-e29b-41d4-a716-4466554400{n:02d}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure(base_url: str, token: str, paths: list[str], requests: int) -> dict[str, float]:
    server, client = [], []
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        for path in paths[:20]:  # warm-up
            http.get(path)
        for i in range(requests):
            path = paths[i % len(paths)]
            t0 = time.perf_counter()
            r = http.get(path)
            client.append((time.perf_counter() - t0) * 1000)
            if r.status_code not in (200, 404):
                raise RuntimeError(f"{path}: {r.status_code} {r.text[:200]}")
            server.append(float(r.headers.get("x-response-time-ms", "nan")))
    return {
        "server_p50": round(statistics.median(server), 3),
        "server_p99": round(pct(server, 99), 3),
        "client_p50": round(statistics.median(client), 3),
        "client_p99": round(pct(client, 99), 3),
    }


def login(base_url: str, email: str) -> str:
    r = httpx.post(base_url + "/api/auth/login", json={"email": email, "password": PASSWORD})
    r.raise_for_status()
    token: str = r.json()["token"]
    return token


def run_one(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    import asyncpg

    from propops.core.db import Database
    from propops.core.migrate import upgrade
    from propops.demo import seed_demo

    tmpdir = Path(tempfile.mkdtemp(prefix="propops-bench-sla-"))
    pg_name = None
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmpdir / 'bench.db'}"
    else:
        pg_name = f"propops_bench_{uuid.uuid4().hex[:8]}"

        async def create() -> None:
            c = await asyncpg.connect(args.pg)
            await c.execute(f'CREATE DATABASE "{pg_name}"')
            await c.close()

        asyncio.run(create())
        url = args.pg.rpartition("/")[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{pg_name}"
    proc = None
    try:
        upgrade(url)

        async def seed() -> None:
            db = Database(url)
            await seed_demo(db, PASSWORD)
            await db.dispose()

        asyncio.run(seed())
        port = free_port()
        env = dict(
            os.environ, PROPOPS_DATABASE_URL=url, PROPOPS_RATE_LIMIT_ENABLED="false", PROPOPS_LOG_LEVEL="WARNING"
        )
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "uvicorn", "--factory", "propops.main:asgi", "--port", str(port)]
            + ["--log-level", "warning"],
            env=env,
            cwd=str(ROOT),
        )
        base_url = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                if httpx.get(base_url + "/api/ping", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        staff, agent = login(base_url, "admin@example.com"), login(base_url, AGENT)
        every = [f"/api/agents/sla?agent_uuid={agent_uuid(n)}" for n in range(1, N_AGENTS + 1)]
        return {
            "backend": backend,
            "staff_by_uuid": measure(base_url, staff, every, args.requests),
            "agent_by_uuid": measure(base_url, agent, every, args.requests),
            "agent_self": measure(base_url, agent, ["/api/agents/sla"], args.requests),
            "ping": measure(base_url, staff, ["/api/ping"], min(args.requests, 300)),
        }
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
        shutil.rmtree(tmpdir, ignore_errors=True)
        if pg_name:

            async def drop() -> None:
                c = await asyncpg.connect(args.pg)
                await c.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
                await c.close()

            asyncio.run(drop())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgresql", help="sqlite and/or postgresql")
    parser.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL admin DSN used to create/drop a temp database")
    parser.add_argument("--requests", type=int, default=1000, help="timed requests per caller")
    parser.add_argument("--json", action="store_true", help="print results as JSON lines too")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        result = run_one(backend.strip(), args)
        for name in ("staff_by_uuid", "agent_by_uuid", "agent_self", "ping"):
            m = result[name]
            print(
                f"{result['backend']:10} {name:14} server p50 {m['server_p50']:.3f} ms  p99 {m['server_p99']:.3f} ms  "
                f"client p50 {m['client_p50']:.3f} ms  p99 {m['client_p99']:.3f} ms"
            )
        if args.json:
            print(json.dumps(result))


if __name__ == "__main__":
    main()
