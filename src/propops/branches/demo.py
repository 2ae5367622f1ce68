"""Demo branches Branch_001..Branch_005 (ids 1-5) and their SLA rules.

Branch_001 carries the seed's SLA example exactly (4/24/72/168 h, no job-type rule, so the seed's
``/api/agents/sla`` example for Agent_001 is reproduced); Branch_002 adds job-type rules for Gas
Safety; Branch_005 has no rules, to show a branch without an SLA.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from propops.branches.models import Branch, SlaRule
from propops.core.db import resync_id_sequence
from propops.organisations.models import DEFAULT_ORGANISATION_ID

if TYPE_CHECKING:
    from propops.demo import DemoContext

GAS_SAFETY = 2  # job_types id seeded by the foundation migration
BRANCHES = [
    # id, code, town, address, postcode, phone, (emergency, high, medium, low) hours or None
    (1, "B001", "London", "1 High Street", "N1 9GU", "020 7946 0001", (4, 24, 72, 168)),
    (2, "B002", "Manchester", "2 Deansgate", "M3 2BW", "0161 496 0002", (4, 24, 72, 168)),
    (3, "B003", "Birmingham", "3 Broad Street", "B1 2HF", "0121 496 0003", (6, 24, 96, 240)),
    (4, "B004", "Leeds", "4 Park Row", "LS1 5HD", "0113 496 0004", (4, 48, 120, 336)),
    (5, "B005", "Bristol", "5 Corn Street", "BS1 1HT", "0117 496 0005", None),
]
JOB_TYPE_RULES = [(2, 1, GAS_SAFETY, 2), (2, 2, GAS_SAFETY, 12)]  # branch, priority, job type, hours


async def seed(session: AsyncSession, demo: DemoContext) -> None:
    for branch_id, code, town, street, postcode, phone, _hours in BRANCHES:
        session.add(
            Branch(
                id=branch_id,
                organisation_id=DEFAULT_ORGANISATION_ID,
                name=f"Branch_{branch_id:03d}",
                code=code,
                address_line1=street,
                town=town,
                postcode=postcode,
                phone=phone,
                email=f"branch{branch_id:03d}@example.com",
                is_active=True,
            )
        )
    await session.flush()
    for branch_id, *_, hours in BRANCHES:
        for priority_id, target in enumerate(hours or (), start=1):
            session.add(SlaRule(branch_id=branch_id, priority_id=priority_id, job_type_id=None, target_hours=target))
    for branch_id, priority_id, job_type_id, target in JOB_TYPE_RULES:
        session.add(SlaRule(branch_id=branch_id, priority_id=priority_id, job_type_id=job_type_id, target_hours=target))
    await session.flush()
    await resync_id_sequence(session, Branch.__table__)
    demo.extras["branch_ids"] = [b[0] for b in BRANCHES]
