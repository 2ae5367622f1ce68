"""Demo job history: 40 properties over the five demo branches and ~320 jobs over the last six
months, in every status, with contractors, SLA deadlines, recalls and history entries.

Agent_001 reproduces the seed's ``/api/agents/performance`` example exactly (definitions in
``propops.agents.performance``): 150 jobs that are not cancelled (plus 2 cancelled ones, which do
not count), 138 completed, 5 recalls, so completion_rate 92.0, recall_rate 3.3, open_jobs 12, and
the completion times are scaled so that avg_completion_days is 4.2. Every other agent gets 8-16
jobs at their primary branch with a realistic mix.

Deterministic (a fixed random seed; only "now" moves): timestamps are relative to the seeding time,
reported up to 180 days ago, completed a few hours to ten days later depending on priority, closed
one to three days after completion, archived after 120 days. Open jobs already past their SLA are
marked as notified (with an ``sla_breached`` history entry), as if the scheduled scan had run, so a
fresh demo does not send a burst of breach emails.

Rows go in with a handful of multi-row INSERTs (executemany), so seeding takes well under a second.
"""

from __future__ import annotations

import random
import uuid as uuid_mod
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from propops.agents.demo import FIRST_AGENT_ID, N_AGENTS, primary_branch
from propops.branches.demo import BRANCHES, JOB_TYPE_RULES
from propops.contractors.demo import FIRST_ID as FIRST_CONTRACTOR_ID
from propops.contractors.demo import PLAN as CONTRACTOR_PLAN
from propops.core.clock import iso, utcnow
from propops.core.db import resync_id_sequence
from propops.geo.geocoder import lookup_centroid
from propops.geo.postcodes import parse_postcode
from propops.jobs.lifecycle import STATUS_NAMES
from propops.jobs.models import (
    STATUS_ARCHIVED,
    STATUS_ASSIGNED,
    STATUS_CANCELLED,
    STATUS_CLOSED,
    STATUS_COMPLETE,
    STATUS_IN_PROGRESS,
    STATUS_NEW,
    Job,
    JobEvent,
    JobRecall,
)
from propops.jobs.service import TRADE_BY_JOB_TYPE
from propops.organisations.models import DEFAULT_ORGANISATION_ID
from propops.properties.models import Property

if TYPE_CHECKING:
    from propops.demo import DemoContext

RANDOM_SEED = 20261127

# Per branch: streets and postcodes of the properties (real districts near the branch).
PROPERTIES = {
    1: ("London", ["Upper Street", "Liverpool Road", "Essex Road", "Caledonian Road"],
        ["N1 9GU", "N1 2UQ", "N7 8LT", "EC1V 2NX", "N5 1XL", "E8 1DY", "NW1 8NH", "N16 0BA"]),
    2: ("Manchester", ["Oxford Road", "Wilmslow Road", "Deansgate", "Stockport Road"],
        ["M1 1AE", "M3 4JR", "M4 5JD", "M14 5RZ", "M20 2RN", "M16 0RA", "M8 8EP", "M15 6BH"]),
    3: ("Birmingham", ["Hagley Road", "Bristol Road", "Moseley Road", "Soho Road"],
        ["B1 1BB", "B5 4BU", "B15 2TT", "B13 8JP", "B29 6BD", "B17 9NU", "B12 0YA", "B3 1JJ"]),
    4: ("Leeds", ["Headingley Lane", "Roundhay Road", "Kirkstall Road", "Chapeltown Road"],
        ["LS1 4AP", "LS2 9JT", "LS6 1AN", "LS7 3HB", "LS11 5QS", "LS8 2PZ", "LS4 2AZ", "LS12 3AA"]),
    5: ("Bristol", ["Gloucester Road", "Whiteladies Road", "North Street", "Stapleton Road"],
        ["BS1 4ST", "BS2 0JA", "BS3 1AN", "BS6 5AE", "BS7 8NH", "BS8 1TH", "BS5 0HE", "BS16 2JP"]),
}  # fmt: skip
TENANTS = ["Amira Khan", "Tom Walsh", "Priya Patel", "Jamie O'Neill", "Chloe Evans", "Dev Sharma", None, None]
TITLES = {
    1: ["Front door lock sticking", "Loose banister", "Window will not close", "Damp patch in bedroom"],
    2: ["Annual gas safety check", "Boiler pressure dropping", "Smell of gas in kitchen", "No heating or hot water"],
    3: ["EICR due", "Periodic electrical inspection", "EICR remedial follow-up"],
    4: ["Leaking kitchen tap", "Blocked bathroom sink", "Toilet cistern running", "Burst pipe under stairs"],
    5: ["Tripping RCD", "Kitchen sockets not working", "Replace broken light fitting", "Extractor fan faulty"],
    6: ["Garden fence panel down", "Repaint hallway after leak", "Gutter clearing", "Replace cracked tiles"],
}
RECALL_REASONS = [
    "Tenant reports the leak has returned",
    "Fault recurred two days after the visit",
    "Work left unfinished: tenant photos attached",
    "Same fault again after the repair",
]
CANCEL_REASONS = ["Tenant fixed it themselves", "Duplicate of an existing job", "Landlord arranging own contractor"]
# (priority id, weight, completion hours low, high)
PRIORITIES = [(1, 10, 3, 20), (2, 25, 20, 72), (3, 45, 60, 150), (4, 20, 120, 260)]


