"""Shared benchmark plumbing: fresh databases, a uvicorn server in a subprocess, wrk runs."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("PROPOPS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


def fresh_database(kind: str) -> tuple[str, callable]:  # type: ignore[valid-type]
    """A new empty database URL and a function that removes it."""
    if kind == "sqlite":
        d = tempfile.mkdtemp(prefix="propops-bench-")
        path = Path(d) / "bench.db"

        def drop() -> None:
            for p in Path(d).glob("*"):
                p.unlink()
            Path(d).rmdir()

        return f"sqlite+aiosqlite:///{path}", drop
    import asyncpg

    name = f"propops_bench_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        c = await asyncpg.connect(PG_ADMIN)
        await c.execute(f'CREATE DATABASE "{name}"')
        await c.close()

    async def _drop() -> None:
        c = await asyncpg.connect(PG_ADMIN)
        await c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await c.close()

    asyncio.run(create())
    base = PG_ADMIN.rpartition("/")[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}", lambda: asyncio.run(_drop())


def free_port(start: int) -> int:
    for port in range(start, start + 100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("no free port")


@contextmanager
def server(factory: str, env: dict[str, str], port: int, workers: int = 1, kind: str = "") -> Iterator[str]:
    """``propops.infra.server`` (what ``propops serve`` runs) serving ``factory`` (module:function)
    on loopback until the block ends; ``kind`` supervisor|granian (default: ``PROPOPS_SERVER``)."""
    full_env = {**os.environ, **env, "PYTHONPATH": f"{ROOT / 'bench'}:{ROOT / 'src'}"}
    cmd = [
        sys.executable,
        "-m",
        "propops.infra.server",
        factory,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        *(["--server", kind] if kind else []),
    ]
    proc = subprocess.Popen(cmd, env=full_env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError("server did not start")
        time.sleep(0.5)
        yield url
    finally:
        # A graceful stop first; granian gives a busy worker up to its kill timeout (30 s) before it
        # kills it itself, so wait past that, then kill what is left rather than raising.
        proc.terminate()
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int

    def row(self, label: str) -> str:
        return (
            f"{label:<36} {self.rps:>8.0f} req/s   p50 {self.p50_ms:>7.2f} ms   "
            f"p99 {self.p99_ms:>7.2f} ms   errors {self.errors}"
        )


def _ms(value: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", value)
    if not m:
        return float("nan")
    n, unit = float(m.group(1)), m.group(2)
    return n / 1000 if unit == "us" else n * 1000 if unit == "s" else n


def wrk(
    url: str, *, seconds: int, connections: int = 32, threads: int = 2, headers: dict[str, str] | None = None
) -> WrkResult:
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def parse_wrk(out: str) -> WrkResult:
    """Throughput, p50/p99 and errors (non-2xx/3xx replies plus socket errors) from ``wrk --latency``."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    dist = out.split("Latency Distribution", 1)[-1]
    p50 = _ms(re.search(r"\b50%\s+(\S+)", dist).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\b99%\s+(\S+)", dist).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return WrkResult(rps, p50, p99, errors)
