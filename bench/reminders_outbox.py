"""Benchmark: certificate reminder scan and outbox delivery to a local SMTP server.

    .venv/bin/python bench/reminders_outbox.py --db sqlite --certs 100000 --emails 2000
    .venv/bin/python bench/reminders_outbox.py --db postgresql --workers 4

Builds a fresh database with the migrations, inserts contractors and certificates in bulk (expiry
dates spread from 60 days overdue to 400 days ahead), then times:
  1. the reminder scan (first run, which queues emails; then a rerun, which must queue nothing),
  2. outbox delivery of the queued emails to an aiosmtpd server on 127.0.0.1:83xx (emails/s),
     with --workers concurrent workers sharing the outbox.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import asyncpg
from aiosmtpd.controller import Controller
from sqlalchemy import func, insert, select

from propops.certifications.models import Certification
from propops.certifications.reminders import run_reminders
from propops.contractors.models import Contractor
from propops.core.db import Database
from propops.core.migrate import upgrade_async
from propops.core.settings import Settings
from propops.notifications.delivery import deliver_due
from propops.notifications.models import EmailOutbox

PG_ADMIN = os.environ.get("PROPOPS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.count += 1
        return "250 OK"


def free_port() -> int:
    for port in range(8300, 8400):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit("no free port in 8300-8399")


async def fresh_db(kind: str) -> tuple[str, object]:
    if kind == "sqlite":
        d = Path(tempfile.mkdtemp(prefix="propops-bench-"))
        return f"sqlite+aiosqlite:///{d / 'bench.db'}", None
    name = f"propops_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}", name


async def drop_pg(name: object) -> None:
    if name:
        conn = await asyncpg.connect(PG_ADMIN)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def populate(db: Database, n_certs: int, n_contractors: int, today: date) -> None:
    rng = random.Random(42)
    async with db.sessionmaker() as session, session.begin():
        await session.execute(
            insert(Contractor),
            [
                {
                    "organisation_id": 1,  # the demo's first organisation
                    "first_name": f"C{i}",
                    "last_name": "Bench",
                    "email": f"c{i}@bench.example",
                    "uuid": str(uuid.uuid4()),
                    "is_active": True,
                }
                for i in range(n_contractors)
            ],
        )
        ids = list((await session.execute(select(Contractor.id))).scalars())
    batch = 5000
    for start in range(0, n_certs, batch):
        rows = []
        for i in range(start, min(n_certs, start + batch)):
            cid = ids[i % len(ids)]
            rows.append(
                {
                    "uuid": str(uuid.uuid4()),
                    "organisation_id": 1,
                    "contractor_id": cid,
                    "certification_type_id": 1 + i % 9,
                    "expires_on": today + timedelta(days=rng.randint(-60, 400)),
                    "file_name": f"cert_{cid}_{1 + i % 9}_{1700000000 + i}.pdf",
                    "original_filename": "x.pdf",
                    "content_type": "application/pdf",
                    "size_bytes": 1000,
                    "sha256": "0" * 64,
                }
            )
        async with db.sessionmaker() as session, session.begin():
            await session.execute(insert(Certification), rows)


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    p.add_argument("--certs", type=int, default=100_000, help="certificates to scan (default 100000)")
    p.add_argument("--contractors", type=int, default=5_000)
    p.add_argument("--emails", type=int, default=2_000, help="emails to deliver (default 2000)")
    p.add_argument("--workers", type=int, default=1, help="concurrent outbox workers (default 1)")
    p.add_argument("--batch", type=int, default=100, help="outbox batch size per SMTP connection")
    args = p.parse_args()

    url, pg_name = await fresh_db(args.db)
    try:
        await upgrade_async(url)
        port = free_port()
        settings = Settings(environment="test", database_url=url, smtp_port=port, outbox_batch_size=args.batch)
        db = Database(url)
        today = date.today()
        t0 = time.perf_counter()
        await populate(db, args.certs, args.contractors, today)
        print(f"[{args.db}] inserted {args.certs} certificates in {time.perf_counter() - t0:.1f}s")

        t0 = time.perf_counter()
        first = await run_reminders(db, settings, today=today)
        t_first = time.perf_counter() - t0
        t0 = time.perf_counter()
        rerun = await run_reminders(db, settings, today=today)
        t_rerun = time.perf_counter() - t0
        print(
            f"reminder scan, first run: {t_first:.2f}s  ({first.scanned} in reach, {first.sent} steps, "
            f"{first.emails} emails queued)"
        )
        print(f"reminder scan, rerun:     {t_rerun:.2f}s  ({rerun.scanned} in reach, {rerun.sent} new steps)")

        # Keep exactly --emails queued for the delivery measurement.
        async with db.sessionmaker() as session, session.begin():
            queued = (await session.execute(select(func.count()).select_from(EmailOutbox))).scalar_one()
        print(f"outbox holds {queued} emails; delivering up to {args.emails}")
        sink = Sink()
        controller = Controller(sink, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            t0 = time.perf_counter()
            total = 0

            async def one(worker: int) -> int:
                sent = 0
                while sink.count < args.emails:
                    r = await deliver_due(db, settings, worker_id=f"bench-{worker}", max_batches=1)
                    if r.claimed == 0:
                        break
                    sent += r.sent
                return sent

            total = sum(await asyncio.gather(*(one(w) for w in range(args.workers))))
            elapsed = time.perf_counter() - t0
        finally:
            controller.stop()
        print(
            f"outbox delivery: {total} emails in {elapsed:.2f}s = {total / elapsed:.0f} emails/s "
            f"({args.workers} worker(s), batch {args.batch}); SMTP server received {sink.count}"
        )
        await db.dispose()
    finally:
        if args.db == "postgresql":
            await drop_pg(pg_name)


if __name__ == "__main__":
    asyncio.run(main())
