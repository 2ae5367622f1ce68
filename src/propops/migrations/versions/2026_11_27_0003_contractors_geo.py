"""Contractors, their trades and coverage (bbox columns + grid cells), unit postcodes; contractor
admin and profile permission keys.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# key -> (description, role names granted it)
NEW_KEYS: dict[str, tuple[str, list[str]]] = {
    "api.contractors.manage.manage": (
        "Create, update, deactivate, reactivate and read contractors (trades, coverage, login)",
        ["SysOps", "Director", "API", "Branch Manager"],
    ),
    "api.contractors.profile.manage": (
        "Read and update one's own contractor profile and coverage (not trades or status)",
        ["SysOps", "Director", "API", "Contractor"],
    ),
}


def _grant_keys() -> None:
    op.bulk_insert(
        sa.table("permissions", sa.column("key"), sa.column("description")),
        [{"key": k, "description": d} for k, (d, _) in NEW_KEYS.items()],
    )
    for key, (_, roles) in NEW_KEYS.items():
        op.get_bind().execute(
            sa.text(
                "INSERT INTO role_permissions (role_id, permission_key) SELECT id, :key FROM roles WHERE name IN :names"
            ).bindparams(sa.bindparam("names", expanding=True)),
            {"key": key, "names": roles},
        )
    # Running processes cache resolved permission sets per epoch: move it so they pick up the new keys.
    op.execute("UPDATE system_state SET value = value + 1 WHERE key = 'permissions_epoch'")


def _revoke_keys() -> None:
    keys = list(NEW_KEYS)
    bind = op.get_bind()
    for table in ("user_permissions", "role_permissions"):
        bind.execute(
            sa.text(f"DELETE FROM {table} WHERE permission_key IN :keys").bindparams(
                sa.bindparam("keys", expanding=True)
            ),
            {"keys": keys},
        )
    bind.execute(
        sa.text("DELETE FROM permissions WHERE key IN :keys").bindparams(sa.bindparam("keys", expanding=True)),
        {"keys": keys},
    )
    op.execute("UPDATE system_state SET value = value + 1 WHERE key = 'permissions_epoch'")


def upgrade() -> None:
    op.create_table(
        "geo_postcodes",
        sa.Column("postcode", sa.String(length=8), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("terminated", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("postcode", name=op.f("pk_geo_postcodes")),
    )
    op.create_table(
        "contractors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("company_name", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("base_postcode", sa.String(length=10), nullable=True),
        sa.Column("base_latitude", sa.Float(), nullable=True),
        sa.Column("base_longitude", sa.Float(), nullable=True),
        sa.Column("coverage_source", sa.String(length=12), nullable=False),
        sa.Column("coverage_radius_km", sa.Float(), nullable=True),
        sa.Column("coverage_travel_minutes", sa.Integer(), nullable=True),
        sa.Column("coverage_profile", sa.String(length=20), nullable=True),
        sa.Column("coverage_geojson", sa.Text(), nullable=True),
        sa.Column("coverage_wkb", sa.LargeBinary(), nullable=True),
        sa.Column("coverage_min_lat", sa.Float(), nullable=True),
        sa.Column("coverage_max_lat", sa.Float(), nullable=True),
        sa.Column("coverage_min_lon", sa.Float(), nullable=True),
        sa.Column("coverage_max_lon", sa.Float(), nullable=True),
        sa.Column("coverage_estimated", sa.Boolean(), nullable=False),
        sa.Column("coverage_provider", sa.String(length=30), nullable=True),
        sa.Column("coverage_computed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_contractors_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contractors")),
        sa.UniqueConstraint("user_id", name=op.f("uq_contractors_user_id")),
        sa.UniqueConstraint("uuid", name=op.f("uq_contractors_uuid")),
    )
    with op.batch_alter_table("contractors", schema=None) as batch_op:
        batch_op.create_index("ix_contractors_bbox_lat", ["coverage_min_lat", "coverage_max_lat"], unique=False)
        batch_op.create_index("ix_contractors_bbox_lon", ["coverage_min_lon", "coverage_max_lon"], unique=False)
        batch_op.create_index(batch_op.f("ix_contractors_email"), ["email"], unique=False)

    op.create_table(
        "contractor_coverage_cells",
        sa.Column("cell", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("contractor_id", sa.Integer(), nullable=False),
        sa.Column("interior", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contractor_id"],
            ["contractors.id"],
            name=op.f("fk_contractor_coverage_cells_contractor_id_contractors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("cell", "contractor_id", name=op.f("pk_contractor_coverage_cells")),
    )
    with op.batch_alter_table("contractor_coverage_cells", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contractor_coverage_cells_contractor_id"), ["contractor_id"], unique=False)

    op.create_table(
        "contractor_trades",
        sa.Column("contractor_id", sa.Integer(), nullable=False),
        sa.Column("trade_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contractor_id"],
            ["contractors.id"],
            name=op.f("fk_contractor_trades_contractor_id_contractors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["trade_id"], ["trades.id"], name=op.f("fk_contractor_trades_trade_id_trades")),
        sa.PrimaryKeyConstraint("contractor_id", "trade_id", name=op.f("pk_contractor_trades")),
    )
    with op.batch_alter_table("contractor_trades", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contractor_trades_trade_id"), ["trade_id"], unique=False)

    _grant_keys()


def downgrade() -> None:
    _revoke_keys()
    with op.batch_alter_table("contractor_trades", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contractor_trades_trade_id"))

    op.drop_table("contractor_trades")
    with op.batch_alter_table("contractor_coverage_cells", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contractor_coverage_cells_contractor_id"))

    op.drop_table("contractor_coverage_cells")
    with op.batch_alter_table("contractors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contractors_email"))
        batch_op.drop_index("ix_contractors_bbox_lon")
        batch_op.drop_index("ix_contractors_bbox_lat")

    op.drop_table("contractors")
    op.drop_table("geo_postcodes")
