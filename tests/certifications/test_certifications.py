"""Upload, download, listing, compliance and type admin over HTTP, as each role."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from propops.certifications.models import Certification
from propops.certifications.service import compliance_gaps
from propops.certifications.storage import LocalStorage, organisation_dir
from tests.certifications.helpers import (
    DOC,
    ELF,
    JPEG,
    MZ,
    PDF,
    PNG,
    contractor_uuid,
    docx_bytes,
    staging_files,
    stored_files,
)
from tests.conftest import AuthedClient, assert_error, client_for, login_as

A_EMAIL, B_EMAIL = "contractor003@example.com", "contractor004@example.com"
FUTURE = (date.today() + timedelta(days=200)).isoformat()


def storage_root(app: FastAPI) -> Path:
    return Path(app.state.ctx.settings.storage_dir)


async def upload(
    who: AuthedClient,
    uuid: str | None,
    content: bytes,
    filename: str = "gas.pdf",
    cert_type: str = "Gas Safe Certificate",
    expiry: str = FUTURE,
    csrf: bool = True,
    **extra: str,
) -> httpx.Response:
    data = {"action": "upload", "cert_type": cert_type, "expiry_date": expiry, "certificate_number": "GS-1", **extra}
    if uuid:
        data["contractor_uuid"] = uuid
    return await who.post("/api/contractors/certification", data=data, files={"file": (filename, content)}, csrf=csrf)


@pytest.fixture
async def a(client: httpx.AsyncClient) -> AuthedClient:
    return await login_as(client, A_EMAIL)


@pytest.fixture
async def b(client: httpx.AsyncClient) -> AuthedClient:
    return await login_as(client, B_EMAIL)


async def count_certs(app: FastAPI) -> int:
    async with app.state.ctx.db.sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(Certification))).scalar_one())


class TestUploadAndDownload:
    async def test_contractor_uploads_own_and_downloads_it(self, app: FastAPI, a: AuthedClient) -> None:
        uuid = await contractor_uuid(app, A_EMAIL)
        r = await upload(a, uuid, PDF, issue_date="2025-01-01")
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert data["status"] == "valid"
        assert data["days_to_expiry"] == 200
        assert data["sha256"] == hashlib.sha256(PDF).hexdigest()
        assert data["content_type"] == "application/pdf"
        assert data["cert_type"] == "Gas Safe registration"
        assert data["issue_date"] == "2025-01-01"
        name = data["file"]
        assert name.startswith(f"cert_{data['contractor_id']}_1_")
        assert name.endswith(".pdf")
        assert name in stored_files(storage_root(app))
        r = await a.get(f"/api/contractors/certification?file={name}")
        assert r.status_code == 200
        assert r.content == PDF
        assert r.headers["content-type"] == "application/pdf"
        assert r.headers["content-disposition"] == f'attachment; filename="{name}"'
        assert r.headers["x-content-type-options"] == "nosniff"

    async def test_contractor_may_omit_own_uuid(self, a: AuthedClient) -> None:
        r = await upload(a, None, PNG, filename="card.png", cert_type="public_liability")
        assert r.status_code == 200, r.text
        assert r.json()["data"]["content_type"] == "image/png"

    async def test_each_accepted_kind(self, app: FastAPI, admin: AuthedClient) -> None:
        uuid = await contractor_uuid(app, A_EMAIL)
        for filename, content, ctype in [
            ("a.jpeg", JPEG, "image/jpeg"),
            ("a.JPG", JPEG, "image/jpeg"),
            ("a.doc", DOC, "application/msword"),
            ("a.docx", docx_bytes(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ]:
            r = await upload(admin, uuid, content, filename=filename, cert_type="CSCS")
            assert r.status_code == 200, (filename, r.text)
            got = await admin.get(f"/api/contractors/certification?file={r.json()['data']['file']}")
            assert got.headers["content-type"] == ctype
            assert got.content == content

    async def test_contractor_cannot_upload_for_another(self, app: FastAPI, a: AuthedClient) -> None:
        before = await count_certs(app)
        r = await upload(a, await contractor_uuid(app, B_EMAIL), PDF)
        assert_error(r, 404, "contractor not found")
        assert await count_certs(app) == before

    async def test_other_contractors_file_is_the_same_404_as_missing(
        self, app: FastAPI, admin: AuthedClient, a: AuthedClient, b: AuthedClient
    ) -> None:
        r = await upload(admin, await contractor_uuid(app, B_EMAIL), PDF)
        assert r.status_code == 200, r.text
        name = r.json()["data"]["file"]
        assert (await b.get(f"/api/contractors/certification?file={name}")).status_code == 200
        theirs = assert_error(await a.get(f"/api/contractors/certification?file={name}"), 404)
        missing = assert_error(await a.get("/api/contractors/certification?file=cert_1_1_1.pdf"), 404)
        assert theirs["error"] == missing["error"]
        # Staff read anyone's.
        assert (await admin.get(f"/api/contractors/certification?file={name}")).content == PDF

    async def test_agent_has_no_access(self, agent: AuthedClient) -> None:
        assert_error(await agent.get("/api/contractors/certification?file=cert_20_5_1704873600.pdf"), 403)

    async def test_seed_example_file_downloads(self, admin: AuthedClient, login: Any) -> None:
        r = await admin.get("/api/contractors/certification?file=cert_20_5_1704873600.pdf")
        assert r.status_code == 200
        assert r.content.startswith(b"%PDF-")
        owner = await login("contractor001@example.com")
        assert (await owner.get("/api/contractors/certification?file=cert_20_5_1704873600.pdf")).status_code == 200

    async def test_missing_file_param_is_400(self, admin: AuthedClient) -> None:
        assert_error(await admin.get("/api/contractors/certification"), 400)

    async def test_missing_csrf_changes_nothing(self, app: FastAPI, a: AuthedClient) -> None:
        before, files = await count_certs(app), stored_files(storage_root(app))
        assert_error(await upload(a, None, PDF, csrf=False), 403, "csrf")
        assert await count_certs(app) == before
        assert stored_files(storage_root(app)) == files

    async def test_replacement_keeps_history_and_delete_removes_row_and_file(
        self, app: FastAPI, a: AuthedClient
    ) -> None:
        first = (await upload(a, None, PDF, cert_type="OFTEC")).json()["data"]
        second = (await upload(a, None, PNG, filename="x.png", cert_type="oftec")).json()["data"]
        assert first["file"] != second["file"]
        r = await a.get("/api/contractors/certifications?action=list&certification_type_id=5")
        assert [c["uuid"] for c in r.json()["data"]] == [second["uuid"]]
        r = await a.get("/api/contractors/certifications?action=list&certification_type_id=5&include_history=true")
        by_uuid = {c["uuid"]: c for c in r.json()["data"]}
        assert by_uuid[first["uuid"]]["is_current"] is False
        assert by_uuid[second["uuid"]]["is_current"] is True
        # The replaced file is still readable (history).
        assert (await a.get(f"/api/contractors/certification?file={first['file']}")).content == PDF
        r = await a.post(
            "/api/contractors/certification", data={"action": "delete", "certification_uuid": second["uuid"]}
        )
        assert r.status_code == 200, r.text
        assert second["file"] not in stored_files(storage_root(app))
        assert_error(await a.get(f"/api/contractors/certification?file={second['file']}"), 404)
        r = await a.post("/api/contractors/certification", data={"action": "delete", "file_name": second["file"]})
        assert_error(r, 404)

    async def test_contractor_cannot_delete_anothers(self, app: FastAPI, admin: AuthedClient, a: AuthedClient) -> None:
        made = (await upload(admin, await contractor_uuid(app, B_EMAIL), PDF)).json()["data"]
        r = await a.post(
            "/api/contractors/certification",
            data={"action": "delete", "contractor_uuid": made["contractor_uuid"], "certification_uuid": made["uuid"]},
        )
        assert_error(r, 404)
        r = await a.post(
            "/api/contractors/certification", data={"action": "delete", "certification_uuid": made["uuid"]}
        )
        assert_error(r, 404)
        assert made["file"] in stored_files(storage_root(app))

    @pytest.mark.parametrize(
        ("fields", "status"),
        [
            ({"action": "nope"}, 400),
            ({"action": "upload", "cert_type": "Unknown thing"}, 400),
            ({"action": "upload", "expiry_date": "31/12/2025"}, 400),
            ({"action": "upload", "expiry_date": "2025-02-30"}, 400),
            ({"action": "upload", "issue_date": "2099-01-01"}, 400),
        ],
    )
    async def test_bad_fields_are_400(self, a: AuthedClient, fields: dict[str, str], status: int) -> None:
        data = {"action": "upload", "cert_type": "Gas Safe", "expiry_date": FUTURE, **fields}
        r = await a.post("/api/contractors/certification", data=data, files={"file": ("a.pdf", PDF)})
        assert_error(r, status)


HOSTILE = [
    "../etc/passwd",
    "../../propops.db",
    "cert_1_1_1.pdf/../../x",
    "..%2fcert_1_1_1.pdf",
    "%2e%2e/cert_1_1_1.pdf",
    "%2e%2e%2fcert_1_1_1.pdf",
    "/etc/passwd",
    "/cert_1_1_1.pdf",
    "cert_1_1_1.pdf%00.png",
    "cert_1_1_1.pdf\x00",
    "..\\cert_1_1_1.pdf",
    "cert_1_1_1.pdf\\",
    "\u2025/cert_1_1_1.pdf",
    "cert_1_1_1\uff0epdf",
    "cert_\u0661_1_1.pdf",
    "cert_1_1_" + "1" * 60 + ".pdf",
    "cert_1_1_1.pdf" + "x" * 5000,
    "cert_1_1_1.exe",
    "cert_1_1_1.PDF",
    "cert_a_1_1.pdf",
    "cert_1_1.pdf",
    "cert_1_1_1_1.pdf",
    " cert_1_1_1.pdf",
    "cert_1_1_1.pdf ",
    "cert_1_1_1.pdf\n",
    "file:///etc/passwd",
    "CERT_1_1_1.pdf",
    ".",
    "..",
]


class TestHostileDownloads:
    @pytest.fixture
    def opened(self, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        calls: list[str] = []
        real = LocalStorage.open

        def spy(self: LocalStorage, name: str) -> AsyncIterator[bytes]:
            calls.append(name)
            return real(self, name)

        monkeypatch.setattr(LocalStorage, "open", spy)
        return calls

    @pytest.mark.parametrize("value", HOSTILE)
    async def test_400_and_no_file_read(self, admin: AuthedClient, opened: list[str], value: str) -> None:
        r = await admin.get("/api/contractors/certification", params={"file": value})
        assert_error(r, 400, "file")
        assert opened == []

    @pytest.mark.parametrize(
        "raw",
        ["..%2fcert_1_1_1.pdf", "%2e%2e%2fcert_1_1_1.pdf", "cert_1_1_1.pdf%00", "%2fetc%2fpasswd", "%c0%ae%c0%ae"],
    )
    async def test_raw_encoded_query_is_400(self, admin: AuthedClient, opened: list[str], raw: str) -> None:
        r = await admin.get(f"/api/contractors/certification?file={raw}")
        assert_error(r, 400)
        assert opened == []


class TestRejectedUploads:
    @pytest.mark.parametrize(
        ("filename", "content"),
        [
            ("cert.pdf", ELF),
            ("cert.pdf", MZ),
            ("cert.pdf", PNG),
            ("cert.png", PDF),
            ("cert.docx", docx_bytes(with_word=False)),
            ("cert.docx", b"PK\x03\x04 not really a zip"),
            ("cert.exe", MZ),
            ("cert", PDF),
            ("cert.pdf.exe", PDF),
        ],
    )
    async def test_415_leaves_nothing(self, app: FastAPI, a: AuthedClient, filename: str, content: bytes) -> None:
        before, files = await count_certs(app), stored_files(storage_root(app))
        assert_error(await upload(a, None, content, filename=filename), 415)
        assert await count_certs(app) == before
        assert stored_files(storage_root(app)) == files
        assert staging_files(storage_root(app)) == []


class TestSizeCap:
    async def test_oversized_is_413_and_leaves_nothing(self, app_with: Callable[..., Awaitable[FastAPI]]) -> None:
        app = await app_with(max_upload_bytes=4096)
        root = storage_root(app)
        async with client_for(app) as http:
            admin = await login_as(http, "admin@example.com")
            before, files = await count_certs(app), stored_files(root)
            uuid = await contractor_uuid(app, A_EMAIL)
            # Just over the cap: the body is small enough to be read, the file check says 413.
            r = await upload(admin, uuid, PDF + b"0" * 4096)
            assert_error(r, 413)
            # Far over the cap with Content-Length: refused before the body is read.
            r = await upload(admin, uuid, PDF + b"0" * 300_000)
            assert_error(r, 413)

            # Far over the cap without Content-Length (chunked): refused while streaming.
            async def chunks() -> AsyncIterator[bytes]:
                boundary = b"--xyz"
                yield boundary + b'\r\nContent-Disposition: form-data; name="action"\r\n\r\nupload\r\n'
                yield boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n'
                for _ in range(100):
                    yield b"%PDF-" + b"0" * 10_000
                yield b"\r\n" + boundary + b"--\r\n"

            r = await http.post(
                "/api/contractors/certification",
                content=chunks(),
                headers={
                    "Authorization": f"Bearer {admin.token}",
                    "X-CSRF-Token": admin.csrf,
                    "Content-Type": "multipart/form-data; boundary=xyz",
                },
            )
            assert_error(r, 413)
            assert await count_certs(app) == before
            assert stored_files(root) == files
            assert staging_files(root) == []
            # At the cap it is accepted.
            r = await upload(admin, uuid, PDF + b"0" * (4096 - len(PDF)))
            assert r.status_code == 200, r.text


class TestListingAndCompliance:
    async def test_list_status_and_scope(self, app: FastAPI, admin: AuthedClient, b: AuthedClient) -> None:
        uuid_b = await contractor_uuid(app, B_EMAIL)
        today = date.today()
        for cert_type, days in [("Working at height", -3), ("Asbestos awareness", 5), ("CSCS", 100)]:
            r = await upload(admin, uuid_b, PDF, cert_type=cert_type, expiry=(today + timedelta(days=days)).isoformat())
            assert r.status_code == 200, r.text
        r = await b.get("/api/contractors/certifications?action=list")
        data = r.json()["data"]
        assert r.json()["count"] == len(data)
        assert all(c["contractor_uuid"] == uuid_b for c in data)
        by_type = {c["cert_type"]: c for c in data}
        assert by_type["Working at height training"]["status"] == "expired"
        assert by_type["Working at height training"]["days_to_expiry"] == -3
        assert by_type["Asbestos awareness training"]["status"] == "expiring"
        assert by_type["CSCS card"]["status"] == "valid"
        r = await b.get("/api/contractors/certifications?action=list&status=expired")
        assert {c["status"] for c in r.json()["data"]} == {"expired"}
        # A contractor cannot list another's; staff can list all.
        assert_error(
            await b.get(
                f"/api/contractors/certifications?action=list&contractor_uuid={await contractor_uuid(app, A_EMAIL)}"
            ),
            404,
        )
        r = await admin.get("/api/contractors/certifications?action=list&limit=200")
        assert r.json()["count"] > len(data)
        assert_error(await admin.get("/api/contractors/certifications"), 400)
        assert_error(await admin.get("/api/contractors/certifications?action=list&status=old"), 400)
        assert_error(await admin.get("/api/contractors/certifications?action=list&limit=0"), 400)

    async def test_compliance_summary_and_gaps(self, app: FastAPI, admin: AuthedClient, login: Any) -> None:
        email = "contractor009@example.com"  # Gas & Heating + Electrical in the demo
        uuid = await contractor_uuid(app, email)
        r = await admin.get(f"/api/contractors/certifications/compliance?contractor_uuid={uuid}")
        assert r.status_code == 200, r.text
        summary = r.json()["data"]
        trades = {t["name"]: t for t in summary["trades"]}
        assert set(trades) == {"Gas & Heating", "Electrical"}
        gas_reqs = {q["cert_type"] for q in trades["Gas & Heating"]["requirements"]}
        assert gas_reqs == {"Gas Safe registration", "Public liability insurance"}
        today = date.today()
        for t in ("Gas Safe", "NICEIC", "Public liability"):
            r = await upload(admin, uuid, PDF, cert_type=t, expiry=(today + timedelta(days=90)).isoformat())
            assert r.status_code == 200, r.text
        summary = (await admin.get(f"/api/contractors/certifications/compliance?contractor_uuid={uuid}")).json()["data"]
        assert summary["compliant"] is True
        assert summary["gaps"] == []
        async with app.state.ctx.db.sessionmaker() as session:
            cid = summary["contractor_id"]
            assert await compliance_gaps(session, cid, 1) == []
            assert await compliance_gaps(session, cid, 4) == [
                "Asbestos awareness training",
                "Working at height training",
            ]
            assert await compliance_gaps(session, cid, 1, today=today + timedelta(days=91)) == [
                "Gas Safe registration",
                "Public liability insurance",
            ]
        own = await login(email)
        assert (await own.get("/api/contractors/certifications/compliance")).json()["data"]["contractor_uuid"] == uuid


class TestCertificationTypes:
    async def test_list_and_admin_crud(self, admin: AuthedClient, contractor: AuthedClient) -> None:
        r = await contractor.get("/api/contractors/certification-types")
        types = {t["name"]: t for t in r.json()["data"]}
        assert [x["name"] for x in types["Gas Safe registration"]["required_for_trades"]] == ["Gas & Heating"]
        assert len(types["Public liability insurance"]["required_for_trades"]) == 5
        assert [x["name"] for x in types["NICEIC membership"]["required_for_trades"]] == ["Electrical"]
        body = {"action": "create", "name": "F-Gas certification", "trade_ids": [1], "aliases": ["F Gas"]}
        assert_error(await contractor.post("/api/contractors/certification-types", json=body), 403)
        r = await admin.post("/api/contractors/certification-types", json=body)
        assert r.status_code == 200, r.text
        created = r.json()["data"]
        assert created["code"] == "f_gas_certification"
        assert created["required_for_trades"][0]["trade_id"] == 1
        assert_error(await admin.post("/api/contractors/certification-types", json=body), 409)
        r = await admin.post(
            "/api/contractors/certification-types",
            json={"action": "update", "id": created["ID"], "trade_ids": [1, 2], "description": "Refrigerant gases"},
        )
        assert [t["trade_id"] for t in r.json()["data"]["required_for_trades"]] == [1, 2]
        assert_error(
            await admin.post(
                "/api/contractors/certification-types",
                json={"action": "update", "id": created["ID"], "trade_ids": [99]},
            ),
            400,
        )
        r = await admin.post("/api/contractors/certification-types", json={"action": "delete", "id": created["ID"]})
        assert r.status_code == 200, r.text
        # A type in use cannot be deleted.
        assert_error(await admin.post("/api/contractors/certification-types", json={"action": "delete", "id": 1}), 409)
        assert_error(
            await admin.post(
                "/api/contractors/certification-types", json={"action": "create", "name": "X"}, csrf=False
            ),
            403,
        )


class TestFileNames:
    async def test_name_taken_on_disk_moves_to_the_next_second(self, app: FastAPI, a: AuthedClient) -> None:
        """A file already published under this second's name (a concurrent upload that has not
        committed yet) is never overwritten: the upload takes the next free second."""
        import time

        uuid = await contractor_uuid(app, A_EMAIL)
        r = await upload(a, uuid, PDF)
        assert r.status_code == 200, r.text
        contractor_id, type_id = r.json()["data"]["contractor_id"], r.json()["data"]["certification_type_id"]
        now = int(time.time())
        base = organisation_dir(storage_root(app), 1)
        squatters = [base / f"cert_{contractor_id}_{type_id}_{now + i}.pdf" for i in range(3)]
        for path in squatters:
            path.write_bytes(b"someone else's file")
        r = await upload(a, uuid, PDF)
        assert r.status_code == 200, r.text
        name = r.json()["data"]["file"]
        assert name not in {p.name for p in squatters}
        assert int(name.rsplit("_", 1)[1].split(".")[0]) >= now + 3
        assert all(p.read_bytes() == b"someone else's file" for p in squatters)

    async def test_concurrent_uploads_of_one_second_all_succeed(self, app: FastAPI, a: AuthedClient) -> None:
        import asyncio

        uuid = await contractor_uuid(app, A_EMAIL)
        replies = await asyncio.gather(*(upload(a, uuid, PDF, certificate_number=f"GS-{i}") for i in range(4)))
        assert [r.status_code for r in replies] == [200] * 4, [r.text for r in replies]
        names = {r.json()["data"]["file"] for r in replies}
        assert len(names) == 4
        assert all((organisation_dir(storage_root(app), 1) / n).read_bytes() == PDF for n in names)

    async def test_publish_is_the_arbiter_not_the_existence_check(self, app: FastAPI, tmp_path: Path) -> None:
        """Two uploads of one second can both see the name free (neither row committed, the other
        file not yet linked); the atomic publish must then move the loser to the next second."""
        import time

        from propops.certifications.files import _publish_free_name

        storage = LocalStorage(tmp_path / "certs")
        now = int(time.time())
        for i in range(3):
            (storage.root / f"cert_999999_1_{now + i}.pdf").write_bytes(b"won by another upload")
        staged = storage.staging_file()
        staged.write_bytes(PDF)
        async with app.state.ctx.db.sessionmaker() as session:
            name = await _publish_free_name(session, storage, 999999, 1, "pdf", staged)
        assert int(name.rsplit("_", 1)[1].split(".")[0]) >= now + 3
        assert (storage.root / name).read_bytes() == PDF
        assert not staged.exists()
        assert (storage.root / f"cert_999999_1_{now}.pdf").read_bytes() == b"won by another upload"
