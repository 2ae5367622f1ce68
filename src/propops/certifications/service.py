"""Certification logic: who may see which contractor, upload/replace/delete, listing with expiry
status, compliance per trade, and the certification-type catalogue. No HTTP here.

Object-level access is decided in one place (``visible_contractors``): staff see every contractor,
a contractor account only the contractor record linked to it, anyone else none. Everything a caller
may not see is the same 404 as something that does not exist.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Select, and_, delete, event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from propops.auth.models import ACCOUNT_CONTRACTOR, ACCOUNT_STAFF
from propops.auth.service import Principal
from propops.certifications.filetypes import CONTENT_TYPES, extension_kind, sniff
from propops.certifications.models import Certification, CertificationType, CertificationTypeTrade
from propops.certifications.storage import CHUNK, Storage
from propops.contractors.models import Contractor, ContractorTrade
from propops.core import audit
from propops.core.clock import iso, utcnow
from propops.core.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge, UnsupportedMediaType
from propops.core.pagination import Page
from propops.core.settings import Settings
from propops.lookups.models import Trade

# The seed's pattern cert_{id}_{id}_{id}.{ext}: ASCII digits only, bounded lengths, known extensions.
FILE_RE = re.compile(r"cert_[0-9]{1,10}_[0-9]{1,10}_[0-9]{1,12}\.(?:pdf|jpg|jpeg|png|doc|docx)", re.ASCII)
MAX_FILE_PARAM = 64
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
NOT_FOUND = "Certification file not found."
CONTRACTOR_NOT_FOUND = "Contractor not found."
STATUS_VALID, STATUS_EXPIRING, STATUS_EXPIRED = "valid", "expiring", "expired"


class Readable(Protocol):
    """What an upload looks like to the service (Starlette's UploadFile fits)."""

    filename: str | None

    async def read(self, size: int = -1) -> bytes: ...


# --------------------------------------------------------------------------- access


def visible_contractors(principal: Principal) -> Select[Any]:
    """The contractors ``principal`` may act on, as a query every read and write starts from."""
    stmt = select(Contractor)
    if principal.account_type_id == ACCOUNT_STAFF:
        return stmt
    if principal.account_type_id == ACCOUNT_CONTRACTOR:
        return stmt.where(Contractor.user_id == principal.user_id)
    return stmt.where(Contractor.id.is_(None))


async def own_contractor_id(session: AsyncSession, principal: Principal) -> int | None:
    if principal.account_type_id != ACCOUNT_CONTRACTOR:
        return None
    found = await session.execute(select(Contractor.id).where(Contractor.user_id == principal.user_id))
    return found.scalar_one_or_none()


async def resolve_contractor(session: AsyncSession, principal: Principal, contractor_uuid: str | None) -> Contractor:
    """By uuid within the caller's scope; a contractor may omit it to mean themselves."""
    if not contractor_uuid:
        if principal.account_type_id == ACCOUNT_CONTRACTOR:
            own = (await session.execute(visible_contractors(principal))).scalar_one_or_none()
            if own is not None:
                return own
        raise InvalidInput.field("contractor_uuid", "is required")
    if len(contractor_uuid) > 36:
        raise NotFound(CONTRACTOR_NOT_FOUND)
    found = (
        await session.execute(visible_contractors(principal).where(Contractor.uuid == contractor_uuid))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(CONTRACTOR_NOT_FOUND)
    return found


# --------------------------------------------------------------------------- status


def expiring_window_days(settings: Settings) -> int:
    """'Expiring' means within the first reminder's reach (30 days by default)."""
    return max([0, *settings.reminder_days_before])


def status_of(expires_on: date, today: date, settings: Settings) -> tuple[str, int]:
    days = (expires_on - today).days
    if days < 0:
        return STATUS_EXPIRED, days
    if days <= expiring_window_days(settings):
        return STATUS_EXPIRING, days
    return STATUS_VALID, days


def certification_payload(
    cert: Certification, cert_type: CertificationType, contractor: Contractor, today: date, settings: Settings
) -> dict[str, Any]:
    status, days = status_of(cert.expires_on, today, settings)
    return {
        "ID": cert.id,
        "uuid": cert.uuid,
        "contractor_id": contractor.id,
        "contractor_uuid": contractor.uuid,
        "certification_type_id": cert_type.id,
        "cert_type": cert_type.name,
        "certificate_number": cert.certificate_number,
        "issue_date": cert.issued_on.isoformat() if cert.issued_on else None,
        "expiry_date": cert.expires_on.isoformat(),
        "status": status,
        "days_to_expiry": days,
        "file": cert.file_name,
        "original_filename": cert.original_filename,
        "content_type": cert.content_type,
        "size_bytes": cert.size_bytes,
        "sha256": cert.sha256,
        "is_current": cert.superseded_at is None,
        "uploaded_at": iso(cert.created_at),
        "superseded_at": iso(cert.superseded_at),
    }


# --------------------------------------------------------------------------- types


def _norm(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", value.lower())


async def resolve_type(session: AsyncSession, *, type_id: str | None, name: str | None) -> CertificationType:
    """By ``certification_type_id``, else by ``cert_type`` matched against name, code or an alias."""
    if type_id:
        if not type_id.isdigit() or len(type_id) > 9:
            raise InvalidInput.field("certification_type_id", "must be a whole number")
        found = await session.get(CertificationType, int(type_id))
        if found is None or not found.is_active:
            raise InvalidInput.field("certification_type_id", "is not a known certification type")
        return found
    if not name or not name.strip():
        raise InvalidInput.field("cert_type", "is required (or give certification_type_id)")
    wanted = _norm(name)
    types = (await session.execute(select(CertificationType).where(CertificationType.is_active.is_(True)))).scalars()
    for t in types:
        if wanted in {_norm(t.name), _norm(t.code), *(_norm(str(a)) for a in (t.aliases or []))}:
            return t
    raise InvalidInput.field("cert_type", "is not a known certification type")


def type_payload(t: CertificationType) -> dict[str, Any]:
    return {
        "ID": t.id,
        "code": t.code,
        "name": t.name,
        "description": t.description,
        "issuing_body": t.issuing_body,
        "aliases": list(t.aliases or []),
        "is_active": t.is_active,
        "required_for_trades": [{"trade_id": tr.id, "name": tr.name} for tr in t.trades],
    }


async def list_types(session: AsyncSession, *, include_inactive: bool) -> list[dict[str, Any]]:
    stmt = select(CertificationType).options(selectinload(CertificationType.trades)).order_by(CertificationType.id)
    if not include_inactive:
        stmt = stmt.where(CertificationType.is_active.is_(True))
    return [type_payload(t) for t in (await session.execute(stmt)).scalars()]


async def _load_type(session: AsyncSession, type_id: int) -> CertificationType:
    found = (
        await session.execute(
            select(CertificationType)
            .options(selectinload(CertificationType.trades))
            .where(CertificationType.id == type_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("Certification type not found.")
    return found


async def _set_type_trades(session: AsyncSession, type_id: int, trade_ids: list[int]) -> None:
    known = set((await session.execute(select(Trade.id).where(Trade.id.in_(trade_ids)))).scalars())
    unknown = sorted(set(trade_ids) - known)
    if unknown:
        raise InvalidInput.field("trade_ids", f"unknown trade ids: {', '.join(map(str, unknown))}")
    await session.execute(delete(CertificationTypeTrade).where(CertificationTypeTrade.certification_type_id == type_id))
    for trade_id in sorted(known):
        session.add(CertificationTypeTrade(certification_type_id=type_id, trade_id=trade_id))
    await session.flush()


def _code_from(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:40] or "type"


async def create_type(session: AsyncSession, user_id: int, data: dict[str, Any]) -> dict[str, Any]:
    name = (data.get("name") or "").strip()
    if not name:
        raise InvalidInput.field("name", "is required")
    t = CertificationType(
        name=name,
        code=(data.get("code") or _code_from(name)).strip(),
        description=data.get("description") or "",
        issuing_body=data.get("issuing_body"),
        aliases=[a.strip() for a in data.get("aliases") or [] if a.strip()],
        is_active=data.get("is_active", True) if data.get("is_active") is not None else True,
    )
    session.add(t)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("A certification type with that name or code already exists.") from None
    await _set_type_trades(session, t.id, data.get("trade_ids") or [])
    await audit.record(
        session,
        user_id=user_id,
        action="create",
        entity="certification_type",
        entity_id=t.id,
        after={"name": t.name, "code": t.code},
    )
    return type_payload(await _load_type(session, t.id))


async def update_type(session: AsyncSession, user_id: int, type_id: int, data: dict[str, Any]) -> dict[str, Any]:
    t = await _load_type(session, type_id)
    before = type_payload(t)
    for field in ("name", "code", "description", "issuing_body", "is_active"):
        if field in data and data[field] is not None:
            setattr(t, field, data[field].strip() if isinstance(data[field], str) else data[field])
    if "aliases" in data and data["aliases"] is not None:
        t.aliases = [a.strip() for a in data["aliases"] if a.strip()]
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("A certification type with that name or code already exists.") from None
    if "trade_ids" in data and data["trade_ids"] is not None:
        await _set_type_trades(session, t.id, data["trade_ids"])
    after = type_payload(await _load_type(session, t.id))
    await audit.record(
        session,
        user_id=user_id,
        action="update",
        entity="certification_type",
        entity_id=t.id,
        before=before,
        after=after,
    )
    return after


async def delete_type(session: AsyncSession, user_id: int, type_id: int) -> None:
    """Only an unused type can be deleted; a used one is retired with ``is_active=false``."""
    t = await _load_type(session, type_id)
    used = (
        await session.execute(select(Certification.id).where(Certification.certification_type_id == type_id).limit(1))
    ).first()
    if used is not None:
        raise Conflict("This certification type has certificates; set is_active to false instead.")
    before = type_payload(t)
    await session.delete(t)
    await session.flush()
    await audit.record(
        session, user_id=user_id, action="delete", entity="certification_type", entity_id=type_id, before=before
    )


# --------------------------------------------------------------------------- upload / delete


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
    stmt = select(Certification).where(Certification.contractor_id == contractor.id)
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
        user_id=principal.user_id,
        action="delete",
        entity="certification",
        entity_id=uuid_,
        before={"file": name},
    )
    return {"uuid": uuid_, "file": name, "deleted": True}


# --------------------------------------------------------------------------- download


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
    visible = visible_contractors(principal).with_only_columns(Contractor.id).scalar_subquery()
    cert = (
        await session.execute(
            select(Certification).where(Certification.file_name == name, Certification.contractor_id.in_(visible))
        )
    ).scalar_one_or_none()
    if cert is None:
        raise NotFound(NOT_FOUND)
    return cert


# --------------------------------------------------------------------------- listing / compliance


async def list_certifications(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    *,
    contractor_uuid: str | None,
    status: str | None,
    type_id: int | None,
    include_history: bool,
    page: Page,
    today: date | None = None,
) -> tuple[list[dict[str, Any]], int]:
    today = today or date.today()
    visible = visible_contractors(principal).with_only_columns(Contractor.id)
    conds: list[Any] = [Certification.contractor_id.in_(visible.scalar_subquery())]
    if contractor_uuid:
        contractor = await resolve_contractor(session, principal, contractor_uuid)
        conds.append(Certification.contractor_id == contractor.id)
    if not include_history:
        conds.append(Certification.superseded_at.is_(None))
    if type_id is not None:
        conds.append(Certification.certification_type_id == type_id)
    horizon = today + timedelta(days=expiring_window_days(settings))
    if status == STATUS_EXPIRED:
        conds.append(Certification.expires_on < today)
    elif status == STATUS_EXPIRING:
        conds.append(and_(Certification.expires_on >= today, Certification.expires_on <= horizon))
    elif status == STATUS_VALID:
        conds.append(Certification.expires_on > horizon)
    elif status:
        raise InvalidInput.field("status", "must be one of: valid, expiring, expired")
    where = and_(*conds)
    count = (await session.execute(select(func.count()).select_from(Certification).where(where))).scalar_one()
    rows = (
        await session.execute(
            select(Certification, CertificationType, Contractor)
            .join(CertificationType, CertificationType.id == Certification.certification_type_id)
            .join(Contractor, Contractor.id == Certification.contractor_id)
            .where(where)
            .order_by(Certification.expires_on, Certification.id)
            .limit(page.limit)
            .offset(page.offset)
        )
    ).all()
    return [certification_payload(c, t, k, today, settings) for c, t, k in rows], int(count)


async def _current_by_type(session: AsyncSession, contractor_id: int) -> dict[int, Certification]:
    """The current certificate per type (latest expiry if several were left current)."""
    rows = (
        await session.execute(
            select(Certification)
            .where(Certification.contractor_id == contractor_id, Certification.superseded_at.is_(None))
            .order_by(Certification.expires_on)
        )
    ).scalars()
    return {c.certification_type_id: c for c in rows}


async def compliance_gaps(
    session: AsyncSession, contractor_id: int, trade_id: int, today: date | None = None
) -> list[str]:
    """Names of certification types ``trade_id`` requires that the contractor lacks or has expired.

    Empty means compliant. An expiring (not yet expired) certificate still counts as met.
    """
    today = today or date.today()
    required = (
        await session.execute(
            select(CertificationType.id, CertificationType.name)
            .join(CertificationTypeTrade, CertificationTypeTrade.certification_type_id == CertificationType.id)
            .where(CertificationTypeTrade.trade_id == trade_id, CertificationType.is_active.is_(True))
            .order_by(CertificationType.name)
        )
    ).all()
    if not required:
        return []
    held = set(
        (
            await session.execute(
                select(Certification.certification_type_id).where(
                    Certification.contractor_id == contractor_id,
                    Certification.superseded_at.is_(None),
                    Certification.expires_on >= today,
                    Certification.certification_type_id.in_([r[0] for r in required]),
                )
            )
        ).scalars()
    )
    return [name for type_id, name in required if type_id not in held]


async def compliance_summary(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    contractor_uuid: str | None,
    today: date | None = None,
) -> dict[str, Any]:
    """Per trade the contractor works in: each required type and whether a valid certificate meets it."""
    today = today or date.today()
    contractor = await resolve_contractor(session, principal, contractor_uuid)
    trades = (
        await session.execute(
            select(Trade.id, Trade.name)
            .join(ContractorTrade, ContractorTrade.trade_id == Trade.id)
            .where(ContractorTrade.contractor_id == contractor.id)
            .order_by(Trade.id)
        )
    ).all()
    reqs = (
        await session.execute(
            select(CertificationTypeTrade.trade_id, CertificationType.id, CertificationType.name)
            .join(CertificationType, CertificationType.id == CertificationTypeTrade.certification_type_id)
            .where(
                CertificationTypeTrade.trade_id.in_([t[0] for t in trades]),
                CertificationType.is_active.is_(True),
            )
            .order_by(CertificationType.id)
        )
    ).all()
    current = await _current_by_type(session, contractor.id)
    out_trades: list[dict[str, Any]] = []
    for trade_id, trade_name in trades:
        requirements: list[dict[str, Any]] = []
        for r_trade, type_id, type_name in reqs:
            if r_trade != trade_id:
                continue
            cert = current.get(type_id)
            status, days = status_of(cert.expires_on, today, settings) if cert else ("missing", None)
            requirements.append(
                {
                    "certification_type_id": type_id,
                    "cert_type": type_name,
                    "met": cert is not None and status != STATUS_EXPIRED,
                    "status": status,
                    "expiry_date": cert.expires_on.isoformat() if cert else None,
                    "days_to_expiry": days,
                    "file": cert.file_name if cert else None,
                }
            )
        out_trades.append(
            {
                "trade_id": trade_id,
                "name": trade_name,
                "compliant": all(r["met"] for r in requirements),
                "requirements": requirements,
            }
        )
    return {
        "contractor_id": contractor.id,
        "contractor_uuid": contractor.uuid,
        "compliant": all(t["compliant"] for t in out_trades),
        "trades": out_trades,
        "gaps": sorted({r["cert_type"] for t in out_trades for r in t["requirements"] if not r["met"]}),
    }
