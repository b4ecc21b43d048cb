"""A DashboardServer in threading mode on a free port, for the in-process server tests.

free_port() lets the port go before the server binds it, so another process (a client's ephemeral
port on the other xdist worker) can take it in between: only that loss is retried, on a new port.
"""
from __future__ import annotations

import errno
import socket
import threading

from dashboard.server import DashboardServer
from tests.polling import http_ok, wait_for

PORT_ATTEMPTS = 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _in_use(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
        return False


class Served:
    """A started server: its config (port included), the serving thread and the base URL."""

    def __init__(self, server: DashboardServer, thread: threading.Thread, failure: list):
        self.server, self.thread, self._failure = server, thread, failure
        self.config = server.config
        self.port = server.config.port
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self, engine) -> None:
        """Request the engine's stop and check that serve() returned and raised nothing."""
        engine.request_stop()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "serve() did not return after request_stop()"
        assert not self._failure, f"serve() raised {self._failure[0]!r}"


def serve_in_thread(engine, **updates) -> Served:
    """Start DashboardServer(engine, dashboard config with `updates` and a free port) on a thread and
    wait until /api/health answers; a port taken before the bind is retried on another."""
    for attempt in range(PORT_ATTEMPTS):
        config = engine.config.dashboard.model_copy(update={**updates, "port": free_port()})
        server = DashboardServer(engine, config)
        failure: list[BaseException] = []

        def serve(server=server, failure=failure) -> None:
            try:
                server.serve()
            except BaseException as exc:  # noqa: BLE001 - reported to the test thread below
                failure.append(exc)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{config.port}"
        wait_for(lambda: http_ok(base + "/api/health") or not thread.is_alive(), timeout=10)
        if thread.is_alive():
            return Served(server, thread, failure)
        thread.join()
        # werkzeug reports a taken port with SystemExit(1) (after printing why): check the port itself.
        lost = bool(failure) and isinstance(failure[0], (OSError, SystemExit)) and _in_use(config.port)
        if not lost or attempt == PORT_ATTEMPTS - 1:
            raise AssertionError(f"the dashboard did not start on port {config.port}: {failure!r}")
    raise AssertionError("unreachable")
