"""Branches, SLA rules, agents and their branch assignments; agent and branch admin permission keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# key -> (description, role names granted it)
NEW_KEYS: dict[str, tuple[str, list[str]]] = {
    "api.admin.enable_branch.manage": ("Re-enable a disabled branch", ["SysOps", "Director", "API"]),
    "api.admin.disable_branch.manage": ("Disable a branch", ["SysOps", "Director", "API"]),
    "api.agents.manage.manage": (
        "Create, update, deactivate and read agent profiles and their logins",
        ["SysOps", "Director", "API", "Branch Manager"],
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
        "branches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("address_line1", sa.String(length=200), nullable=True),
        sa.Column("address_line2", sa.String(length=200), nullable=True),
        sa.Column("town", sa.String(length=100), nullable=True),
        sa.Column("postcode", sa.String(length=10), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_branches")),
        sa.UniqueConstraint("code", name=op.f("uq_branches_code")),
        sa.UniqueConstraint("uuid", name=op.f("uq_branches_uuid")),
    )
    with op.batch_alter_table("branches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_branches_is_active"), ["is_active"], unique=False)
        batch_op.create_index(batch_op.f("ix_branches_name"), ["name"], unique=False)

    op.create_table(
        "sla_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("priority_id", sa.Integer(), nullable=False),
        sa.Column("job_type_id", sa.Integer(), nullable=True),
        sa.Column("target_hours", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("target_hours > 0", name=op.f("ck_sla_rules_target_hours_positive")),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_sla_rules_branch_id_branches"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["job_type_id"], ["job_types.id"], name=op.f("fk_sla_rules_job_type_id_job_types")),
        sa.ForeignKeyConstraint(["priority_id"], ["priorities.id"], name=op.f("fk_sla_rules_priority_id_priorities")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_rules")),
        sa.UniqueConstraint(
            "branch_id", "priority_id", "job_type_id", name=op.f("uq_sla_rules_branch_id_priority_id_job_type_id")
        ),
        sa.UniqueConstraint("uuid", name=op.f("uq_sla_rules_uuid")),
    )
    with op.batch_alter_table("sla_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sla_rules_branch_id"), ["branch_id"], unique=False)
        batch_op.create_index(
            "uq_sla_rules_generic",
            ["branch_id", "priority_id"],
            unique=True,
            sqlite_where=sa.text("job_type_id IS NULL"),
            postgresql_where=sa.text("job_type_id IS NULL"),
        )

    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("company_name", sa.String(length=200), nullable=True),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_agents_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("user_id", name=op.f("uq_agents_user_id")),
        sa.UniqueConstraint("uuid", name=op.f("uq_agents_uuid")),
    )
    op.create_table(
        "agent_branches",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_agent_branches_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["branch_id"], ["branches.id"], name=op.f("fk_agent_branches_branch_id_branches")),
        sa.PrimaryKeyConstraint("agent_id", "branch_id", name=op.f("pk_agent_branches")),
    )
    with op.batch_alter_table("agent_branches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_branches_branch_id"), ["branch_id"], unique=False)
        batch_op.create_index(
            "uq_agent_branches_primary",
            ["agent_id"],
            unique=True,
            sqlite_where=sa.text("is_primary"),
            postgresql_where=sa.text("is_primary"),
        )
    _grant_keys()


def downgrade() -> None:
    _revoke_keys()
    with op.batch_alter_table("agent_branches", schema=None) as batch_op:
        batch_op.drop_index("uq_agent_branches_primary")
        batch_op.drop_index(batch_op.f("ix_agent_branches_branch_id"))
    op.drop_table("agent_branches")
    op.drop_table("agents")
    with op.batch_alter_table("sla_rules", schema=None) as batch_op:
        batch_op.drop_index("uq_sla_rules_generic")
        batch_op.drop_index(batch_op.f("ix_sla_rules_branch_id"))
    op.drop_table("sla_rules")
    with op.batch_alter_table("branches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_branches_name"))
        batch_op.drop_index(batch_op.f("ix_branches_is_active"))
    op.drop_table("branches")