@dataclass
class Plan:
    """One agent's jobs by kind: completed (with recalls), open by status, cancelled."""

    completed: int
    open: tuple[int, int, int]  # New, Assigned, In progress
    cancelled: int
    recalls: int
    avg_days: float | None = None  # scale completion times to this mean (Agent_001)


# Agent_001: the seed's example (150 counted jobs, 138 completed, 5 recalls, 4.2 days on average).
AGENT_001 = Plan(completed=138, open=(4, 4, 4), cancelled=2, recalls=5, avg_days=4.2)


@dataclass
class Rows:
    properties: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    recalls: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def _sla_hours(branch_id: int, priority_id: int, job_type_id: int) -> int | None:
    for b, p, jt, hours in JOB_TYPE_RULES:
        if (b, p, jt) == (branch_id, priority_id, job_type_id):
            return hours
    generic = next(b[-1] for b in BRANCHES if b[0] == branch_id)
    return None if generic is None else generic[priority_id - 1]


def _properties(rng: random.Random, now: datetime) -> tuple[list[dict[str, Any]], dict[int, list[int]]]:
    rows: list[dict[str, Any]] = []
    by_branch: dict[int, list[int]] = {}
    pid = 0
    for branch_id, (town, streets, postcodes) in PROPERTIES.items():
        for i, postcode in enumerate(postcodes):
            pid += 1
            point = lookup_centroid(parse_postcode(postcode))
            tenant = TENANTS[(pid + i) % len(TENANTS)]
            rows.append(
                {
                    "id": pid,
                    "uuid": str(uuid_mod.UUID(int=rng.getrandbits(128), version=4)),
                    "organisation_id": DEFAULT_ORGANISATION_ID,
                    "branch_id": branch_id,
                    "address_line1": f"{rng.randint(1, 240)} {streets[i % len(streets)]}",
                    "address_line2": f"Flat {rng.randint(1, 12)}" if i % 3 == 0 else None,
                    "town": town,
                    "postcode": postcode,
                    "latitude": point.latitude if point else None,
                    "longitude": point.longitude if point else None,
                    "geo_precision": point.precision if point else None,
                    "tenant_name": tenant,
                    "tenant_email": f"{tenant.split()[0].lower()}.tenant{pid}@example.com" if tenant else None,
                    "tenant_phone": f"07700 9{pid:05d}" if tenant else None,
                    "is_active": True,
                    "created_at": now - timedelta(days=200),
                    "updated_at": now - timedelta(days=200),
                }
            )
            by_branch.setdefault(branch_id, []).append(pid)
    return rows, by_branch


