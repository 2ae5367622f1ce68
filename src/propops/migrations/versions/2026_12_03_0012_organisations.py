"""Organisations: one deployment, several letting companies.

Creates ``organisations`` with the default one (id 1, the platform organisation) and moves every
existing row into it: ``organisation_id`` on users, branches, agents, contractors, properties,
jobs, certifications, the email outbox and the audit log (nullable there: platform events), and a
copy on the contractors' coverage grid. Branch
codes become unique per organisation. Adds ``api.admin.organisations.manage`` (the router also
requires staff of the platform organisation) and ``api.admin.organisation_settings.manage`` for
SysOps, Director and API. The downgrade drops the
columns again, which is only lossless while a single organisation exists: it refuses otherwise.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = {
    "api.admin.organisations.manage": "Create, list, update and disable organisations (platform staff)",
    "api.admin.organisation_settings.manage": "Read and change the organisation's own settings",
}
ROLES = ("SysOps", "Director", "API")
SLA_COLUMNS = ["branch_id", "status_id", "sla_due_at", "completed_at", "sla_target_hours"]
# table -> whether its organisation_id may be NULL (audit rows of platform events)
OWNED: dict[str, bool] = {
    "users": False,
    "branches": False,
    "agents": False,
    "contractors": False,
    "properties": False,
    "jobs": False,
    "certifications": False,
    "email_outbox": False,
    "audit_log": True,
    "roles": True,  # NULL: a built-in role, shared by every organisation
}


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("is_platform", sa.Boolean(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("name", name=op.f("uq_organisations_name")),
        sa.UniqueConstraint("slug", name=op.f("uq_organisations_slug")),
        sa.UniqueConstraint("uuid", name=op.f("uq_organisations_uuid")),
    )
    bind = op.get_bind()
    bind.execute(
        sa.text(
            "INSERT INTO organisations (id, name, slug, is_active, is_platform, settings, uuid, created_at, updated_at) "
            "VALUES (1, 'Default organisation', 'default', :yes, :yes, '{}', "
            "'00000000-0000-4000-8000-000000000001', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        ),
        {"yes": True},
    )
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text("SELECT setval(pg_get_serial_sequence('organisations', 'id'), 1)"))
    for table, nullable in OWNED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("organisation_id", sa.Integer(), nullable=True))
        if table != "roles":  # the existing roles are the built-in ones
            bind.execute(sa.text(f"UPDATE {table} SET organisation_id = 1"))  # noqa: S608 - a constant name
        with op.batch_alter_table(table, schema=None) as batch_op:
            if not nullable:
                batch_op.alter_column("organisation_id", existing_type=sa.Integer(), nullable=False)
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_organisation_id_organisations"), "organisations", ["organisation_id"], ["id"]
            )
            if table == "jobs":
                batch_op.create_index("ix_jobs_organisation_id_id", ["organisation_id", "id"], unique=False)
                # The branch indexes lead with the organisation, so a branch's list and its count
                # stay index-only with the organisation compared (``jobs.models``).
                batch_op.drop_index("ix_jobs_branch_id_id")
                batch_op.create_index(
                    "ix_jobs_organisation_id_branch_id_id", ["organisation_id", "branch_id", "id"], unique=False
                )
                batch_op.drop_index("ix_jobs_branch_sla")
                batch_op.create_index("ix_jobs_organisation_branch_sla", ["organisation_id", *SLA_COLUMNS])
            else:
                batch_op.create_index(batch_op.f(f"ix_{table}_organisation_id"), ["organisation_id"], unique=False)
            if table == "branches":
                batch_op.drop_constraint(batch_op.f("uq_branches_code"), type_="unique")
                batch_op.create_unique_constraint(
                    batch_op.f("uq_branches_organisation_id_code"), ["organisation_id", "code"]
                )
    # The grid's copy of its contractor's organisation (as ``active`` is): added in place, since a
    # batch copy would lose the SQLite table's WITHOUT ROWID clustering.
    op.add_column("contractor_coverage_cells", sa.Column("organisation_id", sa.Integer(), nullable=True))
    bind.execute(sa.text("UPDATE contractor_coverage_cells SET organisation_id = 1"))
    for key, description in KEYS.items():
        bind.execute(
            sa.text("INSERT INTO permissions (key, description) VALUES (:key, :d)"), {"key": key, "d": description}
        )
        for role in ROLES:
            bind.execute(
                sa.text(
                    "INSERT INTO role_permissions (role_id, permission_key) "
                    "SELECT id, CAST(:key AS VARCHAR(120)) FROM roles WHERE name = :role"
                ),
                {"key": key, "role": role},
            )
    op.execute("UPDATE system_state SET value = value + 1 WHERE key = 'permissions_epoch'")
    # Fresh statistics for the new column: without them PostgreSQL guessed organisation_id = 1 to
    # be selective and read a branch's job list through the organisation index (a 200,000-job
    # table: database time per list 5 -> 81 ms in the load report until ANALYZE ran).
    for table in (*OWNED, "contractor_coverage_cells"):
        op.execute(f"ANALYZE {table}")


def downgrade() -> None:
    bind = op.get_bind()
    others = bind.execute(sa.text("SELECT COUNT(*) FROM organisations WHERE id <> 1")).scalar_one()
    if others:
        raise RuntimeError(
            f"{others} organisation(s) besides the default exist: downgrading would merge their data into one "
            "company. Remove them first."
        )
    for key in KEYS:
        for table in ("user_permissions", "role_permissions"):
            bind.execute(sa.text(f"DELETE FROM {table} WHERE permission_key = :key"), {"key": key})  # noqa: S608
        bind.execute(sa.text("DELETE FROM permissions WHERE key = :key"), {"key": key})
    op.drop_column("contractor_coverage_cells", "organisation_id")
    for table in reversed(list(OWNED)):
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table == "branches":
                batch_op.drop_constraint(batch_op.f("uq_branches_organisation_id_code"), type_="unique")
                batch_op.create_unique_constraint(batch_op.f("uq_branches_code"), ["code"])
            if table == "jobs":
                batch_op.drop_index("ix_jobs_organisation_id_id")
                batch_op.drop_index("ix_jobs_organisation_id_branch_id_id")
                batch_op.create_index("ix_jobs_branch_id_id", ["branch_id", "id"], unique=False)
                batch_op.drop_index("ix_jobs_organisation_branch_sla")
                batch_op.create_index("ix_jobs_branch_sla", SLA_COLUMNS)
            else:
                batch_op.drop_index(batch_op.f(f"ix_{table}_organisation_id"))
            batch_op.drop_constraint(batch_op.f(f"fk_{table}_organisation_id_organisations"), type_="foreignkey")
            batch_op.drop_column("organisation_id")
    op.drop_table("organisations")
    op.execute("UPDATE system_state SET value = value + 1 WHERE key = 'permissions_epoch'")
