"""/api/admin/branches (GET/POST/PUT/DELETE) and /api/admin/enable-branch, /api/admin/disable-branch."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from propops.branches import csv_import
from tests.branches.util import new_agent, new_branch, unique_code
from tests.conftest import AuthedClient, assert_error

BRANCH_KEYS = {
    "id",
    "ID",
    "uuid",
    "name",
    "code",
    "address_line1",
    "address_line2",
    "town",
    "postcode",
    "phone",
    "email",
    "is_active",
    "agent_count",
    "open_jobs",
    "created_at",
    "updated_at",
    "sla_rules",
}
Login = Callable[..., Awaitable[AuthedClient]]
NO_ADMIN_KEY = ("finance@example.com", "manager@example.com", "agent001@example.com", "contractor001@example.com")
HOSTILE = "<script>alert(1)</script>'; DROP TABLE branches; --"


async def list_all(admin: AuthedClient, **params: Any) -> dict[str, Any]:
    r = await admin.get("/api/admin/branches", params={"action": "list", "limit": 200, **params})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


class TestListBranches:
    async def test_shape_and_demo_rows(self, admin: AuthedClient) -> None:
        body = await list_all(admin, search="Branch_00")
        assert body["success"] is True
        assert body["message"] == "Operation completed successfully"
        first = next(b for b in body["data"] if b["id"] == 1)
        assert set(first) == BRANCH_KEYS
        assert first["name"] == "Branch_001"
        assert first["ID"] == 1
        assert first["is_active"] is True
        assert isinstance(first["open_jobs"], int)
        assert first["open_jobs"] >= 0
        assert first["agent_count"] >= 15
        assert first["created_at"].endswith("Z")
        assert [(r["priority_name"], r["target_hours"]) for r in first["sla_rules"]] == [
            ("Emergency", 4),
            ("High", 24),
            ("Medium", 72),
            ("Low", 168),
        ]

    async def test_exact_count_and_paging_on_fresh_database(self, make_app: Callable[..., Awaitable[Any]]) -> None:
        from tests.conftest import client_for, login_as

        app = await make_app()
        async with client_for(app) as http:
            admin = await login_as(http, "admin@example.com")
            r = await admin.get("/api/admin/branches", params={"limit": 2, "offset": 1})
            body = r.json()
            assert body["count"] == 5
            assert [b["name"] for b in body["data"]] == ["Branch_002", "Branch_003"]
            r = await admin.get("/api/admin/branches")  # action defaults to list
            assert r.json()["count"] == 5
            assert len(r.json()["data"]) == 5

    async def test_action_get_and_unknown(self, admin: AuthedClient) -> None:
        r = await admin.get("/api/admin/branches", params={"action": "get", "id": 2})
        assert r.status_code == 200
        rules = r.json()["data"]["sla_rules"]
        assert {"priority_name": "Emergency", "job_type_name": "Gas Safety", "target_hours": 2}.items() <= next(
            x for x in rules if x["job_type_name"]
        ).items()
        assert_error(await admin.get("/api/admin/branches", params={"action": "get", "id": 999999}), 404)
        assert_error(await admin.get("/api/admin/branches", params={"action": "get", "uuid": "nope"}), 400)
        assert_error(await admin.get("/api/admin/branches", params={"action": "get"}), 400)

    @pytest.mark.parametrize(
        "params",
        [{"action": "bogus"}, {"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "x"}, {"is_active": "maybe"}],
    )
    async def test_bad_parameters(self, admin: AuthedClient, params: dict[str, Any]) -> None:
        assert_error(await admin.get("/api/admin/branches", params=params), 400)

    async def test_search_and_active_filter(self, admin: AuthedClient) -> None:
        b = await new_branch(admin, name="Searchable 100% Branch")
        body = await list_all(admin, search="100%")
        assert [x["id"] for x in body["data"]] == [b["id"]]
        underscored = (await list_all(admin, search="_"))["data"]
        assert underscored
        assert all("_" in x["name"] or "_" in x["code"] for x in underscored)
        await admin.post("/api/admin/disable-branch", json={"branch_id": b["id"]})
        assert b["id"] not in [x["id"] for x in (await list_all(admin, is_active="true"))["data"]]
        assert b["id"] in [x["id"] for x in (await list_all(admin, is_active="false"))["data"]]
        assert_error(await admin.get("/api/admin/branches", params={"search": "a\x00b"}), 400)

    async def test_roles(self, client: httpx.AsyncClient, login: Login) -> None:
        assert_error(await client.get("/api/admin/branches"), 401)
        for email in (
            "finance@example.com",
            "manager@example.com",
            "agent001@example.com",
            "contractor001@example.com",
        ):
            who = await login(email)
            assert_error(await who.get("/api/admin/branches"), 403, "permission")


class TestDownloadTemplate:
    async def test_csv_headers_only(self, admin: AuthedClient) -> None:
        r = await admin.get("/api/admin/branches", params={"action": "download_template"})
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        assert r.text.strip().split(",") == csv_import.CSV_COLUMNS

    async def test_roles(self, client: httpx.AsyncClient, login: Login) -> None:
        assert_error(await client.get("/api/admin/branches?action=download_template"), 401)
        finance = await login("finance@example.com")
        assert_error(await finance.get("/api/admin/branches?action=download_template"), 403)


class TestCreateBranch:
    async def test_create_with_sla_rules_names_aliases_and_job_type(self, admin: AuthedClient) -> None:
        code = unique_code("c-")
        r = await admin.post(
            "/api/admin/branches",
            json={
                "name": "  North  ",
                "code": code.lower(),
                "postcode": "n19gu",
                "email": "North@Example.com",
                "phone": "+44 20 7946 0000",
                "sla_rules": [
                    {"priority": "Urgent", "target_hours": 2},
                    {"priority": "high", "target_hours": 12},
                    {"priority": "Normal", "target_hours": 48},
                    {"priority_id": 4, "target_hours": 100},
                    {"priority": 1, "job_type": "Gas Safety", "target_hours": 1},
                    {"priority": "Low", "job_type_id": 3, "target_hours": 200},
                ],
            },
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["message"] == "Branch created"
        data = body["data"]
        assert set(data) == BRANCH_KEYS
        assert data["name"] == "North"
        assert data["code"] == code.upper()
        assert data["postcode"] == "N1 9GU"
        assert data["email"] == "north@example.com"
        assert data["is_active"] is True
        assert data["agent_count"] == 0
        got = [(x["priority_name"], x["job_type_name"], x["target_hours"]) for x in data["sla_rules"]]
        assert got == [
            ("Emergency", None, 2),
            ("Emergency", "Gas Safety", 1),
            ("High", None, 12),
            ("Medium", None, 48),
            ("Low", None, 100),
            ("Low", "EICR", 200),
        ]

    async def test_duplicate_code_is_409(self, admin: AuthedClient) -> None:
        b = await new_branch(admin)
        r = await admin.post("/api/admin/branches", json={"name": "Dup", "code": b["code"].lower()})
        body = assert_error(r, 409, "already exists")
        assert body["errors"] == [{"field": "code", "message": "already in use"}]

    @pytest.mark.parametrize(
        ("rule", "field"),
        [
            ({"priority": "High", "target_hours": -4}, "target_hours"),
            ({"priority": "High", "target_hours": 0}, "target_hours"),
            ({"priority": "High", "target_hours": 8761}, "target_hours"),
            ({"priority": "High", "target_hours": 1.5}, "target_hours"),
            ({"priority": "High", "target_hours": "4"}, "target_hours"),
            ({"priority": "High", "target_hours": True}, "target_hours"),
            ({"priority": "High"}, "target_hours"),
            ({"priority": "Critical", "target_hours": 4}, "priority"),
            ({"priority_id": 9, "target_hours": 4}, "priority"),
            ({"target_hours": 4}, "priority"),
            ({"priority": "High", "job_type": "Window cleaning", "target_hours": 4}, "job_type"),
            ({"priority": "High", "job_type_id": 999, "target_hours": 4}, "job_type"),
            ({"priority": "High", "priority_id": 2, "target_hours": 4}, "priority"),
        ],
    )
    async def test_sla_rule_validation(self, admin: AuthedClient, rule: dict[str, Any], field: str) -> None:
        code = unique_code()
        r = await admin.post("/api/admin/branches", json={"name": "Bad SLA", "code": code, "sla_rules": [rule]})
        body = assert_error(r, 400)
        assert field in body["errors"][0]["field"], body
        assert code not in str((await list_all(admin, search=code))["data"])

    async def test_duplicate_rule_in_one_request(self, admin: AuthedClient) -> None:
        rules = [{"priority": "Urgent", "target_hours": 4}, {"priority": "Emergency", "target_hours": 5}]
        r = await admin.post("/api/admin/branches", json={"name": "D", "code": unique_code(), "sla_rules": rules})
        assert_error(r, 400, "duplicate")

    @pytest.mark.parametrize(
        "body",
        [
            {"code": "X1"},
            {"name": "   ", "code": "X1"},
            {"name": "N"},
            {"name": 123, "code": "X1"},
            {"name": "N", "code": ["X1"]},
            {"name": "N", "code": "bad code!"},
            {"name": "N", "code": "X" * 21},
            {"name": "N" * 121, "code": "X1"},
            {"name": "a\x00b", "code": "X1"},
            {"name": "N", "code": "X1", "postcode": "NOT A POSTCODE"},
            {"name": "N", "code": "X1", "email": "not-an-email"},
            {"name": "N", "code": "X1", "phone": "call me"},
            {"name": "N", "code": "X1", "sla_rules": "fast"},
            {"name": "N", "code": "X1", "action": "destroy"},
        ],
    )
    async def test_field_validation(self, admin: AuthedClient, body: dict[str, Any]) -> None:
        assert_error(await admin.post("/api/admin/branches", json=body), 400)

    async def test_malformed_json_and_wrong_media_type(self, admin: AuthedClient) -> None:
        headers = {"content-type": "application/json"}
        assert_error(await admin.post("/api/admin/branches", content=b"{nope", headers=headers), 400)
        assert_error(await admin.post("/api/admin/branches", content=b"[1, 2]", headers=headers), 400)
        r = await admin.post("/api/admin/branches", content=b"name=x", headers={"content-type": "text/plain"})
        assert_error(r, 415)

    async def test_hostile_strings_stored_verbatim(self, admin: AuthedClient) -> None:
        b = await new_branch(admin, name=HOSTILE, address_line1='" OR 1=1 --', town="<b>Town</b>")
        r = await admin.get("/api/admin/branches", params={"action": "get", "id": b["id"]})
        assert r.headers["content-type"].startswith("application/json")
        data = r.json()["data"]
        assert data["name"] == HOSTILE
        assert data["address_line1"] == '" OR 1=1 --'
        assert data["town"] == "<b>Town</b>"
        assert "<script>" in r.text  # JSON, not HTML: the client escapes on render
        assert (await list_all(admin, search="DROP TABLE"))["count"] >= 1

    async def test_csrf_missing_changes_nothing(self, admin: AuthedClient) -> None:
        code = unique_code()
        r = await admin.post("/api/admin/branches", json={"name": "No CSRF", "code": code}, csrf=False)
        assert_error(r, 403, "csrf")
        r = await admin.post(
            "/api/admin/branches", json={"name": "Bad CSRF", "code": code}, csrf=False, headers={"X-CSRF-Token": "x"}
        )
        assert_error(r, 403, "csrf")
        assert (await list_all(admin, search=code))["count"] == 0

    async def test_csrf_in_json_body_accepted(self, admin: AuthedClient) -> None:
        code = unique_code()
        r = await admin.post(
            "/api/admin/branches", json={"name": "B", "code": code, "csrf_token": admin.csrf}, csrf=False
        )
        assert r.status_code == 200, r.text

    async def test_roles(self, client: httpx.AsyncClient, login: Login) -> None:
        body = {"name": "R", "code": unique_code()}
        assert_error(await client.post("/api/admin/branches", json=body), 401)
        for email in (
            "finance@example.com",
            "manager@example.com",
            "agent001@example.com",
            "contractor001@example.com",
        ):
            who = await login(email)
            assert_error(await who.post("/api/admin/branches", json=body), 403)


class TestUpdateBranch:
    async def test_update_details_keeps_unsent_fields(self, admin: AuthedClient) -> None:
        b = await new_branch(admin, town="Leeds", phone="0113 496 0000")
        r = await admin.put("/api/admin/branches", json={"id": b["id"], "name": "Renamed", "town": None})
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert data["name"] == "Renamed"
        assert data["town"] is None
        assert data["phone"] == "0113 496 0000"
        assert data["code"] == b["code"]
        r = await admin.put("/api/admin/branches", json={"uuid": b["uuid"], "code": unique_code("n")})
        assert r.status_code == 200
        assert r.json()["data"]["code"] != b["code"]

    async def test_sla_rules_replace_the_set(self, admin: AuthedClient) -> None:
        b = await new_branch(admin, sla_rules=[{"priority": "High", "target_hours": 24}])
        rules = [
            {"priority": "Emergency", "target_hours": 3},
            {"priority": "Emergency", "job_type": 2, "target_hours": 1},
        ]
        r = await admin.put("/api/admin/branches", json={"branch_id": b["id"], "sla_rules": rules})
        assert r.status_code == 200, r.text
        got = [(x["priority_name"], x["job_type_name"], x["target_hours"]) for x in r.json()["data"]["sla_rules"]]
        assert got == [("Emergency", None, 3), ("Emergency", "Gas Safety", 1)]
        r = await admin.put("/api/admin/branches", json={"id": b["id"], "name": "Same rules"})
        assert len(r.json()["data"]["sla_rules"]) == 2  # not sent: unchanged
        r = await admin.put("/api/admin/branches", json={"id": b["id"], "sla_rules": []})
        assert r.json()["data"]["sla_rules"] == []

    async def test_invalid_rule_rolls_back_everything(self, admin: AuthedClient) -> None:
        b = await new_branch(admin, sla_rules=[{"priority": "High", "target_hours": 24}])
        r = await admin.put(
            "/api/admin/branches",
            json={"id": b["id"], "name": "Half", "sla_rules": [{"priority": "Low", "target_hours": -1}]},
        )
        assert_error(r, 400)
        data = (await admin.get("/api/admin/branches", params={"action": "get", "id": b["id"]})).json()["data"]
        assert data["name"] == b["name"]
        assert len(data["sla_rules"]) == 1

    async def test_errors(self, admin: AuthedClient) -> None:
        a, b = await new_branch(admin), await new_branch(admin)
        assert_error(await admin.put("/api/admin/branches", json={"id": a["id"], "code": b["code"]}), 409)
        assert_error(await admin.put("/api/admin/branches", json={"id": 99999999, "name": "x"}), 404)
        assert_error(await admin.put("/api/admin/branches", json={"name": "x"}), 400)
        assert_error(await admin.put("/api/admin/branches", json={"id": "1", "name": "x"}), 400)
        assert_error(await admin.put("/api/admin/branches", json={"id": 2**40, "name": "x"}), 400)
        assert_error(await admin.put("/api/admin/branches", json={"id": a["id"], "name": ""}), 400)

    async def test_csrf_and_roles(self, admin: AuthedClient, login: Login) -> None:
        b = await new_branch(admin)
        assert_error(await admin.put("/api/admin/branches", json={"id": b["id"], "name": "x"}, csrf=False), 403)
        finance = await login("finance@example.com")
        assert_error(await finance.put("/api/admin/branches", json={"id": b["id"], "name": "x"}), 403)
        data = (await admin.get("/api/admin/branches", params={"action": "get", "id": b["id"]})).json()["data"]
        assert data["name"] == b["name"]


class TestDeleteBranch:
    async def test_refused_while_only_branch_of_an_agent(self, admin: AuthedClient) -> None:
        b = await new_branch(admin)
        other = await new_branch(admin)
        agent = await new_agent(admin, b["id"])
        assert_error(await admin.delete("/api/admin/branches", params={"id": b["id"]}), 409, "only branch")
        # once the agent has another branch, removal disables (not erases) the branch
        r = await admin.post(
            "/api/agents/sharing", json={"action": "assign", "agent_uuid": agent["uuid"], "branch_id": other["id"]}
        )
        assert r.status_code == 200
        r = await admin.delete("/api/admin/branches", params={"id": b["id"]})
        assert r.status_code == 200, r.text
        assert r.json()["data"]["is_active"] is False
        data = (await admin.get("/api/admin/branches", params={"action": "get", "id": b["id"]})).json()["data"]
        assert data["is_active"] is False
        assert data["agent_count"] == 1
        # idempotent
        assert (await admin.delete("/api/admin/branches", params={"id": b["id"]})).status_code == 200

    async def test_refused_while_jobs_are_open(self, admin: AuthedClient) -> None:
        from tests.jobs.helpers import new_job, new_property

        b = await new_branch(admin)
        await new_job(admin, await new_property(admin, branch_id=b["id"]))
        assert_error(await admin.delete("/api/admin/branches", params={"id": b["id"]}), 409, "1 open job")
        data = (await admin.get("/api/admin/branches", params={"action": "get", "id": b["id"]})).json()["data"]
        assert data["is_active"] is True

    async def test_id_in_json_body_and_errors(self, admin: AuthedClient) -> None:
        b = await new_branch(admin)
        r = await admin.request("DELETE", "/api/admin/branches", json={"branch_id": b["id"]})
        assert r.status_code == 200
        assert r.json()["data"]["is_active"] is False
        assert_error(await admin.delete("/api/admin/branches", params={"id": 99999999}), 404)
        assert_error(await admin.delete("/api/admin/branches"), 400)
        assert_error(await admin.delete("/api/admin/branches", params={"id": "abc"}), 400)

    async def test_csrf_and_roles(self, admin: AuthedClient, login: Login, client: httpx.AsyncClient) -> None:
        b = await new_branch(admin)
        assert_error(await admin.delete("/api/admin/branches", params={"id": b["id"]}, csrf=False), 403)
        assert_error(await client.delete("/api/admin/branches", params={"id": b["id"]}), 401)
        for email in ("finance@example.com", "agent001@example.com", "contractor001@example.com"):
            who = await login(email)
            assert_error(await who.delete("/api/admin/branches", params={"id": b["id"]}), 403)
        data = (await admin.get("/api/admin/branches", params={"action": "get", "id": b["id"]})).json()["data"]
        assert data["is_active"] is True


class TestEnableDisableBranch:
    async def test_disable_then_enable(self, admin: AuthedClient) -> None:
        b = await new_branch(admin)
        agent = await new_agent(admin, b["id"])
        r = await admin.post("/api/admin/disable-branch", json={"branch_id": b["id"]})
        assert r.status_code == 200
        assert r.json()["data"]["is_active"] is False
        assert r.json()["message"] == "Branch disabled"
        # disabling is allowed even for a sole branch (existing work is kept); new assignments are refused
        other = await new_agent(admin, (await new_branch(admin))["id"])
        r = await admin.post(
            "/api/agents/sharing", json={"action": "assign", "agent_uuid": other["uuid"], "branch_id": b["id"]}
        )
        assert_error(r, 409, "disabled")
        assert agent["branch_id"] == b["id"]
        r = await admin.post("/api/admin/enable-branch", json={"id": b["id"]})
        assert r.status_code == 200
        assert r.json()["data"]["is_active"] is True
        r = await admin.post(
            "/api/agents/sharing", json={"action": "assign", "agent_uuid": other["uuid"], "branch_id": b["id"]}
        )
        assert r.status_code == 200

    async def test_errors(self, admin: AuthedClient) -> None:
        assert_error(await admin.post("/api/admin/disable-branch", json={"branch_id": 99999999}), 404)
        assert_error(await admin.post("/api/admin/enable-branch", json={}), 400)
        assert_error(await admin.post("/api/admin/enable-branch", json={"branch_id": "x"}), 400)

    async def test_csrf_and_roles(self, admin: AuthedClient, login: Login, client: httpx.AsyncClient) -> None:
        b = await new_branch(admin)
        assert_error(await admin.post("/api/admin/disable-branch", json={"branch_id": b["id"]}, csrf=False), 403)
        assert_error(await client.post("/api/admin/disable-branch", json={"branch_id": b["id"]}), 401)
        for email in (
            "manager@example.com",
            "finance@example.com",
            "agent001@example.com",
            "contractor001@example.com",
        ):
            who = await login(email)
            assert_error(await who.post("/api/admin/disable-branch", json={"branch_id": b["id"]}), 403)
            assert_error(await who.post("/api/admin/enable-branch", json={"branch_id": b["id"]}), 403)
        data = (await admin.get("/api/admin/branches", params={"action": "get", "id": b["id"]})).json()["data"]
        assert data["is_active"] is True