class _Builder:
    def __init__(self, rng: random.Random, now: datetime, demo: DemoContext, props: dict[int, list[int]]) -> None:
        self.rng, self.now, self.props = rng, now, props
        self.rows = Rows()
        self.agent_users = {
            FIRST_AGENT_ID + n - 1: demo.user(f"agent{n:03d}@example.com").id for n in range(1, N_AGENTS + 1)
        }
        self.contractor_users = {
            FIRST_CONTRACTOR_ID + n - 1: demo.user(f"contractor{n:03d}@example.com").id
            for n in range(1, len(CONTRACTOR_PLAN) + 1)
        }
        self.by_trade: dict[int, list[int]] = {}
        for n, (_district, trades, _spec) in enumerate(CONTRACTOR_PLAN, start=1):
            for t in trades:
                self.by_trade.setdefault(t, []).append(FIRST_CONTRACTOR_ID + n - 1)

    def _event(self, job: dict[str, Any], at: datetime, user: int | None, event: str, **kw: Any) -> None:
        self.rows.events.append(
            {
                "job_id": job["id"],
                "user_id": user,
                "event": event,
                "before": kw.get("before"),
                "after": kw.get("after"),
                "reason": kw.get("reason"),
                "created_at": at,
            }
        )

    def _status(self, job: dict[str, Any], at: datetime, user: int | None, old: int, new: int, **kw: Any) -> None:
        event = kw.pop("event", "status")
        before = {"status_id": old, "status": STATUS_NAMES[old]}
        after = {"status_id": new, "status": STATUS_NAMES[new]}
        self._event(job, at, user, event, before=before, after=after, **kw)

    def _hours(self, low: float, high: float) -> timedelta:
        return timedelta(minutes=round(self.rng.uniform(low, high) * 60))

    def priority(self) -> tuple[int, int, int]:
        """A priority id (weighted) and its completion time range in hours."""
        pid, _weight, low, high = self.rng.choices(PRIORITIES, weights=[p[1] for p in PRIORITIES])[0]
        return pid, low, high

    def job(
        self,
        agent_id: int,
        kind: str,
        reported: datetime,
        *,
        priority_id: int | None = None,
        duration: timedelta | None = None,
        recall: bool = False,
    ) -> None:
        """kind: completed (needs ``duration``) | new | assigned | in_progress | cancelled."""
        rng = self.rng
        branch_id = primary_branch(agent_id - FIRST_AGENT_ID + 1)
        job_type_id = rng.randint(1, 6)
        trade_id = TRADE_BY_JOB_TYPE[job_type_id]
        priority_id = priority_id or self.priority()[0]
        target = _sla_hours(branch_id, priority_id, job_type_id)
        agent_user = self.agent_users[agent_id]
        job_id = len(self.rows.jobs) + 1
        budget = Decimal(rng.randrange(80, 900, 5))
        job: dict[str, Any] = {
            "id": job_id,
            "uuid": str(uuid_mod.UUID(int=rng.getrandbits(128), version=4)),
            "organisation_id": DEFAULT_ORGANISATION_ID,
            "job_ref": f"JOB-{job_id:06d}",
            "title": rng.choice(TITLES[job_type_id]),
            "description": "Reported by the tenant by phone; access arranged through the branch.",
            "property_id": rng.choice(self.props[branch_id]),
            "branch_id": branch_id,
            "agent_id": agent_id,
            "trade_id": trade_id,
            "job_type_id": job_type_id,
            "priority_id": priority_id,
            "status_id": STATUS_NEW,
            "contractor_id": None,
            "contractor_budget": budget,
            "client_budget": (budget * Decimal("1.2")).quantize(Decimal("0.01")),
            "reported_at": reported,
            "assigned_at": None,
            "accepted_at": None,
            "started_at": None,
            "completed_at": None,
            "closed_at": None,
            "sla_target_hours": target,
            "sla_due_at": reported + timedelta(hours=target) if target else None,
            "sla_breach_notified_at": None,
            "recall_count": 0,
            "parent_job_id": None,
            "created_by_user_id": agent_user,
            "created_at": reported,
            "updated_at": reported,
        }
        self.rows.jobs.append(job)
        created = {k: v for k, v in job.items() if k.endswith("_id") and k != "parent_job_id"}
        self._event(job, reported, agent_user, "created", after={"job_ref": job["job_ref"], **created})
        last = reported
        if kind == "new":
            self._breach(job, agent_user)
            return
        if kind == "cancelled":
            at = reported + self._hours(2, 72)
            self._status(job, at, agent_user, STATUS_NEW, STATUS_CANCELLED, reason=rng.choice(CANCEL_REASONS))
            job.update(status_id=STATUS_CANCELLED, updated_at=at)
            return
        contractor = rng.choice(self.by_trade[trade_id])
        contractor_user = self.contractor_users[contractor]
        span = duration or timedelta(days=rng.uniform(0.3, 3))
        assigned = reported + min(self._hours(0.5, 6), span * 0.1)
        job.update(status_id=STATUS_ASSIGNED, contractor_id=contractor, assigned_at=assigned)
        self._event(
            job,
            assigned,
            agent_user,
            "assigned",
            before={"status_id": STATUS_NEW, "contractor_id": None},
            after={"status_id": STATUS_ASSIGNED, "contractor_id": contractor},
        )
        last = assigned
        if kind == "assigned":
            job["updated_at"] = last
            self._breach(job, agent_user)
            return
        accepted = assigned + min(self._hours(0.2, 4), span * 0.1)
        started = accepted + min(self._hours(0.5, 24), span * 0.2)
        job.update(accepted_at=accepted, started_at=started, status_id=STATUS_IN_PROGRESS)
        self._status(job, accepted, contractor_user, STATUS_ASSIGNED, STATUS_ASSIGNED, event="accepted")
        self._status(job, started, contractor_user, STATUS_ASSIGNED, STATUS_IN_PROGRESS)
        last = started
        if kind == "in_progress":
            job["updated_at"] = last
            self._breach(job, agent_user)
            return
        assert duration is not None
        completed = reported + duration
        if recall:  # completed early, recalled, then completed again at ``completed``
            first = reported + duration * 0.45
            recalled = reported + duration * 0.6
            self._status(job, first, contractor_user, STATUS_IN_PROGRESS, STATUS_COMPLETE)
            reason = rng.choice(RECALL_REASONS)
            self._status(
                job, recalled, agent_user, STATUS_COMPLETE, STATUS_IN_PROGRESS, event="recalled", reason=reason
            )
            self.rows.recalls.append(
                {"job_id": job_id, "reason": reason, "recalled_by_user_id": agent_user, "created_at": recalled}
            )
            job["recall_count"] = 1
        self._status(job, completed, contractor_user, STATUS_IN_PROGRESS, STATUS_COMPLETE)
        job.update(status_id=STATUS_COMPLETE, completed_at=completed)
        last = completed
        # Done in the last week, or now and then older: still Complete, waiting for the agent to close.
        if self.now - completed > timedelta(days=7) and self.rng.random() > 0.04:
            closed = completed + self._hours(20, 72)
            job.update(status_id=STATUS_CLOSED, closed_at=closed)
            self._status(job, closed, agent_user, STATUS_COMPLETE, STATUS_CLOSED)
            last = closed
            if self.now - reported > timedelta(days=120):
                archived = closed + timedelta(days=30)
                job["status_id"] = STATUS_ARCHIVED
                self._status(job, archived, agent_user, STATUS_CLOSED, STATUS_ARCHIVED)
                last = archived
        job["updated_at"] = last

    def _breach(self, job: dict[str, Any], agent_user: int) -> None:
        """An open job already past its deadline was notified by the scan (as if it had run)."""
        due = job["sla_due_at"]
        if due is not None and due < self.now:
            at = due + timedelta(minutes=5)
            job["sla_breach_notified_at"] = at
            self._event(job, at, None, "sla_breached", after={"sla_due_at": iso(due)})

    def agent(self, agent_id: int, plan: Plan) -> None:
        rng, now = self.rng, self.now
        # Completed jobs: reported 14-180 days ago (so even the slowest is done by now), duration by
        # priority, scaled to the plan's mean when it has one.
        reported = sorted(now - timedelta(days=rng.uniform(14, 180)) for _ in range(plan.completed))
        priorities = [self.priority() for _ in range(plan.completed)]
        durations = [self._hours(low, high) for _pid, low, high in priorities]
        if plan.avg_days is not None and durations:
            scale = plan.avg_days * 86400 * len(durations) / sum(d.total_seconds() for d in durations)
            durations = [timedelta(seconds=round(d.total_seconds() * scale)) for d in durations]
        long_enough = [i for i, d in enumerate(durations) if d >= timedelta(days=2)]
        recalled = set(rng.sample(long_enough, min(plan.recalls, len(long_enough))))
        for i, (at, d) in enumerate(zip(reported, durations, strict=True)):
            self.job(agent_id, "completed", at, priority_id=priorities[i][0], duration=d, recall=i in recalled)
        for kind, n in zip(("new", "assigned", "in_progress"), plan.open, strict=True):
            for _ in range(n):
                self.job(agent_id, kind, now - timedelta(days=rng.uniform(0.2, 10)))
        for _ in range(plan.cancelled):
            self.job(agent_id, "cancelled", now - timedelta(days=rng.uniform(20, 150)))


