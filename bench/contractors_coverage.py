"""Benchmark: GET /api/contractors/list?action=list&postcode=... at 5k and 50k contractors.

For each backend (SQLite, PostgreSQL) and size it builds a fresh database (migrations + demo
seed), generates N contractors over GB districts (weighted by postcode count, so cities are dense)
with mixed coverage (radius 5-50 km, estimated isochrones 15-60 min, drawn polygons), starts the
real app under uvicorn on a port in 8700-8799, and times sequential requests for random real
postcodes: server-side ``X-Response-Time-ms`` and client-side latency, p50/p99. ``/api/ping`` is
timed in the same run as the framework floor. Everything it creates is removed at the end.

    python bench/contractors_coverage.py --help
    python bench/contractors_coverage.py --sizes 5000,50000 --backends sqlite,postgresql
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = os.environ.get("PROPOPS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "bench-pass-123"  # noqa: S105 - throwaway benchmark database


def districts() -> list[tuple[str, float, float, int]]:
    with resources.files("propops.geo").joinpath("data", "gb_postcode_districts.csv").open() as fh:
        return [
            (r["outcode"], float(r["latitude"]), float(r["longitude"]), int(r["n_postcodes"]))
            for r in csv.DictReader(fh)
        ]


def sample_postcodes() -> list[str]:
    with resources.files("propops.geo").joinpath("data", "gb_postcodes_sample.csv").open() as fh:
        return [r["postcode"] for r in csv.DictReader(fh)]


async def generate(url: str, n: int, seed: int, cluster: bool = True) -> float:
    """Insert ``n`` contractors with coverage and cells; returns seconds taken."""
    from propops.contractors import coverage as cov
    from propops.contractors.models import Contractor, ContractorCoverageCell, ContractorTrade
    from propops.core.db import Database
    from propops.geo.geocoder import GeoPoint

    rng = random.Random(seed)
    ds = districts()
    weights = [d[3] for d in ds]
    db = Database(url)
    started = time.perf_counter()
    batch = 2000
    try:
        for start in range(0, n, batch):
            rows: list[Contractor] = []
            areas = []
            for i in range(start, min(n, start + batch)):
                out, lat, lon, _ = rng.choices(ds, weights)[0]
                lat += rng.uniform(-0.02, 0.02)
                lon += rng.uniform(-0.03, 0.03)
                base = GeoPoint(out, lat, lon, "district", "bench")
                kind = rng.random()
                if kind < 0.5:
                    spec = cov.CoverageSpec("radius", radius_km=rng.choice([5, 10, 15, 20, 25, 30, 40, 50]))
                elif kind < 0.85:
                    spec = cov.CoverageSpec(
                        "isochrone", travel_minutes=rng.choice([15, 20, 30, 45, 60]), profile="driving"
                    )
                else:
                    w, h = rng.uniform(0.05, 0.4), rng.uniform(0.05, 0.25)
                    ring = [
                        [lon - w, lat - h],
                        [lon + w, lat - h],
                        [lon + w * 0.6, lat + h],
                        [lon - w * 0.6, lat + h],
                        [lon - w, lat - h],
                    ]
                    spec = cov.CoverageSpec("drawn", drawn={"type": "Polygon", "coordinates": [ring]})
                area = cov.compute_static(spec, base)
                c = Contractor(
                    organisation_id=1,  # the demo's first organisation
                    first_name=f"Bench{i}",
                    last_name=f"Contractor{i}",
                    email=f"bench{i}@example.invalid",
                    phone="07700900000",
                    is_active=rng.random() > 0.03,
                )
                cov.apply(c, base, area)
                rows.append(c)
                areas.append(area)
            async with db.sessionmaker() as session, session.begin():
                session.add_all(rows)
                await session.flush()
                trades, cells = [], []
                for c, area in zip(rows, areas, strict=True):
                    for t in rng.sample([1, 2, 3, 4, 5], rng.randint(1, 3)):
                        trades.append({"contractor_id": c.id, "trade_id": t})
                    cells += cov.cell_rows(c, area.geometry)
                await session.execute(insert(ContractorTrade), trades)
                await session.execute(insert(ContractorCoverageCell), cells)
        if url.startswith("postgresql"):
            async with db.engine.begin() as conn:
                from sqlalchemy import text

                if cluster:
                    # What ``propops geo cluster-coverage-grid`` (and migration 0007) does.
                    await conn.run_sync(cov.cluster_grid)
                await conn.execute(text("ANALYZE"))
    finally:
        await db.dispose()
    return time.perf_counter() - started


def free_port() -> int:
    for port in range(8700, 8800):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8700-8799")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure(base_url: str, token: str, postcodes: list[str], path_fmt: str) -> dict[str, Any]:
    server, client, counts = [], [], []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as http:
        for pc in postcodes[:10]:  # warm-up
            http.get(path_fmt.format(pc=pc))
        for pc in postcodes:
            t0 = time.perf_counter()
            r = http.get(path_fmt.format(pc=pc))
            client.append((time.perf_counter() - t0) * 1000)
            server.append(float(r.headers.get("x-response-time-ms", "nan")))
            if r.status_code != 200:
                raise RuntimeError(f"{r.status_code} {r.text[:200]}")
            counts.append(r.json().get("count", 0))
    return {
        "server_p50": statistics.median(server),
        "server_p99": pct(server, 99),
        "client_p50": statistics.median(client),
        "client_p99": pct(client, 99),
        "mean_matches": statistics.mean(counts) if counts else 0,
    }


def run_one(backend: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    import asyncpg

    from propops.core.db import Database
    from propops.core.migrate import upgrade
    from propops.demo import seed_demo

    tmpdir = Path(tempfile.mkdtemp(prefix="propops-bench-cov-"))
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
        try:
            upgrade(url)
        except KeyError:
            # Alembic can trip over merge revisions with depends_on; the branch tips suffice here.
            for rev in ("0002", "0003", "0004"):
                upgrade(url, rev)

        async def seed() -> None:
            db = Database(url)
            await seed_demo(db, PASSWORD)
            await db.dispose()

        asyncio.run(seed())
        gen_s = asyncio.run(generate(url, n - 30, args.seed, not args.no_cluster))
        port = free_port()
        env = dict(
            os.environ,
            PROPOPS_DATABASE_URL=url,
            PROPOPS_RATE_LIMIT_ENABLED="false",
            PROPOPS_LOG_LEVEL="WARNING",
        )
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "propops.main:asgi",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
            cwd=str(ROOT),
        )
        base_url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(base_url + "/api/ping", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        r = httpx.post(base_url + "/api/auth/login", json={"email": "admin@example.com", "password": PASSWORD})
        token = r.json()["token"]
        rng = random.Random(args.seed + 1)
        pcs = rng.sample(sample_postcodes(), args.requests)
        result = {"backend": backend, "contractors": n, "generate_s": round(gen_s, 1)}
        result["list_postcode"] = measure(base_url, token, pcs, "/api/contractors/list?action=list&postcode={pc}")
        result["list_postcode_trade"] = measure(
            base_url, token, pcs[: args.requests // 2], "/api/contractors/list?action=list&trade_id=2&postcode={pc}"
        )
        result["ping"] = measure(base_url, token, pcs[:100], "/api/ping")
        return result
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
    parser.add_argument("--sizes", default="5000,50000", help="contractor counts, comma separated")
    parser.add_argument("--backends", default="sqlite,postgresql", help="sqlite and/or postgresql")
    parser.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL admin DSN used to create/drop a temp database")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per measurement")
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--json", action="store_true", help="print results as JSON lines too")
    parser.add_argument(
        "--no-cluster", action="store_true", help="PostgreSQL: skip CLUSTER of the coverage grid after generating"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    print(
        f"{'backend':<11}{'N':>7} {'query':<20}{'srv p50':>9}{'srv p99':>9}{'cli p50':>9}{'cli p99':>9}{'matches':>9}"
    )
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        for n in sizes:
            res = run_one(backend, n, args)
            for key in ("list_postcode", "list_postcode_trade", "ping"):
                m = res[key]
                print(
                    f"{backend:<11}{n:>7} {key:<20}{m['server_p50']:>9.2f}{m['server_p99']:>9.2f}"
                    f"{m['client_p50']:>9.2f}{m['client_p99']:>9.2f}{m['mean_matches']:>9.1f}",
                    flush=True,
                )
            print(f"{'':<11}{'':>7} (generated in {res['generate_s']} s)", flush=True)
            if args.json:
                print(json.dumps(res))


if __name__ == "__main__":
    main()
