"""Fault run: restart PostgreSQL and stop SMTP while the service is under load; nothing may be lost.

Builds a fresh PostgreSQL database (migrations + demo data), starts an SMTP stand-in (aiosmtpd on
loopback, in this process), ``python -m propops.infra.server propops.main:asgi --factory --workers N``
and a separate ``propops worker`` that delivers the outbox, all on ports 8800-8899. Then, under moderate load
(clients creating jobs with a case note that emails the agent through the outbox, uploading
certificates, reading lists and jobs):

  (a) restarts PostgreSQL (``pg_ctlcluster --skip-systemctl-redirect <version> main restart``, the
      machine's own server: other sessions on it see the restart too; at most --pg-restarts times,
      default once);
  (b) stops the SMTP stand-in for --smtp-outage seconds, then starts it again on the same port.

It checks and prints:
  - during the outages requests fail cleanly: 503 with the PropOps envelope, never a 500, never a
    hang (a request that takes longer than the client timeout, 10 s, counts as a hang);
  - the service recovers by itself (no restart of the server or the worker): time from the restart
    until /api/health and the first acknowledged write answer again; errors after recovery;
  - no job, case note, certificate or email is lost or duplicated: acknowledged creations (2xx)
    against rows in the database (by a unique tag per request), certificate files in storage, and
    every outbox row against what the SMTP stand-in received (by ``X-PropOps-Outbox-Id``, each
    exactly once; case-note emails also by their note's tag).

Everything is removed at the end (database, storage, processes). Exit status 0 when every check passes.

    .venv/bin/python bench/fault_run.py --help
    .venv/bin/python bench/fault_run.py --clients 6 --smtp-outage 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid as uuid_mod
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from email import message_from_bytes
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, free_port, fresh_database, server  # noqa: E402

SECRET = "fault-run-secret-" + "k" * 32
PASSWORD = "fault-run-pass-123"  # noqa: S105 - throwaway database
TIMEOUT_S = 10.0
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
AGENT_001_UUID = "880e8400-e29b-41d4-a716-446655440001"


def pg_version() -> str:
    return sorted(os.listdir("/etc/postgresql"))[-1]


# --------------------------------------------------------------------------- SMTP stand-in


class Sink:
    """Records every message: its X-PropOps-Outbox-Id, Message-ID and body."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.outbox_ids: list[int] = []
        self.message_ids: list[str] = []
        self.bodies: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        msg = message_from_bytes(envelope.original_content or envelope.content)
        text = ""
        for part in msg.walk():
            if part.get_content_type() == "text/plain":
                payload = part.get_payload(decode=True)
                text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
                break
        with self.lock:
            self.outbox_ids.append(int(msg.get("X-PropOps-Outbox-Id", "0")))
            self.message_ids.append(str(msg.get("Message-ID", "")))
            self.bodies.append(text)
        return "250 OK"


class Smtp:
    def __init__(self, port: int) -> None:
        self.port, self.sink = port, Sink()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


# --------------------------------------------------------------------------- load


@dataclass
class Record:
    phase: str
    endpoint: str
    outcome: str  # status code or exception name
    ms: float
    envelope: bool  # a failure came with the PropOps envelope
    at: float = field(default_factory=time.monotonic)  # when the answer came


@dataclass
class Ledger:
    """What the clients were told: acknowledged creations by tag."""

    records: list[Record] = field(default_factory=list)
    jobs: dict[str, str] = field(default_factory=dict)  # tag -> uuid
    notes: dict[str, int] = field(default_factory=dict)  # tag -> emails_queued
    certs: dict[str, str] = field(default_factory=dict)  # tag -> file name
    unacked: Counter[str] = field(default_factory=Counter)  # creations with no 2xx (may or may not exist)


