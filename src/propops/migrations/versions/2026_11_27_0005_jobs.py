"""Jobs: properties (addresses), jobs, job history, recalls and case notes; jobs permission keys.

Merges the three heads (branches/agents, contractors/geo, notifications/certifications): jobs
reference branches, agents, contractors and trades.

Revision ID: 0005
Revises: 0002, 0004 (depends on 0003)
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
# 0003 is listed as a dependency, not a down revision: 0004 already depends on it, so Alembic keeps
# only 0002 and 0004 in alembic_version and a three-way merge fails with KeyError('0003').
down_revision: str | Sequence[str] | None = ("0002", "0004")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0003"

PERMISSIONS = {
    "api.properties.manage.manage": "List, create and update property addresses",
    "api.jobs.case-notes.manage": "List and add case notes on jobs",
    "api.jobs.remedials.manage": "Link or unlink remedial jobs",
}
# SysOps, Director and API get every key; the rest by role name.
GRANTS = {
    "api.properties.manage.manage": ("SysOps", "Director", "API", "Branch Manager", "Agent"),
    "api.jobs.case-notes.manage": ("SysOps", "Director", "API", "Branch Manager", "Agent", "Contractor"),
    "api.jobs.remedials.manage": ("SysOps", "Director", "API", "Branch Manager", "Agent"),
}


def _seed() -> None:
    t = sa.table
    c = sa.column
    op.bulk_insert(
        t("permissions", c("key"), c("description")), [{"key": k, "description": d} for k, d in PERMISSIONS.items()]
    )
    bind = op.get_bind()
    roles = {name: rid for rid, name in bind.execute(sa.text("SELECT id, name FROM roles")).fetchall()}
    op.bulk_insert(
        t("role_permissions", c("role_id"), c("permission_key")),
        [
            {"role_id": roles[name], "permission_key": key}
            for key, names in GRANTS.items()
            for name in names
            if name in roles
        ],
    )
    # Cached permission sets are keyed by this epoch; bump it so new grants take effect at once.
    op.execute("UPDATE system_state SET value = value + 1 WHERE key = 'permissions_epoch'")


def upgrade() -> None:
    op.create_table(
        "properties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("address_line1", sa.String(length=200), nullable=False),
        sa.Column("address_line2", sa.String(length=200), nullable=True),
        sa.Column("town", sa.String(length=100), nullable=True),
        sa.Column("postcode", sa.String(length=10), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("geo_precision", sa.String(length=20), nullable=True),
        sa.Column("tenant_name", sa.String(length=200), nullable=True),
        sa.Column("tenant_email", sa.String(length=254), nullable=True),
        sa.Column("tenant_phone", sa.String(length=40), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["branch_id"], ["branches.id"], name=op.f("fk_properties_branch_id_branches")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_properties")),
        sa.UniqueConstraint("uuid", name=op.f("uq_properties_uuid")),
    )
    with op.batch_alter_table("properties", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_properties_branch_id"), ["branch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_properties_postcode"), ["postcode"], unique=False)

    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_ref", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("trade_id", sa.Integer(), nullable=False),
        sa.Column("job_type_id", sa.Integer(), nullable=True),
        sa.Column("priority_id", sa.Integer(), nullable=False),
        sa.Column("status_id", sa.Integer(), nullable=False),
        sa.Column("contractor_id", sa.Integer(), nullable=True),
        sa.Column("contractor_budget", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("client_budget", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sla_target_hours", sa.Integer(), nullable=True),
        sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sla_breach_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recall_count", sa.Integer(), nullable=False),
        sa.Column("parent_job_id", sa.Integer(), nullable=True),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_jobs_agent_id_agents"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["branch_id"], ["branches.id"], name=op.f("fk_jobs_branch_id_branches")),
        sa.ForeignKeyConstraint(["contractor_id"], ["contractors.id"], name=op.f("fk_jobs_contractor_id_contractors")),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"], ["users.id"], name=op.f("fk_jobs_created_by_user_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["job_type_id"], ["job_types.id"], name=op.f("fk_jobs_job_type_id_job_types")),
        sa.ForeignKeyConstraint(
            ["parent_job_id"], ["jobs.id"], name=op.f("fk_jobs_parent_job_id_jobs"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["priority_id"], ["priorities.id"], name=op.f("fk_jobs_priority_id_priorities")),
        sa.ForeignKeyConstraint(["property_id"], ["properties.id"], name=op.f("fk_jobs_property_id_properties")),
        sa.ForeignKeyConstraint(["status_id"], ["job_statuses.id"], name=op.f("fk_jobs_status_id_job_statuses")),
        sa.ForeignKeyConstraint(["trade_id"], ["trades.id"], name=op.f("fk_jobs_trade_id_trades")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("job_ref", name=op.f("uq_jobs_job_ref")),
        sa.UniqueConstraint("uuid", name=op.f("uq_jobs_uuid")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_agent_id_reported_at", ["agent_id", "reported_at"], unique=False)
        batch_op.create_index("ix_jobs_agent_id_status_id", ["agent_id", "status_id"], unique=False)
        batch_op.create_index("ix_jobs_branch_id_id", ["branch_id", "id"], unique=False)
        batch_op.create_index("ix_jobs_contractor_id_id", ["contractor_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_parent_job_id"), ["parent_job_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_property_id"), ["property_id"], unique=False)
        batch_op.create_index("ix_jobs_status_id_sla_due_at", ["status_id", "sla_due_at"], unique=False)

    op.create_table(
        "job_case_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("is_private", sa.Boolean(), nullable=False),
        sa.Column("send_email", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_case_notes_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_job_case_notes_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_case_notes")),
        sa.UniqueConstraint("uuid", name=op.f("uq_job_case_notes_uuid")),
    )
    with op.batch_alter_table("job_case_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_case_notes_job_id"), ["job_id"], unique=False)

    op.create_table(
        "job_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=30), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_job_events_job_id_jobs"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_job_events_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_events")),
    )
    with op.batch_alter_table("job_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_events_job_id"), ["job_id"], unique=False)

    op.create_table(
        "job_recalls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("recalled_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_job_recalls_job_id_jobs"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["recalled_by_user_id"],
            ["users.id"],
            name=op.f("fk_job_recalls_recalled_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_recalls")),
    )
    with op.batch_alter_table("job_recalls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_recalls_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_recalls_job_id"), ["job_id"], unique=False)

    _seed()


def downgrade() -> None:
    with op.batch_alter_table("job_recalls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_recalls_job_id"))
        batch_op.drop_index(batch_op.f("ix_job_recalls_created_at"))

    op.drop_table("job_recalls")
    with op.batch_alter_table("job_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_events_job_id"))

    op.drop_table("job_events")
    with op.batch_alter_table("job_case_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_case_notes_job_id"))

    op.drop_table("job_case_notes")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_status_id_sla_due_at")
        batch_op.drop_index(batch_op.f("ix_jobs_property_id"))
        batch_op.drop_index(batch_op.f("ix_jobs_parent_job_id"))
        batch_op.drop_index("ix_jobs_contractor_id_id")
        batch_op.drop_index("ix_jobs_branch_id_id")
        batch_op.drop_index("ix_jobs_agent_id_status_id")
        batch_op.drop_index("ix_jobs_agent_id_reported_at")

    op.drop_table("jobs")
    with op.batch_alter_table("properties", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_properties_postcode"))
        batch_op.drop_index(batch_op.f("ix_properties_branch_id"))

    op.drop_table("properties")
    keys = ", ".join(f"'{k}'" for k in PERMISSIONS)
    op.execute(f"DELETE FROM role_permissions WHERE permission_key IN ({keys})")
    op.execute(f"DELETE FROM user_permissions WHERE permission_key IN ({keys})")
    op.execute(f"DELETE FROM permissions WHERE key IN ({keys})")
    op.execute("UPDATE system_state SET value = value + 1 WHERE key = 'permissions_epoch'")
