"""Agent profiles: the detail view and the staff writes (create with a login and a primary branch,
update, deactivate or activate). No HTTP here; never commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from propops.agents.models import Agent
from propops.agents.service import agent_assignments, assign_branch, ensure_branch_visible, get_visible_agent
from propops.auth.emails import ensure_email_free
from propops.auth.models import ACCOUNT_AGENT, ACCOUNT_STAFF, STATUS_ACTIVE, User
from propops.auth.service import Principal, create_user, set_user_active
from propops.core import audit
from propops.core.clock import iso
from propops.core.errors import Forbidden, InvalidInput
from propops.core.validation import clean_email, clean_phone, clean_text


def _require_staff(principal: Principal) -> None:
    if principal.account_type_id != ACCOUNT_STAFF:
        raise Forbidden()


async def agent_detail(session: AsyncSession, principal: Principal, agent: Agent) -> dict[str, Any]:
    user = await session.get_one(User, agent.user_id)
    assignments = await agent_assignments(session, principal, agent)
    primary = next((a for a in assignments if a["is_primary"]), None)
    return {
        "ID": agent.id,
        "uuid": agent.uuid,
        "user_uuid": user.uuid,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "phone": user.phone,
        "company_name": agent.company_name,
        "branch_id": primary["branch_id"] if primary else None,
        "branch_name": primary["branch_name"] if primary else None,
        "is_active": user.account_status_id == STATUS_ACTIVE,
        "created_at": iso(agent.created_at),
        "branches": assignments,
    }


def _name(value: str | None, field: str) -> str:
    cleaned = clean_text(value, field, 100, required=True)
    assert cleaned is not None
    return cleaned


async def create_agent(session: AsyncSession, principal: Principal, body: Any) -> Agent:
    """The login (Agent account type and role) and the profile, with a primary branch, in one go."""
    _require_staff(principal)
    missing = [f for f in ("email", "password", "first_name", "last_name", "branch_id") if getattr(body, f) is None]
    if missing:
        raise InvalidInput(
            f"Invalid or missing required parameter: {', '.join(missing)}",
            errors=[{"field": f, "message": "is required for action=create"} for f in missing],
        )
    first, last = _name(body.first_name, "first_name"), _name(body.last_name, "last_name")
    phone = clean_phone(body.phone)
    company = clean_text(body.company_name, "company_name", 200)
    primary = await ensure_branch_visible(session, principal, body.branch_id)
    shared = [await ensure_branch_visible(session, principal, b) for b in dict.fromkeys(body.shared_branch_ids or [])]
    user = await create_user(
        session,
        organisation_id=principal.organisation_id,
        email=clean_email(body.email, required=True) or "",
        password=body.password,
        account_type_id=ACCOUNT_AGENT,
        first_name=first,
        last_name=last,
        phone=phone,
        actor_id=principal.user_id,
    )
    agent = Agent(organisation_id=principal.organisation_id, user_id=user.id, company_name=company)
    session.add(agent)
    await session.flush()
    await assign_branch(session, agent, primary, make_primary=True, actor_id=principal.user_id)
    for branch in shared:
        await assign_branch(session, agent, branch, actor_id=principal.user_id)
    await audit.record(
        session,
        organisation_id=principal.organisation_id,
        user_id=principal.user_id,
        action="create",
        entity="agent",
        entity_id=agent.id,
        after={"uuid": agent.uuid},
    )
    return agent


async def update_agent(session: AsyncSession, principal: Principal, body: Any) -> Agent:
    """Only the fields sent change; ``branch_id`` makes that branch the primary one."""
    _require_staff(principal)
    agent = await get_visible_agent(session, principal, body.agent_uuid)
    user = await session.get_one(User, agent.user_id)
    sent = body.model_fields_set
    before = {"first_name": user.first_name, "last_name": user.last_name, "email": user.email, "phone": user.phone}
    if "first_name" in sent:
        user.first_name = _name(body.first_name, "first_name")
    if "last_name" in sent:
        user.last_name = _name(body.last_name, "last_name")
    if "phone" in sent:
        user.phone = clean_phone(body.phone)
    if "company_name" in sent:
        agent.company_name = clean_text(body.company_name, "company_name", 200)
    if "email" in sent:
        email = clean_email(body.email, required=True) or ""
        await ensure_email_free(session, email, user_id=user.id)
        user.email = email
    if "password" in sent and body.password is not None:
        raise InvalidInput.field("password", "cannot be changed here; use the password reset flow")
    if body.branch_id is not None:
        branch = await ensure_branch_visible(session, principal, body.branch_id)
        await assign_branch(session, agent, branch, make_primary=True, actor_id=principal.user_id)
    await session.flush()
    await audit.record(
        session,
        organisation_id=principal.organisation_id,
        user_id=principal.user_id,
        action="update",
        entity="agent",
        entity_id=agent.id,
        before=before,
        after={"first_name": user.first_name, "last_name": user.last_name, "email": user.email, "phone": user.phone},
    )
    return agent


async def set_agent_active(session: AsyncSession, principal: Principal, agent_uuid: str | None, active: bool) -> Agent:
    """Deactivation disables the login and revokes its sessions; history and assignments stay."""
    _require_staff(principal)
    agent = await get_visible_agent(session, principal, agent_uuid)
    user = await session.get_one(User, agent.user_id)
    if user.is_active != active:
        await set_user_active(session, user, active, actor_id=principal.user_id)
    return agent
