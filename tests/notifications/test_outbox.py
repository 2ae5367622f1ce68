"""The email outbox against a real SMTP server on loopback."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from propops.core.clock import utcnow
from propops.core.context import AppContext
from propops.infra.executor import Executor
from propops.notifications.delivery import deliver_due
from propops.notifications.models import EmailOutbox
from propops.notifications.service import enqueue_email
from propops.notifications.templates import available_templates, render
from tests.conftest import PG_URL, assert_error, client_for, login_as
from tests.notifications.smtp_sink import SmtpSink

MakeApp = Callable[..., Awaitable[FastAPI]]


def ctx_of(app: FastAPI) -> AppContext:
    ctx: AppContext = app.state.ctx
    return ctx


async def enqueue(ctx: AppContext, n: int = 1, **kw: Any) -> list[int | None]:
    ids = []
    async with ctx.db.sessionmaker() as session, session.begin():
        for i in range(n):
            ids.append(
                await enqueue_email(
                    ctx.executor,
                    session,
                    organisation_id=1,
                    to=kw.get("to", f"person{i}@example.com"),
                    template="notice",
                    context={
                        "subject": f"Hello {i}",
                        "heading": "Heading",
                        "lines": ["one", "two"],
                        **kw.get("context", {}),
                    },
                    dedupe_key=kw.get("dedupe_key"),
                )
            )
    return ids


async def rows(ctx: AppContext) -> list[EmailOutbox]:
    async with ctx.db.sessionmaker() as session:
        return list((await session.execute(select(EmailOutbox).order_by(EmailOutbox.id))).scalars())


def test_templates_render_text_and_escaped_html() -> None:
    assert {"notice", "certification_reminder", "certification_reminder_staff"} <= set(available_templates())
    r = render("notice", {"subject": "S <b>", "heading": "<script>x</script>", "lines": ["a & b"]})
    assert "<script>x</script>" in r.text
    assert r.html is not None
    assert "&lt;script&gt;" in r.html
    assert "<script>" not in r.html
    assert "a &amp; b" in r.html


async def test_delivered_once_with_text_and_html(make_app: MakeApp, smtp: SmtpSink) -> None:
    app = await make_app(smtp_port=smtp.port)
    ctx = ctx_of(app)
    [email_id] = await enqueue(ctx, context={"heading": "<i>Boiler</i>"})
    report = await deliver_due(ctx.db, ctx.settings)
    assert (report.sent, report.retried, report.failed) == (1, 0, 0)
    [got] = smtp.received
    assert got.to == ["person0@example.com"]
    assert got.outbox_id == email_id
    assert got.message["Subject"] == "Hello 0"
    assert "<i>Boiler</i>" in got.part("plain")
    assert "&lt;i&gt;Boiler&lt;/i&gt;" in got.part("html")
    [row] = await rows(ctx)
    assert row.status == "sent"
    assert row.sent_at is not None
    assert row.attempts == 1
    assert (await deliver_due(ctx.db, ctx.settings)).claimed == 0
    assert len(smtp.received) == 1


NOTICE = {"subject": "s", "heading": "h", "lines": []}


def _executor(session: AsyncSession) -> Executor:
    """The executor on the session's engine (the statement runs on the session's own connection)."""
    return Executor(session.bind.engine, None)  # type: ignore[union-attr]


async def _queued_to(session: AsyncSession, to: str) -> int:
    return (await session.execute(select(func.count()).where(EmailOutbox.to_address == to))).scalar_one()


async def test_dedupe_key_is_idempotent(db_session: AsyncSession) -> None:
    key, to = f"k-{uuid.uuid4().hex}", f"dedupe-{uuid.uuid4().hex[:10]}@example.com"
    first = await enqueue_email(
        _executor(db_session), db_session, organisation_id=1, to=to, template="notice", context=NOTICE, dedupe_key=key
    )
    second = await enqueue_email(
        _executor(db_session), db_session, organisation_id=1, to=to, template="notice", context=NOTICE, dedupe_key=key
    )
    assert first is not None
    assert second is None
    assert await _queued_to(db_session, to) == 1


async def test_enqueue_is_part_of_the_callers_transaction(db_session: AsyncSession) -> None:
    to = f"rolled-back-{uuid.uuid4().hex[:10]}@example.com"

    async def change_that_fails() -> None:
        async with db_session.begin_nested():
            await enqueue_email(
                _executor(db_session), db_session, organisation_id=1, to=to, template="notice", context=NOTICE
            )
            assert await _queued_to(db_session, to) == 1
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError, match="the change failed"):
        await change_that_fails()
    assert await _queued_to(db_session, to) == 0


async def test_smtp_down_stays_queued_then_arrives(make_app: MakeApp, smtp: SmtpSink) -> None:
    app = await make_app(smtp_port=smtp.port, outbox_backoff_base_seconds=60, smtp_timeout_seconds=2)
    ctx = ctx_of(app)
    smtp.stop()
    await enqueue(ctx, n=3)
    report = await deliver_due(ctx.db, ctx.settings)
    assert report.sent == 0
    assert report.retried == 3
    for row in await rows(ctx):
        assert row.status == "queued"
        assert row.attempts == 1
        assert "SMTP unavailable" in (row.last_error or "")
        assert row.next_attempt_at > utcnow() + timedelta(seconds=50)  # backed off
    # Not due yet: nothing is attempted.
    assert (await deliver_due(ctx.db, ctx.settings)).claimed == 0
    smtp.start()
    later = utcnow() + timedelta(seconds=61)
    report = await deliver_due(ctx.db, ctx.settings, now=later)
    assert report.sent == 3
    assert sorted(m.to[0] for m in smtp.received) == [
        "person0@example.com",
        "person1@example.com",
        "person2@example.com",
    ]
    assert all(r.status == "sent" for r in await rows(ctx))


async def test_backoff_grows_and_parks_as_failed(make_app: MakeApp, smtp: SmtpSink) -> None:
    app = await make_app(
        smtp_port=smtp.port, outbox_backoff_base_seconds=10, outbox_max_attempts=3, smtp_timeout_seconds=2
    )
    ctx = ctx_of(app)
    smtp.stop()
    await enqueue(ctx)
    now = utcnow()
    delays = []
    for _ in range(3):
        await deliver_due(ctx.db, ctx.settings, now=now)
        [row] = await rows(ctx)
        if row.status == "failed":
            break
        delays.append((row.next_attempt_at - now).total_seconds())
        now = row.next_attempt_at
    assert delays == [10, 20]
    [row] = await rows(ctx)
    assert row.status == "failed"
    assert row.attempts == 3

    async with client_for(app) as http:
        admin = await login_as(http, "admin@example.com")
        r = await admin.get("/api/notifications/outbox?action=list&status=failed")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["count"] == 1
        assert body["data"][0]["ID"] == row.id
        assert body["data"][0]["status"] == "failed"
        assert_error(await admin.get("/api/notifications/outbox?action=nope"), 400)
        assert_error(await admin.get("/api/notifications/outbox?action=list&status=bogus"), 400)
        # CSRF missing: nothing changes.
        assert_error(
            await admin.post("/api/notifications/outbox", json={"action": "retry", "id": row.id}, csrf=False), 403
        )
        assert (await rows(ctx))[0].status == "failed"
        contractor = await login_as(http, "contractor001@example.com")
        assert_error(await contractor.get("/api/notifications/outbox?action=list"), 403)
        assert_error(await contractor.post("/api/notifications/outbox", json={"action": "retry", "id": row.id}), 403)
        r = await admin.post("/api/notifications/outbox", json={"action": "retry", "id": row.id})
        assert r.status_code == 200, r.text
        assert r.json()["data"]["status"] == "queued"
        assert_error(await admin.post("/api/notifications/outbox", json={"action": "retry", "id": row.id}), 409)
        assert_error(await admin.post("/api/notifications/outbox", json={"action": "retry", "id": 999999}), 404)
    smtp.start()
    assert (await deliver_due(ctx.db, ctx.settings)).sent == 1
    assert len(smtp.received) == 1


async def test_permanent_rejection_fails_at_once(make_app: MakeApp, smtp: SmtpSink) -> None:
    app = await make_app(smtp_port=smtp.port)
    ctx = ctx_of(app)

    async def refuse(server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address.startswith("bad"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    smtp.handler.handle_RCPT = refuse  # type: ignore[attr-defined]
    smtp.stop()
    smtp.start()
    await enqueue(ctx, to="bad@example.com")
    await enqueue(ctx, to="good@example.com")
    report = await deliver_due(ctx.db, ctx.settings)
    assert (report.sent, report.failed) == (1, 1)
    statuses = {r.to_address: r.status for r in await rows(ctx)}
    assert statuses == {"bad@example.com": "failed", "good@example.com": "sent"}


@pytest.mark.skipif(not PG_URL, reason="FOR UPDATE SKIP LOCKED needs PostgreSQL")
async def test_two_workers_deliver_each_email_exactly_once(make_app: MakeApp, smtp: SmtpSink) -> None:
    app = await make_app(smtp_port=smtp.port, outbox_batch_size=7)
    ctx = ctx_of(app)
    n = 300
    await enqueue(ctx, n=n)
    a, b = await asyncio.gather(
        deliver_due(ctx.db, ctx.settings, worker_id="worker-a"),
        deliver_due(ctx.db, ctx.settings, worker_id="worker-b"),
    )
    assert a.sent + b.sent == n
    assert a.sent > 0, (a, b)
    assert b.sent > 0, (a, b)  # they really shared the queue
    ids = [m.outbox_id for m in smtp.received]
    assert len(ids) == n
    assert len(set(ids)) == n
    async with ctx.db.sessionmaker() as session:
        sent = (await session.execute(select(func.count()).where(EmailOutbox.status == "sent"))).scalar_one()
    assert sent == n


async def test_database_down_after_sending_does_not_send_twice(
    make_app: MakeApp, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The emails went out, then the database dropped while the worker recorded that: the worker
    retries the bookkeeping instead of leaving the rows claimed (which would re-send them when the
    lease ran out)."""
    import sqlalchemy.exc

    from propops.notifications import delivery

    monkeypatch.setattr(delivery, "RECORD_RETRY_FIRST_SECONDS", 0.01)
    app = await make_app(smtp_port=smtp.port)
    ctx = ctx_of(app)
    await enqueue(ctx, n=2)
    real_record = delivery._record
    failures = [0]

    async def flaky(*args: Any, **kw: Any) -> delivery.DeliveryReport:
        if failures[0] < 2:
            failures[0] += 1
            raise sqlalchemy.exc.OperationalError("UPDATE", {}, ConnectionResetError("server closed the connection"))
        return await real_record(*args, **kw)

    monkeypatch.setattr(delivery, "_record", flaky)
    report = await deliver_due(ctx.db, ctx.settings)
    assert failures[0] == 2
    assert report.sent == 2
    assert all(r.status == "sent" and r.claimed_by is None for r in await rows(ctx))
    # Even once every lease has run out, nothing is due again.
    later = utcnow() + timedelta(seconds=ctx.settings.outbox_lease_seconds + 1)
    assert (await deliver_due(ctx.db, ctx.settings, now=later)).claimed == 0
    assert sorted(m.outbox_id for m in smtp.received) == sorted(r.id for r in await rows(ctx))


async def test_query_errors_while_recording_are_not_retried(make_app: MakeApp, monkeypatch: pytest.MonkeyPatch) -> None:
    from propops.notifications import delivery

    async def broken(*args: Any, **kw: Any) -> delivery.DeliveryReport:
        raise ValueError("a bug, not an outage")

    app = await make_app(smtp_port=1)
    ctx = ctx_of(app)
    await enqueue(ctx)
    monkeypatch.setattr(delivery, "_record", broken)
    with pytest.raises(ValueError, match="a bug"):
        await asyncio.wait_for(deliver_due(ctx.db, ctx.settings), timeout=30)