class Load:
    def __init__(self, base: str, admin: dict[str, str], contractors: list[str], cert_type: int, prop: int,
                 run: str) -> None:  # fmt: skip
        self.base, self.admin, self.contractors, self.cert_type, self.prop, self.run = (
            base, admin, contractors, cert_type, prop, run,
        )  # fmt: skip
        self.phase = "before"
        self.ledger = Ledger()
        self.seq = 0
        self.stop = asyncio.Event()

    def tag(self, kind: str) -> str:
        self.seq += 1
        return f"FR{self.run}-{kind}-{self.seq:06d}"

    async def req(
        self, c: httpx.AsyncClient, endpoint: str, method: str, path: str, **kw: Any
    ) -> httpx.Response | None:
        phase = self.phase
        t0 = time.perf_counter()
        try:
            r = await c.request(method, path, timeout=TIMEOUT_S, **kw)
        except httpx.TimeoutException as exc:
            self.ledger.records.append(Record(phase, endpoint, f"timeout:{type(exc).__name__}", _ms(t0), False))
            return None
        except httpx.HTTPError as exc:
            self.ledger.records.append(Record(phase, endpoint, type(exc).__name__, _ms(t0), False))
            return None
        envelope = True
        if r.status_code >= 400:
            try:
                body = r.json()
                envelope = body.get("success") is False and bool(body.get("error")) and body.get("message") is not None
            except ValueError:
                envelope = False
        self.ledger.records.append(Record(phase, endpoint, str(r.status_code), _ms(t0), envelope))
        return r

    async def create_job_with_note(self, c: httpx.AsyncClient) -> None:
        tag = self.tag("job")
        r = await self.req(
            c, "job create", "POST", "/api/jobs/manage", headers=self.admin,
            json={"action": "create", "job_title": tag, "job_description": "Fault run", "address_id": self.prop,
                  "priority_id": 3, "job_type_id": 4, "agent_uuid": AGENT_001_UUID},
        )  # fmt: skip
        if r is None or r.status_code != 200:
            self.ledger.unacked["job"] += 1
            return
        self.ledger.jobs[tag] = r.json()["data"]["uuid"]
        note = self.tag("note")
        n = await self.req(
            c, "case note + email", "POST", "/api/jobs/case-notes", headers=self.admin,
            json={"job_uuid": r.json()["data"]["uuid"], "note_text": f"Tenant called again. [{note}]",
                  "send_email": True},
        )  # fmt: skip
        if n is None or n.status_code != 200:
            self.ledger.unacked["note"] += 1
            return
        self.ledger.notes[note] = int(n.json()["data"]["emails_queued"])

    async def upload_cert(self, c: httpx.AsyncClient, rng: random.Random) -> None:
        tag = self.tag("cert")
        r = await self.req(
            c, "certificate upload", "POST", "/api/contractors/certification", headers=self.admin,
            data={"action": "upload", "contractor_uuid": rng.choice(self.contractors),
                  "certification_type_id": str(self.cert_type), "certificate_number": tag,
                  "issue_date": "2026-01-01", "expiry_date": "2028-12-31"},
            files={"file": ("certificate.pdf", PDF, "application/pdf")},
        )  # fmt: skip
        if r is None or r.status_code != 200:
            self.ledger.unacked["cert"] += 1
            return
        self.ledger.certs[tag] = r.json()["data"].get("file_name") or r.json()["data"].get("file") or ""

    async def client(self, n: int) -> None:
        rng = random.Random(n)  # noqa: S311 - load sampling
        async with httpx.AsyncClient(base_url=self.base) as c:
            while not self.stop.is_set():
                x = rng.random()
                if x < 0.35:
                    await self.create_job_with_note(c)
                elif x < 0.5:
                    await self.upload_cert(c, rng)
                elif x < 0.75:
                    await self.req(
                        c, "jobs list", "GET", "/api/jobs/manage?action=list&branch_id=1", headers=self.admin
                    )
                elif x < 0.9 and self.ledger.jobs:
                    u = rng.choice(list(self.ledger.jobs.values()))
                    await self.req(c, "job get", "GET", f"/api/jobs/manage?action=get&uuid={u}", headers=self.admin)
                else:
                    await self.req(c, "trades", "GET", "/api/contractors/trades", headers=self.admin)
                await asyncio.sleep(rng.uniform(0.02, 0.1))  # moderate load, not saturation


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def outage_window(records: list[Record], t0: float) -> str:
    """From the restart's start: when requests first and last failed, and when the first write
    after the last failure was acknowledged (the recovery as the clients saw it)."""
    since = [r for r in records if r.at >= t0]
    failed = [r for r in since if not r.outcome.startswith("2")]
    if not failed:
        return "no request failed"
    last = max(r.at for r in failed)
    writes = sorted(r.at for r in since if r.at > last and r.outcome.startswith("2") and r.endpoint == "job create")
    first_ok = f"{writes[0] - t0:.1f} s" if writes else "never"
    return (
        f"{len(failed)} failed between {min(r.at for r in failed) - t0:.1f} s and {last - t0:.1f} s after the restart"
        f" began ({dict(Counter(r.outcome for r in failed))}); first acknowledged job create after that at {first_ok}"
    )


