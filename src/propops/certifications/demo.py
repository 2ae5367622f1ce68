"""Demo certifications for the seeded contractors: valid, expiring and expired, each with a small
real file written through the storage interface (so downloads work on a fresh demo).

Contractor_001 (ID 20) holds the seed's example file ``cert_20_5_1704873600.pdf``.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from propops.certifications.filetypes import CONTENT_TYPES
from propops.certifications.models import Certification
from propops.certifications.storage import make_storage
from propops.contractors.models import Contractor, ContractorTrade
from propops.core.clock import utcnow

if TYPE_CHECKING:
    from propops.demo import DemoContext

GAS_SAFE, NICEIC, PUBLIC_LIABILITY, OFTEC, WORK_AT_HEIGHT, ASBESTOS = 1, 2, 3, 5, 6, 8
# Days to expiry for contractor n's public liability cover (cycled): mostly valid, some not.
PL_OFFSETS = [240, 180, 25, 300, -12, 150, 7, 365, 90, -45, 200, 0]


def pdf_bytes(text: str) -> bytes:
    """A minimal, valid one-page PDF showing ``text``."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 14 Tf 72 760 Td ({safe}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def png_bytes(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (30, 120, 200)) -> bytes:
    """A small solid-colour PNG."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


async def seed(session: AsyncSession, demo: DemoContext) -> None:
    """A handful of certificates per contractor, written through the storage interface."""
    from propops.core.settings import get_settings

    settings = demo.extras.get("settings") or get_settings()
    root = Path(settings.storage_dir)
    today = date.today()
    contractors = (
        await session.execute(select(Contractor.id, Contractor.organisation_id).order_by(Contractor.id))
    ).all()
    organisation_of = {cid: org for cid, org in contractors}
    trades: dict[int, set[int]] = {}
    for cid, tid in (await session.execute(select(ContractorTrade.contractor_id, ContractorTrade.trade_id))).all():
        trades.setdefault(cid, set()).add(tid)
    base_unix = 1704873600  # the seed's example timestamp
    plan: list[tuple[int, int, int, str, str]] = []  # contractor, type, days to expiry, ext, file name
    for n, (cid, _organisation) in enumerate(contractors):
        held = trades.get(cid, set())
        plan.append((cid, PUBLIC_LIABILITY, PL_OFFSETS[n % len(PL_OFFSETS)], "pdf", ""))
        if 1 in held:
            plan.append((cid, GAS_SAFE, [400, 20, -3, 120][n % 4], "pdf", ""))
        if 3 in held:
            plan.append((cid, NICEIC, [310, -20, 28, 500][n % 4], "png", ""))
        if 4 in held:
            plan.append((cid, WORK_AT_HEIGHT, [700, 5][n % 2], "pdf", ""))
    if contractors and contractors[0][0] == 20:
        plan.append((20, OFTEC, 210, "pdf", "cert_20_5_1704873600.pdf"))
    rows = []
    for i, (cid, type_id, days, ext, fixed) in enumerate(plan):
        name = fixed or f"cert_{cid}_{type_id}_{base_unix + 86400 + i}.{ext}"
        expires = today + timedelta(days=days)
        data = (
            pdf_bytes(f"PropOps demo certificate {name} - expires {expires.isoformat()}")
            if ext == "pdf"
            else png_bytes(rgb=(40 + (i * 37) % 200, 120, 90))
        )
        storage = make_storage(root, organisation_of[cid])
        staged = storage.staging_file()
        staged.write_bytes(data)
        await storage.delete(name)  # a re-seeded demo database may reuse a storage directory
        await storage.save(name, staged)
        rows.append(
            Certification(
                organisation_id=organisation_of[cid],
                contractor_id=cid,
                certification_type_id=type_id,
                certificate_number=f"DEMO-{cid}-{type_id}-{i:03d}",
                issued_on=expires - timedelta(days=365),
                expires_on=expires,
                file_name=name,
                original_filename=f"certificate.{ext}",
                content_type=CONTENT_TYPES[ext],
                size_bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                created_at=utcnow(),
            )
        )
    session.add_all(rows)
    await session.flush()
