"""Geocoding behind one interface: offline (shipped centroids + imported NSPL units) or HTTP.

The offline geocoder needs no network: an imported unit postcode wins, then the sector centroid,
then the district centroid, and the answer says which precision it used. The HTTP geocoder asks a
postcodes.io-compatible service and falls back to the offline one when the service is unreachable.
"""

from __future__ import annotations

import csv
import logging
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Protocol, TypeGuard

import httpx
from sqlalchemy import bindparam, select

from propops.geo.models import Postcode
from propops.geo.postcodes import ParsedPostcode, Precision, UnknownPostcode, parse_postcode
from propops.infra.executor import Executor

log = logging.getLogger("propops.geo")


@dataclass(frozen=True)
class GeoPoint:
    postcode: str
    latitude: float
    longitude: float
    precision: Precision
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "postcode": self.postcode,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "precision": self.precision,
            "source": self.source,
        }


class Geocoder(Protocol):
    async def lookup(self, parsed: ParsedPostcode) -> GeoPoint | None:
        """The point for a parsed postcode, or None when the data does not know it."""
        ...


async def geocode(geocoder: Geocoder, raw: object, field: str = "postcode") -> GeoPoint:
    """Parse then look up; malformed and unknown postcodes are two different clear 400s."""
    parsed = parse_postcode(raw, field)
    point = await geocoder.lookup(parsed)
    if point is None:
        raise UnknownPostcode(parsed.text)
    return point


@dataclass(frozen=True)
class CentroidTables:
    sectors: dict[str, tuple[float, float]]
    districts: dict[str, tuple[float, float]]


def _read(name: str, key: str, into: dict[str, tuple[float, float]]) -> None:
    with resources.files("propops.geo").joinpath("data", name).open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            into[row[key]] = (float(row["latitude"]), float(row["longitude"]))


@lru_cache(maxsize=2)
def centroid_tables(include_ni: bool = True) -> CentroidTables:
    """Loaded once per process (about 14k rows, a few ms); NI rows only when enabled."""
    sectors: dict[str, tuple[float, float]] = {}
    districts: dict[str, tuple[float, float]] = {}
    _read("gb_postcode_sectors.csv", "sector", sectors)
    _read("gb_postcode_districts.csv", "outcode", districts)
    if include_ni:
        _read("ni_postcode_sectors.csv", "sector", sectors)
        _read("ni_postcode_districts.csv", "outcode", districts)
    return CentroidTables(sectors, districts)


def lookup_centroid(parsed: ParsedPostcode, include_ni: bool = True) -> GeoPoint | None:
    """Sector, then district centroid from the shipped files (synchronous; used by the seeder)."""
    tables = centroid_tables(include_ni)
    if parsed.sector and parsed.sector in tables.sectors:
        lat, lon = tables.sectors[parsed.sector]
        return GeoPoint(parsed.text, lat, lon, "sector", "ons-centroids")
    if parsed.outcode in tables.districts:
        lat, lon = tables.districts[parsed.outcode]
        return GeoPoint(parsed.text, lat, lon, "district", "ons-centroids")
    return None


_UNIT = select(Postcode.latitude, Postcode.longitude).where(Postcode.postcode == bindparam("postcode"))


class OfflineGeocoder:
    """Imported unit postcodes (``geo_postcodes``), then shipped sector and district centroids."""

    def __init__(self, executor: Executor | None, include_ni: bool = True) -> None:
        self.executor = executor  # every postcode search makes this lookup: committed-row reader
        self.include_ni = include_ni

    async def lookup(self, parsed: ParsedPostcode) -> GeoPoint | None:
        if parsed.unit and self.executor is not None:
            row = await self.executor.committed_one(_UNIT, postcode=parsed.unit)
            if row is not None:
                return GeoPoint(parsed.unit, float(row[0]), float(row[1]), "unit", "nspl")
        return lookup_centroid(parsed, self.include_ni)


class HttpGeocoder:
    """A postcodes.io-compatible service (``/postcodes/{pc}``, ``/outcodes/{out}``).

    Sectors have no endpoint there, so they and any network failure go to ``fallback``. A 404
    from the service means unknown, which is an answer, not a failure.
    """

    def __init__(self, base_url: str, fallback: Geocoder, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.fallback = fallback
        self.timeout = timeout

    async def lookup(self, parsed: ParsedPostcode) -> GeoPoint | None:
        if parsed.kind == "sector":
            return await self.fallback.lookup(parsed)
        path = f"/postcodes/{parsed.unit}" if parsed.unit else f"/outcodes/{parsed.outcode}"
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                resp = await client.get(self.base_url + path)
            if resp.status_code == 404:
                return None
            resp.raise_for_status()
            result = resp.json().get("result") or {}
            lat, lon = result.get("latitude"), result.get("longitude")
            if not _coordinate(lat, 90) or not _coordinate(lon, 180):
                # postcodes.io returns nulls for postcodes without a grid reference; anything else
                # that is not a real coordinate (booleans, NaN, off the globe) is not trusted either.
                return await self.fallback.lookup(parsed)
            precision: Precision = "unit" if parsed.unit else "district"
            return GeoPoint(parsed.text, float(lat), float(lon), precision, "http")
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            log.warning("HTTP geocoder failed for %s (%s); using offline data", parsed.text, exc)
            return await self.fallback.lookup(parsed)


def _coordinate(value: Any, bound: float) -> TypeGuard[int | float]:
    """A finite number within +-bound (bool is an int in Python, and JSON allows NaN)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and -bound <= value <= bound
    )


def make_geocoder(ctx: Any) -> Geocoder:
    """The app's geocoder, built once per app from its settings (cached on the context)."""
    cached = ctx.extras.get("geocoder")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    settings = ctx.settings
    offline = OfflineGeocoder(ctx.executor, include_ni=settings.geo_include_ni)
    geocoder: Geocoder = offline
    if settings.geocoder == "http":
        geocoder = HttpGeocoder(settings.geocoder_url, offline, settings.geocoder_timeout_seconds)
    ctx.extras["geocoder"] = geocoder
    return geocoder
