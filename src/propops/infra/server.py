"""Several uvicorn worker processes, each with its own listening socket (``SO_REUSEPORT``).

Why not ``uvicorn --workers``: its workers share one listening socket, and the first one to wake
accepts every connection waiting. Clients that keep their connections alive (browsers, mobile
apps, a proxy's upstream pool) then all land on one process: under the load report, one worker
ran at 92 % of a core while the other sat idle. With ``SO_REUSEPORT`` each worker listens on its
own socket and the kernel spreads new connections over them by address hash.

The kernel's hash spreads connections evenly only on average: 64 kept-alive clients on 2 workers
split 36/28 in the load report, and both workers being equally busy, the clients of the fuller one
waited 29 % longer (the p99 of the whole run was theirs). So the workers share their connection
counts (one integer each in shared memory) and a worker holding more than its share plus one asks
one client at a time to reconnect (``Connection: close`` on a response, at most every
``SHED_INTERVAL_SECONDS``); the new connection lands wherever the kernel hashes it, and the counts
converge within a second or two. Clients that honour HTTP/1.1 (browsers, httpx, requests, proxies)
reconnect transparently. ``--no-rebalance`` turns it off.

The supervisor restarts a worker that dies and stops them all on SIGINT/SIGTERM. Where the
platform has no ``SO_REUSEPORT`` (or with one worker) it falls back to plain ``uvicorn.run``.

    python -m propops.infra.server propops.main:asgi --factory --port 8000 --workers 2
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
from typing import Any, Literal, Protocol, cast

log = logging.getLogger("propops.server")
RESTART_BACKOFF_SECONDS = 1.0
SHED_INTERVAL_SECONDS = 0.05


ServerKind = Literal["supervisor", "granian"]


@dataclass(frozen=True)
class ServeOptions:
    app: str
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    factory: bool = False
    log_level: str = "info"
    backlog: int = 2048
    rebalance: bool = True


class Server(Protocol):
    """One way to run the ASGI app in worker processes until SIGINT/SIGTERM (``PROPOPS_SERVER``)."""

    def serve(self, opts: ServeOptions) -> int: ...


class GranianServer:
    """granian (a Rust HTTP server) with its own worker processes, on uvloop, HTTP/1.1."""

    def serve(self, opts: ServeOptions) -> int:
        from granian import Granian
        from granian.constants import HTTPModes, Interfaces, Loops
        from granian.log import LogLevels

        Granian(
            opts.app,
            address=opts.host,
            port=opts.port,
            interface=Interfaces.ASGI,
            workers=opts.workers,
            loop=Loops.uvloop,
            http=HTTPModes.http1,
            websockets=False,
            backlog=opts.backlog,
            factory=opts.factory,
            log_level=LogLevels(opts.log_level),
            log_access=False,
            respawn_failed_workers=True,
        ).serve()
        return 0


class SupervisorServer:
    """uvicorn workers on their own SO_REUSEPORT sockets, supervised here (see the module doc)."""

    def serve(self, opts: ServeOptions) -> int:
        return serve_supervised(opts)


SERVERS: dict[str, Server] = {"supervisor": SupervisorServer(), "granian": GranianServer()}


def serve(opts: ServeOptions, kind: ServerKind = "supervisor") -> int:
    return SERVERS[kind].serve(opts)


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


class Rebalancer:
    """ASGI wrapper of one worker: publishes its open connection count and, while it holds more than
    its share, closes one kept-alive connection at a time after its response (see the module doc)."""

    def __init__(self, app: Any, connections: Any, counts: Any, index: int) -> None:
        self.app = app
        self.connections = connections  # uvicorn's live set of this worker's connections
        self.counts = counts  # shared: one slot per worker
        self.index = index
        self.next_shed = 0.0

    def shed(self) -> bool:
        mine = len(self.connections)
        self.counts[self.index] = mine
        share = sum(self.counts[:]) / len(self.counts)
        now = time.monotonic()
        if mine > share + 1 and now >= self.next_shed:
            self.next_shed = now + SHED_INTERVAL_SECONDS
            return True
        return False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_maybe_closing(message: Any) -> None:
            if message["type"] == "http.response.start" and self.shed():
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"connection" for name, _ in headers):
                    message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, send_maybe_closing)


def _worker(opts: ServeOptions, index: int = 0, counts: Any = None) -> None:
    """One worker: its own socket in the port's reuseport group, one uvicorn server on it."""
    import uvicorn

    _die_with_parent()
    sock = bind_reuseport(opts.host, opts.port, opts.backlog)
    config = _config(opts)
    server = uvicorn.Server(config)
    if counts is not None:
        config.load()
        config.loaded_app = Rebalancer(config.loaded_app, server.server_state.connections, counts, index)
    server.run(sockets=[sock])


def serve_supervised(opts: ServeOptions) -> int:
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
        # Open connections per worker (plain shared ints: each worker writes only its own slot).
        self.counts = self.ctx.Array("i", opts.workers, lock=False) if opts.rebalance else None

    def _start(self, index: int) -> BaseProcess:
        if self.counts is not None:
            self.counts[index] = 0
        proc = self.ctx.Process(target=_worker, args=(self.opts, index, self.counts), daemon=False)
        proc.start()
        return proc

    def _stop(self, signum: int, _frame: Any) -> None:
        self.stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGTERM, self._stop)
        self.workers = [self._start(i) for i in range(self.opts.workers)]
        log.info("%d workers on %s:%d (SO_REUSEPORT)", len(self.workers), self.opts.host, self.opts.port)
        while not self.stopping:
            time.sleep(0.2)
            for i, proc in enumerate(self.workers):
                if not proc.is_alive() and not self.stopping:
                    log.warning("worker pid %s exited with %s; restarting", proc.pid, proc.exitcode)
                    time.sleep(RESTART_BACKOFF_SECONDS)
                    self.workers[i] = self._start(i)
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
    p.add_argument("--no-rebalance", action="store_true", help="leave kept-alive connections where the kernel put them")
    p.add_argument(
        "--server", choices=sorted(SERVERS), help="supervisor (this module) or granian; default: PROPOPS_SERVER"
    )
    args = p.parse_args(argv)
    if not 1 <= args.workers <= 64:
        p.error("--workers must be 1-64")
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s: %(name)s: %(message)s")
    kind = args.server or os.environ.get("PROPOPS_SERVER", "supervisor")
    if kind not in ("supervisor", "granian"):
        p.error(f"PROPOPS_SERVER must be one of {', '.join(sorted(SERVERS))}")
    opts = ServeOptions(
        args.app, args.host, args.port, args.workers, args.factory, args.log_level, rebalance=not args.no_rebalance
    )
    return serve(opts, cast(ServerKind, kind))


if __name__ == "__main__":
    sys.exit(main())
