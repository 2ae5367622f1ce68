"""Session chains and narrower default roles.

``api_tokens.parent_token_id`` makes a minted (mobile) session a child of the session that minted
it, so ending a session ends its descendants; ``depth`` bounds the chain; the (user_id, created_at)
index serves the per-account minting limit. Roles: Finance keeps read access to jobs through the new
``api.jobs.read.view`` and loses ``api.jobs.manage.manage`` (no create, cancel or delete); Branch
Manager loses the agent and contractor administration keys, which create logins.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READ_KEY = "api.jobs.read.view"
READ_DESCRIPTION = "Read jobs, their history and budgets"
MANAGE_KEY = "api.jobs.manage.manage"
# role name -> keys this revision takes away (the downgrade gives them back)
REMOVED: dict[str, list[str]] = {
    "Finance": [MANAGE_KEY],
    "Branch Manager": ["api.agents.manage.manage", "api.contractors.manage.manage"],
}


def _roles(remove: bool) -> None:
    bind = op.get_bind()
    for role, keys in REMOVED.items():
        for key in keys:
            params = {"role": role, "key": key}
            if remove:
                bind.execute(
                    sa.text(
                        "DELETE FROM role_permissions WHERE permission_key = :key "
                        "AND role_id IN (SELECT id FROM roles WHERE name = :role)"
                    ),
                    params,
                )
            else:
                bind.execute(
                    sa.text(
                        "INSERT INTO role_permissions (role_id, permission_key) SELECT id, CAST(:key AS VARCHAR(120)) FROM roles "
                        "WHERE name = :role AND NOT EXISTS (SELECT 1 FROM role_permissions rp "
                        "WHERE rp.role_id = roles.id AND rp.permission_key = :key)"
                    ),
                    params,
                )
    # Running processes cache resolved permission sets per epoch: move it.
    op.execute("UPDATE system_state SET value = value + 1 WHERE key = 'permissions_epoch'")


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_token_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("depth", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_foreign_key(
            batch_op.f("fk_api_tokens_parent_token_id_api_tokens"),
            "api_tokens",
            ["parent_token_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(batch_op.f("ix_api_tokens_parent_token_id"), ["parent_token_id"], unique=False)
        batch_op.create_index("ix_api_tokens_user_id_created_at", ["user_id", "created_at"], unique=False)
    bind = op.get_bind()
    bind.execute(
        sa.text("INSERT INTO permissions (key, description) VALUES (:key, :d)"),
        {"key": READ_KEY, "d": READ_DESCRIPTION},
    )
    # Whoever could act on jobs may still read them; Finance reads without acting.
    bind.execute(
        sa.text(
            "INSERT INTO role_permissions (role_id, permission_key) "
            "SELECT role_id, CAST(:read AS VARCHAR(120)) FROM role_permissions "
            "WHERE permission_key = :manage"
        ),
        {"read": READ_KEY, "manage": MANAGE_KEY},
    )
    bind.execute(
        sa.text(
            "INSERT INTO user_permissions (user_id, permission_key, granted) "
            "SELECT user_id, CAST(:read AS VARCHAR(120)), granted "
            "FROM user_permissions WHERE permission_key = :manage AND granted = :yes"
        ),
        {"read": READ_KEY, "manage": MANAGE_KEY, "yes": True},
    )
    _roles(remove=True)


def downgrade() -> None:
    _roles(remove=False)
    bind = op.get_bind()
    for table in ("user_permissions", "role_permissions"):
        bind.execute(sa.text(f"DELETE FROM {table} WHERE permission_key = :key"), {"key": READ_KEY})  # noqa: S608
    bind.execute(sa.text("DELETE FROM permissions WHERE key = :key"), {"key": READ_KEY})
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_api_tokens_user_id_created_at")
        batch_op.drop_index(batch_op.f("ix_api_tokens_parent_token_id"))
        batch_op.drop_constraint(batch_op.f("fk_api_tokens_parent_token_id_api_tokens"), type_="foreignkey")
        batch_op.drop_column("depth")
        batch_op.drop_column("parent_token_id")
