"""``propops geo ...``: postcode data administration."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

geo_app = typer.Typer(help="UK postcode geography data.", no_args_is_help=True)


@geo_app.command("import-nspl")
def import_nspl_cmd(
    file: Annotated[Path, typer.Argument(help="NSPL/ONSPD CSV (columns pcds|pcd|postcode, lat, long)")],
) -> None:
    """Load unit postcodes from the ONS postcode lookup for unit-precision geocoding (replaces any earlier import)."""
    from propops.core.db import Database
    from propops.core.settings import get_settings
    from propops.geo.nspl import import_nspl

    if not file.is_file():
        typer.echo(f"No such file: {file}", err=True)
        raise typer.Exit(2)
    settings = get_settings()

    async def run() -> None:
        db = Database(settings.database_url)
        try:
            result = await import_nspl(db, file, include_ni=settings.geo_include_ni)
        except ValueError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(1) from exc
        finally:
            await db.dispose()
        typer.echo(f"Imported {result.imported} postcodes ({result.skipped} rows skipped).")

    asyncio.run(run())
