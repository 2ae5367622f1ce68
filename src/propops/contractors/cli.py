"""Contractor commands for the command line (registered under ``propops geo`` in ``propops.cli``:
the grid is coverage data, but geo sits below contractors and must not import them)."""

from __future__ import annotations

import asyncio

import typer


def cluster_coverage_grid_cmd() -> None:
    """PostgreSQL: rewrite the contractor coverage grid in cell order (CLUSTER) and ANALYZE it.

    The postcode query reads one cell's rows; SQLite keeps them together by itself (WITHOUT ROWID
    table), PostgreSQL keeps rows in insertion order, so after many contractor edits one cell's
    rows are spread over many pages. Run after bulk imports or periodically; a no-op on SQLite.
    """
    from propops.contractors.coverage import cluster_grid
    from propops.core.db import Database
    from propops.core.settings import get_settings

    async def run() -> None:
        db = Database(get_settings().database_url)
        try:
            async with db.engine.begin() as conn:
                done = await conn.run_sync(cluster_grid)
        finally:
            await db.dispose()
        typer.echo("Coverage grid clustered and analysed." if done else "Nothing to do on this database.")

    asyncio.run(run())