async def wait_healthy(base: str, deadline_s: float) -> float | None:
    """Seconds until /api/health answers 200 (polled every 100 ms), None when it never does."""
    t0 = time.monotonic()
    async with httpx.AsyncClient(base_url=base, timeout=2) as c:
        while time.monotonic() - t0 < deadline_s:
            try:
                if (await c.get("/api/health")).status_code == 200:
                    return time.monotonic() - t0
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    return None


# --------------------------------------------------------------------------- setup and checks


async def prepare(url: str) -> dict[str, Any]:
    import asyncpg

    from propops.core.db import Database
    from propops.core.migrate import upgrade_async
    from propops.demo import seed_demo

    await upgrade_async(url)
    db = Database(url)
    await seed_demo(db, PASSWORD)
    await db.dispose()
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        contractors = [r[0] for r in await conn.fetch("SELECT uuid FROM contractors ORDER BY id LIMIT 10")]
        cert_type = await conn.fetchval("SELECT id FROM certification_types WHERE is_active ORDER BY id LIMIT 1")
        prop = await conn.fetchval("SELECT id FROM properties WHERE branch_id = 1 AND is_active ORDER BY id LIMIT 1")
    finally:
        await conn.close()
    return {"contractors": contractors, "cert_type": int(cert_type), "prop": int(prop)}


async def db_state(url: str, run: str) -> dict[str, Any]:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        like = f"FR{run}-%"
        jobs = Counter(r[0] for r in await conn.fetch("SELECT title FROM jobs WHERE title LIKE $1", like))
        certs = {
            r[0]: r[1]
            for r in await conn.fetch(
                "SELECT certificate_number, file_name FROM certifications WHERE certificate_number LIKE $1", like
            )
        }
        cert_counts = Counter(
            r[0]
            for r in await conn.fetch(
                "SELECT certificate_number FROM certifications WHERE certificate_number LIKE $1", like
            )
        )
        notes = Counter(
            m.group(1)
            for r in await conn.fetch("SELECT note FROM job_case_notes WHERE note LIKE $1", f"%[FR{run}-note-%")
            for m in [re.search(r"\[(FR[^\]]+)\]", r[0])]
            if m
        )
        outbox = await conn.fetch("SELECT id, status, attempts, body_text FROM email_outbox ORDER BY id")
    finally:
        await conn.close()
    return {"jobs": jobs, "certs": certs, "cert_counts": cert_counts, "notes": notes, "outbox": outbox}


async def wait_drained(url: str, timeout_s: float) -> tuple[float, int]:
    """Until no outbox row is still queued (sent or failed); returns (seconds, rows still queued)."""
    import asyncpg

    t0 = time.monotonic()
    left = -1
    while time.monotonic() - t0 < timeout_s:
        try:
            conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
            try:
                left = int(await conn.fetchval("SELECT count(*) FROM email_outbox WHERE status = 'queued'"))
            finally:
                await conn.close()
            if left == 0:
                break
        except (OSError, asyncpg.PostgresError):
            pass
        await asyncio.sleep(1)
    return time.monotonic() - t0, left


def restart_postgres() -> tuple[float, str]:
    cmd = ["pg_ctlcluster", "--skip-systemctl-redirect", pg_version(), "main", "restart"]
    t0 = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)  # noqa: S603 - fixed command
    return time.monotonic() - t0, (out.stdout + out.stderr).strip() or f"rc={out.returncode}"


@dataclass
class Outcome:
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append((name, ok, detail))
        print(f"  [{'PASS' if ok else 'FAIL'}] {name}: {detail}")


