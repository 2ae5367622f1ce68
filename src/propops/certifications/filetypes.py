"""File types accepted for certificates, decided by magic bytes and required to match the extension.

An extension alone proves nothing (an executable renamed ``.pdf``), and magic bytes alone would let
a PNG be served as ``application/pdf``; both must agree.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "png": "image/png",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
# Extension as uploaded -> canonical kind (also the stored extension).
EXTENSIONS = {"pdf": "pdf", "jpg": "jpg", "jpeg": "jpg", "png": "png", "doc": "doc", "docx": "docx"}

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def extension_kind(filename: str) -> str | None:
    """Canonical kind from the uploaded file name's extension, or None if not accepted."""
    _, dot, ext = filename.rpartition(".")
    return EXTENSIONS.get(ext.lower()) if dot else None


def sniff(path: Path) -> str | None:
    """Kind of the file at ``path`` from its content, or None if it is none of the accepted ones."""
    with path.open("rb") as f:
        head = f.read(16)
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(_OLE2):
        return "doc"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            return None
        if "[Content_Types].xml" in names and any(n.startswith("word/") for n in names):
            return "docx"
    return None
