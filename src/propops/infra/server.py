"""How ``propops serve`` runs its worker processes: ``PROPOPS_SERVER`` (``--server``) picks one of
two implementations of ``Server``.

``granian`` (the default): the granian HTTP server (Rust, ASGI, its own worker processes, uvloop).
Each worker loads ``granian_worker_app``, which makes it die with the granian master as the
supervisor's workers do. It won the side-by-side load report (``bench/load_report.py
--concurrency 64 --seconds 20``, PostgreSQL, 2 workers, Redis rate limits, one kept database,
runs alternated on a 2-core machine shared with other sessions whose CPU use swung from 44 % to
169 % of a core meanwhile): mix throughput granian 139.9 / 207.6 / 241.5 / 311.9 / 225.3 req/s
against the supervisor's 56.2 / 97.3 / 234.3 / 204.8 / 131.2 in the runs between them; divided by
the CPU the other sessions left, granian 1.82 and the supervisor 1.68 req/s per % of a core
(+8 %); p99 over the mix 524 to 1,024 ms against 531 to 1,698 ms (the machine's load, not the
server, sets the tail there). Two more pairs after it became the default, supervisor then granian:
203.8 then 262.5 req/s, 120.8 then 159.9 (+4 % and +5 % per CPU left), p50 over the mix 296 then
201 ms, 520 then 374 ms, but p99 722 then 787 ms, 904 then 1,075 ms: granian has no connection
rebalancing, and its fuller worker (35 of 64 kept-alive connections) had the worse tail.
On a quiet machine (2026-12-03, other load ~6 % of a core; same report, 30 s, alternated), the
code of "The house" issue: granian 896.0 / 724.6 / 659.5 / 874.1 req/s, worst-endpoint p99 158.5 /
206.6 / 240.5 / 190.5 ms; the supervisor 866.4 / 879.9 / 786.5 req/s, p99 139.7 / 150.2 / 226.9 ms
(and the code before it, on the supervisor, 746.7 / 888.4 req/s, p99 178.4 / 148.0 ms). Per unit
of the same run's framework floor granian served ~4 % more; the supervisor kept the lower tail.

``supervisor``: kept, one setting away, because it alone evens out kept-alive connections
between the workers (below; its p99 was the lower one in the last pairs) and restarts a crashing
worker for ever (granian gives up after two crashes within 5.5 s), and because the comparison
above ran on a busy shared machine.

The supervisor: several uvicorn worker processes, each with its own listening socket
(``SO_REUSEPORT``).

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

    python -m propops.infra.server propops.main:asgi --factory --port 8000 --workers 2 [--server supervisor]
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
DEFAULT_SERVER: ServerKind = "granian"  # the load report's comparison: see the module doc


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


_GRANIAN_TARGET = "PROPOPS_GRANIAN_TARGET"  # module:attribute[:factory], for each granian worker


def granian_worker_app() -> Any:
    """What each granian worker loads: it dies with the granian master as the supervisor's workers
    do (granian leaves its workers serving the port when the master is SIGKILLed), then loads the
    real app."""
    import importlib

    _die_with_parent()
    module, attribute, factory = os.environ[_GRANIAN_TARGET].split(":")
    app = getattr(importlib.import_module(module), attribute)
    return app() if factory == "factory" else app


class GranianServer:
    """granian (a Rust HTTP server) with its own worker processes, on uvloop, HTTP/1.1."""

    def serve(self, opts: ServeOptions) -> int:
        from granian import Granian
        from granian.constants import HTTPModes, Interfaces, Loops
        from granian.log import LogLevels

        # Fail fast, as an OSError, when the port is taken (granian would raise a RuntimeError).
        family = socket.AF_INET6 if ":" in opts.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((opts.host, opts.port))
        os.environ[_GRANIAN_TARGET] = f"{opts.app}:{'factory' if opts.factory else 'app'}"
        Granian(
            f"{__name__}:granian_worker_app",
            address=opts.host,
            port=opts.port,
            interface=Interfaces.ASGI,
            workers=opts.workers,
            loop=Loops.uvloop,
            http=HTTPModes.http1,
            websockets=False,
            backlog=opts.backlog,
            factory=True,
            log_level=LogLevels(opts.log_level),
            log_access=False,
            respawn_failed_workers=True,
            workers_kill_timeout=30,  # graceful stop, then kill (as the supervisor does)
        ).serve()
        return 0


class SupervisorServer:
    """uvicorn workers on their own SO_REUSEPORT sockets, supervised here (see the module doc)."""

    def serve(self, opts: ServeOptions) -> int:
        return serve_supervised(opts)


SERVERS: dict[str, Server] = {"supervisor": SupervisorServer(), "granian": GranianServer()}


def serve(opts: ServeOptions, kind: ServerKind = DEFAULT_SERVER) -> int:
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
        opts.app,
        factory=opts.factory,
        host=opts.host,
        port=opts.port,
        log_level=opts.log_level,
        access_log=False,
        proxy_headers=False,  # the app trusts forwarded headers from PROPOPS_TRUSTED_PROXIES only
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
            proxy_headers=False,  # uvicorn would believe X-Forwarded-For from 127.0.0.1
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
        "--server", choices=sorted(SERVERS), help=f"granian or supervisor; default: PROPOPS_SERVER or {DEFAULT_SERVER}"
    )
    args = p.parse_args(argv)
    if not 1 <= args.workers <= 64:
        p.error("--workers must be 1-64")
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s: %(name)s: %(message)s")
    kind = args.server or os.environ.get("PROPOPS_SERVER", DEFAULT_SERVER)
    if kind not in ("supervisor", "granian"):
        p.error(f"PROPOPS_SERVER must be one of {', '.join(sorted(SERVERS))}")
    opts = ServeOptions(
        args.app, args.host, args.port, args.workers, args.factory, args.log_level, rebalance=not args.no_rebalance
    )
    return serve(opts, cast(ServerKind, kind))


if __name__ == "__main__":
    sys.exit(main())
