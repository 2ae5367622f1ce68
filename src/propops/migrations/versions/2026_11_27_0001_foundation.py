"""Foundation: accounts, roles, permission keys, tokens, audit log and the seeded lookups.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


ACCOUNT_TYPES = [
    (1, "Staff", True),
    (2, "Agent", True),
    (3, "Landlord", False),
    (4, "Tenant", False),
    (5, "Contractor", True),
]
ACCOUNT_STATUSES = [(1, "Active"), (2, "Disabled")]
TRADES = [(1, "Gas & Heating"), (2, "Plumbing"), (3, "Electrical"), (4, "Roofing"), (5, "General Maintenance")]
JOB_STATUSES = [
    (1, "New", True),
    (2, "Assigned", True),
    (3, "In progress", True),
    (4, "Complete", False),
    (5, "Closed", False),
    (6, "Archived", False),
    (7, "Cancelled", False),
]
PRIORITIES = [(1, "Emergency", 1), (2, "High", 2), (3, "Medium", 3), (4, "Low", 4)]
JOB_TYPES = [
    (1, "Maintenance"),
    (2, "Gas Safety"),
    (3, "EICR"),
    (4, "Plumbing"),
    (5, "Electrical"),
    (6, "General Maintenance"),
]
PERMISSIONS = {
    "api.contractors.trades.manage": "List contractor trade categories",
    "api.contractors.list.manage": "List contractors for job assignment",
    "api.contractors.list-with-coverage.view": "List contractors with coverage geometry",
    "api.contractors.certification.manage": "Upload, list and download certification documents",
    "api.agents.list.manage": "List agents, their SLA and performance",
    "api.agents.branches.manage": "View and change agent branch assignments and sharing",
    "api.admin.branches.manage": "Create, update and disable branches",
    "api.jobs.manage.manage": "Create, read and act on jobs",
    "api.security.mobile_auth.use": "Exchange a token for a mobile session",
    "api.users.users.manage": "Administer user accounts",
    "api.users.permissions.manage": "Grant, revoke or sync a user's permissions",
}
ALL = list(PERMISSIONS)
READ_COMMON = ["api.contractors.trades.manage", "api.contractors.list.manage", "api.security.mobile_auth.use"]
# (id, name, account_type_id, level, description, keys); lower level = more powerful.
ROLES = [
    (1, "SysOps", 1, 10, "System operators: every permission", ALL),
    (2, "Director", 1, 20, "Directors: every permission", ALL),
    (3, "API", 1, 15, "Integrations: every permission", ALL),
    (
        4,
        "Branch Manager",
        1,
        30,
        "Runs branches, agents and jobs",
        READ_COMMON
        + [
            "api.contractors.list-with-coverage.view",
            "api.contractors.certification.manage",
            "api.agents.list.manage",
            "api.agents.branches.manage",
            "api.jobs.manage.manage",
        ],
    ),
    (
        5,
        "Finance",
        1,
        40,
        "Finance team: read jobs and agents",
        READ_COMMON + ["api.agents.list.manage", "api.jobs.manage.manage"],
    ),
    (
        6,
        "Agent",
        2,
        60,
        "Property managers at their branches",
        READ_COMMON + ["api.contractors.list-with-coverage.view", "api.agents.list.manage", "api.jobs.manage.manage"],
    ),
    (
        7,
        "Contractor",
        5,
        70,
        "Contractors: their own jobs, profile and files",
        [
            "api.contractors.trades.manage",
            "api.security.mobile_auth.use",
            "api.contractors.certification.manage",
            "api.jobs.manage.manage",
        ],
    ),
]


def _seed() -> None:
    t = sa.table
    c = sa.column
    op.bulk_insert(
        t("account_types", c("id"), c("name"), c("can_login")),
        [{"id": i, "name": n, "can_login": lg} for i, n, lg in ACCOUNT_TYPES],
    )
    op.bulk_insert(t("account_statuses", c("id"), c("name")), [{"id": i, "name": n} for i, n in ACCOUNT_STATUSES])
    op.bulk_insert(t("trades", c("id"), c("name")), [{"id": i, "name": n} for i, n in TRADES])
    op.bulk_insert(
        t("job_statuses", c("id"), c("name"), c("is_open")),
        [{"id": i, "name": n, "is_open": o} for i, n, o in JOB_STATUSES],
    )
    op.bulk_insert(
        t("priorities", c("id"), c("name"), c("rank")), [{"id": i, "name": n, "rank": r} for i, n, r in PRIORITIES]
    )
    op.bulk_insert(
        t("job_types", c("id"), c("name"), c("is_active")),
        [{"id": i, "name": n, "is_active": True} for i, n in JOB_TYPES],
    )
    op.bulk_insert(
        t("permissions", c("key"), c("description")), [{"key": k, "description": d} for k, d in PERMISSIONS.items()]
    )
    op.bulk_insert(
        t("roles", c("id"), c("name"), c("account_type_id"), c("level"), c("description"), c("is_active")),
        [
            {"id": i, "name": n, "account_type_id": a, "level": lv, "description": d, "is_active": True}
            for i, n, a, lv, d, _ in ROLES
        ],
    )
    op.bulk_insert(
        t("role_permissions", c("role_id"), c("permission_key")),
        [{"role_id": r[0], "permission_key": k} for r in ROLES for k in r[5]],
    )
    op.bulk_insert(t("system_state", c("key"), c("value")), [{"key": "permissions_epoch", "value": 0}])
    if op.get_bind().dialect.name == "postgresql":
        for table in ("roles", "trades", "job_types"):
            op.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")


def upgrade() -> None:
    op.create_table(
        "account_statuses",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_statuses")),
        sa.UniqueConstraint("name", name=op.f("uq_account_statuses_name")),
    )
    op.create_table(
        "account_types",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("can_login", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_types")),
        sa.UniqueConstraint("name", name=op.f("uq_account_types_name")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("entity", sa.String(length=60), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_created_at"), ["created_at"], unique=False)
        batch_op.create_index("ix_audit_log_entity_entity_id", ["entity", "entity_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_user_id"), ["user_id"], unique=False)

    op.create_table(
        "job_statuses",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_statuses")),
        sa.UniqueConstraint("name", name=op.f("uq_job_statuses_name")),
    )
    op.create_table(
        "job_types",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_types")),
        sa.UniqueConstraint("name", name=op.f("uq_job_types_name")),
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index("ix_login_failures_email_created_at", ["email", "created_at"], unique=False)
        batch_op.create_index("ix_login_failures_ip_created_at", ["ip_address", "created_at"], unique=False)

    op.create_table(
        "permissions",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_permissions")),
    )
    op.create_table(
        "priorities",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_priorities")),
        sa.UniqueConstraint("name", name=op.f("uq_priorities_name")),
    )
    op.create_table(
        "system_state",
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_system_state")),
    )
    op.create_table(
        "trades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trades")),
        sa.UniqueConstraint("name", name=op.f("uq_trades_name")),
    )
    op.create_table(
        "roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("account_type_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_type_id"], ["account_types.id"], name=op.f("fk_roles_account_type_id_account_types")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roles")),
        sa.UniqueConstraint("name", name=op.f("uq_roles_name")),
    )
    op.create_table(
        "role_permissions",
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column("permission_key", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["permission_key"],
            ["permissions.key"],
            name=op.f("fk_role_permissions_permission_key_permissions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["role_id"], ["roles.id"], name=op.f("fk_role_permissions_role_id_roles"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("role_id", "permission_key", name=op.f("pk_role_permissions")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("account_type_id", sa.Integer(), nullable=False),
        sa.Column("account_status_id", sa.Integer(), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=True),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_status_id"], ["account_statuses.id"], name=op.f("fk_users_account_status_id_account_statuses")
        ),
        sa.ForeignKeyConstraint(
            ["account_type_id"], ["account_types.id"], name=op.f("fk_users_account_type_id_account_types")
        ),
        sa.ForeignKeyConstraint(["role_id"], ["roles.id"], name=op.f("fk_users_role_id_roles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("uuid", name=op.f("uq_users_uuid")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_account_type_id"), ["account_type_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_users_role_id"), ["role_id"], unique=False)

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=True),
        sa.Column("device_type", sa.String(length=80), nullable=True),
        sa.Column("app_version", sa.String(length=40), nullable=True),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "user_permissions",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("permission_key", sa.String(length=120), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["permission_key"],
            ["permissions.key"],
            name=op.f("fk_user_permissions_permission_key_permissions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_permissions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "permission_key", name=op.f("pk_user_permissions")),
    )
    _seed()


def downgrade() -> None:
    op.drop_table("user_permissions")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))

    op.drop_table("api_tokens")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_role_id"))
        batch_op.drop_index(batch_op.f("ix_users_account_type_id"))

    op.drop_table("users")
    op.drop_table("role_permissions")
    op.drop_table("roles")
    op.drop_table("trades")
    op.drop_table("system_state")
    op.drop_table("priorities")
    op.drop_table("permissions")
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_login_failures_ip_created_at")
        batch_op.drop_index("ix_login_failures_email_created_at")

    op.drop_table("login_failures")
    op.drop_table("job_types")
    op.drop_table("job_statuses")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_user_id"))
        batch_op.drop_index("ix_audit_log_entity_entity_id")
        batch_op.drop_index(batch_op.f("ix_audit_log_created_at"))

    op.drop_table("audit_log")
    op.drop_table("account_types")
    op.drop_table("account_statuses")
