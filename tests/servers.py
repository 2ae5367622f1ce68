"""A real PropOps server in its own processes (``python -m propops.infra.server``), for the tests
that need several workers or a real socket: the revocation tests, the session chain, oversized
uploads. One way to start it, wait for it and stop it, so those tests differ only in what they send.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from propops.core.settings import Settings
from tests.conftest import stop_process

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Running:
    url: str
    port: int
    proc: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(
    settings: Settings,
    *,
    workers: int = 2,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    database_url: str | None = None,
    start_seconds: float = 60,
) -> Iterator[Running]:
    """The app on ``settings``' database (or ``database_url``) with its secret and storage, no
    background tasks; ``args`` go to the server command (``--server granian``, ``--no-rebalance``),
    ``env`` adds settings. Yields once ``/api/ping`` answers; SIGTERM (then SIGKILL) at the end."""
    port = free_port()
    full_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "PROPOPS_DATABASE_URL": database_url or settings.database_url,
        "PROPOPS_SECRET_KEY": settings.secret_key,
        "PROPOPS_BACKGROUND_TASKS": "false",
        "PROPOPS_LOG_LEVEL": "WARNING",
        "PROPOPS_STORAGE_DIR": str(settings.storage_dir),
        **(env or {}),
    }
    command = [sys.executable, "-m", "propops.infra.server", "propops.main:asgi", "--factory"]
    command += ["--port", str(port), "--workers", str(workers), "--log-level", "warning", *args]
    proc = subprocess.Popen(command, env=full_env, cwd=ROOT)  # noqa: S603 - our own interpreter and module
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_seconds
        while True:
            try:
                httpx.get(f"{url}/api/ping", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, f"the server exited with {proc.returncode}"
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        yield Running(url, port, proc)
    finally:
        stop_process(proc)
