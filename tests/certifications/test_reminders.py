"""Reminder policy and delivery, observed on a real SMTP server on loopback."""

from __future__ import annotations

import asyncio
import uuid as uuid_mod
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import date, timedelta

from fastapi import FastAPI

from propops.certifications.models import Certification
from propops.certifications.reminders import reminder_step, run_reminders
from propops.contractors.models import Contractor
from propops.core.clock import utcnow
from propops.core.context import AppContext
from propops.core.settings import Settings
from propops.notifications.delivery import deliver_due
from tests.notifications.smtp_sink import SmtpSink

MakeApp = Callable[..., Awaitable[FastAPI]]
T = date(2030, 6, 15)


def test_policy_steps() -> None:
    s = Settings(environment="test")
    steps = {
        d: reminder_step(T + timedelta(days=d), T, s) for d in (45, 31, 30, 20, 8, 7, 1, 0, -1, -6, -7, -13, -14, -50)
    }
    assert steps == {
        45: None,
        31: None,
        30: "before-30",
        20: "before-30",
        8: "before-30",
        7: "before-7",
        1: "before-7",
        0: "due",
        -1: "due",
        -6: "due",
        -7: "overdue-7",
        -13: "overdue-7",
        -14: "overdue-14",
        -50: "overdue-49",
    }


async def make_contractor(ctx: AppContext, offsets: list[int]) -> str:
    email = f"rem-{uuid_mod.uuid4().hex[:8]}@example.com"
    async with ctx.db.sessionmaker() as session, session.begin():
        c = Contractor(
            organisation_id=1, first_name="Rita", last_name="Reminder", email=email, company_name="Rita <Gas> Ltd"
        )
        session.add(c)
        await session.flush()
        for i, days in enumerate(offsets):
            session.add(
                Certification(
                    organisation_id=1,
                    contractor_id=c.id,
                    certification_type_id=1 + i % 9,
                    expires_on=T + timedelta(days=days),
                    file_name=f"cert_{c.id}_{1 + i % 9}_{1000 + i}.pdf",
                    content_type="application/pdf",
                    size_bytes=1,
                    sha256="0" * 64,
                    certificate_number=f"N{i}",
                )
            )
    return email


def mine(smtp: SmtpSink, email: str) -> tuple[list[str], list[str]]:
    to_contractor = [str(m.message["Subject"]).strip() for m in smtp.received if m.to == [email]]
    to_staff = [
        str(m.message["Subject"]).strip()
        for m in smtp.received
        if m.to == ["compliance@propops.local"] and email in m.part("plain")
    ]
    return to_contractor, to_staff


async def test_each_reminder_arrives_once_and_reruns_send_nothing(make_app: MakeApp, smtp: SmtpSink) -> None:
    app = await make_app(smtp_port=smtp.port)
    ctx: AppContext = app.state.ctx
    email = await make_contractor(ctx, [30, 7, 0, -14, 31, 20])
    await run_reminders(ctx.db, ctx.settings, today=T)
    await deliver_due(ctx.db, ctx.settings)
    to_c, to_s = mine(smtp, email)
    assert len(to_c) == 5
    assert len(to_s) == 5
    assert sum("expires in 30 days" in s for s in to_c) == 1
    assert sum("expires in 20 days" in s for s in to_c) == 1
    assert sum("expires in 7 days" in s for s in to_c) == 1
    assert sum("expires today" in s for s in to_c) == 1
    assert sum("expired 14 days ago" in s for s in to_c) == 1
    assert all(s.startswith("[Compliance] Rita Reminder") for s in to_s)
    html = next(m for m in smtp.received if m.to == [email]).part("html")
    assert "Rita" in html

    # A rerun (same day) queues nothing and sends nothing.
    again = await run_reminders(ctx.db, ctx.settings, today=T)
    assert again.sent == 0
    assert again.emails == 0
    assert (await deliver_due(ctx.db, ctx.settings)).claimed == 0
    assert mine(smtp, email) == (to_c, to_s)

    # A week later: only the steps newly reached.
    await run_reminders(ctx.db, ctx.settings, today=T + timedelta(days=7))
    await deliver_due(ctx.db, ctx.settings)
    to_c2, _ = mine(smtp, email)
    new = to_c2[len(to_c) :]
    assert sorted(new) == sorted(
        [
            "Your NICEIC membership expires today",
            "Your Public liability insurance expired 7 days ago",
            "Your Employer's liability insurance expired 21 days ago",
            "Your OFTEC registration expires in 24 days",
        ]
    )


async def test_smtp_stopped_mid_run_loses_and_doubles_nothing(make_app: MakeApp, smtp: SmtpSink) -> None:
    app = await make_app(
        smtp_port=smtp.port, outbox_backoff_base_seconds=30, outbox_batch_size=3, smtp_timeout_seconds=2
    )
    ctx: AppContext = app.state.ctx
    email = await make_contractor(ctx, [30, 7, 0, -7, -14, 20, 1, -1])
    report = await run_reminders(ctx.db, ctx.settings, today=T)
    queued = report.emails
    first = await deliver_due(ctx.db, ctx.settings, max_batches=1)  # some go out...
    assert first.sent == 3
    smtp.stop()  # ...then SMTP goes away
    down = await deliver_due(ctx.db, ctx.settings)
    assert down.sent == 0
    assert down.retried > 0
    smtp.start()
    later = utcnow() + timedelta(minutes=10)
    while (await deliver_due(ctx.db, ctx.settings, now=later)).claimed:
        pass
    ids = [m.outbox_id for m in smtp.received]
    assert len(ids) == len(set(ids))  # nothing twice
    to_c, to_s = mine(smtp, email)
    assert len(to_c) == 8
    assert len(to_s) == 8
    assert len(smtp.received) >= queued - 0
    assert len(set(ids)) == len(smtp.received)


async def test_concurrent_runners_send_once(make_app: MakeApp, smtp: SmtpSink) -> None:
    app = await make_app(smtp_port=smtp.port)
    ctx: AppContext = app.state.ctx
    email = await make_contractor(ctx, [30, 7, 0, -7, -14, 20, 1, -1, 3, 15])
    reports = await asyncio.gather(*(run_reminders(ctx.db, ctx.settings, today=T) for _ in range(4)))
    await deliver_due(ctx.db, ctx.settings)
    to_c, to_s = mine(smtp, email)
    assert len(to_c) == 10
    assert len(to_s) == 10
    counts = Counter(m.outbox_id for m in smtp.received)
    assert max(counts.values()) == 1
    assert sum(r.emails for r in reports) == len(smtp.received)
