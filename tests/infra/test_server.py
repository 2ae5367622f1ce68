"""``propops.infra.server``: worker processes, supervised (on SO_REUSEPORT sockets) or run by granian;
real processes, real sockets on loopback. What both servers must do is tested on both; the
connection balancing is the supervisor's own."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from propops.infra import server
from tests.conftest import stop_process

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(not server.reuseport_available(), reason="needs SO_REUSEPORT (Linux)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(kind: str) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'src'}"}
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "propops.infra.server", "tests.core.pid_app:app", "--port", str(port), "--workers", "2",
         "--log-level", "warning", "--server", kind],
        env=env,
        cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("server did not start")
    time.sleep(1.0)  # the second worker may bind a moment after the first
    return proc, port


@pytest.fixture(params=["supervisor", "granian"])
def running(request: pytest.FixtureRequest) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    proc, port = _start(request.param)
    try:
        yield proc, port
    finally:
        stop_process(proc)


@pytest.fixture
def supervised() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    proc, port = _start("supervisor")
    try:
        yield proc, port
    finally:
        stop_process(proc)


def _pids(port: int, connections: int = 60) -> list[int]:
    """One request on each of ``connections`` fresh keep-alive connections: which worker took it."""
    pids = []
    for _ in range(connections):
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as c:
            pids.append(int(c.get("/").text))
    return pids


def test_connections_spread_over_workers_and_sigterm_stops_all(running: tuple[subprocess.Popen[bytes], int]) -> None:
    proc, port = running
    pids = _pids(port)
    counts = {p: pids.count(p) for p in set(pids)}
    assert len(counts) == 2, counts  # both workers take connections (the kernel hashes them)
    assert min(counts.values()) >= 10, counts
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    for pid in counts:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=1)


def test_a_dead_worker_is_replaced(running: tuple[subprocess.Popen[bytes], int]) -> None:
    _, port = running
    before = set(_pids(port, 40))
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    after: set[int] = set()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        after = set(_pids(port, 20))
        if len(after) == 2 and victim not in after:
            break
    assert victim not in after, (before, after)
    assert len(after) == 2, (before, after)


@pytest.mark.parametrize("kind", ["supervisor", "granian"])
def test_port_taken_by_another_socket_fails_fast(kind: server.ServerKind) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="in use"):
            server.serve(server.ServeOptions("tests.core.pid_app:app", port=port, workers=2), kind)


def test_reuseport_sockets_share_a_port() -> None:
    a = server.bind_reuseport("127.0.0.1", 0, 8)
    try:
        b = server.bind_reuseport("127.0.0.1", a.getsockname()[1], 8)
        b.close()
    finally:
        a.close()


def test_workers_die_with_a_killed_supervisor(running: tuple[subprocess.Popen[bytes], int]) -> None:
    """SIGKILL leaves the supervisor no chance to stop its workers: they must not live on."""
    proc, port = running
    workers = set(_pids(port, 20))
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 20
    alive = workers
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = {pid for pid in workers if _running(pid)}
    assert not alive


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie waiting for its reaper is gone for our purpose
        return fh.read().rpartition(")")[2].split()[0] != "Z"


@pytest.mark.parametrize("workers", ["0", "65", "x"])
def test_worker_count_is_validated(workers: str) -> None:
    with pytest.raises(SystemExit):
        server.main(["tests.core.pid_app:app", "--workers", workers])


def test_rebalancer_sheds_one_connection_at_a_time_while_above_its_share() -> None:
    """The worker's side of the balancing: above its share plus one it marks one response
    ``Connection: close`` per interval; at or near its share, never."""
    import asyncio

    sent: list[dict[str, object]] = []

    async def app(scope: object, receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    async def collect(message: dict[str, object]) -> None:
        sent.append(message)

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    connections = {object() for _ in range(30)}
    counts = [0, 20]  # the other worker holds 20
    balancer = server.Rebalancer(app, connections, counts, 0)

    def closes() -> list[bool]:
        return [(b"connection", b"close") in m.get("headers", []) for m in sent if m["type"] == "http.response.start"]  # type: ignore[operator]

    async def requests(n: int) -> None:
        for _ in range(n):
            await balancer({"type": "http"}, receive, collect)

    asyncio.run(requests(3))
    assert counts[0] == 30  # published
    assert closes() == [True, False, False]  # one per interval
    time.sleep(server.SHED_INTERVAL_SECONDS * 1.5)
    asyncio.run(requests(1))
    assert closes()[-1] is True
    sent.clear()
    for _ in range(5):
        connections.pop()  # 25 vs 20: share 22.5, 25 > 23.5 still sheds; 21 does not
    time.sleep(server.SHED_INTERVAL_SECONDS * 1.5)
    asyncio.run(requests(1))
    assert closes() == [True]
    while len(connections) > 21:
        connections.pop()
    time.sleep(server.SHED_INTERVAL_SECONDS * 1.5)
    sent.clear()
    asyncio.run(requests(3))
    assert closes() == [False, False, False]


def test_kept_alive_clients_end_evenly_spread(supervised: tuple[subprocess.Popen[bytes], int]) -> None:
    """60 clients each keeping one connection and sending requests for a few seconds: they end up
    within two connections of an even split between the workers, with every request answered."""
    _, port = supervised
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) for _ in range(60)]
    try:
        last: list[int] = []
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            last = []
            for c in clients:
                r = c.get("/")
                assert r.status_code == 200
                last.append(int(r.text))
        counts = sorted(last.count(p) for p in set(last))
    finally:
        for c in clients:
            c.close()
    assert len(counts) == 2, counts
    assert counts[1] - counts[0] <= 4, counts