def report(load: Load, state: dict[str, Any], sink: Sink, storage: Path, timings: dict[str, Any]) -> Outcome:
    out = Outcome()
    led = load.ledger
    print("\n--- requests by phase (endpoint: outcome x count, p99 ms) ---")
    by_phase: dict[str, list[Record]] = defaultdict(list)
    for r in led.records:
        by_phase[r.phase].append(r)
    for phase, recs in by_phase.items():
        counts = Counter(r.outcome for r in recs)
        lat = sorted(r.ms for r in recs)
        p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
        print(
            f"{phase:<14} {len(recs):>5} requests  {dict(sorted(counts.items()))}"
            f"  p99 {p99:.0f} ms  max {lat[-1]:.0f} ms"
        )
        per_ep: dict[str, Counter[str]] = defaultdict(Counter)
        for r in recs:
            per_ep[r.endpoint][r.outcome] += 1
        for ep, cnt in sorted(per_ep.items()):
            print(f"    {ep:<20} {dict(sorted(cnt.items()))}")
    all_recs = led.records
    fivehundreds = [r for r in all_recs if r.outcome.startswith("5") and r.outcome != "503"]
    hangs = [r for r in all_recs if r.outcome.startswith("timeout") or r.ms > TIMEOUT_S * 1000]
    bad_503 = [r for r in all_recs if r.outcome == "503" and not r.envelope]
    others = Counter(r.outcome for r in all_recs if not r.outcome.isdigit() and not r.outcome.startswith("timeout"))
    unexpected_4xx = Counter(r.outcome for r in all_recs if r.outcome.startswith("4"))
    outage_503 = sum(1 for r in all_recs if r.outcome == "503")
    print("\n--- checks ---")
    out.check("no 500 (or other 5xx but 503)", not fivehundreds, f"{len(fivehundreds)} seen")
    out.check("no hang (no request over the 10 s client timeout)", not hangs,
              f"{len(hangs)} seen; slowest request {max(r.ms for r in all_recs):.0f} ms")  # fmt: skip
    out.check("503s carry the PropOps envelope", not bad_503, f"{outage_503} x 503, {len(bad_503)} without envelope")
    out.check("no connection-level client errors", not others, f"{dict(others) or 'none'}")
    out.check("no unexpected 4xx", not unexpected_4xx, f"{dict(unexpected_4xx) or 'none'}")
    after = [
        r for r in all_recs if r.phase in ("after-pg", "after-smtp", "smtp-outage") and not r.outcome.startswith("2")
    ]
    out.check("recovered by itself: every request after recovery succeeded", not after,
              f"{len(after)} failures after recovery {dict(Counter(r.outcome for r in after)) or ''}")  # fmt: skip
    for key, value in timings.items():
        print(f"  {key}: {value}")

    print("\n--- counts: acknowledged (2xx) vs rows in the database ---")
    jobs_db: Counter[str] = state["jobs"]
    lost_jobs = [t for t in led.jobs if jobs_db.get(t, 0) == 0]
    dup_jobs = [t for t, n in jobs_db.items() if n > 1]
    extra_jobs = [t for t in jobs_db if t not in led.jobs]
    print(f"jobs:  acknowledged {len(led.jobs)}, in database {sum(jobs_db.values())}, not acknowledged "
          f"{led.unacked['job']} (of which committed anyway: {len(extra_jobs)})")  # fmt: skip
    out.check("no acknowledged job lost", not lost_jobs, f"{len(lost_jobs)} lost {lost_jobs[:5]}")
    out.check("no job duplicated", not dup_jobs, f"{len(dup_jobs)} duplicated")
    notes_db: Counter[str] = state["notes"]
    lost_notes = [t for t in led.notes if notes_db.get(t, 0) == 0]
    dup_notes = [t for t, n in notes_db.items() if n > 1]
    print(f"case notes: acknowledged {len(led.notes)}, in database {sum(notes_db.values())}, not acknowledged "
          f"{led.unacked['note']}")  # fmt: skip
    out.check("no acknowledged case note lost", not lost_notes, f"{len(lost_notes)} lost")
    out.check("no case note duplicated", not dup_notes, f"{len(dup_notes)} duplicated")
    certs_db: dict[str, str] = state["certs"]
    lost_certs = [t for t in led.certs if t not in certs_db]
    dup_certs = [t for t, n in state["cert_counts"].items() if n > 1]
    root = storage / "certifications"
    missing_files = [t for t in led.certs if t in certs_db and not (root / certs_db[t]).exists()]
    print(f"certificates: acknowledged {len(led.certs)}, in database {sum(state['cert_counts'].values())}, "
          f"not acknowledged {led.unacked['cert']}")  # fmt: skip
    out.check("no acknowledged certificate lost (row and file)", not lost_certs and not missing_files,
              f"{len(lost_certs)} rows lost, {len(missing_files)} files missing")  # fmt: skip
    out.check("no certificate duplicated", not dup_certs, f"{len(dup_certs)} duplicated")

    print("\n--- email: outbox vs SMTP stand-in (by X-PropOps-Outbox-Id) ---")
    outbox = state["outbox"]
    status = Counter(r["status"] for r in outbox)
    received = Counter(sink.outbox_ids)
    ids = {int(r["id"]) for r in outbox}
    never = sorted(ids - set(received))
    dup = {i: n for i, n in received.items() if n > 1}
    stray = sorted(set(received) - ids)
    retried = sum(1 for r in outbox if r["attempts"] > 1)
    print(f"outbox rows {len(outbox)} {dict(status)}; received {len(sink.outbox_ids)} messages "
          f"({len(received)} distinct outbox ids); rows that needed more than one attempt: {retried}")  # fmt: skip
    queued_by_notes = sum(led.notes.values())
    note_mails = Counter(
        m.group(1)
        for body in (r["body_text"] for r in outbox)
        for m in [re.search(r"\[(FR[^\]]+-note-\d+)\]", body)]
        if m
    )
    short = [t for t, n in led.notes.items() if note_mails.get(t, 0) != n]
    print(f"case-note emails: queued per acknowledged notes {queued_by_notes}, outbox rows for them "
          f"{sum(note_mails[t] for t in led.notes)}")  # fmt: skip
    out.check("every acknowledged note's emails are in the outbox", not short, f"{len(short)} notes short")
    out.check("every outbox row sent", status.get("sent", 0) == len(outbox), f"{dict(status)}")
    out.check("every email received", not never, f"{len(never)} never received {never[:10]}")
    out.check("no email received twice", not dup, f"{len(dup)} duplicated {dict(list(dup.items())[:10])}")
    out.check("no stray email", not stray, f"{len(stray)}")
    return out


