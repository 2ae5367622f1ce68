"""Travel-time areas (isochrones) behind one interface.

* ``MapboxIsochrone``: Mapbox Isochrone API v1
  (``GET /isochrone/v1/mapbox/{profile}/{lon},{lat}?contours_minutes=..&polygons=true``).
* ``OpenRouteServiceIsochrone``: ORS v2 (``POST /v2/isochrones/{profile}``, range in seconds).
* ``EstimatedIsochrone``: offline, a circle of radius speed x minutes, flagged ``estimated``.

``FallbackIsochrone`` wraps a routing provider: on any provider failure it returns the estimate
(or raises a clear 503 when configured to), so saving a contractor never half-happens.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx
from shapely.geometry import MultiPolygon, Polygon, shape

from propops.core.errors import ServiceUnavailable
from propops.geo.geometry import circle, normalise_geometry

log = logging.getLogger("propops.geo")

Profile = Literal["driving", "cycling", "walking"]
PROFILES: tuple[str, ...] = ("driving", "cycling", "walking")
# Straight-line equivalents of road speeds, deliberately conservative (detours, junctions, towns).
ESTIMATE_SPEED_KMH: dict[str, float] = {"driving": 40.0, "cycling": 14.0, "walking": 4.5}
MAX_MINUTES = 60  # Mapbox's limit for contours_minutes; ORS allows one hour on the public API too.


class IsochroneError(Exception):
    """The provider could not produce an area (network, HTTP status, or unreadable body)."""


@dataclass(frozen=True)
class Isochrone:
    geometry: Polygon | MultiPolygon
    estimated: bool
    provider: str


class IsochroneProvider(Protocol):
    name: str

    async def isochrone(self, lat: float, lon: float, minutes: int, profile: str) -> Isochrone:
        """The area reachable from (lat, lon) within ``minutes`` by ``profile``."""
        ...


def _first_polygon(body: Any, provider: str) -> Polygon | MultiPolygon:
    """Both APIs answer with a GeoJSON FeatureCollection; take the (single) contour's polygon."""
    try:
        features = body["features"]
        geoms = [shape(f["geometry"]) for f in features if f.get("geometry")]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise IsochroneError(f"{provider}: unexpected response shape ({exc})") from exc
    polys = [g for g in geoms if isinstance(g, Polygon | MultiPolygon) and not g.is_empty]
    if not polys:
        raise IsochroneError(f"{provider}: response has no polygon (was polygons=true honoured?)")
    # Several contours: the largest one is the requested limit.
    return normalise_geometry(max(polys, key=lambda g: g.area))


class EstimatedIsochrone:
    name = "estimate"

    async def isochrone(self, lat: float, lon: float, minutes: int, profile: str) -> Isochrone:
        return self.compute(lat, lon, minutes, profile)

    def compute(self, lat: float, lon: float, minutes: int, profile: str) -> Isochrone:
        """Synchronous form for the demo seeder and the benchmark generator."""
        radius = ESTIMATE_SPEED_KMH.get(profile, ESTIMATE_SPEED_KMH["driving"]) * minutes / 60.0
        return Isochrone(circle(lat, lon, radius), estimated=True, provider=self.name)


class MapboxIsochrone:
    name = "mapbox"
    _PROFILES = {"driving": "driving", "cycling": "cycling", "walking": "walking"}

    def __init__(self, token: str, base_url: str = "https://api.mapbox.com", timeout: float = 10.0) -> None:
        self.token = token
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    async def isochrone(self, lat: float, lon: float, minutes: int, profile: str) -> Isochrone:
        url = f"{self.base_url}/isochrone/v1/mapbox/{self._PROFILES.get(profile, 'driving')}/{lon:.6f},{lat:.6f}"
        params = {"contours_minutes": str(minutes), "polygons": "true", "access_token": self.token}
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                resp = await client.get(url, params=params)
        except httpx.HTTPError as exc:
            raise IsochroneError(f"mapbox: {exc.__class__.__name__}") from exc
        if resp.status_code != 200:
            raise IsochroneError(f"mapbox: HTTP {resp.status_code}: {_message(resp)}")
        return Isochrone(_first_polygon(_json(resp, "mapbox"), "mapbox"), estimated=False, provider=self.name)


class OpenRouteServiceIsochrone:
    name = "openrouteservice"
    _PROFILES = {"driving": "driving-car", "cycling": "cycling-regular", "walking": "foot-walking"}

    def __init__(self, api_key: str, base_url: str = "https://api.openrouteservice.org", timeout: float = 10.0) -> None:
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    async def isochrone(self, lat: float, lon: float, minutes: int, profile: str) -> Isochrone:
        url = f"{self.base_url}/v2/isochrones/{self._PROFILES.get(profile, 'driving-car')}"
        body = {"locations": [[lon, lat]], "range": [minutes * 60], "range_type": "time"}
        headers = {"Authorization": self.api_key, "Accept": "application/geo+json, application/json"}
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                resp = await client.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise IsochroneError(f"openrouteservice: {exc.__class__.__name__}") from exc
        if resp.status_code != 200:
            raise IsochroneError(f"openrouteservice: HTTP {resp.status_code}: {_message(resp)}")
        geom = _first_polygon(_json(resp, "openrouteservice"), "openrouteservice")
        return Isochrone(geom, estimated=False, provider=self.name)


def _json(resp: httpx.Response, provider: str) -> Any:
    try:
        return resp.json()
    except ValueError as exc:
        raise IsochroneError(f"{provider}: response is not JSON") from exc


def _message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    if isinstance(body, dict):
        err = body.get("message") or body.get("error")
        if isinstance(err, dict):
            err = err.get("message")
        return str(err)[:200]
    return ""


class FallbackIsochrone:
    """A routing provider with a safety net: the estimate, or a clear 503."""

    def __init__(self, primary: IsochroneProvider, mode: Literal["estimate", "error"] = "estimate") -> None:
        self.primary = primary
        self.mode = mode
        self.estimate = EstimatedIsochrone()
        self.name = primary.name

    async def isochrone(self, lat: float, lon: float, minutes: int, profile: str) -> Isochrone:
        try:
            return await self.primary.isochrone(lat, lon, minutes, profile)
        except IsochroneError as exc:
            if self.mode == "error":
                raise ServiceUnavailable(
                    f"The travel-time service ({self.primary.name}) could not compute the coverage area; "
                    "nothing was saved. Retry later or use a radius."
                ) from exc
            log.warning("isochrone provider failed (%s); storing an estimate", exc)
            return self.estimate.compute(lat, lon, minutes, profile)


def make_isochrone_provider(ctx: Any) -> IsochroneProvider:
    """The app's provider from settings; a routing provider without its key is the estimate."""
    cached = ctx.extras.get("isochrone")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    s = ctx.settings
    provider: IsochroneProvider = EstimatedIsochrone()
    if s.isochrone_provider == "mapbox" and s.mapbox_token:
        provider = FallbackIsochrone(
            MapboxIsochrone(s.mapbox_token, s.mapbox_base_url, s.isochrone_timeout_seconds), s.isochrone_fallback
        )
    elif s.isochrone_provider == "openrouteservice" and s.ors_api_key:
        provider = FallbackIsochrone(
            OpenRouteServiceIsochrone(s.ors_api_key, s.ors_base_url, s.isochrone_timeout_seconds),
            s.isochrone_fallback,
        )
    ctx.extras["isochrone"] = provider
    return provider
