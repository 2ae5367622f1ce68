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
from propops.core.db import Database
from propops.core.security import hash_password, random_password
from propops.core.settings import Settings

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


from propops.agents.demo import seed as seed_agents  # noqa: E402 - needs seed_accounts' users
from propops.branches.demo import seed as seed_branches  # noqa: E402
from propops.certifications.demo import seed as seed_certifications  # noqa: E402 - needs contractors
from propops.contractors.demo import seed as seed_contractors  # noqa: E402 - needs seed_accounts' users
from propops.jobs.demo import seed as seed_jobs  # noqa: E402 - needs branches, agents and contractors

SEEDERS: list[Seeder] = [seed_accounts, seed_branches, seed_agents, seed_contractors, seed_certifications, seed_jobs]


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
