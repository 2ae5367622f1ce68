"""Admission control (``max_concurrent_requests``): at most N requests of a process are handled at
once, the rest wait their turn; uploads skip the queue; 0 turns it off."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request

from propops.auth.deps import public
from tests.conftest import client_for


class Probe:
    """A slow route that records how many requests it is handling at once."""

    def __init__(self, app: FastAPI) -> None:
        self.inside = 0
        self.most = 0
        self.order: list[int] = []
        self.hold: asyncio.Event | None = None

        @app.post("/api/test-admission", dependencies=[public()])
        async def slow(request: Request, n: int = 0) -> dict[str, Any]:
            await request.body()
            self.inside += 1
            self.most = max(self.most, self.inside)
            self.order.append(n)
            try:
                if self.hold is not None and n == 0:
                    await self.hold.wait()
                else:
                    await asyncio.sleep(0.02)
            finally:
                self.inside -= 1
            return {"success": True, "data": {"n": n}, "message": "ok"}


async def _fire(app: FastAPI, count: int) -> list[int]:
    async with client_for(app) as http:
        replies = await asyncio.gather(
            *(http.post("/api/test-admission", params={"n": i}, content=b"x") for i in range(count))
        )
    return [r.status_code for r in replies]


async def test_at_most_n_requests_run_at_once_and_all_are_answered(
    app_with: Callable[..., Awaitable[FastAPI]],
) -> None:
    app = await app_with(max_concurrent_requests=2)
    probe = Probe(app)
    assert await _fire(app, 12) == [200] * 12
    assert probe.most == 2
    assert sorted(probe.order) == list(range(12))


async def test_zero_turns_the_limit_off(app_with: Callable[..., Awaitable[FastAPI]]) -> None:
    app = await app_with(max_concurrent_requests=0)
    probe = Probe(app)
    assert await _fire(app, 12) == [200] * 12
    assert probe.most == 12


async def test_the_gate_is_released_after_errors(app_with: Callable[..., Awaitable[FastAPI]]) -> None:
    """A 404, a 400 and a 401 each give their slot back: afterwards two requests still run at once."""
    app = await app_with(max_concurrent_requests=2)
    probe = Probe(app)
    async with client_for(app) as http:
        for _ in range(5):
            assert (await http.get("/api/no-such-route")).status_code == 404
            assert (await http.post("/api/test-admission", params={"n": "x"})).status_code == 400
            assert (await http.get("/api/auth/me")).status_code == 401
    assert await _fire(app, 6) == [200] * 6
    assert probe.most == 2


async def test_a_large_upload_skips_the_queue(app_with: Callable[..., Awaitable[FastAPI]]) -> None:
    """With the only slot held, a body above ``admission_exempt_body_bytes`` is still handled, and
    a small request waits until the slot is free."""
    app = await app_with(max_concurrent_requests=1, admission_exempt_body_bytes=1000)
    probe = Probe(app)
    probe.hold = asyncio.Event()
    async with client_for(app) as http:
        held = asyncio.create_task(http.post("/api/test-admission", params={"n": 0}, content=b"x"))
        while probe.inside == 0:
            await asyncio.sleep(0.005)
        big = await asyncio.wait_for(http.post("/api/test-admission", params={"n": 1}, content=b"y" * 5000), 5)
        assert big.status_code == 200
        assert probe.most == 2
        small = asyncio.create_task(http.post("/api/test-admission", params={"n": 2}, content=b"z"))
        await asyncio.sleep(0.1)
        assert not small.done()
        assert probe.order == [0, 1]
        probe.hold.set()
        assert (await held).status_code == 200
        assert (await small).status_code == 200
    assert probe.order == [0, 1, 2]
