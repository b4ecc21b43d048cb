"""DashboardServer: runs the dashboard app for run_bot.py until the engine is asked to stop.

In eventlet mode (the default; run_bot.py monkey-patches before anything is imported) the
WSGI server is eventlet's; in threading mode it is werkzeug's threaded server. serve() blocks
until engine.request_stop() and then returns, leaving the engine to its caller.
"""
from __future__ import annotations

import logging
import socket
import threading

from dashboard.app import create_app

log = logging.getLogger(__name__)

STOP_POLL_SECONDS = 0.25
LISTEN_BACKLOG = 1024
MAX_CONNECTIONS = 4096


class DashboardServer:
    """The dashboard web server over one opened BotEngine."""

    def __init__(self, engine, dashboard_config):
        self.engine = engine
        self.config = dashboard_config
        self.app, self.socketio = create_app(engine, dashboard_config)
        self.context = self.app.extensions["dashboard"]

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

    def _disconnect_clients(self) -> None:
        """Tell every connected client the server is going, without waiting for any of them.

        engineio's disconnect() waits for each session's send queue to drain, which never
        happens for a browser that vanished a moment earlier: shutdown hung on SIGTERM.
        """
        eio = self.socketio.server.eio
        for sid, sock in list(eio.sockets.items()):
            try:
                sock.close(wait=False)
            except Exception:  # noqa: BLE001 - shutting down anyway
                log.debug("closing session %s failed", sid, exc_info=True)
        eio.sockets.clear()

    def _serve_eventlet(self) -> None:
        import eventlet  # only here: run_bot.py has monkey-patched before importing us
        import eventlet.wsgi

        listener = eventlet.listen((self.config.host, self.config.port), backlog=LISTEN_BACKLOG)
        # Accepted sockets inherit this: without it a response written in several sends waits
        # for the client's delayed ACK (~40 ms) between them.
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        server = eventlet.spawn(eventlet.wsgi.server, listener, self.app, log_output=False,
                                max_size=MAX_CONNECTIONS, log=logging.getLogger("dashboard.wsgi"))
        self._wait_for_stop()
        self.context.broadcaster.stop()
        self._disconnect_clients()
        # Killing the accept loop does not wait for open keep-alive connections to end.
        server.kill()
        listener.close()

    def _serve_threading(self) -> None:
        from werkzeug.serving import make_server

        server = make_server(self.config.host, self.config.port, self.app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="dashboard-http", daemon=True)
        thread.start()
        self._wait_for_stop()
        self.context.broadcaster.stop()
        self._disconnect_clients()
        server.shutdown()
        thread.join(timeout=5)

