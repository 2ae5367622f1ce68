"""Contractor tables. Trades are a shared lookup (``propops.lookups.models.Trade``).

Coverage is stored three ways, each for a reason: ``coverage_geojson`` is what the API returns,
``coverage_wkb`` is the whole area for Shapely, and the bbox columns plus ``contractor_coverage_cells``
(a fixed lat/lon grid with per-cell clips) let SQL narrow "who covers this point" to one index
range with plain B-tree lookups that behave the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from propops.core.db import Base, TimestampMixin, UUIDMixin, organisation_column
from propops.lookups.models import Trade

COVERAGE_RADIUS, COVERAGE_ISOCHRONE, COVERAGE_DRAWN = "radius", "isochrone", "drawn"
COVERAGE_SOURCES = (COVERAGE_RADIUS, COVERAGE_ISOCHRONE, COVERAGE_DRAWN)


class ContractorTrade(Base):
    __tablename__ = "contractor_trades"
    contractor_id: Mapped[int] = mapped_column(ForeignKey("contractors.id", ondelete="CASCADE"), primary_key=True)
    trade_id: Mapped[int] = mapped_column(ForeignKey("trades.id"), primary_key=True, index=True)


class Contractor(UUIDMixin, TimestampMixin, Base):
    __tablename__ = "contractors"
    __table_args__ = (
        Index("ix_contractors_bbox_lat", "coverage_min_lat", "coverage_max_lat"),
        Index("ix_contractors_bbox_lon", "coverage_min_lon", "coverage_max_lon"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = organisation_column()
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True, unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    company_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    # Base location (geocoded from the base postcode).
    base_postcode: Mapped[str | None] = mapped_column(String(10), nullable=True)
    base_latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    base_longitude: Mapped[float | None] = mapped_column(Float, nullable=True)

    # Coverage settings.
    coverage_source: Mapped[str] = mapped_column(String(12), default=COVERAGE_RADIUS)
    coverage_radius_km: Mapped[float | None] = mapped_column(Float, nullable=True)
    coverage_travel_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    coverage_profile: Mapped[str | None] = mapped_column(String(20), nullable=True)

    # Computed coverage.
    coverage_geojson: Mapped[str | None] = mapped_column(Text, nullable=True)
    coverage_wkb: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    coverage_min_lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    coverage_max_lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    coverage_min_lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    coverage_max_lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    coverage_estimated: Mapped[bool] = mapped_column(Boolean, default=True)
    coverage_provider: Mapped[str | None] = mapped_column(String(30), nullable=True)
    coverage_computed_at: Mapped[datetime | None] = mapped_column(nullable=True)

    trades: Mapped[list[Trade]] = relationship(secondary="contractor_trades", order_by="Trade.name", lazy="raise")


class ContractorCoverageCell(Base):
    """One row per grid cell a contractor's coverage area touches: the "who covers this point" index.

    ``interior`` marks cells lying wholly inside the coverage area, where the exact test is skipped;
    other cells carry ``shape_wkb``, the area clipped to the cell (a few vertices), so the exact
    test never needs the contractor's whole polygon. The bbox columns are the clip's (the cell's
    when interior), a SQL pre-filter. ``active`` and the base point are copies of the contractor's
    (kept in step by ``coverage.write_cells`` and ``service.set_active``), so the postcode query
    reads this table alone: one contiguous index range per point, on SQLite (WITHOUT ROWID,
    clustered by cell) and PostgreSQL alike.
    """

    __tablename__ = "contractor_coverage_cells"
    __table_args__ = {"sqlite_with_rowid": False}
    cell: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    contractor_id: Mapped[int] = mapped_column(
        ForeignKey("contractors.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    interior: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The contractor's organisation, copied (as ``active`` is) so a search reads this table alone.
    # Nullable only so migration 0012 can add it in place (the table is WITHOUT ROWID on SQLite);
    # ``coverage.cell_rows`` always sets it.
    organisation_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    base_latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    base_longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    min_lon: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    shape_wkb: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
