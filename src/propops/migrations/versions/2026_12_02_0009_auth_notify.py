"""Auth change notices: ``NOTIFY propops_auth`` when users, tokens or the permissions epoch change.

Each server process caches token lookups (``propops.infra.token_cache``) and drops the cache on this
notice, so a logout, a revoked session, a disabled account or a changed permission is seen by every
process, whichever process, host or psql session made the change. Statement-level triggers: one
notice per statement (PostgreSQL also folds identical notices of one transaction into one), sent
when the transaction commits and not at all if it rolls back. PostgreSQL only: SQLite has no
notifications, and the cache is off there.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> the writes that can change a token lookup (a new token or user is looked up fresh).
TRIGGERS = {
    "users": "UPDATE OR DELETE OR TRUNCATE",
    "api_tokens": "UPDATE OR DELETE OR TRUNCATE",
    "system_state": "INSERT OR UPDATE OR DELETE OR TRUNCATE",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION propops_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('propops_auth', TG_TABLE_NAME);
            RETURN NULL;
        END
        $$
        """
    )
    for table, events in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER trg_{table}_auth_changed AFTER {events} ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION propops_auth_changed()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_auth_changed ON {table}")
    op.execute("DROP FUNCTION IF EXISTS propops_auth_changed()")
