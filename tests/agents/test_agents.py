"""/api/agents/list, /api/agents/branches (GET/POST), /api/agents/sharing, /api/agents/sla, /api/agents/manage."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.branches.util import AGENT_001, new_agent, new_branch
from tests.conftest import AuthedClient, assert_error, client_for, login_as

Login = Callable[..., Awaitable[AuthedClient]]
SEED_AGENT_001 = {
    "ID": 10,
    "uuid": AGENT_001,
    "first_name": "Agent_001",
    "last_name": "Surname_001",
    "email": "agent001@example.com",
    "branch_id": 1,
    "branch_name": "Branch_001",
    "is_active": True,
}
SEED_SLA = {
    "agent_uuid": AGENT_001,
    "branch_name": "Branch_001",
    "sla_rules": [
        {"priority_name": "Emergency", "target_hours": 4},
        {"priority_name": "High", "target_hours": 24},
        {"priority_name": "Medium", "target_hours": 72},
        {"priority_name": "Low", "target_hours": 168},
    ],
}
ASSIGNMENT_KEYS = {
    "agent_ID",
    "agent_uuid",
    "agent_name",
    "branch_id",
    "branch_uuid",
    "branch_name",
    "branch_code",
    "branch_is_active",
    "is_primary",
    "shared",
    "assigned_at",
}


async def assign(
    who: AuthedClient, agent_uuid: str, branch_id: int, action: str = "assign", **kw: Any
) -> httpx.Response:
    return await who.post(
        "/api/agents/sharing", json={"action": action, "agent_uuid": agent_uuid, "branch_id": branch_id, **kw}
    )


class TestAgentList:
    async def test_seed_example_exactly_on_fresh_database(self, make_app: Callable[..., Awaitable[Any]]) -> None:
        app = await make_app()
        async with client_for(app) as http:
            admin = await login_as(http, "admin@example.com")
            for params in ({"action": "list"}, {"action": "list", "branch_id": 1}):
                r = await admin.get("/api/agents/list", params=params)
                assert r.status_code == 200
                body = r.json()
                assert set(body) == {"success", "data", "count", "message"}
                assert body["success"] is True
                assert body["message"] == "Operation completed successfully"
                assert body["count"] == 15
                assert len(body["data"]) == 15
                assert body["data"][0] == SEED_AGENT_001
                assert all(set(row) == set(SEED_AGENT_001) for row in body["data"])
            r = await admin.get("/api/agents/list", params={"action": "list", "branch_id": 3, "limit": 2, "offset": 1})
            body = r.json()
            assert body["count"] == 5  # agents 9-11 (primary), 3 and 7 (shared)
            assert [row["ID"] for row in body["data"]] == [16, 18]

    async def test_search_name_and_email(self, admin: AuthedClient) -> None:
        r = await admin.get("/api/agents/list", params={"action": "list", "search": "Agent_001"})
        assert [row["ID"] for row in r.json()["data"]] == [10]
        r = await admin.get("/api/agents/list", params={"action": "list", "search": "AGENT002@EXAMPLE"})
        assert [row["ID"] for row in r.json()["data"]] == [11]
        r = await admin.get("/api/agents/list", params={"action": "list", "search": "agent_001 surname_001"})
        assert [row["ID"] for row in r.json()["data"]] == [10]
        r = await admin.get("/api/agents/list", params={"action": "list", "search": "%"})
        assert r.json()["count"] == 0  # literal, not a wildcard
        r = await admin.get("/api/agents/list", params={"action": "list", "search": "' OR 1=1 --"})
        assert r.status_code == 200
        assert r.json()["count"] == 0

    @pytest.mark.parametrize(
        "params",
        [
            {},
            {"action": "get"},
            {"action": "list", "limit": 0},
            {"action": "list", "limit": 201},
            {"action": "list", "offset": -1},
            {"action": "list", "branch_id": "one"},
            {"action": "list", "branch_id": 2**40},
            {"action": "list", "search": "x" * 101},
            {"action": "list", "search": "a\x00b"},
        ],
    )
    async def test_bad_parameters(self, admin: AuthedClient, params: dict[str, Any]) -> None:
        assert_error(await admin.get("/api/agents/list", params=params), 400)

    async def test_unknown_branch_is_404(self, admin: AuthedClient) -> None:
        assert_error(await admin.get("/api/agents/list", params={"action": "list", "branch_id": 999999}), 404)

    async def test_agent_sees_only_agents_at_their_branches(self, admin: AuthedClient, login: Login) -> None:
        b = await new_branch(admin)
        me = await new_agent(admin, b["id"])
        colleague = await new_agent(admin, b["id"])
        who = await login(me["email"], me["password"])
        r = await who.get("/api/agents/list", params={"action": "list"})
        assert r.status_code == 200
        assert sorted(row["uuid"] for row in r.json()["data"]) == sorted([me["uuid"], colleague["uuid"]])
        assert r.json()["count"] == 2
        assert_error(await who.get("/api/agents/list", params={"action": "list", "branch_id": 1}), 404)
        r = await who.get("/api/agents/list", params={"action": "list", "branch_id": b["id"]})
        assert r.json()["count"] == 2

    async def test_inactive_agents(self, admin: AuthedClient) -> None:
        b = await new_branch(admin)
        a = await new_agent(admin, b["id"])
        await admin.post("/api/agents/manage", json={"action": "deactivate", "agent_uuid": a["uuid"]})
        r = await admin.get("/api/agents/list", params={"action": "list", "branch_id": b["id"]})
        assert r.json()["count"] == 0
        r = await admin.get(
            "/api/agents/list", params={"action": "list", "branch_id": b["id"], "include_inactive": "true"}
        )
        assert [(row["uuid"], row["is_active"]) for row in r.json()["data"]] == [(a["uuid"], False)]

    async def test_roles(self, client: httpx.AsyncClient, login: Login) -> None:
        assert_error(await client.get("/api/agents/list?action=list"), 401)
        for email in ("finance@example.com", "manager@example.com", "agent001@example.com"):
            who = await login(email)
            assert (await who.get("/api/agents/list?action=list")).status_code == 200
        contractor = await login("contractor001@example.com")
        assert_error(await contractor.get("/api/agents/list?action=list"), 403)


class TestAgentBranchesList:
    async def test_one_agent(self, admin: AuthedClient) -> None:
        r = await admin.get("/api/agents/branches", params={"agent_uuid": "880e8400-e29b-41d4-a716-446655440007"})
        assert r.status_code == 200
        body = r.json()
        assert body["count"] == 3
        rows = body["data"]
        assert all(set(row) == ASSIGNMENT_KEYS for row in rows)
        assert [(x["branch_name"], x["is_primary"], x["shared"]) for x in rows] == [
            ("Branch_002", True, False),
            ("Branch_001", False, True),
            ("Branch_003", False, True),
        ]
        assert rows[0]["agent_ID"] == 16
        assert rows[0]["agent_name"] == "Agent_007 Surname_007"

    async def test_all_and_by_branch(self, admin: AuthedClient) -> None:
        r = await admin.get("/api/agents/branches", params={"limit": 200})
        assert r.json()["count"] >= 15 + 14
        assert {x["agent_ID"] for x in r.json()["data"]} >= set(range(10, 25))
        r = await admin.get("/api/agents/branches", params={"branch_id": 5})
        assert sorted((x["agent_ID"], x["is_primary"]) for x in r.json()["data"]) == [
            (21, False),
            (23, True),
            (24, True),
        ]

    async def test_errors(self, admin: AuthedClient) -> None:
        assert_error(await admin.get("/api/agents/branches", params={"agent_uuid": "not-a-uuid"}), 400)
        unknown = "00000000-0000-4000-8000-000000000000"
        assert_error(await admin.get("/api/agents/branches", params={"agent_uuid": unknown}), 404, "agent not found")
        assert_error(await admin.get("/api/agents/branches", params={"branch_id": 999999}), 404)
        assert_error(await admin.get("/api/agents/branches", params={"limit": 500}), 400)

    async def test_roles(self, client: httpx.AsyncClient, login: Login) -> None:
        assert_error(await client.get("/api/agents/branches"), 401)
        manager = await login("manager@example.com")
        assert (await manager.get("/api/agents/branches")).status_code == 200
        for email in ("finance@example.com", "agent001@example.com", "contractor001@example.com"):
            who = await login(email)
            assert_error(await who.get("/api/agents/branches"), 403)


@pytest.mark.parametrize("path", ["/api/agents/sharing", "/api/agents/branches"])
class TestSharing:
    async def test_assign_is_idempotent_and_unassign_alias(self, admin: AuthedClient, path: str) -> None:
        home, extra = await new_branch(admin), await new_branch(admin)
        a = await new_agent(admin, home["id"])
        body = {"action": "assign", "agent_uuid": a["uuid"], "branch_id": extra["id"], "csrf_token": admin.csrf}
        r = await admin.post(path, json=body, csrf=False)  # CSRF in the body, as the seed's curl sends it
        assert r.status_code == 200, r.text
        assert r.json()["message"] == "Branch assignment updated"
        data = r.json()["data"]
        assert data["changed"] is True
        assert data["action"] == "assign"
        assert [(x["branch_id"], x["is_primary"]) for x in data["branches"]] == [
            (home["id"], True),
            (extra["id"], False),
        ]
        r = await admin.post(path, json=body)
        assert r.status_code == 200
        assert r.json()["data"]["changed"] is False
        assert len(r.json()["data"]["branches"]) == 2
        for action, changed in (("remove", True), ("unassign", False)):
            r = await admin.post(path, json={**body, "action": action})
            assert r.status_code == 200
            assert r.json()["data"]["changed"] is changed
            assert r.json()["data"]["action"] == "unassign"
            assert [x["branch_id"] for x in r.json()["data"]["branches"]] == [home["id"]]

    async def test_primary_moves(self, admin: AuthedClient, path: str) -> None:
        home, other = await new_branch(admin), await new_branch(admin)
        a = await new_agent(admin, home["id"])
        r = await admin.post(
            path, json={"action": "assign", "agent_uuid": a["uuid"], "branch_id": other["id"], "is_primary": True}
        )
        assert [(x["branch_id"], x["is_primary"]) for x in r.json()["data"]["branches"]] == [
            (other["id"], True),
            (home["id"], False),
        ]
        r = await admin.get("/api/agents/list", params={"action": "list", "search": a["email"]})
        assert r.json()["data"][0]["branch_id"] == other["id"]
        # removing the primary promotes the remaining branch
        r = await admin.post(path, json={"action": "unassign", "agent_uuid": a["uuid"], "branch_id": other["id"]})
        assert [(x["branch_id"], x["is_primary"]) for x in r.json()["data"]["branches"]] == [(home["id"], True)]
        # the only branch cannot be removed
        r = await admin.post(path, json={"action": "unassign", "agent_uuid": a["uuid"], "branch_id": home["id"]})
        assert_error(r, 409, "only branch")

    async def test_unknown_agent_or_branch_is_404(self, admin: AuthedClient, path: str) -> None:
        unknown = "00000000-0000-4000-8000-000000000000"
        r = await admin.post(path, json={"action": "assign", "agent_uuid": unknown, "branch_id": 1})
        assert_error(r, 404, "agent not found")
        r = await admin.post(path, json={"action": "assign", "agent_uuid": AGENT_001, "branch_id": 999999})
        assert_error(r, 404, "branch not found")

    @pytest.mark.parametrize(
        "body",
        [
            {"agent_uuid": AGENT_001, "branch_id": 2},
            {"action": "share", "agent_uuid": AGENT_001, "branch_id": 2},
            {"action": "assign", "branch_id": 2},
            {"action": "assign", "agent_uuid": AGENT_001},
            {"action": "assign", "agent_uuid": AGENT_001, "branch_id": "2"},
            {"action": "assign", "agent_uuid": AGENT_001, "branch_id": 2.0},
            {"action": "assign", "agent_uuid": AGENT_001, "branch_id": 0},
            {"action": "assign", "agent_uuid": AGENT_001, "branch_id": 2**40},
            {"action": "assign", "agent_uuid": 12345, "branch_id": 2},
            {"action": "assign", "agent_uuid": "<script>", "branch_id": 2},
            {"action": "assign", "agent_uuid": AGENT_001, "branch_id": 2, "is_primary": "yes"},
            {"action": "unassign", "agent_uuid": AGENT_001, "branch_id": 2, "is_primary": True},
        ],
    )
    async def test_validation(self, admin: AuthedClient, path: str, body: dict[str, Any]) -> None:
        assert_error(await admin.post(path, json=body), 400)
        r = await admin.get("/api/agents/branches", params={"agent_uuid": AGENT_001})
        assert [x["branch_id"] for x in r.json()["data"]] == [1]

    async def test_csrf_missing_changes_nothing(self, admin: AuthedClient, path: str) -> None:
        b = await new_branch(admin)
        a = await new_agent(admin, b["id"])
        extra = await new_branch(admin)
        r = await admin.post(
            path, json={"action": "assign", "agent_uuid": a["uuid"], "branch_id": extra["id"]}, csrf=False
        )
        assert_error(r, 403, "csrf")
        r = await admin.get("/api/agents/branches", params={"agent_uuid": a["uuid"]})
        assert r.json()["count"] == 1

    async def test_roles(self, client: httpx.AsyncClient, login: Login, path: str) -> None:
        body = {"action": "assign", "agent_uuid": AGENT_001, "branch_id": 2}
        assert_error(await client.post(path, json=body), 401)
        for email in ("finance@example.com", "agent001@example.com", "contractor001@example.com"):
            who = await login(email)
            assert_error(await who.post(path, json=body), 403)
        manager = await login("manager@example.com")
        r = await manager.post(path, json={**body, "branch_id": 1})  # already assigned: no change
        assert r.status_code == 200
        assert r.json()["data"]["changed"] is False


class TestSharingVisibility:
    async def test_sharing_changes_what_the_agent_sees_immediately(self, admin: AuthedClient, login: Login) -> None:
        home, shared = await new_branch(admin), await new_branch(admin, sla_rules=[{"priority": 1, "target_hours": 9}])
        me = await new_agent(admin, home["id"])
        stranger = await new_agent(admin, shared["id"])
        who = await login(me["email"], me["password"])
        list_shared = {"action": "list", "branch_id": shared["id"]}
        assert_error(await who.get("/api/agents/list", params=list_shared), 404)
        assert_error(await who.get("/api/agents/sla", params={"agent_uuid": stranger["uuid"]}), 404)
        r = await who.get("/api/agents/sla")
        assert [b["branch_id"] for b in r.json()["data"]["branches"]] == [home["id"]]

        assert (await assign(admin, me["uuid"], shared["id"])).status_code == 200
        r = await who.get("/api/agents/list", params=list_shared)
        assert r.status_code == 200
        assert {x["uuid"] for x in r.json()["data"]} == {me["uuid"], stranger["uuid"]}
        r = await who.get("/api/agents/sla", params={"agent_uuid": stranger["uuid"]})
        assert r.status_code == 200
        assert r.json()["data"]["sla_rules"] == [{"priority_name": "Emergency", "target_hours": 9}]
        r = await who.get("/api/agents/sla")
        assert [b["branch_id"] for b in r.json()["data"]["branches"]] == [home["id"], shared["id"]]

        assert (await assign(admin, me["uuid"], shared["id"], action="remove")).status_code == 200
        assert_error(await who.get("/api/agents/list", params=list_shared), 404)
        assert_error(await who.get("/api/agents/sla", params={"agent_uuid": stranger["uuid"]}), 404)


class TestAgentSla:
    async def test_seed_example(self, admin: AuthedClient) -> None:
        r = await admin.get("/api/agents/sla", params={"agent_uuid": AGENT_001})
        assert r.status_code == 200
        body = r.json()
        assert set(body) == {"success", "data", "message"}
        assert body["message"] == "Operation completed successfully"
        data = body["data"]
        assert {k: data[k] for k in ("agent_uuid", "branch_name", "sla_rules")} == SEED_SLA
        assert set(data) == {"agent_uuid", "branch_name", "sla_rules", "branches"}
        assert data["branches"] == [
            {"branch_id": 1, "branch_name": "Branch_001", "is_primary": True, "sla_rules": SEED_SLA["sla_rules"]}
        ]

    async def test_job_type_rules_and_shared_branches(self, admin: AuthedClient) -> None:
        r = await admin.get("/api/agents/sla", params={"agent_uuid": "880e8400-e29b-41d4-a716-446655440006"})
        data = r.json()["data"]
        assert data["branch_name"] == "Branch_002"
        assert data["sla_rules"][:2] == [
            {"priority_name": "Emergency", "target_hours": 4},
            {"priority_name": "Emergency", "target_hours": 2, "job_type_name": "Gas Safety"},
        ]
        assert [(b["branch_name"], b["is_primary"]) for b in data["branches"]] == [
            ("Branch_002", True),
            ("Branch_001", False),
        ]

    async def test_agent_defaults_to_self_and_cannot_see_others(self, agent: AuthedClient, login: Login) -> None:
        r = await agent.get("/api/agents/sla")
        assert r.status_code == 200
        assert {k: r.json()["data"][k] for k in SEED_SLA} == SEED_SLA
        # agent014 works at Branch_005 and shares Branch_001 with agent001: visible
        r = await agent.get("/api/agents/sla", params={"agent_uuid": "880e8400-e29b-41d4-a716-446655440014"})
        assert r.status_code == 200
        assert [b["branch_name"] for b in r.json()["data"]["branches"]] == ["Branch_001"]  # not Branch_005
        assert r.json()["data"]["branch_name"] is None
        assert r.json()["data"]["sla_rules"] == []

    async def test_other_agents_outside_visibility_are_404(self, admin: AuthedClient, login: Login) -> None:
        b = await new_branch(admin)
        outsider = await new_agent(admin, b["id"])
        who = await login("agent001@example.com")
        assert_error(await who.get("/api/agents/sla", params={"agent_uuid": outsider["uuid"]}), 404, "agent not found")
        unknown = "00000000-0000-4000-8000-000000000000"
        assert_error(await who.get("/api/agents/sla", params={"agent_uuid": unknown}), 404, "agent not found")

    async def test_errors_and_roles(self, admin: AuthedClient, client: httpx.AsyncClient, login: Login) -> None:
        assert_error(await admin.get("/api/agents/sla"), 400, "agent_uuid")
        assert_error(await admin.get("/api/agents/sla", params={"agent_uuid": "x' OR '1'='1"}), 400)
        assert_error(await client.get("/api/agents/sla", params={"agent_uuid": AGENT_001}), 401)
        contractor = await login("contractor001@example.com")
        assert_error(await contractor.get("/api/agents/sla", params={"agent_uuid": AGENT_001}), 403)
        finance = await login("finance@example.com")
        assert (await finance.get("/api/agents/sla", params={"agent_uuid": AGENT_001})).status_code == 200


class TestManageAgents:
    async def test_create_get_and_login(self, admin: AuthedClient, client: httpx.AsyncClient) -> None:
        home, shared = await new_branch(admin), await new_branch(admin)
        a = await new_agent(
            admin, home["id"], shared_branch_ids=[shared["id"], shared["id"]], company_name="<b>Lets & Co</b>"
        )
        assert a["branch_id"] == home["id"]
        assert a["is_active"] is True
        assert a["company_name"] == "<b>Lets & Co</b>"
        assert [(x["branch_id"], x["is_primary"]) for x in a["branches"]] == [(home["id"], True), (shared["id"], False)]
        r = await admin.get("/api/agents/manage", params={"action": "get", "agent_uuid": a["uuid"]})
        assert r.status_code == 200
        assert r.json()["data"]["email"] == a["email"]
        who = await login_as(client, a["email"], a["password"])
        me = await who.get("/api/auth/me")
        assert me.json()["data"]["account_type_name"] == "Agent"
        assert me.json()["data"]["branch_id"] == home["id"]
        assert (await who.get("/api/agents/sla")).json()["data"]["agent_uuid"] == a["uuid"]

    async def test_update(self, admin: AuthedClient) -> None:
        home, other = await new_branch(admin), await new_branch(admin)
        a = await new_agent(admin, home["id"])
        r = await admin.post(
            "/api/agents/manage",
            json={
                "action": "update",
                "agent_uuid": a["uuid"],
                "first_name": "Renamed",
                "email": a["email"].upper(),
                "branch_id": other["id"],
            },
        )
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert data["first_name"] == "Renamed"
        assert data["last_name"] == "Agent"
        assert data["email"] == a["email"]
        assert data["branch_id"] == other["id"]
        assert len(data["branches"]) == 2
        r = await admin.post(
            "/api/agents/manage", json={"action": "update", "agent_uuid": a["uuid"], "email": "agent001@example.com"}
        )
        assert_error(r, 409)

    async def test_deactivate_and_activate(self, admin: AuthedClient, client: httpx.AsyncClient) -> None:
        a = await new_agent(admin, (await new_branch(admin))["id"])
        who = await login_as(client, a["email"], a["password"])
        r = await admin.post("/api/agents/manage", json={"action": "deactivate", "agent_uuid": a["uuid"]})
        assert r.status_code == 200
        assert r.json()["data"]["is_active"] is False
        assert_error(await who.get("/api/agents/sla"), 401)  # sessions revoked
        r = await client.post("/api/auth/login", json={"email": a["email"], "password": a["password"]})
        assert_error(r, 401)
        r = await admin.post("/api/agents/manage", json={"action": "activate", "agent_uuid": a["uuid"]})
        assert r.status_code == 200
        assert r.json()["data"]["is_active"] is True
        await login_as(client, a["email"], a["password"])

    @pytest.mark.parametrize(
        "override",
        [
            {"email": None},
            {"email": "not-an-email"},
            {"email": "a\x00b@example.com"},
            {"password": "short"},
            {"password": None},
            {"first_name": ""},
            {"first_name": 5},
            {"last_name": "x" * 101},
            {"branch_id": None},
            {"branch_id": "1"},
            {"phone": "phone me"},
            {"shared_branch_ids": "1,2"},
            {"action": "explode"},
        ],
    )
    async def test_create_validation(self, admin: AuthedClient, override: dict[str, Any]) -> None:
        body = {
            "action": "create",
            "email": "valid-unused@example.com",
            "password": "agent-pass-123",
            "first_name": "F",
            "last_name": "L",
            "branch_id": 1,
        }
        body.update(override)
        assert_error(await admin.post("/api/agents/manage", json=body), 400)

    async def test_create_conflicts_and_missing(self, admin: AuthedClient) -> None:
        body = {
            "action": "create",
            "email": "agent001@example.com",
            "password": "agent-pass-123",
            "first_name": "F",
            "last_name": "L",
            "branch_id": 1,
        }
        assert_error(await admin.post("/api/agents/manage", json=body), 409)
        body["email"] = "fresh-agent-x@example.com"
        assert_error(await admin.post("/api/agents/manage", json={**body, "branch_id": 999999}), 404)
        assert_error(await admin.post("/api/agents/manage", json={**body, "shared_branch_ids": [999999]}), 404)
        unknown = "00000000-0000-4000-8000-000000000000"
        r = await admin.post("/api/agents/manage", json={"action": "deactivate", "agent_uuid": unknown})
        assert_error(r, 404)
        assert_error(await admin.get("/api/agents/manage", params={"action": "get", "agent_uuid": unknown}), 404)
        assert_error(await admin.get("/api/agents/manage", params={"agent_uuid": AGENT_001}), 400)

    async def test_csrf_and_roles(self, admin: AuthedClient, client: httpx.AsyncClient, login: Login) -> None:
        email = "csrf-agent-never@example.com"
        body = {
            "action": "create",
            "email": email,
            "password": "agent-pass-123",
            "first_name": "F",
            "last_name": "L",
            "branch_id": 1,
        }
        assert_error(await admin.post("/api/agents/manage", json=body, csrf=False), 403, "csrf")
        assert_error(await client.post("/api/agents/manage", json=body), 401)
        # Branch Manager creates no logins (migration 0010): agent administration is not its key
        for who_email in (
            "manager@example.com",
            "finance@example.com",
            "agent001@example.com",
            "contractor001@example.com",
        ):
            who = await login(who_email)
            assert_error(await who.post("/api/agents/manage", json=body), 403)
            assert_error(await who.get("/api/agents/manage", params={"action": "get", "agent_uuid": AGENT_001}), 403)
        r = await admin.get("/api/agents/list", params={"action": "list", "search": email, "include_inactive": "true"})
        assert r.json()["count"] == 0
