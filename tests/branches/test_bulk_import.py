"""POST /api/admin/branches with action=bulk_import (alias import_csv): all rows or none."""

from __future__ import annotations

from typing import Any

import httpx

from propops.branches.csv_import import CSV_COLUMNS
from tests.branches.util import unique_code
from tests.conftest import AuthedClient, assert_error

HEADER = ",".join(CSV_COLUMNS) + "\n"


async def upload(who: AuthedClient, content: bytes, action: str = "bulk_import", **kw: Any) -> httpx.Response:
    return await who.post(
        "/api/admin/branches",
        data={"action": action},
        files={"csv_file": ("branches.csv", content, "text/csv")},
        **kw,
    )


async def codes_exist(admin: AuthedClient, *codes: str) -> list[str]:
    found = []
    for code in codes:
        r = await admin.get("/api/admin/branches", params={"search": code})
        found += [b["code"] for b in r.json()["data"] if b["code"] == code]
    return found


class TestBulkImport:
    async def test_imports_rows_with_sla_and_skips_blank_lines(self, admin: AuthedClient) -> None:
        a, b = unique_code("I"), unique_code("I")
        csv_text = HEADER + f'"Imported, One",{a},1 Road,,Leeds,ls1 5hd,0113 496 0000,a@example.com,4,24,72,168\n\n'
        csv_text += f"Imported Two,{b},,,,,,,,,,\n"
        r = await upload(admin, ("\ufeff" + csv_text).encode())
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["data"] == {"imported": 2, "skipped": 1, "errors": []}
        assert body["message"] == "2 branch(es) imported"
        r = await admin.get("/api/admin/branches", params={"search": a})
        row = r.json()["data"][0]
        assert row["name"] == "Imported, One"
        assert row["postcode"] == "LS1 5HD"
        assert [x["target_hours"] for x in row["sla_rules"]] == [4, 24, 72, 168]

    async def test_alias_import_csv_and_only_required_columns(self, admin: AuthedClient) -> None:
        code = unique_code("I")
        r = await upload(admin, f"code,name\n{code},Minimal\n".encode(), action="import_csv")
        assert r.status_code == 200, r.text
        assert await codes_exist(admin, code) == [code]

    async def test_row_errors_import_nothing(self, admin: AuthedClient) -> None:
        good, dup = unique_code("I"), unique_code("I")
        rows = [
            f"Good,{good},,,,,,,,,,",
            f"Bad hours,{unique_code('I')},,,,,,,-4,,,",
            f"Bad postcode,{unique_code('I')},,,,ZZZ,,,,,,",
            f",{unique_code('I')},,,,,,,,,,",
            f"Dup A,{dup},,,,,,,,,,",
            f"Dup B,{dup},,,,,,,,,,",
            "Short row,X",
        ]
        r = await upload(admin, (HEADER + "\n".join(rows) + "\n").encode())
        body = assert_error(r, 400, "no branches imported")
        fields = [e["field"] for e in body["errors"]]
        assert fields == [
            "row 3: sla_emergency_hours",
            "row 4: postcode",
            "row 5: name",
            "row 7: code",
            "row 8: row",
        ]
        assert await codes_exist(admin, good, dup) == []

    async def test_existing_code_is_a_row_error(self, admin: AuthedClient) -> None:
        new = unique_code("I")
        r = await admin.get("/api/admin/branches", params={"action": "get", "id": 1})
        existing = r.json()["data"]["code"]
        r = await upload(admin, f"name,code\nNew,{new}\nOld,{existing}\n".encode())
        body = assert_error(r, 400)
        assert body["errors"] == [{"field": "row 3: code", "message": f"{existing} already exists"}]
        assert await codes_exist(admin, new) == []

    async def test_malformed_files(self, admin: AuthedClient) -> None:
        assert_error(await upload(admin, b""), 400, "empty")
        assert_error(await upload(admin, b"foo,bar\n1,2\n"), 400, "missing column")
        assert_error(await upload(admin, b"name,code,name\nA,B,C\n"), 400, "repeated")
        assert_error(await upload(admin, b'name,code\n"unterminated,X1\n'), 400, "csv")
        assert_error(await upload(admin, b"name,code\n"), 400, "no branch rows")
        assert_error(await upload(admin, b"\x89PNG\r\n\x1a\n\x00\x00\x00"), 400, "binary")
        assert_error(await upload(admin, "name,code\nCaf\xe9,X1\n".encode("latin-1")), 400, "utf-8")

    async def test_ten_megabyte_file_is_refused(self, admin: AuthedClient) -> None:
        big = (HEADER + ("Name,CODE,,,,,,,,,,\n" * 600_000)).encode()[: 10 * 1024 * 1024]
        r = await upload(admin, big)
        assert_error(r, 413)

    async def test_too_many_rows(self, admin: AuthedClient) -> None:
        rows = "".join(f"N,C{i}\n" for i in range(5001))
        assert_error(await upload(admin, ("name,code\n" + rows).encode()), 400, "more than")

    async def test_request_shape_errors(self, admin: AuthedClient) -> None:
        r = await admin.post("/api/admin/branches", data={"action": "bulk_import"}, files={"other": ("x", b"y")})
        assert_error(r, 400, "csv_file")
        r = await admin.post("/api/admin/branches", data={"action": "bulk_import", "csv_file": "not a file"})
        assert_error(r, 415)  # url-encoded: no file can be in it
        assert_error(await upload(admin, b"name,code\nA,B\n", action="create"), 400, "action")
        assert_error(await admin.post("/api/admin/branches", json={"action": "bulk_import"}), 415)

    async def test_csrf_form_field_missing_and_roles(self, admin: AuthedClient, login: Any) -> None:
        code = unique_code("I")
        content = f"name,code\nX,{code}\n".encode()
        assert_error(await upload(admin, content, csrf=False), 403, "csrf")
        assert await codes_exist(admin, code) == []
        r = await admin.post(
            "/api/admin/branches",
            data={"action": "bulk_import", "csrf_token": admin.csrf},
            files={"csv_file": ("b.csv", content, "text/csv")},
            csrf=False,
        )
        assert r.status_code == 200, r.text
        finance = await login("finance@example.com")
        assert_error(await upload(finance, f"name,code\nX,{unique_code()}\n".encode()), 403)
