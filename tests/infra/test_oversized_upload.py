"""An oversized upload gets a 413 that an ordinary client reads: a real server process (each server
``propops serve`` can run), real sockets, ``urllib`` and a hand-written HTTP/1.1 client.

Before the fix the server replied and closed with the body still arriving, and ``urllib`` (which
sends ``Connection: close`` and the whole body before it reads) got "connection reset by peer" or
"broken pipe" instead of the 413 envelope. See ``propops.core.middleware``.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from propops.infra import server as infra_server
from tests.conftest import DEMO_PASSWORD, Built
from tests.servers import running_server

MiB = 1024 * 1024
DRAIN_SECONDS = 3.0
pytestmark = [pytest.mark.server, pytest.mark.skipif(not infra_server.reuseport_available(), reason="Linux servers")]


@pytest.fixture(scope="module", params=["supervisor", "granian"])
def base(request: pytest.FixtureRequest, built: Built) -> Iterator[str]:
    """The server on the session's database, two workers, the default upload cap (10 MiB)."""
    with running_server(
        built.settings,
        args=["--server", request.param],
        env={"PROPOPS_UNREAD_BODY_DRAIN_SECONDS": str(DRAIN_SECONDS)},
    ) as srv:
        yield srv.url


def _session(base: str) -> dict[str, str]:
    """A contractor's bearer and CSRF headers, obtained with urllib."""
    login = urllib.request.Request(
        f"{base}/api/auth/login",
        json.dumps({"email": "contractor001@example.com", "password": DEMO_PASSWORD}).encode(),
        {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(login, timeout=10) as r:  # noqa: S310 - loopback
        token = json.load(r)["token"]
    auth = {"Authorization": f"Bearer {token}"}
    csrf = urllib.request.Request(f"{base}/api/security/csrf-token", headers=auth)
    with urllib.request.urlopen(csrf, timeout=10) as r:  # noqa: S310 - loopback
        return {**auth, "X-CSRF-Token": json.load(r)["data"]["token"]}


def _certificate_form(file_bytes: int) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    fields = {"action": "upload", "cert_type": "Gas Safe Certificate", "expiry_date": "2030-01-31"}
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    head = (
        "".join(parts)
        + f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="gas.pdf"\r\n'
        + "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    content = b"%PDF-1.4\n" + b"0" * (file_bytes - 9)
    return head + content + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _assert_413_envelope(status: int, body: bytes) -> None:
    assert status == 413
    envelope = json.loads(body)
    assert envelope["success"] is False
    assert "too large" in envelope["error"].lower() or "larger than" in envelope["error"].lower()
    assert envelope["message"] == envelope["error"]


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers["content-length"])
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the response body"
        rest += chunk
    return int(lines[0].split()[1]), headers, rest[:length]


def test_urllib_uploading_an_11_mib_certificate_reads_the_413(base: str) -> None:
    headers = _session(base)
    body, content_type = _certificate_form(11 * MiB)
    request = urllib.request.Request(
        f"{base}/api/contractors/certification", body, {**headers, "Content-Type": content_type}, method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)  # noqa: S310 - loopback
    _assert_413_envelope(refused.value.code, refused.value.read())


def test_a_file_just_over_the_cap_reads_the_413_too(base: str) -> None:
    """Under the request cap, over the file cap: the server reads the form and refuses the file."""
    headers = _session(base)
    body, content_type = _certificate_form(10 * MiB + 1)
    request = urllib.request.Request(
        f"{base}/api/contractors/certification", body, {**headers, "Content-Type": content_type}, method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)  # noqa: S310 - loopback
    _assert_413_envelope(refused.value.code, refused.value.read())


def test_a_socket_client_sends_it_all_then_reads_the_413_and_a_clean_close(base: str) -> None:
    """The body written in full before reading (what urllib does, here without Connection: close):
    the 413 is there, then the server closes (no reset: the body was read)."""
    headers = _session(base)
    body, content_type = _certificate_form(12 * MiB)
    port = int(base.rpartition(":")[2])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(
            f"POST /api/contractors/certification HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        status, response_headers, payload = _read_response(sock)
        _assert_413_envelope(status, payload)
        assert response_headers["connection"].lower() == "close"
        assert sock.recv(1) == b""  # FIN, not ECONNRESET


def test_a_body_that_never_comes_is_waited_for_only_so_long(base: str) -> None:
    """Headers announce 12 MiB, the client sends none of it: the server waits for the body only up
    to the drain's time bound, then replies 413 and closes."""
    port = int(base.rpartition(":")[2])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        started = time.monotonic()
        sock.sendall(f"POST /api/ping HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {12 * MiB}\r\n\r\n".encode())
        status, _, payload = _read_response(sock)
        replied = time.monotonic() - started
        _assert_413_envelope(status, payload)
        assert sock.recv(1) == b""  # closed
    assert DRAIN_SECONDS * 0.9 <= replied < DRAIN_SECONDS + 5, replied


def test_a_body_beyond_the_drain_bound_is_not_read_at_all(base: str) -> None:
    """100 MiB announced is more than the 64 MiB the server would read to be polite: 413, then
    the connection closes at once."""
    port = int(base.rpartition(":")[2])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        started = time.monotonic()
        sock.sendall(f"POST /api/ping HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {100 * MiB}\r\n\r\n".encode())
        status, _, payload = _read_response(sock)
        _assert_413_envelope(status, payload)
        assert sock.recv(1) == b""
    assert time.monotonic() - started < DRAIN_SECONDS / 2


def test_expect_100_continue_gets_the_413_instead_and_no_wait(base: str) -> None:
    """A client that waits for ``100 Continue`` gets the final 413 instead and sends no body; the
    server has nothing to drain and closes (``Connection: close``) straight away."""
    port = int(base.rpartition(":")[2])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        started = time.monotonic()
        sock.sendall(
            f"POST /api/ping HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {12 * MiB}\r\n"
            "Expect: 100-continue\r\nConnection: close\r\n\r\n".encode()
        )
        status, _, payload = _read_response(sock)
        _assert_413_envelope(status, payload)
        assert sock.recv(1) == b""
    assert time.monotonic() - started < DRAIN_SECONDS / 2
