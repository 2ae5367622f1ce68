"""Import of the ONS postcode lookup (NSPL/ONSPD CSV) into ``geo_postcodes`` for unit precision.

Streams the file in batches (the full NSPL is ~2.7M rows) inside one transaction, so a failed
import leaves the previous table intact. Rows without a grid reference (NSPL writes lat 99.999999)
are skipped; ``doterm`` (termination date), when present, marks terminated postcodes.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, insert

from propops.core.db import Database
from propops.geo.models import Postcode
from propops.geo.postcodes import _UNIT, normalise

POSTCODE_COLUMNS = ("pcds", "pcd", "pcd2", "postcode")
LAT_COLUMNS = ("lat", "latitude")
LON_COLUMNS = ("long", "lon", "longitude")
BATCH = 5000


@dataclass
class ImportResult:
    imported: int
    skipped: int


def _pick(header: Sequence[str], names: tuple[str, ...], path: Path) -> str:
    lowered = {h.strip().lower(): h for h in header}
    for n in names:
        if n in lowered:
            return lowered[n]
    raise ValueError(f"{path.name}: no column named any of {', '.join(names)}")


async def import_nspl(db: Database, path: Path, *, include_ni: bool = True) -> ImportResult:
    """Replace ``geo_postcodes`` with the file's postcodes."""
    imported = skipped = 0
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        pc_col = _pick(header, POSTCODE_COLUMNS, path)
        lat_col, lon_col = _pick(header, LAT_COLUMNS, path), _pick(header, LON_COLUMNS, path)
        term_col = next((h for h in header if h.strip().lower() == "doterm"), None)
        async with db.sessionmaker() as session, session.begin():
            await session.execute(delete(Postcode))
            batch: list[dict[str, object]] = []
            seen: set[str] = set()
            for row in reader:
                pc = normalise(row.get(pc_col) or "")
                m = _UNIT.match(pc)
                try:
                    lat, lon = float(row[lat_col]), float(row[lon_col])
                except (TypeError, ValueError):
                    lat = lon = 99.0
                if m is None or not (49.0 <= lat <= 61.5 and -9.5 <= lon <= 2.5):
                    skipped += 1
                    continue
                pc = f"{m.group(1)} {m.group(2)}{m.group(3)}"
                if pc in seen or (not include_ni and pc.startswith("BT")):
                    skipped += 1
                    continue
                seen.add(pc)
                terminated = bool(term_col and (row.get(term_col) or "").strip())
                batch.append({"postcode": pc, "latitude": lat, "longitude": lon, "terminated": terminated})
                if len(batch) >= BATCH:
                    await session.execute(insert(Postcode), batch)
                    imported += len(batch)
                    batch = []
            if batch:
                await session.execute(insert(Postcode), batch)
                imported += len(batch)
    return ImportResult(imported, skipped)