def build(demo: DemoContext, now: datetime) -> Rows:
    rng = random.Random(RANDOM_SEED)  # noqa: S311 - reproducible demo data, not secrets
    props, by_branch = _properties(rng, now)
    builder = _Builder(rng, now, demo, by_branch)
    builder.rows.properties = props
    builder.agent(FIRST_AGENT_ID, AGENT_001)
    for n in range(2, N_AGENTS + 1):
        total = rng.randint(8, 16)
        open_ = (rng.randint(0, 1), rng.randint(0, 1), rng.randint(0, 2))
        cancelled = 1 if rng.random() < 0.4 else 0
        completed = total - sum(open_)
        builder.agent(FIRST_AGENT_ID + n - 1, Plan(completed, open_, cancelled, recalls=int(rng.random() < 0.5)))
    return builder.rows


async def seed(session: AsyncSession, demo: DemoContext) -> None:
    now = utcnow().replace(second=0, microsecond=0)
    rows = build(demo, now)
    await session.execute(insert(Property), rows.properties)
    await session.execute(insert(Job), rows.jobs)
    await session.execute(insert(JobRecall), rows.recalls)
    await session.execute(insert(JobEvent), rows.events)
    for model in (Property, Job):
        await resync_id_sequence(session, model.__table__)
    demo.extras["demo_jobs"] = len(rows.jobs)
