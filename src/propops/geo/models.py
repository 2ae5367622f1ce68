"""Unit-level postcode table, filled by ``propops geo import-nspl`` from the ONS NSPL/ONSPD."""

from __future__ import annotations

from sqlalchemy import Boolean, Float, String
from sqlalchemy.orm import Mapped, mapped_column

from propops.core.db import Base


class Postcode(Base):
    __tablename__ = "geo_postcodes"
    # Normalised "SW1A 1AA" form, so lookups are one primary-key probe.
    postcode: Mapped[str] = mapped_column(String(8), primary_key=True)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    terminated: Mapped[bool] = mapped_column(Boolean, default=False)
