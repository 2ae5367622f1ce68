"""Certificate files: upload (staged, type-checked by content, published atomically, then recorded,
superseding the current one), deletion (the file goes once the row's deletion commits) and
download by database record within the caller's scope. No HTTP here.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from propops.auth.service import Principal
from propops.certifications.catalogue import resolve_type
from propops.certifications.filetypes import CONTENT_TYPES, extension_kind, sniff
from propops.certifications.models import Certification
from propops.certifications.repository import readable_certifications
from propops.certifications.service import certification_payload, resolve_contractor
from propops.certifications.storage import CHUNK, Storage
from propops.core import audit
from propops.core.clock import utcnow
from propops.core.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge, UnsupportedMediaType
from propops.core.settings import Settings

# The seed's pattern cert_{id}_{id}_{id}.{ext}: ASCII digits only, bounded lengths, known extensions.
FILE_RE = re.compile(r"cert_[0-9]{1,10}_[0-9]{1,10}_[0-9]{1,12}\.(?:pdf|jpg|jpeg|png|doc|docx)", re.ASCII)
MAX_FILE_PARAM = 64
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
NOT_FOUND = "Certification file not found."


class Readable(Protocol):
    """What an upload looks like to the service (Starlette's UploadFile fits)."""

    filename: str | None

    async def read(self, size: int = -1) -> bytes: ...


def parse_date(field: str, value: str | None, *, required: bool) -> date | None:
    if value is None or not value.strip():
        if required:
            raise InvalidInput.field(field, "is required (YYYY-MM-DD)")
        return None
    value = value.strip()
    if not DATE_RE.fullmatch(value):
        raise InvalidInput.field(field, "must be a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput.field(field, "is not a real date") from None


@dataclass
class Staged:
    path: Path
    size: int
    sha256: str


async def stage_upload(storage: Storage, upload: Readable, max_bytes: int) -> Staged:
    """Copy the upload to a staging file, hashing as it goes, and stop one byte past the cap.

    The staging file is fsynced, so what is published later is on disk; on any failure it is gone.
    """
    path = storage.staging_file()
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("wb") as out:
            while True:
                chunk = await upload.read(CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"The file is larger than the {max_bytes} byte limit.")
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Staged(path=path, size=size, sha256=digest.hexdigest())


def _cleanup_on_rollback(session: AsyncSession, storage: Storage, name: str) -> None:
    """If the request's transaction rolls back after the file was published, remove the file, so a
    failure never leaves a file without its row."""
    state = {"done": False}

    def committed(_: Any) -> None:
        state["done"] = True

    def rolled_back(_: Any) -> None:
        if not state["done"]:
            state["done"] = True
            storage.discard(name)

    event.listen(session.sync_session, "after_commit", committed)
    event.listen(session.sync_session, "after_rollback", rolled_back)


def _delete_after_commit(session: AsyncSession, storage: Storage, name: str) -> None:
    """The file goes only once the row's deletion is committed: a rollback keeps both."""
    state = {"done": False}

    def committed(_: Any) -> None:
        if not state["done"]:
            state["done"] = True
            storage.discard(name)

    def rolled_back(_: Any) -> None:
        state["done"] = True

    event.listen(session.sync_session, "after_commit", committed)
    event.listen(session.sync_session, "after_rollback", rolled_back)


async def _publish_free_name(
    session: AsyncSession, storage: Storage, contractor_id: int, type_id: int, ext: str, staged: Path
) -> str:
    """Publish ``staged`` under the seed's ``cert_{contractor}_{type}_{unix}.{ext}``, moving to the
    next second while a name is taken. The atomic publish decides between two concurrent uploads
    of the same second (both may find the name free in the database: neither row is committed)."""
    unix = int(time.time())
    for _ in range(1000):
        name = f"cert_{contractor_id}_{type_id}_{unix}.{ext}"
        unix += 1
        taken = (await session.execute(select(Certification.id).where(Certification.file_name == name))).first()
        if taken is not None:
            continue
        try:
            await storage.save(name, staged)
        except FileExistsError:
            continue
        return name
    raise Conflict("Could not allocate a file name; retry shortly.")  # pragma: no cover


async def upload_certification(
    session: AsyncSession,
    storage: Storage,
    settings: Settings,
    principal: Principal,
    *,
    contractor_uuid: str | None,
    type_id: str | None,
    type_name: str | None,
    certificate_number: str | None,
    issue_date: str | None,
    expiry_date: str | None,
    upload: Readable | None,
    today: date | None = None,
) -> dict[str, Any]:
    """Validate, stage, type-check, publish atomically, then record (superseding the current one)."""
    contractor = await resolve_contractor(session, principal, contractor_uuid)
    cert_type = await resolve_type(session, type_id=type_id, name=type_name)
    issued = parse_date("issue_date", issue_date, required=False)
    expires = parse_date("expiry_date", expiry_date, required=True)
    assert expires is not None
    if issued and issued > expires:
        raise InvalidInput.field("issue_date", "must not be after expiry_date")
    number = (certificate_number or "").strip() or None
    if number and len(number) > 100:
        raise InvalidInput.field("certificate_number", "must be at most 100 characters")
    if upload is None or not getattr(upload, "filename", None):
        raise InvalidInput.field("file", "is required")
    original = Path(str(upload.filename).replace("\\", "/")).name[:255]
    kind = extension_kind(original)
    if kind is None:
        raise UnsupportedMediaType("Only PDF, JPEG, PNG, DOC or DOCX files are accepted.")

    staged = await stage_upload(storage, upload, settings.max_upload_bytes)
    published: str | None = None
    try:
        if staged.size == 0:
            raise InvalidInput.field("file", "is empty")
        detected = sniff(staged.path)
        if detected is None:
            raise UnsupportedMediaType("The file's content is not a PDF, JPEG, PNG, DOC or DOCX document.")
        if detected != kind:
            ext = original.rpartition(".")[2]
            raise UnsupportedMediaType(
                f"The file's content ({detected.upper()}) does not match its extension (.{ext})."
            )
        name = await _publish_free_name(session, storage, contractor.id, cert_type.id, kind, staged.path)
        published = name
        _cleanup_on_rollback(session, storage, name)

        cert = Certification(
            organisation_id=contractor.organisation_id,
            contractor_id=contractor.id,
            certification_type_id=cert_type.id,
            certificate_number=number,
            issued_on=issued,
            expires_on=expires,
            file_name=name,
            original_filename=original,
            content_type=CONTENT_TYPES[kind],
            size_bytes=staged.size,
            sha256=staged.sha256,
            uploaded_by_user_id=principal.user_id,
            created_at=utcnow(),
        )
        session.add(cert)
        await session.flush()
        replaced = (
            (
                await session.execute(
                    update(Certification)
                    .where(
                        Certification.contractor_id == contractor.id,
                        Certification.certification_type_id == cert_type.id,
                        Certification.superseded_at.is_(None),
                        Certification.id != cert.id,
                    )
                    .values(superseded_at=utcnow(), superseded_by_id=cert.id)
                    .returning(Certification.id)
                    .execution_options(synchronize_session=False)
                )
            )
            .scalars()
            .all()
        )
        await audit.record(
            session,
            organisation_id=principal.organisation_id,
            user_id=principal.user_id,
            action="upload",
            entity="certification",
            entity_id=cert.uuid,
            after={
                "file": name,
                "type": cert_type.name,
                "expiry_date": expires.isoformat(),
                "sha256": staged.sha256,
                "superseded": list(replaced),
            },
        )
    except BaseException:
        staged.path.unlink(missing_ok=True)
        if published:
            await storage.delete(published)
        raise
    return certification_payload(cert, cert_type, contractor, today or date.today(), settings)


async def delete_certification(
    session: AsyncSession,
    storage: Storage,
    principal: Principal,
    *,
    contractor_uuid: str | None,
    certification_uuid: str | None,
    certification_id: str | None,
    file_name: str | None,
) -> dict[str, Any]:
    """Remove the row now and its file once that is committed. Deleting the current certificate
    does not resurrect the one it replaced: that would silently restore an older document."""
    contractor = await resolve_contractor(session, principal, contractor_uuid)
    stmt = readable_certifications(principal).where(Certification.contractor_id == contractor.id)
    if certification_uuid:
        stmt = stmt.where(Certification.uuid == certification_uuid[:36])
    elif certification_id:
        if not certification_id.isdigit() or len(certification_id) > 9:
            raise InvalidInput.field("certification_id", "must be a whole number")
        stmt = stmt.where(Certification.id == int(certification_id))
    elif file_name:
        if len(file_name) > MAX_FILE_PARAM or not FILE_RE.fullmatch(file_name):
            raise InvalidInput.field("file_name", "must match cert_{id}_{id}_{id}.{ext}")
        stmt = stmt.where(Certification.file_name == file_name)
    else:
        raise InvalidInput.field("certification_uuid", "is required (or certification_id or file_name)")
    cert = (await session.execute(stmt)).scalar_one_or_none()
    if cert is None:
        raise NotFound("Certification not found.")
    name, uuid_ = cert.file_name, cert.uuid
    await session.execute(
        update(Certification)
        .where(Certification.superseded_by_id == cert.id)
        .values(superseded_by_id=None)
        .execution_options(synchronize_session=False)
    )
    await session.delete(cert)
    await session.flush()
    _delete_after_commit(session, storage, name)
    await audit.record(
        session,
        organisation_id=principal.organisation_id,
        user_id=principal.user_id,
        action="delete",
        entity="certification",
        entity_id=uuid_,
        before={"file": name},
    )
    return {"uuid": uuid_, "file": name, "deleted": True}


def check_file_param(value: str | None) -> str:
    """The only gate between the query string and storage: anything but the exact pattern is 400."""
    if value is None or value == "":
        raise InvalidInput.field("file", "is required")
    if len(value) > MAX_FILE_PARAM or not FILE_RE.fullmatch(value):
        raise InvalidInput.field("file", "must match cert_{id}_{id}_{id}.{ext} (pdf, jpg, jpeg, png, doc, docx)")
    return value


async def find_download(session: AsyncSession, principal: Principal, file_name: str) -> Certification:
    """By database record within the caller's scope; another contractor's file is the same 404."""
    name = check_file_param(file_name)
    stmt = readable_certifications(principal).where(Certification.file_name == name)
    cert = (await session.execute(stmt)).scalar_one_or_none()
    if cert is None:
        raise NotFound(NOT_FOUND)
    return cert
