"""Demo data: reproduces the seed's examples and grows as each domain adds its seeder.

Each domain contributes ``async def seed(session, demo)`` to ``SEEDERS``; they run in order in one
transaction, so a half-seeded database never exists.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from propops.auth.models import ACCOUNT_AGENT, ACCOUNT_CONTRACTOR, ACCOUNT_STAFF, User
from propops.core.db import Database, resync_id_sequence
from propops.core.security import hash_password, random_password
from propops.core.settings import Settings
from propops.organisations.models import DEFAULT_ORGANISATION_ID

N_AGENTS = 15
N_CONTRACTORS = 30


@dataclass
class DemoContext:
    password: str
    password_hash: str
    users: dict[str, User] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    def user(self, email: str) -> User:
        return self.users[email]


Seeder = Callable[[AsyncSession, DemoContext], Awaitable[None]]


def agent_email(n: int) -> str:
    return f"agent{n:03d}@example.com"


def contractor_email(n: int) -> str:
    return f"contractor{n:03d}@example.com"


async def seed_accounts(session: AsyncSession, demo: DemoContext) -> None:
    """Staff, agent and contractor logins; later seeders attach agent and contractor profiles."""
    rows: list[tuple[str, int, str, str, str, str | None]] = [
        ("admin@example.com", ACCOUNT_STAFF, "SysOps", "Admin", "User", "07700000001"),
        ("manager@example.com", ACCOUNT_STAFF, "Branch Manager", "Branch", "Manager", None),
        ("finance@example.com", ACCOUNT_STAFF, "Finance", "Finance", "Team", None),
    ]
    rows += [
        (agent_email(i), ACCOUNT_AGENT, "Agent", f"Agent_{i:03d}", f"Surname_{i:03d}", None)
        for i in range(1, N_AGENTS + 1)
    ]
    rows += [
        (
            contractor_email(i),
            ACCOUNT_CONTRACTOR,
            "Contractor",
            f"Contractor_{i:03d}",
            f"Surname_{i:03d}",
            f"0770000{i + 1:04d}",
        )
        for i in range(1, N_CONTRACTORS + 1)
    ]
    from propops.auth.models import Role

    roles = {r.name: r.id for r in (await session.execute(select(Role))).scalars()}
    for email, account_type, role, first, last, phone in rows:
        user = User(
            organisation_id=DEFAULT_ORGANISATION_ID,
            email=email,
            password_hash=demo.password_hash,
            account_type_id=account_type,
            role_id=roles[role],
            first_name=first,
            last_name=last,
            phone=phone,
        )
        session.add(user)
        demo.users[email] = user
    await session.flush()


async def seed_organisations(session: AsyncSession, demo: DemoContext) -> None:
    """The first organisation (migration 0012's default, the platform one) holds the seed's data."""
    from propops.organisations.models import Organisation

    first = await session.get_one(Organisation, DEFAULT_ORGANISATION_ID)
    first.name = FIRST_ORGANISATION
    first.settings = {"branding_name": FIRST_ORGANISATION}  # compliance mail: PROPOPS_COMPLIANCE_EMAIL
    await session.flush()


FIRST_ORGANISATION = "Demo Lettings"
SECOND_ORGANISATION = "Riverside Homes"
SECOND_ADMIN, SECOND_AGENT, SECOND_CONTRACTOR = (
    "admin@riverside.example.com",
    "agent@riverside.example.com",
    "contractor@riverside.example.com",
)
SECOND_POSTCODES = ("M1 1AE", "M4 1HQ", "M15 4FN")


async def seed_second_organisation(session: AsyncSession, demo: DemoContext) -> None:
    """A small second company (one branch, agent, contractor, three properties and jobs) so that
    isolation is visible from the first start: none of it shows to the first one's users, and the
    other way round."""
    from datetime import timedelta

    from sqlalchemy import insert

    from propops.agents.models import Agent, AgentBranch
    from propops.auth.models import Role
    from propops.branches.models import Branch, SlaRule
    from propops.contractors import coverage as cov
    from propops.contractors.models import Contractor, ContractorCoverageCell, ContractorTrade
    from propops.core.clock import utcnow
    from propops.geo.geocoder import lookup_centroid
    from propops.geo.postcodes import parse_postcode
    from propops.jobs.models import STATUS_ASSIGNED, STATUS_COMPLETE, STATUS_NEW, Job
    from propops.organisations.models import Organisation
    from propops.properties.models import Property

    org = Organisation(
        name=SECOND_ORGANISATION,
        slug="riverside",
        is_active=True,
        is_platform=False,
        settings={"branding_name": SECOND_ORGANISATION, "compliance_email": "compliance@riverside.example.com"},
    )
    session.add(org)
    await session.flush()
    roles = {r.name: r.id for r in (await session.execute(select(Role))).scalars()}
    people = [
        (SECOND_ADMIN, ACCOUNT_STAFF, "SysOps", "Rita", "Riverside"),
        (SECOND_AGENT, ACCOUNT_AGENT, "Agent", "Ravi", "Rowe"),
        (SECOND_CONTRACTOR, ACCOUNT_CONTRACTOR, "Contractor", "Rhys", "Reed"),
    ]
    users = {}
    for email, account_type, role, first, last in people:
        user = User(
            organisation_id=org.id,
            email=email,
            password_hash=demo.password_hash,
            account_type_id=account_type,
            role_id=roles[role],
            first_name=first,
            last_name=last,
        )
        session.add(user)
        users[email] = demo.users[email] = user
    branch = Branch(
        organisation_id=org.id,
        name="Riverside Central",
        code="RIV-1",
        address_line1="1 Deansgate",
        town="Manchester",
        postcode="M3 1AZ",
        email="central@riverside.example.com",
        is_active=True,
    )
    session.add(branch)
    await session.flush()
    for priority_id, hours in enumerate((4, 24, 72, 168), start=1):
        session.add(SlaRule(branch_id=branch.id, priority_id=priority_id, job_type_id=None, target_hours=hours))
    agent = Agent(organisation_id=org.id, user_id=users[SECOND_AGENT].id, company_name=SECOND_ORGANISATION)
    session.add(agent)
    await session.flush()
    session.add(AgentBranch(agent_id=agent.id, branch_id=branch.id, is_primary=True))
    users[SECOND_AGENT].branch_id = branch.id
    base = lookup_centroid(parse_postcode("M1"))
    assert base is not None
    area = cov.compute_static(cov.CoverageSpec("radius", radius_km=15.0), base)
    worker = users[SECOND_CONTRACTOR]
    contractor = Contractor(
        organisation_id=org.id,
        user_id=worker.id,
        first_name=worker.first_name,
        last_name=worker.last_name,
        company_name="Reed Plumbing Ltd",
        email=worker.email,
        is_active=True,
    )
    cov.apply(contractor, base, area)
    session.add(contractor)
    await session.flush()
    await session.execute(insert(ContractorTrade), [{"contractor_id": contractor.id, "trade_id": 2}])
    await session.execute(insert(ContractorCoverageCell), cov.cell_rows(contractor, area.geometry))
    now = utcnow().replace(second=0, microsecond=0)
    properties = []
    for i, postcode in enumerate(SECOND_POSTCODES, start=1):
        point = lookup_centroid(parse_postcode(postcode))
        prop = Property(
            organisation_id=org.id,
            branch_id=branch.id,
            address_line1=f"{10 * i} River Street",
            town="Manchester",
            postcode=postcode,
            latitude=point.latitude if point else None,
            longitude=point.longitude if point else None,
            geo_precision=point.precision if point else None,
            is_active=True,
        )
        session.add(prop)
        properties.append(prop)
    await session.flush()
    next_id = int((await session.execute(select(func.coalesce(func.max(Job.id), 0)))).scalar_one()) + 1
    plans = [
        ("Leaking kitchen tap", STATUS_NEW, None, 3),
        ("No hot water", STATUS_ASSIGNED, contractor.id, 2),
        ("Blocked bathroom drain", STATUS_COMPLETE, contractor.id, 3),
    ]
    for n, (title, status, contractor_id, priority_id) in enumerate(plans):
        reported = now - timedelta(days=3 - n)
        hours = (4, 24, 72, 168)[priority_id - 1]
        session.add(
            Job(
                id=next_id + n,
                organisation_id=org.id,
                job_ref=f"JOB-{next_id + n:06d}",
                title=title,
                description="Reported by the tenant through the Riverside Homes office.",
                property_id=properties[n].id,
                branch_id=branch.id,
                agent_id=agent.id,
                trade_id=2,
                priority_id=priority_id,
                status_id=status,
                contractor_id=contractor_id,
                reported_at=reported,
                assigned_at=reported + timedelta(hours=1) if contractor_id else None,
                completed_at=reported + timedelta(hours=20) if status == STATUS_COMPLETE else None,
                sla_target_hours=hours,
                sla_due_at=reported + timedelta(hours=hours),
                created_by_user_id=users[SECOND_AGENT].id,
                created_at=reported,
                updated_at=reported,
            )
        )
    await session.flush()
    for model in (Branch, Agent, Contractor, Property, Job):
        await resync_id_sequence(session, model.__table__)
    demo.extras["second_organisation_id"] = org.id


from propops.agents.demo import seed as seed_agents  # noqa: E402 - needs seed_accounts' users
from propops.branches.demo import seed as seed_branches  # noqa: E402
from propops.certifications.demo import seed as seed_certifications  # noqa: E402 - needs contractors
from propops.contractors.demo import seed as seed_contractors  # noqa: E402 - needs seed_accounts' users
from propops.jobs.demo import seed as seed_jobs  # noqa: E402 - needs branches, agents and contractors

SEEDERS: list[Seeder] = [
    seed_organisations,
    seed_accounts,
    seed_branches,
    seed_agents,
    seed_contractors,
    seed_certifications,
    seed_jobs,
    seed_second_organisation,
]


def _load_domain_seeders() -> list[Seeder]:
    """Domain seeders, imported lazily so that a domain's absence never breaks the foundation."""
    return list(SEEDERS)


async def is_empty(db: Database) -> bool:
    async with db.sessionmaker() as session:
        return (await session.execute(select(func.count()).select_from(User))).scalar_one() == 0


async def seed_demo(db: Database, password: str | None, settings: Settings | None = None) -> DemoContext:
    """``settings`` tells seeders that write files where storage lives (default: the environment's)."""
    pw = password or random_password()
    demo = DemoContext(password=pw, password_hash=hash_password(pw))
    demo.extras["settings"] = settings
    async with db.sessionmaker() as session, session.begin():
        for seeder in _load_domain_seeders():
            await seeder(session, demo)
    return demo
