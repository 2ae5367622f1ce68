"""Migration 0007 rebuilds the coverage grid for contractors that already exist, and its downgrade
rebuilds the old one, on whichever database the suite runs on."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import shapely
from sqlalchemy import text

from propops.core.db import make_engine
from propops.core.migrate import downgrade_async, upgrade_async
from propops.geo.geometry import circle, grid_cells
from tests.conftest import create_database

AREAS = {
    1: (52.48, -1.90, circle(52.48, -1.90, 18), True),
    2: (53.48, -2.24, circle(53.48, -2.24, 6), False),
    3: (51.50, -0.12, shapely.box(-0.45, 51.3, 0.15, 51.7), True),
}


async def _insert_contractors(url: str) -> None:
    engine = make_engine(url, pool=False)
    now = datetime.now(UTC)
    try:
        async with engine.begin() as conn:
            for cid, (lat, lon, geom, active) in AREAS.items():
                await conn.execute(
                    text(
                        "INSERT INTO contractors (id, uuid, first_name, last_name, email, is_active, base_latitude, "
                        "base_longitude, coverage_source, coverage_wkb, coverage_estimated, created_at, updated_at) "
                        "VALUES (:id, :uuid, 'Grid', 'Migration', :email, :active, :lat, :lon, 'radius', :wkb, "
                        ":est, :now, :now)"
                    ),
                    {
                        "id": cid,
                        "uuid": f"00000000-0000-0000-0000-{cid:012d}",
                        "email": f"grid{cid}@example.com",
                        "active": active,
                        "lat": lat,
                        "lon": lon,
                        "wkb": shapely.to_wkb(geom),
                        "est": False,
                        "now": now,
                    },
                )
    finally:
        await engine.dispose()


async def _cells(url: str, columns: str) -> set[tuple[Any, ...]]:
    engine = make_engine(url, pool=False)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text(f"SELECT {columns} FROM contractor_coverage_cells"))  # noqa: S608
            return {tuple(r) for r in rows}
    finally:
        await engine.dispose()


async def test_0007_rebuilds_the_grid_both_ways(tmp_path: Path) -> None:
    url, drop = await create_database(tmp_path)
    try:
        await upgrade_async(url, "0005")
        await _insert_contractors(url)
        await upgrade_async(url, "0007")
        got = await _cells(url, "cell, contractor_id, interior, active, base_latitude, base_longitude, shape_wkb")
        expected = {
            (p.cell, cid, p.interior, active, lat, lon, p.wkb)
            for cid, (lat, lon, geom, active) in AREAS.items()
            for p in grid_cells(geom)
        }
        assert {(c, i, bool(n), bool(a), la, lo, None if w is None else bytes(w)) for c, i, n, a, la, lo, w in got} == (
            expected
        )
        assert any(r[2] for r in got)
        assert not all(r[2] for r in got)

        await downgrade_async(url, "0005")
        old = {(c, i, bool(n)) for c, i, n in await _cells(url, "cell, contractor_id, interior")}
        assert old == {
            (p.cell, cid, p.interior) for cid, (_, _, geom, _) in AREAS.items() for p in grid_cells(geom, 0.2, 0.3)
        }
        await upgrade_async(url)
        assert len(await _cells(url, "cell, contractor_id")) == len(expected)
    finally:
        await drop()
