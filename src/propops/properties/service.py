"""Property logic: list/get/create/update within the caller's visible branches. No HTTP here.

Visibility is ``properties.repository.readable_properties`` (a property is visible when its branch
is). Postcodes are validated and geocoded through the contractors/geo functions, so a
job's point is the same one contractor coverage is tested against.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from propops.agents import repository as agents_repository
from propops.agents import service as agents
from propops.auth.service import Principal
from propops.contractors.service import geocode_postcode
from propops.core import audit
from propops.core.clock import iso
from propops.core.errors import InvalidInput, NotFound
from propops.core.pagination import Page
from propops.core.validation import check_uuid, clean_email, clean_phone, clean_text, like_pattern
from propops.geo.geocoder import Geocoder
from propops.properties.models import Property
from propops.properties.repository import readable_properties_with_branch
from propops.properties.schemas import PropertyManageRequest

NOT_FOUND = "Property not found."


def full_address(p: Property) -> str:
    return ", ".join(x for x in (p.address_line1, p.address_line2, p.town, p.postcode) if x)


def payload(p: Property, branch_name: str) -> dict[str, Any]:
    return {
        "ID": p.id,
        "uuid": p.uuid,
        "branch_id": p.branch_id,
        "branch_name": branch_name,
        "address_line1": p.address_line1,
        "address_line2": p.address_line2,
        "town": p.town,
        "postcode": p.postcode,
        "full_address": full_address(p),
        "latitude": p.latitude,
        "longitude": p.longitude,
        "geo_precision": p.geo_precision,
        "tenant_name": p.tenant_name,
        "tenant_email": p.tenant_email,
        "tenant_phone": p.tenant_phone,
        "is_active": p.is_active,
        "created_at": iso(p.created_at),
        "updated_at": iso(p.updated_at),
    }


async def list_properties(
    session: AsyncSession,
    principal: Principal,
    page: Page,
    *,
    branch_id: int | None = None,
    postcode: str | None = None,
    search: str | None = None,
    include_inactive: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    """Visible properties matching the filters, ordered by ID; count is computed in SQL."""
    stmt = readable_properties_with_branch(principal)
    if branch_id is not None:
        stmt = stmt.where(Property.branch_id == branch_id)
    if not include_inactive:
        stmt = stmt.where(Property.is_active.is_(True))
    if postcode:
        stmt = stmt.where(Property.postcode == " ".join(postcode.upper().split()))
    if search:
        pattern = like_pattern(search)
        stmt = stmt.where(
            or_(
                func.lower(Property.address_line1).like(pattern, escape="\\"),
                func.lower(Property.address_line2).like(pattern, escape="\\"),
                func.lower(Property.town).like(pattern, escape="\\"),
                func.lower(Property.postcode).like(pattern, escape="\\"),
                func.lower(Property.tenant_name).like(pattern, escape="\\"),
            )
        )
    count = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (await session.execute(stmt.order_by(Property.id).limit(page.limit).offset(page.offset))).all()
    return [payload(p, name) for p, name in rows], int(count)


async def get_visible(
    session: AsyncSession, principal: Principal, property_uuid: str | None, field: str = "uuid"
) -> tuple[Property, str]:
    if not property_uuid:
        raise InvalidInput.field(field, "is required")
    uuid = check_uuid(property_uuid, field)
    row = (await session.execute(readable_properties_with_branch(principal).where(Property.uuid == uuid))).first()
    if row is None:
        raise NotFound(NOT_FOUND)
    return row[0], str(row[1])


async def get_visible_by_id(session: AsyncSession, principal: Principal, property_id: int) -> tuple[Property, str]:
    row = (await session.execute(readable_properties_with_branch(principal).where(Property.id == property_id))).first()
    if row is None:
        raise NotFound(NOT_FOUND)
    return row[0], str(row[1])


def _snapshot(p: Property) -> dict[str, Any]:
    return {k: v for k, v in payload(p, "").items() if k not in ("branch_name", "created_at", "updated_at")}


async def _default_branch(session: AsyncSession, principal: Principal) -> int:
    """An agent creating an address without a branch gets their primary branch."""
    primary = (await session.execute(agents_repository.own_primary_branch_id(principal))).scalar_one_or_none()
    if primary is not None:
        return int(primary)
    raise InvalidInput.field("branch_id", "is required")


async def create_property(
    session: AsyncSession, principal: Principal, geocoder: Geocoder, body: PropertyManageRequest
) -> tuple[Property, str]:
    """Validate and geocode first, then insert; an unknown postcode writes nothing."""
    branch_id = body.branch_id or await _default_branch(session, principal)
    branch = await agents.ensure_branch_visible(session, principal, branch_id)
    line1 = clean_text(body.address_line1, "address_line1", 200, required=True)
    if not body.postcode or not body.postcode.strip():
        raise InvalidInput.field("postcode", "is required")
    point = await geocode_postcode(geocoder, body.postcode)
    if point.postcode.count(" ") != 1 or len(point.postcode.split(" ")[1]) != 3:
        raise InvalidInput.field("postcode", "must be a full postcode such as LS1 4AP")
    prop = Property(
        organisation_id=branch.organisation_id,
        branch_id=branch.id,
        address_line1=line1,
        address_line2=clean_text(body.address_line2, "address_line2", 200),
        town=clean_text(body.town, "town", 100),
        postcode=point.postcode,
        latitude=point.latitude,
        longitude=point.longitude,
        geo_precision=point.precision,
        tenant_name=clean_text(body.tenant_name, "tenant_name", 200),
        tenant_email=clean_email(body.tenant_email, "tenant_email"),
        tenant_phone=clean_phone(body.tenant_phone, "tenant_phone"),
        is_active=True if body.is_active is None else body.is_active,
    )
    session.add(prop)
    await session.flush()
    await audit.record(
        session,
        organisation_id=principal.organisation_id,
        user_id=principal.user_id,
        action="create",
        entity="property",
        entity_id=prop.id,
        after=_snapshot(prop),
    )
    return prop, branch.name


async def update_property(
    session: AsyncSession, principal: Principal, geocoder: Geocoder, body: PropertyManageRequest
) -> tuple[Property, str]:
    """Only the fields sent change; a new postcode is geocoded again. Moving branch needs both visible."""
    prop, branch_name = await get_visible(session, principal, body.uuid)
    before = _snapshot(prop)
    sent = body.model_fields_set
    if "branch_id" in sent and body.branch_id is not None and body.branch_id != prop.branch_id:
        branch = await agents.ensure_branch_visible(session, principal, body.branch_id)
        prop.branch_id, branch_name = branch.id, branch.name
    if "address_line1" in sent:
        prop.address_line1 = clean_text(body.address_line1, "address_line1", 200, required=True) or ""
    if "address_line2" in sent:
        prop.address_line2 = clean_text(body.address_line2, "address_line2", 200)
    if "town" in sent:
        prop.town = clean_text(body.town, "town", 100)
    if "postcode" in sent:
        if not body.postcode or not body.postcode.strip():
            raise InvalidInput.field("postcode", "is required")
        point = await geocode_postcode(geocoder, body.postcode)
        if point.postcode.count(" ") != 1 or len(point.postcode.split(" ")[1]) != 3:
            raise InvalidInput.field("postcode", "must be a full postcode such as LS1 4AP")
        prop.postcode, prop.latitude, prop.longitude = point.postcode, point.latitude, point.longitude
        prop.geo_precision = point.precision
    if "tenant_name" in sent:
        prop.tenant_name = clean_text(body.tenant_name, "tenant_name", 200)
    if "tenant_email" in sent:
        prop.tenant_email = clean_email(body.tenant_email, "tenant_email")
    if "tenant_phone" in sent:
        prop.tenant_phone = clean_phone(body.tenant_phone, "tenant_phone")
    if "is_active" in sent and body.is_active is not None:
        prop.is_active = body.is_active
    await session.flush()
    after = _snapshot(prop)
    if after != before:
        await audit.record(
            session,
            organisation_id=principal.organisation_id,
            user_id=principal.user_id,
            action="update",
            entity="property",
            entity_id=prop.id,
            before=before,
            after=after,
        )
    return prop, branch_name
