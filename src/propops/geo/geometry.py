"""Coverage geometry: circles around a base point, GeoJSON in and out, bbox grid cells, distance.

Geometries are Shapely objects in lon/lat (x = longitude, y = latitude), the GeoJSON order.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

from propops.core.errors import InvalidInput

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEG_LAT = 111.32
# Generous UK envelope (includes Shetland, Scilly and Northern Ireland) for sanity checks.
UK_BOUNDS = (-9.5, 49.0, 2.5, 61.5)  # min lon, min lat, max lon, max lat
MAX_DRAWN_VERTICES = 5000
CIRCLE_SEGMENTS = 64

# Grid used by contractor_coverage_cells: 0.2 degrees of latitude by 0.3 of longitude (about
# 22 x 20 km in Great Britain), so a typical coverage area touches a few dozen cells at most.
CELL_LAT = 0.2
CELL_LON = 0.3
_CELL_STRIDE = 10_000


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance: what "straight line from the base" means."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def haversine_km_many(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Vectorised haversine from one point to many (used on the candidate set)."""
    p1, p2 = math.radians(lat), np.radians(lats)
    dp, dl = p2 - p1, np.radians(lons - lon)
    a = np.sin(dp / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))  # type: ignore[no-any-return]


def circle(lat: float, lon: float, radius_km: float, segments: int = CIRCLE_SEGMENTS) -> Polygon:
    """A geodesic circle (destination-point formula per vertex), counter-clockwise as RFC 7946 wants."""
    d = radius_km / EARTH_RADIUS_KM
    p1, l1 = math.radians(lat), math.radians(lon)
    # Bearings run clockwise from north; walking them backwards gives a counter-clockwise ring.
    brg = -2 * np.pi * np.arange(segments) / segments
    p2 = np.arcsin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * np.cos(brg))
    l2 = l1 + np.arctan2(np.sin(brg) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * np.sin(p2))
    return Polygon(np.round(np.column_stack([np.degrees(l2), np.degrees(p2)]), 6))


def normalise_geometry(geom: BaseGeometry) -> Polygon | MultiPolygon:
    """Valid, counter-clockwise exterior rings (RFC 7946), Polygon or MultiPolygon only."""
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    if isinstance(geom, shapely.GeometryCollection) and not isinstance(geom, MultiPolygon):
        polys = [g for g in geom.geoms if isinstance(g, Polygon | MultiPolygon)]
        geom = shapely.union_all(polys) if polys else Polygon()
    if isinstance(geom, Polygon):
        return orient(geom, 1.0)
    if isinstance(geom, MultiPolygon):
        return MultiPolygon([orient(p, 1.0) for p in geom.geoms])
    raise InvalidInput.field("coverage.geometry", "must be a Polygon or MultiPolygon")


def parse_drawn(raw: Any) -> Polygon | MultiPolygon:
    """Validate an admin-drawn GeoJSON geometry (or Feature): type, numbers, lon/lat inside the UK."""
    field = "coverage.geometry"
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise InvalidInput.field(field, "is not valid JSON") from None
    if isinstance(raw, dict) and raw.get("type") == "Feature":
        raw = raw.get("geometry")
    if not isinstance(raw, dict) or raw.get("type") not in ("Polygon", "MultiPolygon"):
        raise InvalidInput.field(field, "must be a GeoJSON Polygon or MultiPolygon")
    coords = raw.get("coordinates")
    flat = list(_flatten(coords, 0))
    if len(flat) > MAX_DRAWN_VERTICES:
        raise InvalidInput.field(field, f"has too many vertices (at most {MAX_DRAWN_VERTICES})")
    min_lon, min_lat, max_lon, max_lat = UK_BOUNDS
    for lon, lat in flat:
        if not (min_lon <= lon <= max_lon and min_lat <= lat <= max_lat):
            raise InvalidInput.field(field, "coordinates must be [longitude, latitude] pairs inside the United Kingdom")
    try:
        geom = shape(raw)
    except Exception:  # noqa: BLE001 - any Shapely construction error is bad input
        raise InvalidInput.field(field, "is not a valid polygon (each ring needs at least 4 positions)") from None
    out = normalise_geometry(geom)
    if out.is_empty or out.area == 0:
        raise InvalidInput.field(field, "encloses no area")
    return out


def _flatten(node: Any, depth: int) -> Iterable[tuple[float, float]]:
    if depth > 4 or not isinstance(node, list) or not node:
        raise InvalidInput.field("coverage.geometry", "has malformed coordinates")
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in node):
        if len(node) < 2 or not all(math.isfinite(v) for v in node):
            raise InvalidInput.field("coverage.geometry", "has a position that is not [longitude, latitude]")
        yield float(node[0]), float(node[1])
        return
    for child in node:
        yield from _flatten(child, depth + 1)


def to_geojson(geom: Polygon | MultiPolygon) -> dict[str, Any]:
    """GeoJSON with closed rings and lon/lat at 6 decimal places (about 0.1 m)."""
    rounded = shapely.set_precision(geom, 1e-6) if geom.area > 1e-10 else geom
    if not isinstance(rounded, Polygon | MultiPolygon) or rounded.is_empty:
        rounded = geom
    return dict(mapping(normalise_geometry(rounded)))


def to_wkb(geom: BaseGeometry) -> bytes:
    return shapely.to_wkb(geom)  # type: ignore[no-any-return]


def cell_of(lat: float, lon: float) -> int:
    """Grid cell id of a point: row * stride + column, stable across databases."""
    return int(math.floor(lat / CELL_LAT)) * _CELL_STRIDE + int(math.floor((lon + 180.0) / CELL_LON))


def cells_for(geom: BaseGeometry) -> list[tuple[int, bool]]:
    """Every grid cell the geometry touches, flagged when the cell lies wholly inside it.

    Vectorised over the bbox's cells, so a 50k-contractor import stays in seconds.
    """
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    r0, r1 = math.floor(min_lat / CELL_LAT), math.floor(max_lat / CELL_LAT)
    c0, c1 = math.floor((min_lon + 180.0) / CELL_LON), math.floor((max_lon + 180.0) / CELL_LON)
    grid_rows, grid_cols = np.meshgrid(np.arange(r0, r1 + 1), np.arange(c0, c1 + 1), indexing="ij")
    rows, cols = grid_rows.ravel(), grid_cols.ravel()
    x0, y0 = cols * CELL_LON - 180.0, rows * CELL_LAT
    boxes = shapely.box(x0, y0, x0 + CELL_LON, y0 + CELL_LAT)
    shapely.prepare(geom)
    touches = shapely.intersects(geom, boxes)
    inside = shapely.contains(geom, boxes)
    ids = rows * _CELL_STRIDE + cols
    return [(int(i), bool(inn)) for i, t, inn in zip(ids, touches, inside, strict=True) if t]
