"""Contractor logic: admin writes, the admin and profile reads, and the functions other domains use.
The lists are ``contractors.listing``; which records a caller may act on is
``contractors.repository``. No HTTP here.

Other domains (jobs) should use ``geocode_postcode``, ``contractor_covers`` and
``contractors_covering``; they hide the grid/bbox/Shapely machinery.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from propops.auth.emails import ensure_email_free
from propops.auth.models import ACCOUNT_CONTRACTOR
from propops.auth.service import Principal, create_user
from propops.contractors import coverage as cov
from propops.contractors.listing import contractor_payload, coverage_payload, has_trade, trade_names
from propops.contractors.models import (
    Contractor,
    ContractorCoverageCell,
    ContractorTrade,
)
from propops.contractors.repository import own_contractor, readable_contractors
from propops.core import audit
from propops.core.db import resync_id_sequence
from propops.core.errors import Forbidden, InvalidInput, NotFound
from propops.core.validation import CONTROL_RE, validate_email
from propops.geo.geocoder import Geocoder, GeoPoint, geocode
from propops.geo.isochrone import IsochroneProvider
from propops.lookups.models import Trade

NOT_FOUND = "Contractor not found."
_PHONE = re.compile(r"^[0-9+()\- ]{5,40}$")


# ---------------------------------------------------------------- functions for other domains


async def geocode_postcode(geocoder: Geocoder, postcode: str) -> GeoPoint:
    """Postcode -> point with its precision; raises InvalidInput (malformed) or UnknownPostcode."""
    return await geocode(geocoder, postcode)


async def contractor_covers(
    session: AsyncSession, organisation_id: int, contractor_id: int, lat: float, lon: float
) -> bool:
    """Does this (active) contractor of the organisation cover the point?"""
    stmt = cov.candidates_stmt(lat, lon, organisation_id).where(ContractorCoverageCell.contractor_id == contractor_id)
    return bool(await cov.covering(session, lat, lon, stmt))


async def contractors_covering(
    session: AsyncSession, organisation_id: int, lat: float, lon: float, *, trade_id: int | None = None
) -> list[tuple[int, float]]:
    """The organisation's active contractors covering the point as (contractor id, km from base),
    nearest first."""
    stmt = cov.candidates_stmt(lat, lon, organisation_id)
    if trade_id is not None:
        stmt = stmt.where(has_trade(trade_id, ContractorCoverageCell.contractor_id))
    return await cov.covering(session, lat, lon, stmt)


# ---------------------------------------------------------------- admin writes


@dataclass
class ContractorInput:
    """Fields a write may set; None means "leave unchanged" on update."""

    first_name: str | None = None
    last_name: str | None = None
    company_name: str | None = None
    email: str | None = None
    phone: str | None = None
    trade_ids: list[int] | None = None
    base_postcode: str | None = None
    coverage: cov.CoverageSpec | None = None


def _clean(value: str | None, field: str, *, required: bool = False, max_len: int = 100) -> str | None:
    if value is None:
        if required:
            raise InvalidInput.field(field, "is required")
        return None
    value = value.strip()
    if required and not value:
        raise InvalidInput.field(field, "must not be empty")
    if len(value) > max_len:
        raise InvalidInput.field(field, f"must be at most {max_len} characters")
    if CONTROL_RE.search(value):
        raise InvalidInput.field(field, "must not contain control characters")
    return value


async def _check_trades(session: AsyncSession, trade_ids: list[int]) -> list[int]:
    unique = sorted(set(trade_ids))
    if not unique:
        raise InvalidInput.field("trade_ids", "must list at least one trade")
    found = set((await session.execute(select(Trade.id).where(Trade.id.in_(unique)))).scalars())
    missing = [t for t in unique if t not in found]
    if missing:
        raise InvalidInput.field("trade_ids", f"unknown trade id(s): {', '.join(map(str, missing))}")
    return unique


async def _check_email_free(session: AsyncSession, email: str, c: Contractor | None = None) -> None:
    """Unique across every account (``propops.auth.emails``), not only among contractors."""
    await ensure_email_free(
        session, email, user_id=c.user_id if c is not None else None, contractor_id=c.id if c is not None else None
    )


async def _coverage_for(
    c: Contractor | None, data: ContractorInput, geocoder: Geocoder, provider: IsochroneProvider
) -> tuple[GeoPoint, cov.Coverage] | None:
    """Recompute coverage when the base or its settings change; all before anything is written."""
    if data.base_postcode is None and data.coverage is None:
        return None
    postcode = data.base_postcode if data.base_postcode is not None else (c.base_postcode if c else None)
    if postcode is None:
        raise InvalidInput.field("base_postcode", "is required to set a coverage area")
    base = await geocode(geocoder, postcode, "base_postcode")
    spec = data.coverage
    if spec is None and c is not None and c.coverage_geojson is not None:
        spec = cov.CoverageSpec(
            c.coverage_source,
            c.coverage_radius_km,
            c.coverage_travel_minutes,
            c.coverage_profile,
            json.loads(c.coverage_geojson),
        )
    elif spec is not None and c is not None and spec.source == c.coverage_source:
        # Partial settings change: keep the parameters that were not sent.
        spec = cov.CoverageSpec(
            spec.source,
            spec.radius_km if spec.radius_km is not None else c.coverage_radius_km,
            spec.travel_minutes if spec.travel_minutes is not None else c.coverage_travel_minutes,
            spec.profile if spec.profile is not None else c.coverage_profile,
            spec.drawn if spec.drawn is not None else (json.loads(c.coverage_geojson) if c.coverage_geojson else None),
        )
    spec = spec or cov.CoverageSpec("radius")
    return base, await cov.compute(spec, base, provider)


async def create_contractor(
    session: AsyncSession,
    data: ContractorInput,
    *,
    geocoder: Geocoder,
    provider: IsochroneProvider,
    organisation_id: int,
    actor_id: int | None,
    login_password: str | None = None,
) -> Contractor:
    """Validate everything and compute coverage first, then write in one flush sequence."""
    first = _clean(data.first_name, "first_name", required=True)
    last = _clean(data.last_name, "last_name", required=True)
    company = _clean(data.company_name, "company_name", max_len=200) or None
    email = validate_email(data.email or "", "email") if data.email is not None else None
    if email is None:
        raise InvalidInput.field("email", "is required")
    phone = _phone(data.phone)
    trade_ids = await _check_trades(session, data.trade_ids or [])
    await _check_email_free(session, email)
    computed = await _coverage_for(None, data, geocoder, provider)
    user_id = None
    if login_password is not None:
        user = await create_user(
            session,
            organisation_id=organisation_id,
            email=email,
            password=login_password,
            account_type_id=ACCOUNT_CONTRACTOR,
            role="Contractor",
            first_name=first or "",
            last_name=last or "",
            phone=phone,
            actor_id=actor_id,
        )
        user_id = user.id
    c = Contractor(
        organisation_id=organisation_id,
        user_id=user_id,
        first_name=first,
        last_name=last,
        company_name=company,
        email=email,
        phone=phone,
        is_active=True,
    )
    if computed:
        cov.apply(c, *computed)
    session.add(c)
    await session.flush()
    await session.execute(insert(ContractorTrade), [{"contractor_id": c.id, "trade_id": t} for t in trade_ids])
    if computed:
        await cov.write_cells(session, c, computed[1].geometry)
    await audit.record(
        session,
        organisation_id=c.organisation_id,
        user_id=actor_id,
        action="create",
        entity="contractor",
        entity_id=c.id,
        after=_audit(c),
    )
    return c


def _phone(value: str | None) -> str | None:
    phone = _clean(value, "phone", max_len=40)
    if phone and not _PHONE.match(phone):
        raise InvalidInput.field("phone", "may contain only digits, spaces, +, -, ( and )")
    return phone or None


def _audit(c: Contractor) -> dict[str, Any]:
    return {
        "first_name": c.first_name,
        "last_name": c.last_name,
        "company_name": c.company_name,
        "email": c.email,
        "phone": c.phone,
        "is_active": c.is_active,
        "base_postcode": c.base_postcode,
        "coverage_source": c.coverage_source,
        "coverage_radius_km": c.coverage_radius_km,
        "coverage_travel_minutes": c.coverage_travel_minutes,
    }


async def get_by_uuid(session: AsyncSession, principal: Principal, contractor_uuid: str) -> Contractor:
    """Within ``readable_contractors`` (any status); a hidden contractor is the same 404."""
    stmt = readable_contractors(principal).where(Contractor.uuid == contractor_uuid)
    c = (await session.execute(stmt)).scalar_one_or_none()
    if c is None:
        raise NotFound(NOT_FOUND)
    return c


async def get_own(session: AsyncSession, principal: Principal) -> Contractor:
    """The caller's own contractor record (the profile endpoints)."""
    c = (await session.execute(own_contractor(principal))).scalar_one_or_none()
    if c is None:
        raise NotFound("No contractor profile is linked to this account.")
    return c


