"""Jobs: a covering index for the SLA verdict per branch (``sla_status`` filter and its count).

The verdict reads status_id, sla_due_at, completed_at and sla_target_hours of every job of the
branch; without this index each count fetched one heap page per job (a 4,000-job branch: 7.5 ms on
PostgreSQL, the costliest statement of the load report). ``ix_jobs_branch_sla`` makes it one
index-only range scan (1.2 ms). Plain key columns, no INCLUDE: the same index serves SQLite.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["branch_id", "status_id", "sla_due_at", "completed_at", "sla_target_hours"]


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_branch_sla", COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_branch_sla")