# --------------------------------------------------------------------------- main


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workers", type=int, default=2, help="server worker processes (default 2)")
    p.add_argument("--clients", type=int, default=6, help="concurrent clients (default 6; moderate load)")
    p.add_argument("--warm", type=float, default=15, help="seconds of load before the first fault (15)")
    p.add_argument("--pg-restarts", type=int, default=1, choices=[0, 1, 2], help="PostgreSQL restarts (0-2, default 1)")
    p.add_argument("--after", type=float, default=15, help="seconds of load after each fault (15)")
    p.add_argument("--smtp-outage", type=float, default=20, help="seconds the SMTP stand-in is down (20; 0 = skip)")
    p.add_argument("--drain-timeout", type=float, default=120, help="seconds to wait for the outbox to drain")
    a = p.parse_args()
    if a.warm > 300 or a.after > 300 or a.smtp_outage > 300 or a.clients > 64:
        p.error("phases are at most 300 s and clients at most 64")

    run = uuid_mod.uuid4().hex[:6]
    url, drop_db = fresh_database("postgresql")
    drop: Any = drop_db
    storage = Path(tempfile.mkdtemp(prefix="propops-fault-"))
    smtp = Smtp(free_port(8880))
    worker: subprocess.Popen[bytes] | None = None
    exit_code = 1
    try:
        print(f"database {url}; run tag FR{run}; storage {storage}", flush=True)
        prep = asyncio.run(prepare(url))
        smtp.start()
        env = {
            "PROPOPS_DATABASE_URL": url,
            "PROPOPS_SECRET_KEY": SECRET,
            "PROPOPS_STORAGE_DIR": str(storage),
            "PROPOPS_RATE_LIMIT_BACKEND": "redis",
            "PROPOPS_REDIS_URL": os.environ.get("PROPOPS_BENCH_REDIS", "redis://127.0.0.1:6379/7"),
            "PROPOPS_RATE_LIMIT_PER_IP": "100000000",
            "PROPOPS_RATE_LIMIT_PER_ACCOUNT": "100000000",
            "PROPOPS_LOG_LEVEL": "WARNING",
            "PROPOPS_BACKGROUND_TASKS": "false",
            "PROPOPS_SMTP_HOST": "127.0.0.1",
            "PROPOPS_SMTP_PORT": str(smtp.port),
            "PROPOPS_SMTP_TIMEOUT_SECONDS": "5",
            "PROPOPS_WORKER_POLL_SECONDS": "1",
            "PROPOPS_OUTBOX_BACKOFF_BASE_SECONDS": "1",
            "PROPOPS_OUTBOX_BACKOFF_MAX_SECONDS": "5",
            "PROPOPS_OUTBOX_MAX_ATTEMPTS": "1000",
        }
        worker_env = {**os.environ, **env, "PYTHONPATH": str(ROOT / "src")}
        worker = subprocess.Popen(  # noqa: S603 - our own interpreter and CLI
            [sys.executable, "-m", "propops.cli", "worker"], env=worker_env, cwd=ROOT
        )
        port = free_port(8800)
        with server("propops.main:asgi", env, port, workers=a.workers) as base:
            r = httpx.post(f"{base}/api/auth/login", json={"email": "admin@example.com", "password": PASSWORD})
            token = r.json()["token"]
            csrf = httpx.get(f"{base}/api/security/csrf-token", headers={"Authorization": f"Bearer {token}"}).json()
            admin = {"Authorization": f"Bearer {token}", "X-CSRF-Token": csrf["data"]["token"]}
            load = Load(base, admin, prep["contractors"], prep["cert_type"], prep["prop"], run)
            timings: dict[str, Any] = {}

            async def scenario() -> None:
                tasks = [asyncio.create_task(load.client(n)) for n in range(a.clients)]
                await asyncio.sleep(a.warm)
                for k in range(a.pg_restarts):
                    load.phase = "pg-restart"
                    print(f"restarting PostgreSQL ({k + 1}/{a.pg_restarts}) ...", flush=True)
                    t0 = time.monotonic()
                    took, msg = await asyncio.to_thread(restart_postgres)
                    healthy = await wait_healthy(base, 60)
                    total = time.monotonic() - t0
                    timings[f"restart {k + 1}: pg_ctlcluster took"] = f"{took:.1f} s ({msg[:80]})"
                    timings[f"restart {k + 1}: /api/health 200 again"] = (
                        f"{healthy:.2f} s after the restart command returned, {total:.1f} s after it began"
                        if healthy is not None else "NEVER (60 s)"
                    )  # fmt: skip
                    load.phase = "recovering"
                    await asyncio.sleep(2)  # in-flight requests from the outage settle
                    load.phase = "after-pg"
                    await asyncio.sleep(a.after)
                    timings[f"restart {k + 1}: failures"] = outage_window(load.ledger.records, t0)
                if a.smtp_outage:
                    print(f"stopping the SMTP stand-in for {a.smtp_outage:.0f} s ...", flush=True)
                    load.phase = "smtp-outage"
                    smtp.stop()
                    await asyncio.sleep(a.smtp_outage)
                    smtp.start()
                    load.phase = "after-smtp"
                    await asyncio.sleep(a.after)
                load.stop.set()
                await asyncio.gather(*tasks)

            asyncio.run(scenario())
            print("load stopped; waiting for the outbox to drain ...", flush=True)
            drained, left = asyncio.run(wait_drained(url, a.drain_timeout))
            timings["outbox drained"] = f"{drained:.1f} s after the load stopped ({left} still queued)"
            time.sleep(1)
            state = asyncio.run(db_state(url, run))
            outcome = report(load, state, smtp.sink, storage, timings)
        failed = [c for c in outcome.checks if not c[1]]
        print("\n" + "=" * 100)
        print(f"SUMMARY  fault_run  propops.infra.server --workers {a.workers}, {a.clients} clients, "
              f"PostgreSQL restarts {a.pg_restarts}, SMTP outage {a.smtp_outage:.0f} s")  # fmt: skip
        led = load.ledger
        print(f"acknowledged: jobs {len(led.jobs)}, case notes {len(led.notes)}, certificates {len(led.certs)}; "
              f"emails received {len(smtp.sink.outbox_ids)} for {len(state['outbox'])} outbox rows")  # fmt: skip
        print(f"statuses: {dict(sorted(Counter(r.outcome for r in led.records).items()))}")
        for key, value in timings.items():
            print(f"{key}: {value}")
        print(f"checks: {len(outcome.checks) - len(failed)}/{len(outcome.checks)} passed"
              + ("" if not failed else "; FAILED: " + ", ".join(c[0] for c in failed)))  # fmt: skip
        print("=" * 100)
        exit_code = 0 if not failed else 1
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
        smtp.stop()
        try:
            drop()
        except Exception as exc:  # noqa: BLE001 - best effort cleanup, reported
            print(f"could not drop the database: {exc}")
        shutil.rmtree(storage, ignore_errors=True)
        print("database dropped, storage removed, server / worker / SMTP stopped")
    sys.exit(exit_code)


if __name__ == "__main__":
    main()
