"""Demo contractors: the seed's 30, IDs 20-49, attached to contractor001..030@example.com.

Contractor_001 is exactly the seed's example (ID 20, Gas & Heating + Plumbing, based in London).
The rest are spread over real districts across Great Britain with radius, estimated isochrone and
drawn coverage, so the coverage map and the postcode filter have something to show.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from propops.contractors import coverage as cov
from propops.contractors.models import Contractor, ContractorTrade
from propops.contractors.service import fix_sequence
from propops.geo.geocoder import lookup_centroid
from propops.geo.postcodes import parse_postcode

if TYPE_CHECKING:
    from propops.demo import DemoContext

FIRST_ID = 20
UUID_PREFIX = "770e8400-e29b-41d4-a716-4466554400"

# (base district, trade ids, coverage spec). Index 0 is Contractor_001.
PLAN: list[tuple[str, list[int], cov.CoverageSpec]] = [
    ("SW1A", [1, 2], cov.CoverageSpec("radius", radius_km=25)),
    ("M1", [3], cov.CoverageSpec("radius", radius_km=30)),
    ("EH1", [1, 2], cov.CoverageSpec("isochrone", travel_minutes=45, profile="driving")),
    ("CF10", [4, 5], cov.CoverageSpec("radius", radius_km=20)),
    ("B1", [2, 5], cov.CoverageSpec("isochrone", travel_minutes=30, profile="driving")),
    ("LS1", [1], cov.CoverageSpec("radius", radius_km=35)),
    ("NE1", [3, 5], cov.CoverageSpec("radius", radius_km=25)),
    ("BS1", [2], cov.CoverageSpec("isochrone", travel_minutes=40, profile="driving")),
    ("G2", [1, 3], cov.CoverageSpec("radius", radius_km=30)),
    ("L1", [4], cov.CoverageSpec("radius", radius_km=20)),
    ("NG1", [5], cov.CoverageSpec("isochrone", travel_minutes=35, profile="driving")),
    ("S1", [1, 2, 3], cov.CoverageSpec("radius", radius_km=25)),
    ("CB1", [3], cov.CoverageSpec("radius", radius_km=15)),
    ("OX1", [2, 4], cov.CoverageSpec("isochrone", travel_minutes=25, profile="driving")),
    ("BN1", [1], cov.CoverageSpec("radius", radius_km=20)),
    ("PL1", [5], cov.CoverageSpec("radius", radius_km=40)),
    ("EX1", [2], cov.CoverageSpec("isochrone", travel_minutes=50, profile="driving")),
    ("NR1", [4, 5], cov.CoverageSpec("radius", radius_km=30)),
    ("YO1", [1], cov.CoverageSpec("radius", radius_km=25)),
    ("AB10", [3, 1], cov.CoverageSpec("isochrone", travel_minutes=45, profile="driving")),
    ("IV1", [5], cov.CoverageSpec("radius", radius_km=60)),
    ("SO14", [2], cov.CoverageSpec("radius", radius_km=20)),
    ("RG1", [3], cov.CoverageSpec("isochrone", travel_minutes=30, profile="driving")),
    ("MK9", [4], cov.CoverageSpec("radius", radius_km=25)),
    ("LE1", [1, 5], cov.CoverageSpec("radius", radius_km=20)),
    ("CV1", [2, 3], cov.CoverageSpec("isochrone", travel_minutes=20, profile="cycling")),
    ("E1", [5], cov.CoverageSpec("isochrone", travel_minutes=45, profile="cycling")),
    ("HU1", [4], cov.CoverageSpec("radius", radius_km=30)),
    ("SA1", [1, 2], cov.CoverageSpec("radius", radius_km=35)),
    # A drawn polygon over central London and the City (lon/lat), as an admin would draw it.
    (
        "EC2R",
        [3, 5],
        cov.CoverageSpec(
            "drawn",
            drawn={
                "type": "Polygon",
                "coordinates": [
                    [[-0.16, 51.49], [-0.05, 51.49], [-0.04, 51.53], [-0.10, 51.545], [-0.17, 51.53], [-0.16, 51.49]]
                ],
            },
        ),
    ),
]


def demo_uuid(n: int) -> str:
    return f"{UUID_PREFIX}{n:02d}"


async def seed(session: AsyncSession, demo: DemoContext) -> None:
    """Profiles for the 30 contractor logins made by ``seed_accounts``."""
    trade_rows = []
    cells: list[dict[str, object]] = []
    for n, (district, trades, spec) in enumerate(PLAN, start=1):
        user = demo.user(f"contractor{n:03d}@example.com")
        base = lookup_centroid(parse_postcode(district))
        assert base is not None, district
        area = cov.compute_static(spec, base)
        c = Contractor(
            id=FIRST_ID + n - 1,
            uuid=demo_uuid(n),
            organisation_id=user.organisation_id,
            user_id=user.id,
            first_name=user.first_name,
            last_name=user.last_name,
            company_name=f"{user.first_name} Services Ltd",
            email=user.email,
            phone=user.phone,
            is_active=True,
        )
        cov.apply(c, base, area)
        session.add(c)
        trade_rows += [{"contractor_id": c.id, "trade_id": t} for t in sorted(trades)]
        cells += cov.cell_rows(c, area.geometry)
    await session.flush()
    await session.execute(insert(ContractorTrade), trade_rows)
    from propops.contractors.models import ContractorCoverageCell

    await session.execute(insert(ContractorCoverageCell), cells)
    await fix_sequence(session)