async def update_contractor(
    session: AsyncSession,
    c: Contractor,
    data: ContractorInput,
    *,
    geocoder: Geocoder,
    provider: IsochroneProvider,
    actor_id: int | None,
) -> Contractor:
    before = _audit(c)
    first = _clean(data.first_name, "first_name", required=data.first_name is not None)
    last = _clean(data.last_name, "last_name", required=data.last_name is not None)
    company = _clean(data.company_name, "company_name", max_len=200)
    email = validate_email(data.email, "email") if data.email is not None else None
    phone = _phone(data.phone) if data.phone is not None else None
    trade_ids = await _check_trades(session, data.trade_ids) if data.trade_ids is not None else None
    if email is not None:
        await _check_email_free(session, email, c)
    computed = await _coverage_for(c, data, geocoder, provider)
    if first is not None:
        c.first_name = first
    if last is not None:
        c.last_name = last
    if company is not None:
        c.company_name = company or None
    if email is not None:
        c.email = email
    if data.phone is not None:
        c.phone = phone
    if computed:
        cov.apply(c, *computed)
    await session.flush()
    if trade_ids is not None:
        await session.execute(delete(ContractorTrade).where(ContractorTrade.contractor_id == c.id))
        await session.execute(insert(ContractorTrade), [{"contractor_id": c.id, "trade_id": t} for t in trade_ids])
    if computed:
        await cov.write_cells(session, c, computed[1].geometry)
    await audit.record(
        session,
        organisation_id=c.organisation_id,
        user_id=actor_id,
        action="update",
        entity="contractor",
        entity_id=c.id,
        before=before,
        after=_audit(c),
    )
    return c


