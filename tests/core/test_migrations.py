"""Migrations up, down and up again on the test database engine (SQLite or PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from propops.all_models import metadata
from propops.core.db import make_engine
from propops.core.migrate import downgrade_async, upgrade_async
from tests.conftest import create_database


async def _tables(url: str) -> set[str]:
    engine = make_engine(url, pool=False)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names())) - {"alembic_version"}
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    url, drop = await create_database(tmp_path)
    try:
        await upgrade_async(url)
        tables = await _tables(url)
        assert set(metadata.tables) <= tables, set(metadata.tables) - tables
        await downgrade_async(url, "base")
        assert await _tables(url) == set()
        await upgrade_async(url)
        engine = make_engine(url, pool=False)
        try:
            async with engine.connect() as conn:
                trades = (await conn.execute(text("SELECT id, name FROM trades ORDER BY id"))).all()
                statuses = (await conn.execute(text("SELECT name FROM job_statuses ORDER BY id"))).scalars().all()
        finally:
            await engine.dispose()
        assert [tuple(t) for t in trades] == [
            (1, "Gas & Heating"),
            (2, "Plumbing"),
            (3, "Electrical"),
            (4, "Roofing"),
            (5, "General Maintenance"),
        ]
        assert statuses[:6] == ["New", "Assigned", "In progress", "Complete", "Closed", "Archived"]
    finally:
        await drop()


async def test_models_match_migrations(tmp_path: Path) -> None:
    """Autogenerate finds nothing to do: every table, column and index of the models is migrated."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    url, drop = await create_database(tmp_path)
    try:
        await upgrade_async(url)
        engine = make_engine(url, pool=False)
        try:
            async with engine.connect() as conn:
                diff = await conn.run_sync(
                    lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": False}), metadata)
                )
        finally:
            await engine.dispose()
        assert diff == []
    finally:
        await drop()
