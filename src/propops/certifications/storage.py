"""Where certificate files live, behind one small interface.

Callers only ever pass a generated name (``cert_{contractor}_{type}_{unix}.{ext}`` taken from a
database row), never user input. Each organisation has its own store (multi-tenancy: one company's
files never share a directory with another's): ``LocalStorage`` keeps them under
``settings.storage_dir/organisations/<id>/certifications``; an
S3-compatible store implements the same five methods (``staging_file`` stays a local temp file that
``save`` uploads), so no caller changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Protocol

from propops.core.context import AppContext

CHUNK = 64 * 1024


class Storage(Protocol):
    def staging_file(self) -> Path:
        """A new local path to write an upload to before it is validated and saved."""
        ...

    async def save(self, name: str, staged: Path) -> None:
        """Publish a fully written (and fsynced) staged file under ``name``; never overwrites:
        raises ``FileExistsError`` when ``name`` is taken (a concurrent upload won it)."""
        ...

    def open(self, name: str) -> AsyncGenerator[bytes, None]:
        """Stream the stored bytes in chunks (raises FileNotFoundError before the first chunk)."""
        ...

    async def exists(self, name: str) -> bool: ...

    async def delete(self, name: str) -> None:
        """Remove ``name``; a missing file is not an error."""
        ...

    def discard(self, name: str) -> None:
        """Best-effort synchronous removal, for cleanup from transaction hooks."""
        ...


class LocalStorage:
    """Files in one directory; staging lives in a sibling directory on the same filesystem, so
    publishing is an atomic link/rename and a crash never leaves a half-written visible file."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.staging = self.root / ".staging"
        self.staging.mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        # Defence in depth: names come from the database, but refuse anything that is not a plain name.
        if not name or "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
            raise ValueError("invalid storage name")
        return self.root / name

    def staging_file(self) -> Path:
        return self.staging / f"upload-{uuid.uuid4().hex}.part"

    def _publish(self, name: str, staged: Path) -> None:
        final = self._path(name)
        os.link(staged, final)  # fails if ``final`` exists: never clobbers another certificate
        staged.unlink()
        fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(fd)  # make the new directory entry durable
        finally:
            os.close(fd)

    async def save(self, name: str, staged: Path) -> None:
        await asyncio.to_thread(self._publish, name, staged)

    async def open(self, name: str) -> AsyncGenerator[bytes, None]:
        path = self._path(name)
        f = await asyncio.to_thread(path.open, "rb")
        try:
            while True:
                chunk = await asyncio.to_thread(f.read, CHUNK)
                if not chunk:
                    break
                yield chunk
        finally:
            f.close()

    async def exists(self, name: str) -> bool:
        return await asyncio.to_thread(self._path(name).is_file)

    async def delete(self, name: str) -> None:
        await asyncio.to_thread(self.discard, name)

    def discard(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(name).unlink()


LEGACY_DIR = "certifications"  # before organisations: every file of the one company
DEFAULT_ORGANISATION_ID = 1  # the organisation migration 0012 moved single-company data into


def organisation_dir(root: Path, organisation_id: int) -> Path:
    return root / "organisations" / str(int(organisation_id)) / "certifications"


def _adopt_legacy(root: Path, target: Path) -> None:
    """Files stored before organisations belong to the default one: move their directory there
    once (one rename on the same filesystem; a concurrent worker that loses the race finds it done)."""
    legacy = root / LEGACY_DIR
    if legacy.is_dir() and not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError, FileExistsError, OSError):
            legacy.rename(target)


def make_storage(root: Path, organisation_id: int) -> Storage:
    target = organisation_dir(root, organisation_id)
    if organisation_id == DEFAULT_ORGANISATION_ID:
        _adopt_legacy(root, target)
    return LocalStorage(target)


def storage_for(ctx: AppContext, organisation_id: int) -> Storage:
    """One storage object per organisation per app instance."""
    stores: dict[int, Storage] = ctx.extras.setdefault("certification_storage", {})
    store = stores.get(organisation_id)
    if store is None:
        store = stores[organisation_id] = make_storage(Path(ctx.settings.storage_dir), organisation_id)
    return store
