"""Background work: outbox delivery and certificate reminders on a schedule.

Used by ``propops worker`` (its own process; run several on PostgreSQL) and by ``propops serve``
(an asyncio task in the app lifespan when ``settings.run_background_tasks``). Every job is safe to
run in several processes at once, so no leader election is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from propops.core.db import Database
from propops.core.settings import Settings

log = logging.getLogger("propops.worker")


@dataclass
class Periodic:
    name: str
    interval: float
    run: Callable[[Database, Settings], Awaitable[object]]
    next_at: float = 0.0


async def _deliver(db: Database, settings: Settings) -> object:
    from propops.notifications.delivery import deliver_due

    return await deliver_due(db, settings)


async def _reminders(db: Database, settings: Settings) -> object:
    from propops.certifications.reminders import run_reminders

    return await run_reminders(db, settings)


async def _sla(db: Database, settings: Settings) -> object:
    from propops.jobs.breaches import scan_sla_breaches

    return await scan_sla_breaches(db)


def periodic_jobs(settings: Settings) -> list[Periodic]:
    """The schedule; later domains (e.g. SLA checks) append their jobs here."""
    return [
        Periodic("reminders", settings.reminders_interval_seconds, _reminders),
        Periodic("sla", settings.sla_scan_interval_seconds, _sla),
        Periodic("outbox", settings.worker_poll_seconds, _deliver),
    ]


async def run_schedule(db: Database, settings: Settings, stop: asyncio.Event) -> None:
    """Run each job when due until ``stop`` is set; a failing job is logged and retried next tick."""
    jobs = periodic_jobs(settings)
    while not stop.is_set():
        now = time.monotonic()
        for job in jobs:
            if now >= job.next_at:
                try:
                    result = await job.run(db, settings)
                    log.debug("%s: %s", job.name, result)
                except Exception:
                    log.exception("background job %s failed", job.name)
                job.next_at = time.monotonic() + job.interval
        wait = max(0.05, min(j.next_at for j in jobs) - time.monotonic())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)


class BackgroundSchedule:
    """The schedule as a task owned by the app lifespan."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.stop_event = asyncio.Event()
        self.task = asyncio.create_task(run_schedule(db, settings, self.stop_event), name="propops-schedule")

    async def stop(self) -> None:
        self.stop_event.set()
        try:
            await asyncio.wait_for(self.task, timeout=30)
        except (TimeoutError, asyncio.CancelledError):
            self.task.cancel()
