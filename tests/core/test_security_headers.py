"""Headers that keep private replies out of caches and the docs pages out of frames and foreign
scripts (issue 19 item 7), and CSV cells escaped against formula injection."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re

import httpx
import pytest

from propops.core.csvcells import csv_text, safe_cell
from tests.conftest import AuthedClient


async def test_login_reply_and_api_errors_are_no_store_and_nosniff(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/auth/login", json={"email": "admin@example.com", "password": "demo-pass-123"})
    assert r.status_code == 200
    assert "token" in r.json()
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"
    for response in (await client.get("/api/no-such-route"), await client.get("/api/jobs")):
        assert response.status_code in (401, 404)
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_authenticated_json_and_files_are_no_store(admin: AuthedClient) -> None:
    for url in ("/api/auth/me", "/api/admin/branches", "/api/admin/branches?action=download_template"):
        r = await admin.get(url)
        assert r.status_code == 200, r.text
        assert r.headers.get_list("cache-control") == ["no-store"]
        assert r.headers["x-content-type-options"] == "nosniff"


async def test_non_api_responses_are_nosniff_without_cache_rule(client: httpx.AsyncClient) -> None:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "cache-control" not in r.headers


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_docs_csp_allows_exactly_its_cdn_and_its_inline_script(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 200
    assert r.headers["x-frame-options"] == "DENY"
    csp = r.headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ")}
    assert directives["default-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    inline = re.findall(r"<script>(.*?)</script>", r.text, re.S)
    expected = {f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline}
    assert set(directives["script-src"]) == {"https://cdn.jsdelivr.net", *expected}
    assert "'unsafe-inline'" not in directives["script-src"]
    # every external script the page loads is from an allowed origin
    for src in re.findall(r'<script src="([^"]+)"', r.text):
        assert src.startswith("https://cdn.jsdelivr.net/")
    if path == "/docs":
        assert len(expected) == 1  # Swagger UI's start-up script


def test_safe_cell_escapes_formula_prefixes() -> None:
    for raw in ("=1+1", "+44 20", "-2", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://evil")'):
        assert safe_cell(raw) == "'" + raw
    for raw in ("plain", "", "1=1", " =x", "'quoted"):
        assert safe_cell(raw) == raw
    assert safe_cell(None) == ""
    assert safe_cell(-3) == "'-3"


def test_csv_text_escapes_every_cell_and_round_trips() -> None:
    text = csv_text([["name", "note"], ["=cmd|' /C calc'!A0", 'a,"b"'], ["@x", "ok"]])
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows == [["name", "note"], ["'=cmd|' /C calc'!A0", 'a,"b"'], ["'@x", "ok"]]
    assert text.endswith("\r\n")
