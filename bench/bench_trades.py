"""GET /api/contractors/trades against the framework floor and a raw-driver baseline.

Usage: python bench/bench_trades.py [--db sqlite|postgresql|both] [--seconds 10] [--connections 32]
Needs `wrk` (Debian package). Prints req/s, p50/p99 and the ratios to the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from _common import free_port, fresh_database, server, wrk


async def _prepare(url: str) -> str:
    from sqlalchemy import select

    from propops.auth.models import User
    from propops.auth.service import issue_token
    from propops.core.context import AppContext
    from propops.core.db import Database
    from propops.core.migrate import upgrade_async
    from propops.core.ratelimit import MemoryRateLimitStore
    from propops.core.settings import Settings
    from propops.demo import seed_demo

    await upgrade_async(url)
    settings = Settings(database_url=url)
    db = Database(url)
    await seed_demo(db, "bench-password")
    async with db.sessionmaker() as s, s.begin():
        admin = (await s.execute(select(User).where(User.email == "admin@example.com"))).scalar_one()
        raw, _ = await issue_token(s, AppContext(settings=settings, db=db, rate_limits=MemoryRateLimitStore()), admin)
    await db.dispose()
    return raw


def run(kind: str, seconds: int, connections: int) -> None:
    url, drop = fresh_database(kind)
    try:
        token = asyncio.run(_prepare(url))
        env = {
            "PROPOPS_DATABASE_URL": url,
            "PROPOPS_RATE_LIMIT_PER_IP": "100000000",
            "PROPOPS_RATE_LIMIT_PER_ACCOUNT": "100000000",
            "PROPOPS_LOG_LEVEL": "WARNING",
        }
        port = free_port(8400)
        auth = {"Authorization": f"Bearer {token}"}
        with server("trades_app:app", env, port) as base:
            wrk(f"{base}/api/ping", seconds=2, connections=connections)  # warm-up
            wrk(f"{base}/api/contractors/trades", seconds=2, connections=connections, headers=auth)
            floor = wrk(f"{base}/api/ping", seconds=seconds, connections=connections)
            raw = wrk(f"{base}/bench/raw-trades", seconds=seconds, connections=connections, headers=auth)
            ours = wrk(f"{base}/api/contractors/trades", seconds=seconds, connections=connections, headers=auth)
        print(f"\n--- {kind}: {connections} connections, {seconds}s each, 1 uvicorn worker ---")
        print(floor.row("floor  GET /api/ping"))
        print(raw.row("raw driver (token+perm+trades)"))
        print(ours.row("PropOps GET /api/contractors/trades"))
        print(
            f"trades / floor = {ours.rps / floor.rps * 100:.1f} %   raw / floor = {raw.rps / floor.rps * 100:.1f} %"
            f"   trades / raw = {ours.rps / raw.rps * 100:.1f} %"
        )
        with server("trades_app:app", env, port, workers=2) as base:
            print(revocation_check(base, token))
    finally:
        drop()


def revocation_check(base: str, token: str) -> str:
    """Two worker processes: after logout in one, the token must fail on the very next request in
    whichever process answers it."""
    import httpx

    auth = {"Authorization": f"Bearer {token}"}

    def fresh() -> int:  # a new connection per request: the kernel picks the worker
        with httpx.Client(base_url=base, timeout=10) as one:
            return one.get("/api/contractors/trades", headers=auth).status_code

    warm = [fresh() for _ in range(40)]  # both workers serve it (and cache it, on PostgreSQL)
    with httpx.Client(base_url=base, timeout=10) as c:
        csrf = c.get("/api/security/csrf-token", headers=auth).json()["data"]["token"]
        out = c.post("/api/auth/logout", headers={**auth, "X-CSRF-Token": csrf}).status_code
    after = [fresh() for _ in range(200)]
    ok_before = warm.count(200) == len(warm)
    ok_after = after.count(401) == len(after)
    return (
        f"revocation over 2 workers: before logout {warm.count(200)}/{len(warm)} OK, logout {out}, "
        f"after logout {after.count(401)}/{len(after)} refused -> {'PASS' if ok_before and ok_after else 'FAIL'}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--connections", type=int, default=32)
    a = p.parse_args()
    for kind in ["sqlite", "postgresql"] if a.db == "both" else [a.db]:
        run(kind, a.seconds, a.connections)
    _ = os


if __name__ == "__main__":
    main()
