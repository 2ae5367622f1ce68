"""Small real files of each accepted kind, and hostile ones."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import select

from propops.certifications.demo import pdf_bytes, png_bytes
from propops.certifications.storage import organisation_dir
from propops.contractors.models import Contractor

PDF = pdf_bytes("test certificate")
PNG = png_bytes()
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
DOC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120
MZ = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 120


def docx_bytes(with_word: bool = True) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        if with_word:
            z.writestr("word/document.xml", "<w:document/>")
        else:
            z.writestr("xl/workbook.xml", "<workbook/>")
    return buf.getvalue()


async def contractor_uuid(app: FastAPI, email: str) -> str:
    async with app.state.ctx.db.sessionmaker() as session:
        return str((await session.execute(select(Contractor.uuid).where(Contractor.email == email))).scalar_one())


def stored_files(root: Path) -> set[str]:
    base = organisation_dir(root, 1)
    return {p.name for p in base.iterdir() if p.is_file()} if base.exists() else set()


def staging_files(root: Path) -> list[Path]:
    staging = organisation_dir(root, 1) / ".staging"
    return list(staging.iterdir()) if staging.exists() else []
