"""The certification-type catalogue: each type lists the trades that require it. Resolving a type
by id or by name, code or alias; admin create, update and delete (a used type is retired instead).
No HTTP here.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from propops.certifications.models import Certification, CertificationType, CertificationTypeTrade
from propops.core import audit
from propops.core.errors import Conflict, InvalidInput, NotFound
from propops.lookups.models import Trade


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
        organisation_id=None,
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
        organisation_id=None,
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
        session,
        organisation_id=None,
        user_id=user_id,
        action="delete",
        entity="certification_type",
        entity_id=type_id,
        before=before,
    )
