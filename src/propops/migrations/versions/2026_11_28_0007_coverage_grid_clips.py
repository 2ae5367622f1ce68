"""Coverage grid v2: a finer grid (0.1 x 0.15 degrees) whose rows carry the clip of the area to the
cell, the clip's bbox, and copies of the contractor's active flag and base point, so "who covers
this postcode" reads one index range of this table and never a whole polygon. The table is
rebuilt and refilled from ``contractors.coverage_wkb`` for every existing contractor (downgrade
rebuilds the 0.2 x 0.3 grid of 0003 the same way).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import shapely
import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "contractor_coverage_cells"
# The grid sizes are pinned here: later code may change its defaults, this revision must not.
NEW_GRID = (0.1, 0.15)
OLD_GRID = (0.2, 0.3)
BATCH = 500


def _contractors() -> Iterator[list[Any]]:
    """Contractors with a stored area, in batches of ids (keyset), so memory stays flat."""
    bind = op.get_bind()
    last = 0
    while True:
        rows = list(
            bind.execute(
                sa.text(
                    "SELECT id, is_active, base_latitude, base_longitude, coverage_wkb FROM contractors "
                    "WHERE coverage_wkb IS NOT NULL AND id > :last ORDER BY id LIMIT :n"
                ),
                {"last": last, "n": BATCH},
            )
        )
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _cells_table(new: bool) -> sa.Table:
    cols: list[Any] = [
        sa.Column("cell", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("contractor_id", sa.Integer(), nullable=False),
        sa.Column("interior", sa.Boolean(), nullable=False),
    ]
    if new:
        cols += [
            sa.Column("active", sa.Boolean(), nullable=False),
            sa.Column("base_latitude", sa.Float(), nullable=True),
            sa.Column("base_longitude", sa.Float(), nullable=True),
            sa.Column("min_lat", sa.Float(), nullable=False),
            sa.Column("max_lat", sa.Float(), nullable=False),
            sa.Column("min_lon", sa.Float(), nullable=False),
            sa.Column("max_lon", sa.Float(), nullable=False),
            sa.Column("shape_wkb", sa.LargeBinary(), nullable=True),
        ]
    kwargs = {"sqlite_with_rowid": False} if new else {}
    return op.create_table(
        TABLE,
        *cols,
        sa.ForeignKeyConstraint(
            ["contractor_id"],
            ["contractors.id"],
            name=op.f("fk_contractor_coverage_cells_contractor_id_contractors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("cell", "contractor_id", name=op.f("pk_contractor_coverage_cells")),
        **kwargs,
    )


def _drop_cells() -> None:
    op.drop_index(op.f("ix_contractor_coverage_cells_contractor_id"), table_name=TABLE)
    op.drop_table(TABLE)


def _fill(table: sa.Table, new: bool) -> None:
    from propops.geo.geometry import grid_cells

    cell_lat, cell_lon = NEW_GRID if new else OLD_GRID
    bind = op.get_bind()
    for batch in _contractors():
        rows: list[dict[str, Any]] = []
        for cid, active, lat, lon, wkb in batch:
            geom = shapely.from_wkb(bytes(wkb))
            for p in grid_cells(geom, cell_lat, cell_lon):
                row: dict[str, Any] = {"cell": p.cell, "contractor_id": cid, "interior": p.interior}
                if new:
                    row.update(
                        active=bool(active),
                        base_latitude=lat,
                        base_longitude=lon,
                        min_lat=p.min_lat,
                        max_lat=p.max_lat,
                        min_lon=p.min_lon,
                        max_lon=p.max_lon,
                        shape_wkb=p.wkb,
                    )
                rows.append(row)
        if rows:
            bind.execute(table.insert(), rows)


def upgrade() -> None:
    _drop_cells()
    table = _cells_table(new=True)
    op.create_index(op.f("ix_contractor_coverage_cells_contractor_id"), TABLE, ["contractor_id"], unique=False)
    _fill(table, new=True)
    if op.get_bind().dialect.name == "postgresql":
        # One point's rows on a few pages (SQLite's WITHOUT ROWID table is in key order anyway).
        op.execute("CLUSTER contractor_coverage_cells USING pk_contractor_coverage_cells")


def downgrade() -> None:
    _drop_cells()
    table = _cells_table(new=False)
    op.create_index(op.f("ix_contractor_coverage_cells_contractor_id"), TABLE, ["contractor_id"], unique=False)
    _fill(table, new=False)
