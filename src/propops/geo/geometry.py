"""Coverage geometry: circles around a base point, GeoJSON in and out, bbox grid cells, distance.

Geometries are Shapely objects in lon/lat (x = longitude, y = latitude), the GeoJSON order.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
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

# Grid used by contractor_coverage_cells: 0.1 degrees of latitude by 0.15 of longitude (about
# 11 x 10 km in Great Britain). Fine enough that most of a typical area's cells lie wholly inside
# it (no exact test), coarse enough that a 50 km circle is about a hundred rows. Changing it needs
# a migration that rebuilds the cells (see 0007).
CELL_LAT = 0.1
CELL_LON = 0.15
_CELL_STRIDE = 10_000
# Cells are widened by this much (degrees, ~0.1 mm) on every side before they are tested against a
# coverage area, so a point that floating-point rounding puts a hair outside its nominal cell is
# still decided exactly (interior flags err towards "not interior", clips towards "larger").
CELL_EPS = 1e-9


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


def cell_of(lat: float, lon: float, cell_lat: float = CELL_LAT, cell_lon: float = CELL_LON) -> int:
    """Grid cell id of a point: row * stride + column, stable across databases."""
    return int(math.floor(lat / cell_lat)) * _CELL_STRIDE + int(math.floor((lon + 180.0) / cell_lon))


@dataclass(frozen=True)
class CellPart:
    """The part of a coverage area inside one grid cell.

    ``interior``: the whole cell lies inside the area, so any point of the cell is covered.
    Otherwise ``wkb`` is the area clipped to the cell: for a point of this cell, "inside the clip"
    is exactly "inside the area", and the clip has a handful of vertices where the area may have
    thousands. The bbox is the clip's (the cell's for interior parts), widened by ``CELL_EPS``: a
    cheap SQL pre-filter that never drops a covered point.
    """

    cell: int
    interior: bool
    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float
    wkb: bytes | None


def grid_cells(geom: BaseGeometry, cell_lat: float = CELL_LAT, cell_lon: float = CELL_LON) -> list[CellPart]:
    """Every grid cell the geometry touches, with its interior flag, clip and clip bbox.

    Vectorised over the bbox's cells, so a 50k-contractor import stays in minutes. The cell sizes
    are parameters so that migrations can rebuild a grid of a given size.
    """
    if geom.is_empty:
        return []
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    r0, r1 = math.floor(min_lat / cell_lat), math.floor(max_lat / cell_lat)
    c0, c1 = math.floor((min_lon + 180.0) / cell_lon), math.floor((max_lon + 180.0) / cell_lon)
    grid_rows, grid_cols = np.meshgrid(np.arange(r0, r1 + 1), np.arange(c0, c1 + 1), indexing="ij")
    rows, cols = grid_rows.ravel(), grid_cols.ravel()
    x0, y0 = cols * cell_lon - 180.0 - CELL_EPS, rows * cell_lat - CELL_EPS
    x1, y1 = x0 + cell_lon + 2 * CELL_EPS, y0 + cell_lat + 2 * CELL_EPS
    boxes = shapely.box(x0, y0, x1, y1)
    shapely.prepare(geom)
    touches = shapely.intersects(geom, boxes)
    inside = shapely.contains(geom, boxes)
    ids = rows * _CELL_STRIDE + cols
    edge = np.nonzero(touches & ~inside)[0]
    clips = shapely.intersection(geom, boxes[edge]) if len(edge) else np.array([], dtype=object)
    clip_wkb = shapely.to_wkb(clips) if len(edge) else []
    clip_bounds = shapely.bounds(clips) if len(edge) else np.empty((0, 4))
    by_index = {int(k): (w, b) for k, w, b in zip(edge, clip_wkb, clip_bounds, strict=True)}
    out = []
    for k in np.nonzero(touches)[0].tolist():
        part = by_index.get(k)
        if part is None:
            out.append(CellPart(int(ids[k]), True, float(y0[k]), float(y1[k]), float(x0[k]), float(x1[k]), None))
        else:
            wkb, (bx0, by0, bx1, by1) = part
            out.append(
                CellPart(
                    int(ids[k]),
                    False,
                    float(by0) - CELL_EPS,
                    float(by1) + CELL_EPS,
                    float(bx0) - CELL_EPS,
                    float(bx1) + CELL_EPS,
                    bytes(wkb),
                )
            )
    return out


def cells_for(geom: BaseGeometry) -> list[tuple[int, bool]]:
    """Every grid cell the geometry touches, flagged when the cell lies wholly inside it."""
    return [(p.cell, p.interior) for p in grid_cells(geom)]
