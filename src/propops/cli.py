"""The ``propops`` command line: serve, migrate, seed demo data, manage accounts and tokens."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from sqlalchemy import select

from propops.core.settings import Settings, get_settings

app = typer.Typer(help="PropOps property-maintenance operations service.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)
app.add_typer(db_app, name="db")

from propops.contractors.cli import cluster_coverage_grid_cmd  # noqa: E402
from propops.geo.cli import geo_app  # noqa: E402 - a sub-command group of its own domain

geo_app.command("cluster-coverage-grid")(cluster_coverage_grid_cmd)

app.add_typer(geo_app, name="geo")


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:
        typer.echo(f"Configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "heads") -> None:
    """Apply migrations up to REVISION (default: latest)."""
    from propops.core.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url, revision)
    typer.echo(f"Database at {revision}.")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision")]) -> None:
    """Revert migrations down to REVISION ('base' empties the database)."""
    from propops.core.migrate import downgrade

    downgrade(_settings().database_url, revision)
    typer.echo(f"Database at {revision}.")


async def _seed_and_report(settings: Settings, *, only_if_empty: bool) -> bool:
    from propops.auth.models import User
    from propops.auth.service import issue_token
    from propops.core.context import AppContext
    from propops.core.db import Database
    from propops.core.ratelimit import MemoryRateLimitStore
    from propops.demo import is_empty, seed_demo

    db = Database(settings.database_url)
    try:
        if only_if_empty and not await is_empty(db):
            typer.echo("Database already holds data; demo data not seeded (use `propops seed-demo` on an empty one).")
            return False
        if not only_if_empty and not await is_empty(db):
            typer.echo("Database is not empty; refusing to seed demo data twice.", err=True)
            raise typer.Exit(1)
        demo = await seed_demo(db, settings.demo_password, settings)
        ctx = AppContext(settings=settings, db=db, rate_limits=MemoryRateLimitStore())
        async with db.sessionmaker() as session, session.begin():
            admin = (await session.execute(select(User).where(User.email == "admin@example.com"))).scalar_one()
            raw, _ = await issue_token(session, ctx, admin)
        source = "PROPOPS_DEMO_PASSWORD" if settings.demo_password else "generated for this database"
        typer.echo("\nDemo data seeded. Accounts (password " + source + "):")
        typer.echo(f"  password:   {demo.password}")
        typer.echo(
            "  staff:      admin@example.com (SysOps), manager@example.com (Branch Manager), "
            "finance@example.com (Finance)"
        )
        typer.echo("  agents:     agent001@example.com ... agent015@example.com")
        typer.echo("  contractors: contractor001@example.com ... contractor030@example.com")
        typer.echo(f"  admin bearer token: {raw}\n")
        return True
    finally:
        await db.dispose()


@app.command("seed-demo")
def seed_demo_cmd() -> None:
    """Seed demo data into an empty, migrated database and print the accounts."""
    asyncio.run(_seed_and_report(_settings(), only_if_empty=False))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    no_demo: Annotated[bool, typer.Option("--no-demo", help="Do not seed demo data")] = False,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="worker processes (run by PROPOPS_SERVER: granian or supervisor)")
    ] = 1,
) -> None:
    """Migrate, seed demo data into an empty database, print demo credentials, then serve HTTP."""
    from propops.core.migrate import upgrade
    from propops.infra.server import ServeOptions
    from propops.infra.server import serve as run_server

    settings = _settings()
    upgrade(settings.database_url)
    if not no_demo:
        asyncio.run(_seed_and_report(settings, only_if_empty=True))
    typer.echo(f"PropOps on http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    run_server(
        ServeOptions("propops.main:asgi", host, port, workers, factory=True, log_level=settings.log_level.lower()),
        settings.server,
    )


@app.command("create-user")
def create_user_cmd(
    email: Annotated[str, typer.Option(help="Login email")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, help="Password (>= 8 chars)")],
    account_type: Annotated[str, typer.Option(help="Staff | Agent | Contractor (or id 1/2/5)")] = "Staff",
    role: Annotated[str | None, typer.Option(help="Role name, e.g. SysOps")] = None,
    first_name: Annotated[str, typer.Option()] = "",
    last_name: Annotated[str, typer.Option()] = "",
    organisation: Annotated[
        str, typer.Option(help="Organisation slug or id (default: the platform organisation, id 1)")
    ] = "1",
) -> None:
    """Create a login account in an organisation."""
    from propops.auth.models import AccountType
    from propops.auth.service import create_user
    from propops.core.db import Database
    from propops.core.errors import AppError
    from propops.organisations.models import Organisation

    async def run() -> None:
        db = Database(_settings().database_url)
        try:
            async with db.sessionmaker() as session, session.begin():
                if account_type.isdigit():
                    at_id = int(account_type)
                else:
                    found = (
                        await session.execute(select(AccountType.id).where(AccountType.name.ilike(account_type)))
                    ).scalar_one_or_none()
                    if found is None:
                        raise typer.BadParameter(f"unknown account type {account_type!r}")
                    at_id = found
                org_stmt = select(Organisation.id).where(
                    Organisation.id == int(organisation)
                    if organisation.isdigit()
                    else Organisation.slug == organisation
                )
                org_id = (await session.execute(org_stmt)).scalar_one_or_none()
                if org_id is None:
                    raise typer.BadParameter(f"unknown organisation {organisation!r}")
                user = await create_user(
                    session,
                    organisation_id=org_id,
                    email=email,
                    password=password,
                    account_type_id=at_id,
                    role=role,
                    first_name=first_name,
                    last_name=last_name,
                )
                typer.echo(f"Created {user.email} (uuid {user.uuid}).")
        except AppError as exc:
            typer.echo(f"Error: {exc.message}", err=True)
            raise typer.Exit(1) from exc
        finally:
            await db.dispose()

    asyncio.run(run())


@app.command("issue-token")
def issue_token_cmd(email: Annotated[str, typer.Option(help="Account email")]) -> None:
    """Print a new bearer token for an existing, active account."""
    from propops.auth.models import User
    from propops.auth.service import issue_token
    from propops.core.context import AppContext
    from propops.core.db import Database
    from propops.core.ratelimit import MemoryRateLimitStore
    from propops.core.validation import normalise_email

    async def run() -> None:
        settings = _settings()
        db = Database(settings.database_url)
        try:
            ctx = AppContext(settings=settings, db=db, rate_limits=MemoryRateLimitStore())
            async with db.sessionmaker() as session, session.begin():
                user = (
                    await session.execute(select(User).where(User.email == normalise_email(email)))
                ).scalar_one_or_none()
                if user is None or not user.is_active:
                    typer.echo("No active account with that email.", err=True)
                    raise typer.Exit(1)
                raw, token = await issue_token(session, ctx, user)
            typer.echo(raw)
        finally:
            await db.dispose()

    asyncio.run(run())


reminders_app = typer.Typer(help="Certificate expiry reminders.", no_args_is_help=True)
app.add_typer(reminders_app, name="reminders")


@reminders_app.command("run")
def reminders_run() -> None:
    """Queue the reminders due today (idempotent: a rerun queues nothing new)."""
    from propops.certifications.reminders import run_reminders
    from propops.core.db import Database

    async def run() -> None:
        settings = _settings()
        db = Database(settings.database_url)
        try:
            report = await run_reminders(db, settings)
            typer.echo(
                f"Scanned {report.scanned} certificates; {report.sent} reminder steps queued "
                f"({report.emails} emails). `propops worker --once` delivers them."
            )
        finally:
            await db.dispose()

    asyncio.run(run())


jobs_app = typer.Typer(help="Jobs: SLA breach scan.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")


@jobs_app.command("sla-scan")
def jobs_sla_scan() -> None:
    """Notify agents of newly breached SLA deadlines (each breach once; the worker runs this too)."""
    from propops.core.db import Database
    from propops.jobs.breaches import scan_sla_breaches

    async def run() -> None:
        db = Database(_settings().database_url)
        try:
            report = await scan_sla_breaches(db)
            typer.echo(f"{report.breached} newly breached jobs; {report.emails} emails queued.")
        finally:
            await db.dispose()

    asyncio.run(run())


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Deliver the emails that are due, then exit")] = False,
) -> None:
    """Deliver the email outbox and run reminders on a schedule (safe to run several on PostgreSQL)."""
    import logging
    import signal

    from propops.core.db import Database
    from propops.notifications.delivery import deliver_due
    from propops.worker import run_schedule

    settings = _settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def run() -> None:
        db = Database(settings.database_url)
        try:
            if once:
                report = await deliver_due(db, settings)
                typer.echo(
                    f"Claimed {report.claimed}: sent {report.sent}, to retry {report.retried}, failed {report.failed}."
                )
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            typer.echo("PropOps worker running (Ctrl-C to stop).")
            await run_schedule(db, settings, stop)
        finally:
            await db.dispose()

    asyncio.run(run())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
