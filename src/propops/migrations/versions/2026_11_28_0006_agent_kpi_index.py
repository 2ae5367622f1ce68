"""Agent KPIs: a covering index on jobs for GET /api/agents/performance.

``ix_jobs_agent_kpi`` holds every column the KPI aggregate reads (agent_id, reported_at for the
date range, status_id and completed_at for "completed", branch_id for the caller's visibility, id
for the recalls join), so each agent's jobs are one index-only range scan instead of one heap page
per job. At 1,000,000 jobs the all-agents page of 50 went from a sequential scan of the table
(~1.5 s) to index-only scans (see bench/jobs_scale.py). Plain key columns, no INCLUDE: the same
index serves SQLite (a covering index there too) and PostgreSQL.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["agent_id", "reported_at", "status_id", "completed_at", "branch_id", "id"]


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_agent_kpi", COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_agent_kpi")