async def set_active(session: AsyncSession, c: Contractor, active: bool, *, actor_id: int | None) -> Contractor:
    if c.is_active != active:
        c.is_active = active
        await session.flush()
        await cov.set_cells_active(session, c.id, active)
        await audit.record(
            session,
            organisation_id=c.organisation_id,
            user_id=actor_id,
            action="activate" if active else "deactivate",
            entity="contractor",
            entity_id=c.id,
            after={"is_active": active},
        )
    return c


async def detail(session: AsyncSession, c: Contractor) -> dict[str, Any]:
    """The full record for admin and profile reads."""
    row = contractor_payload(c, (await trade_names(session, [c.id])).get(c.id, []))
    trade_ids = (
        await session.execute(select(ContractorTrade.trade_id).where(ContractorTrade.contractor_id == c.id))
    ).scalars()
    row.update(
        company_name=c.company_name,
        trade_ids=sorted(trade_ids),
        user_uuid=None,
        coverage=coverage_payload(c),
        created_at=c.created_at.isoformat() if c.created_at else None,
        updated_at=c.updated_at.isoformat() if c.updated_at else None,
    )
    if c.user_id is not None:
        from propops.auth.models import User

        row["user_uuid"] = (await session.execute(select(User.uuid).where(User.id == c.user_id))).scalar_one_or_none()
    return row


def forbid_self_managed(trade_ids: Any, is_active: Any) -> None:
    """A contractor edits their own contact and coverage details, never trades or status."""
    if trade_ids is not None or is_active is not None:
        raise Forbidden("Contractors cannot change their own trades or active status; ask the office.")


async def fix_sequence(session: AsyncSession) -> None:
    """After inserting explicit ids (demo data), move PostgreSQL's sequence past them."""
    await resync_id_sequence(session, Contractor.__table__)
