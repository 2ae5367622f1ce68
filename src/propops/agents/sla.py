"""The agent SLA view (``GET /api/agents/sla``): the seed's shape for the agent's primary branch,
plus ``branches`` with the rules of each branch the agent may operate on, limited to what the
caller may see.

A hot read of the load report's mix: through the ORM it was three statements and ~5 ms of CPU
per request, so it is one Core statement per caller shape (``repository.SLA_VIEW``) on the
committed-row reader.
"""

from __future__ import annotations

from typing import Any

from propops.agents.repository import SLA_VIEW, caller_kind
from propops.agents.service import AGENT_NOT_FOUND
from propops.auth.service import Principal
from propops.core.errors import InvalidInput, NotFound
from propops.core.validation import check_uuid
from propops.infra.executor import Executor


def _rule_view(priority_name: str, job_type_name: str | None, target_hours: int) -> dict[str, Any]:
    view: dict[str, Any] = {"priority_name": priority_name, "target_hours": target_hours}
    if job_type_name is not None:
        view["job_type_name"] = job_type_name
    return view


async def agent_sla(executor: Executor, principal: Principal, agent_uuid: str | None) -> dict[str, Any]:
    """An agent may omit agent_uuid (itself); a missing or hidden agent is the same 404."""
    kind = caller_kind(principal)
    if agent_uuid:
        stmt = SLA_VIEW[(kind, True)]
        rows = await executor.committed(
            stmt,
            caller_id=principal.user_id,
            organisation_id=principal.organisation_id,
            agent_uuid=check_uuid(agent_uuid, "agent_uuid"),
        )
    elif kind == "agent":
        rows = await executor.committed(
            SLA_VIEW[(kind, False)], caller_id=principal.user_id, organisation_id=principal.organisation_id
        )
    else:
        raise InvalidInput.field("agent_uuid", "is required")
    if not rows:
        raise NotFound(AGENT_NOT_FOUND)
    out_branches: list[dict[str, Any]] = []
    for _uuid, branch_id, branch_name, is_primary, priority_name, job_type_name, hours in rows:
        if branch_id is None:
            continue
        if not out_branches or out_branches[-1]["branch_id"] != branch_id:
            out_branches.append(
                {"branch_id": branch_id, "branch_name": branch_name, "is_primary": bool(is_primary), "sla_rules": []}
            )
        if priority_name is not None:
            out_branches[-1]["sla_rules"].append(_rule_view(priority_name, job_type_name, hours))
    primary = next((b for b in out_branches if b["is_primary"]), None)
    return {
        "agent_uuid": rows[0][0],
        "branch_name": primary["branch_name"] if primary else None,
        "sla_rules": primary["sla_rules"] if primary else [],
        "branches": out_branches,
    }
