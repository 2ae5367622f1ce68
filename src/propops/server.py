"""Several uvicorn worker processes, each with its own listening socket (``SO_REUSEPORT``).

Why not ``uvicorn --workers``: its workers share one listening socket, and the first one to wake
accepts every connection waiting. Clients that keep their connections alive (browsers, mobile
apps, a proxy's upstream pool) then all land on one process: under the load report, one worker
ran at 92 % of a core while the other sat idle. With ``SO_REUSEPORT`` each worker listens on its
own socket and the kernel spreads new connections over them by address hash.

The supervisor restarts a worker that dies and stops them all on SIGINT/SIGTERM. Where the
platform has no ``SO_REUSEPORT`` (or with one worker) it falls back to plain ``uvicorn.run``.

    python -m propops.server propops.main:asgi --factory --port 8000 --workers 2
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

log = logging.getLogger("propops.server")
RESTART_BACKOFF_SECONDS = 1.0


@dataclass(frozen=True)
class ServeOptions:
    app: str
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    factory: bool = False
    log_level: str = "info"
    backlog: int = 2048


def reuseport_available() -> bool:
    return hasattr(socket, "SO_REUSEPORT") and sys.platform.startswith("linux")


def bind_reuseport(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def _config(opts: ServeOptions) -> Any:
    import uvicorn

    return uvicorn.Config(
        opts.app, factory=opts.factory, host=opts.host, port=opts.port, log_level=opts.log_level, access_log=False
    )


def _die_with_parent() -> None:
    """Linux: SIGTERM (uvicorn's graceful shutdown) when the supervisor dies, even by SIGKILL, so
    no orphaned worker keeps serving the port."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # it died before prctl took effect
        sys.exit(0)


def _worker(opts: ServeOptions) -> None:
    """One worker: its own socket in the port's reuseport group, one uvicorn server on it."""
    import uvicorn

    _die_with_parent()
    sock = bind_reuseport(opts.host, opts.port, opts.backlog)
    uvicorn.Server(_config(opts)).run(sockets=[sock])


def serve(opts: ServeOptions) -> int:
    if opts.workers <= 1 or not reuseport_available():
        import uvicorn

        uvicorn.run(
            opts.app,
            factory=opts.factory,
            host=opts.host,
            port=opts.port,
            workers=opts.workers,
            log_level=opts.log_level,
            access_log=False,
        )
        return 0
    # Fail fast (before any worker starts) when the port is taken by something else.
    probe = bind_reuseport(opts.host, opts.port, 1)
    probe.close()
    return Supervisor(opts).run()


class Supervisor:
    def __init__(self, opts: ServeOptions) -> None:
        self.opts = opts
        self.ctx = multiprocessing.get_context("spawn")
        self.workers: list[BaseProcess] = []
        self.stopping = False

    def _start(self) -> BaseProcess:
        proc = self.ctx.Process(target=_worker, args=(self.opts,), daemon=False)
        proc.start()
        return proc

    def _stop(self, signum: int, _frame: Any) -> None:
        self.stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGTERM, self._stop)
        self.workers = [self._start() for _ in range(self.opts.workers)]
        log.info("%d workers on %s:%d (SO_REUSEPORT)", len(self.workers), self.opts.host, self.opts.port)
        while not self.stopping:
            time.sleep(0.2)
            for i, proc in enumerate(self.workers):
                if not proc.is_alive() and not self.stopping:
                    log.warning("worker pid %s exited with %s; restarting", proc.pid, proc.exitcode)
                    time.sleep(RESTART_BACKOFF_SECONDS)
                    self.workers[i] = self._start()
        for proc in self.workers:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)  # uvicorn's graceful shutdown
        deadline = time.monotonic() + 30
        for proc in self.workers:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join()
        return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("app", help="module:attribute of the ASGI app (or of its factory with --factory)")
    p.add_argument("--factory", action="store_true", help="the attribute is a factory returning the app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    args = p.parse_args(argv)
    if not 1 <= args.workers <= 64:
        p.error("--workers must be 1-64")
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s: %(name)s: %(message)s")
    return serve(ServeOptions(args.app, args.host, args.port, args.workers, args.factory, args.log_level))


if __name__ == "__main__":
    sys.exit(main())
