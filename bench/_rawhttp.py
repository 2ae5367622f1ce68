"""A minimal HTTP/1.1 keep-alive client for load generators: one connection per virtual client.

httpx's AsyncClient measured itself rather than the server here: against ``GET /api/ping`` (which
wrk drives at 1,500-4,000 req/s on this machine) it reached 100-270 req/s with 8 concurrent
requests and about 50 with 64, while this client reaches wrk's rate with a fraction of a core.
Enough HTTP/1.1 for our own JSON API on loopback: Content-Length or chunked bodies, keep-alive.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from typing import Any
from urllib.parse import urlencode


class RawResponse:
    def __init__(self, status_code: int, headers: dict[str, str], content: bytes) -> None:
        self.status_code, self.headers, self.content = status_code, headers, content

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class RawClient:
    """Sequential requests over one kept-alive connection; reconnects after an error."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    @property
    def local_port(self) -> int:
        """This client's port on its current connection (0 when not connected)."""
        if self._writer is None:
            return 0
        sockname = self._writer.get_extra_info("sockname")
        return int(sockname[1]) if sockname else 0

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._reader = self._writer = None

    async def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                      json: Any = None, params: dict[str, Any] | None = None) -> RawResponse:  # fmt: skip
        try:
            return await asyncio.wait_for(self._request(method, path, headers, json, params), self.timeout)
        except BaseException:
            await self.close()
            raise

    async def _request(self, method: str, path: str, headers: dict[str, str] | None, json: Any,
                       params: dict[str, Any] | None) -> RawResponse:  # fmt: skip
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        assert self._writer is not None
        if params:
            path = f"{path}{'&' if '?' in path else '?'}{urlencode(params)}"
        body = b"" if json is None else jsonlib.dumps(json).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        if json is not None:
            lines.append("Content-Type: application/json")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        out: dict[str, str] = {}
        for line in header_lines:
            if line:
                k, _, v = line.partition(":")
                out[k.strip().lower()] = v.strip()
        if "content-length" in out:
            content = await self._reader.readexactly(int(out["content-length"]))
        elif out.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self._reader.readexactly(size + 2)
                if size == 0:
                    break
                chunks.append(chunk[:-2])
            content = b"".join(chunks)
        else:
            content = await self._reader.read()
            await self.close()
        if out.get("connection", "").lower() == "close":
            await self.close()
        return RawResponse(status, out, content)
