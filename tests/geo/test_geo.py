"""Postcode parsing, offline/HTTP geocoding, NSPL import, isochrone providers against stand-ins."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import Point, shape
from typer.testing import CliRunner

from propops.core.db import Database
from propops.core.errors import InvalidInput, ServiceUnavailable
from propops.core.migrate import upgrade_async
from propops.geo.geocoder import HttpGeocoder, OfflineGeocoder, centroid_tables, geocode
from propops.geo.geometry import cell_of, cells_for, circle, haversine_km, parse_drawn
from propops.geo.isochrone import (
    EstimatedIsochrone,
    FallbackIsochrone,
    IsochroneError,
    MapboxIsochrone,
    OpenRouteServiceIsochrone,
)
from propops.geo.nspl import import_nspl
from propops.geo.postcodes import UnknownPostcode, parse_postcode
from propops.infra.executor import Executor
from tests.conftest import create_database
from tests.geo.standin import standin

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "propops" / "geo" / "data" / "gb_postcodes_sample.csv"


@pytest.mark.parametrize(
    ("raw", "kind", "text"),
    [
        ("sw1a1aa", "unit", "SW1A 1AA"),
        ("  SW1A   1AA ", "unit", "SW1A 1AA"),
        ("m1 1ae", "unit", "M1 1AE"),
        ("EC2R 8AH", "unit", "EC2R 8AH"),
        ("SW1A 1", "sector", "SW1A 1"),
        ("b1", "district", "B1"),
        ("M11", "district", "M11"),
        ("EH99", "district", "EH99"),
    ],
)
def test_parse_valid(raw: str, kind: str, text: str) -> None:
    p = parse_postcode(raw)
    assert p.kind == kind
    assert p.text == text


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("SW1A-1AA", "letters, digits"),
        ("<script>", "letters, digits"),
        ("12345", "not a UK postcode"),
        ("SW1A 1AAA", "not a UK postcode"),
        ("SW1A 1AI", "never use"),
        ("X" * 40, "too long"),
    ],
)
def test_parse_invalid_says_what_is_wrong(raw: str, says: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_postcode(raw)
    assert says in exc.value.message
    assert exc.value.errors[0]["field"] == "postcode"
    assert not isinstance(exc.value, UnknownPostcode)


def test_parse_wrong_type() -> None:
    with pytest.raises(InvalidInput, match="string"):
        parse_postcode(123)


async def test_offline_precision_and_unknown() -> None:
    g = OfflineGeocoder(None)
    sector = await geocode(g, "SW1A 1AA")
    assert sector.precision == "sector"
    assert sector.postcode == "SW1A 1AA"
    district = await geocode(g, "SW1A 9ZZ")  # no such sector: falls back to the district
    assert district.precision == "district"
    assert haversine_km(district.latitude, district.longitude, 51.50189, -0.13250) < 0.01
    assert (await geocode(g, "M1")).precision == "district"
    assert (await geocode(g, "BT1 1")).precision == "sector"  # NI loaded by default
    with pytest.raises(UnknownPostcode, match="not in the postcode data"):
        await geocode(g, "ZZ9 9ZZ")
    with pytest.raises(UnknownPostcode):
        await geocode(g, "W1")  # terminated district
    assert "BT1" not in centroid_tables(False).districts
    with pytest.raises(UnknownPostcode):
        await geocode(OfflineGeocoder(None, include_ni=False), "BT1 1AA")


def test_shipped_data_counts() -> None:
    t = centroid_tables(True)
    assert len(t.districts) == 2881 + 81
    assert len(t.sectors) == 10938 + 254


async def test_nspl_import_unit_precision(tmp_path: Path) -> None:
    url, drop = await create_database(tmp_path)
    await upgrade_async(url)
    db = Database(url)
    try:
        result = await import_nspl(db, SAMPLE)
        assert result.imported == 3014
        assert result.skipped == 0
        g = OfflineGeocoder(Executor(db.engine, None))
        with SAMPLE.open() as fh:
            rows = list(csv.DictReader(fh))[:50]
        for row in rows:
            p = await geocode(g, row["postcode"].lower().replace(" ", ""))
            assert p.precision == "unit"
            assert p.source == "nspl"
            assert (p.latitude, p.longitude) == (float(row["latitude"]), float(row["longitude"]))
        # NSPL-style columns, junk rows skipped, re-import replaces.
        nspl = tmp_path / "nspl.csv"
        nspl.write_text(
            "pcd,pcds,doterm,lat,long\n"
            "AB1 0AA,AB1 0AA,199606,57.101474,-2.242851\n"
            "ZZ99 3WZ,ZZ99 3WZ,,99.999999,0.000000\n"
            "NPT 1AA,NPT 1AA,,51.5,-3.0\n"
            "SW1A1AA,SW1A 1AA,,51.501009,-0.141588\n"
        )
        result = await import_nspl(db, nspl)
        assert (result.imported, result.skipped) == (2, 2)
        assert (await geocode(g, "SW1A 1AA")).precision == "unit"
        assert (await geocode(g, rows[0]["postcode"])).precision != "unit"
        bad = tmp_path / "bad.csv"
        bad.write_text("foo,bar\n1,2\n")
        with pytest.raises(ValueError, match="no column"):
            await import_nspl(db, bad)
        assert (await geocode(g, "SW1A 1AA")).precision == "unit"  # failed import changed nothing
    finally:
        await db.dispose()
        await drop()


async def test_cli_import_nspl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url, drop = await create_database(tmp_path)
    await upgrade_async(url)
    try:
        from propops.cli import app
        from propops.core.settings import get_settings

        monkeypatch.setenv("PROPOPS_DATABASE_URL", url)
        get_settings.cache_clear()
        # The CLI runs its own event loop, so run it in a worker thread.
        import asyncio

        out = await asyncio.to_thread(CliRunner().invoke, app, ["geo", "import-nspl", str(SAMPLE)])
        assert out.exit_code == 0, out.output
        assert "Imported 3014 postcodes" in out.output
        missing = await asyncio.to_thread(CliRunner().invoke, app, ["geo", "import-nspl", str(tmp_path / "nope.csv")])
        assert missing.exit_code == 2
    finally:
        get_settings.cache_clear()
        await drop()


def _postcodes_io(method: str, path: str, query: Any, body: Any) -> tuple[int, Any]:
    if path == "/postcodes/SW1A 1AA" or path == "/postcodes/SW1A%201AA":
        return 200, {"status": 200, "result": {"postcode": "SW1A 1AA", "latitude": 51.501009, "longitude": -0.141588}}
    if path == "/postcodes/EC1A 1BB" or path == "/postcodes/EC1A%201BB":
        return 200, {"status": 200, "result": {"postcode": "EC1A 1BB", "latitude": None, "longitude": None}}
    if path == "/outcodes/M1":
        return 200, {"status": 200, "result": {"outcode": "M1", "latitude": 53.4791, "longitude": -2.2376}}
    if path.startswith("/postcodes/BROKEN") or path.startswith("/outcodes/B1"):
        return 500, {"status": 500, "error": "boom"}
    return 404, {"status": 404, "error": "Postcode not found"}


async def test_http_geocoder_against_standin() -> None:
    with standin(_postcodes_io) as (url, seen):
        g = HttpGeocoder(url, OfflineGeocoder(None), timeout=2)
        p = await geocode(g, "sw1a1aa")
        assert (p.precision, p.source, p.latitude) == ("unit", "http", 51.501009)
        assert (await geocode(g, "M1")).source == "http"
        with pytest.raises(UnknownPostcode):
            await geocode(g, "ZZ9 9ZZ")  # the service's 404 is an answer
        assert (await geocode(g, "EC1A 1BB")).source == "ons-centroids"  # null coordinates
        assert (await geocode(g, "B1")).source == "ons-centroids"  # 500 -> offline fallback
        assert (await geocode(g, "SW1A 1")).source == "ons-centroids"  # sectors are offline only
        assert any(r["path"].startswith("/postcodes/SW1A") for r in seen)
    g = HttpGeocoder("http://127.0.0.1:8299", OfflineGeocoder(None), timeout=0.5)
    assert (await geocode(g, "SW1A 1AA")).source == "ons-centroids"  # nothing listening


RING = [[-0.2, 51.45], [-0.05, 51.45], [-0.05, 51.55], [-0.2, 51.55], [-0.2, 51.45]]


def _mapbox(method: str, path: str, query: Any, body: Any) -> tuple[int, Any]:
    if query.get("access_token") != ["good"]:
        return 401, {"message": "Not Authorized - Invalid Token"}
    assert path.startswith("/isochrone/v1/mapbox/driving/")
    assert query["polygons"] == ["true"]
    assert query["contours_minutes"] == ["30"]
    return 200, {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"contour": 30, "metric": "time", "color": "#bf4040"},
                "geometry": {"type": "Polygon", "coordinates": [RING]},
            }
        ],
    }


def _ors(method: str, path: str, query: Any, body: Any) -> tuple[int, Any]:
    if path != "/v2/isochrones/driving-car":
        return 404, {"error": {"code": 2099, "message": "profile not found"}}
    assert body["range"] == [1800]
    assert body["range_type"] == "time"
    lon, lat = body["locations"][0]
    return 200, {
        "type": "FeatureCollection",
        "bbox": [-0.2, 51.45, -0.05, 51.55],
        "features": [
            {
                "type": "Feature",
                "properties": {"group_index": 0, "value": 1800.0, "center": [lon, lat]},
                "geometry": {"type": "Polygon", "coordinates": [RING]},
            }
        ],
        "metadata": {"service": "isochrones"},
    }


async def test_mapbox_client() -> None:
    with standin(_mapbox) as (url, seen):
        iso = await MapboxIsochrone("good", url).isochrone(51.5, -0.13, 30, "driving")
        assert iso.estimated is False
        assert iso.provider == "mapbox"
        assert iso.geometry.contains(Point(-0.13, 51.5))
        assert "-0.130000,51.500000" in seen[0]["path"]  # lon,lat order in the URL
        with pytest.raises(IsochroneError, match="Invalid Token"):
            await MapboxIsochrone("bad", url).isochrone(51.5, -0.13, 30, "driving")


async def test_ors_client() -> None:
    with standin(_ors) as (url, seen):
        iso = await OpenRouteServiceIsochrone("key123", url).isochrone(51.5, -0.13, 30, "driving")
        assert iso.estimated is False
        assert iso.geometry.contains(Point(-0.13, 51.5))
        assert seen[0]["headers"]["Authorization"] == "key123"
        assert seen[0]["body"]["locations"] == [[-0.13, 51.5]]
        with pytest.raises(IsochroneError, match="profile not found"):
            await OpenRouteServiceIsochrone("k", url).isochrone(51.5, -0.13, 30, "walking")


async def test_garbage_responses_and_fallback() -> None:
    def junk(method: str, path: str, query: Any, body: Any) -> tuple[int, Any]:
        return 200, b"not json" if "isochrone/v1" in path else {"type": "FeatureCollection", "features": []}

    with standin(junk) as (url, _):
        for client in (MapboxIsochrone("t", url, timeout=2), OpenRouteServiceIsochrone("k", url, timeout=2)):
            with pytest.raises(IsochroneError):
                await client.isochrone(51.5, -0.13, 30, "driving")
            est = await FallbackIsochrone(client, "estimate").isochrone(51.5, -0.13, 30, "driving")
            assert est.estimated is True
            with pytest.raises(ServiceUnavailable, match="nothing was saved"):
                await FallbackIsochrone(client, "error").isochrone(51.5, -0.13, 30, "driving")


def test_estimate_is_speed_times_minutes() -> None:
    iso = EstimatedIsochrone().compute(52.0, -1.0, 30, "driving")
    x, y = iso.geometry.exterior.coords[0]
    assert abs(haversine_km(52.0, -1.0, y, x) - 20.0) < 0.05
    assert iso.estimated


def test_circle_and_cells() -> None:
    c = circle(55.95, -3.19, 10)
    assert c.exterior.is_ccw
    assert c.is_valid
    assert c.exterior.coords[0] == c.exterior.coords[-1]
    cells = cells_for(c)
    assert cell_of(55.95, -3.19) in {cid for cid, _ in cells}
    big = cells_for(circle(52.0, -1.0, 60))
    assert any(inside for _, inside in big)
    assert not all(inside for _, inside in big)


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "Point", "coordinates": [0, 51]},
        {"type": "Polygon", "coordinates": [[[51.5, -0.1], [51.6, -0.1], [51.6, 0.0], [51.5, -0.1]]]},  # lat/lon
        {"type": "Polygon", "coordinates": [[[-0.1, 51.5], [-0.1, 51.6]]]},
        {"type": "Polygon", "coordinates": "abc"},
        {"type": "Polygon", "coordinates": [[["a", "b"], [1, 2], [3, 4], [5, 6]]]},
        {"type": "Polygon", "coordinates": [[[-0.1, 51.5], [-0.1, 51.5], [-0.1, 51.5], [-0.1, 51.5]]]},
        "not json",
        [1, 2, 3],
    ],
)
def test_drawn_rejects_bad_geojson(bad: Any) -> None:
    with pytest.raises(InvalidInput):
        parse_drawn(bad)


def test_drawn_accepts_feature_and_fixes_orientation() -> None:
    cw = [[-0.2, 51.45], [-0.2, 51.55], [-0.05, 51.55], [-0.05, 51.45], [-0.2, 51.45]]
    geom = parse_drawn({"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [cw]}})
    assert geom.exterior.is_ccw  # type: ignore[union-attr]
    bowtie = [[-0.2, 51.45], [-0.05, 51.55], [-0.05, 51.45], [-0.2, 51.55], [-0.2, 51.45]]
    fixed = parse_drawn({"type": "Polygon", "coordinates": [bowtie]})
    assert fixed.is_valid
    assert shape(fixed.__geo_interface__).area > 0
