"""DashboardServer: runs the dashboard app for run_bot.py until the engine is asked to stop.

In eventlet mode (the default; run_bot.py monkey-patches before anything is imported) the
WSGI server is eventlet's; in threading mode it is werkzeug's threaded server. serve() blocks
until engine.request_stop() and then returns, leaving the engine to its caller.

Connections: an idle one (no request line within IDLE_TIMEOUT_SECONDS) is closed, any socket
operation stalling SOCKET_TIMEOUT_SECONDS ends its connection, and in eventlet mode one client
address holds at most MAX_CONNECTIONS_PER_ADDRESS (dashboard/connections.py).
With dashboard.tls_cert and dashboard.tls_key it serves HTTPS itself.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
import sys
import threading

from dashboard.app import create_app
from dashboard.connections import ConnectionLimits, GuardedListener, ReleasingPool, raise_open_file_limit

log = logging.getLogger(__name__)

STOP_POLL_SECONDS = 0.25
LISTEN_BACKLOG = 1024
MAX_CONNECTIONS = 4096
# Above the 500-1,000 Socket.IO clients bench/dashboard_load.py opens from one address, far
# below the pool: one address can never take every slot.
MAX_CONNECTIONS_PER_ADDRESS = 1000
# Waiting for a request line (the first or the next on a keep-alive connection).
IDLE_TIMEOUT_SECONDS = 10
# Any other read or write; above Socket.IO's 25 s ping interval, so a quiet websocket (which
# hears a pong every ping) is never cut.
SOCKET_TIMEOUT_SECONDS = 60
# Descriptors for every connection the caps allow, plus the data files, logs and listener.
OPEN_FILES_WANTED = MAX_CONNECTIONS + 512
EXPOSED_WARNING = (
    "warning: the dashboard listens on {address}, which other machines can reach, and "
    "--insecure-no-auth let it start with no password: there is no authentication. Anyone who "
    "can connect gets every page, the API with its controls (start/pause/stop, strategy "
    "toggles, alerts, journal, notifications), the CSV exports and /metrics. Requests must name "
    "a host in dashboard.allowed_hosts (or localhost). Run 'python run_bot.py set-password', "
    "or bind to 127.0.0.1 unless you need this.")
CLEAR_TEXT_WARNING = (
    "warning: the dashboard listens on {address} over plain HTTP: the password, session cookie "
    "and API tokens cross the network unencrypted. Put it behind an HTTPS reverse proxy "
    "(dashboard.trusted_proxies) or set dashboard.tls_cert and dashboard.tls_key.")


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (the wildcard 0.0.0.0 / :: is not)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def warn_if_exposed(config, password_set: bool = False) -> bool:
    """On a non-loopback address, say what is exposed (stderr and the log); True if it did."""
    if is_loopback(config.host):
        return False
    address = f"{config.host}:{config.port}"
    if not password_set:
        message = EXPOSED_WARNING.format(address=address)
    elif not config.tls_cert and config.trusted_proxies == 0:
        message = CLEAR_TEXT_WARNING.format(address=address)
    else:
        return False
    print(message, file=sys.stderr, flush=True)
    log.warning(message)
    return True


class DashboardServer:
    """The dashboard web server over one opened BotEngine."""

    def __init__(self, engine, dashboard_config):
        self.engine = engine
        self.config = dashboard_config
        self.app, self.socketio = create_app(engine, dashboard_config)
        self.context = self.app.extensions["dashboard"]
        self.connection_limits = ConnectionLimits(MAX_CONNECTIONS_PER_ADDRESS, MAX_CONNECTIONS)
        warn_if_exposed(dashboard_config, self.app.extensions["auth"].enabled)

    def start_background_task(self, target, *args, **kwargs):
        """Run target beside the server (a green thread in eventlet mode, a thread otherwise)."""
        return self.socketio.start_background_task(target, *args, **kwargs)

    def cooperate(self) -> None:
        """Yield to the server for a moment (called by long engine loops)."""
        self.socketio.sleep(0)

    def serve(self) -> None:
        """Serve until engine.request_stop() has been called; then stop broadcasting and return."""
        self.context.broadcaster.start()
        self.start_background_task(self._warm_up)
        try:
            if self.config.async_mode == "eventlet":
                self._serve_eventlet()
            else:
                self._serve_threading()
        finally:
            self.context.close()

    def _warm_up(self) -> None:
        # Read the ledger into the analytics once now, not on the first chart request.
        try:
            self.context.facade.analytics(self.cooperate)
        except Exception:  # noqa: BLE001 - a warm-up failure shows again on the request
            log.exception("analytics warm-up failed")

    def _wait_for_stop(self) -> None:
        while not self.engine.wait_for_stop(STOP_POLL_SECONDS):
            pass

    def _serve_eventlet(self) -> None:
        import eventlet  # only here: run_bot.py has monkey-patched before importing us
        import eventlet.wsgi

        listener = eventlet.listen((self.config.host, self.config.port), backlog=LISTEN_BACKLOG)
        # Accepted sockets inherit this: without it a response written in several sends waits
        # for the client's delayed ACK (~40 ms) between them.
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.config.tls_cert:
            # Each connection's handshake runs in its own green thread on its first read, so a
            # slow client cannot stall the accept loop.
            listener = eventlet.wrap_ssl(listener, certfile=self.config.tls_cert, keyfile=self.config.tls_key,
                                         server_side=True)
        raise_open_file_limit(OPEN_FILES_WANTED)
        limits = self.connection_limits
        server = eventlet.spawn(eventlet.wsgi.server, GuardedListener(listener, limits, eventlet.sleep),
                                self.app, log_output=False, log=logging.getLogger("dashboard.wsgi"),
                                custom_pool=ReleasingPool(eventlet.GreenPool(MAX_CONNECTIONS), limits),
                                keepalive=IDLE_TIMEOUT_SECONDS, socket_timeout=SOCKET_TIMEOUT_SECONDS)
        self._wait_for_stop()
        self.context.broadcaster.stop()
        self.context.broadcaster.transport.close_all()
        # Killing the accept loop does not wait for open keep-alive connections to end.
        server.kill()
        listener.close()

    def _serve_threading(self) -> None:
        from werkzeug.serving import WSGIRequestHandler, make_server

        class TimedRequestHandler(WSGIRequestHandler):
            timeout = SOCKET_TIMEOUT_SECONDS  # socketserver sets it on each connection

        tls = (self.config.tls_cert, self.config.tls_key) if self.config.tls_cert else None
        server = make_server(self.config.host, self.config.port, self.app, threaded=True,
                             request_handler=TimedRequestHandler, ssl_context=tls)
        thread = threading.Thread(target=server.serve_forever, name="dashboard-http", daemon=True)
        thread.start()
        self._wait_for_stop()
        self.context.broadcaster.stop()
        self.context.broadcaster.transport.close_all()
        server.shutdown()
        thread.join(timeout=5)

