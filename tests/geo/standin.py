"""A tiny HTTP server on loopback (ports 8200-8299) standing in for postcodes.io, Mapbox and ORS."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

# (method, path, query, body) -> (status, json body)
Handler = Callable[[str, str, dict[str, list[str]], Any], tuple[int, Any]]


def free_port() -> int:
    for port in range(8200, 8300):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8200-8299")


@contextmanager
def standin(handler: Handler) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Serve ``handler`` until the block ends; yields the base URL and a log of requests."""
    seen: list[dict[str, Any]] = []

    class H(BaseHTTPRequestHandler):
        def _do(self, method: str) -> None:
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            query = parse_qs(url.query)
            seen.append(
                {"method": method, "path": url.path, "query": query, "body": body, "headers": dict(self.headers)}
            )
            status, payload = handler(method, url.path, query, body)
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            self._do("GET")

        def do_POST(self) -> None:  # noqa: N802 - http.server naming
            self._do("POST")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), H)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
