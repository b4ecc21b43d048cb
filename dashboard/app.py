"""The app factory: Flask app + Socket.IO server over a running BotEngine.

create_app wires the blueprints, the security checks, the metrics and the Socket.IO handlers,
wraps the whole WSGI app (Flask and engineio) in the edge checks, and subscribes the
broadcaster to the engine's immediate events. It starts no task: the
DashboardServer (or a test) starts the periodic broadcast.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from flask import Flask, Response
from flask_socketio import SocketIO
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dashboard.auth import init_auth, proxy_fix
from dashboard.edge import EdgeMiddleware, HostPolicy
from dashboard.events import Broadcaster, register_handlers
from dashboard.metrics import DashboardMetrics
from dashboard.pages import warn_if_vendor_missing
from dashboard.security import SECURITY_HEADERS, init_security

MAX_CONTENT_LENGTH = 64 * 1024


@dataclass
class DashboardContext:
    """What the views need, kept in app.extensions["dashboard"]."""

    engine: object
    socketio: SocketIO
    broadcaster: Broadcaster
    metrics: DashboardMetrics
    started_monotonic: float = field(default_factory=time.monotonic)

    @property
    def facade(self):
        return self.engine.facade

    def cooperate(self) -> None:
        """Let other clients be served during a long loop (a no-op yield in threading mode)."""
        self.socketio.sleep(0)

    def close(self) -> None:
        """Stop the broadcast and detach from the engine."""
        self.broadcaster.stop()
        self.engine.data_flow.unsubscribe(self.broadcaster.on_engine_event)


def create_app(engine, dashboard_config, testing: bool = False) -> tuple[Flask, SocketIO]:
    """Build the dashboard for an opened engine; returns (app, socketio)."""
    from dashboard.api import api
    from dashboard.api_alerts import alerts_api
    from dashboard.api_chart import chart_api
    from dashboard.api_execution import execution_api
    from dashboard.api_books import books_api
    from dashboard.api_journal import journal_api
    from dashboard.api_pages import pages_api
    from dashboard.api_orders import orders_api
    from dashboard.api_report import report_api
    from dashboard.api_roundtrips import roundtrips_api
    from dashboard.exports import exports
    from dashboard.openapi import openapi
    from dashboard.pages import pages
    from dashboard.parsing import register_errors

    app = Flask(__name__)
    app.testing = testing
    app.config["MAX_CONTENT_LENGTH"] = MAX_CONTENT_LENGTH
    app.json.sort_keys = False
    host_policy = HostPolicy(dashboard_config.host, dashboard_config.port, dashboard_config.allowed_hosts)
    auth = init_auth(app, engine, dashboard_config)  # its gate runs before the CSRF checks
    init_security(app, host_policy)
    app.register_blueprint(pages)
    app.register_blueprint(api)
    app.register_blueprint(journal_api)
    app.register_blueprint(alerts_api)
    app.register_blueprint(roundtrips_api)
    app.register_blueprint(execution_api)
    app.register_blueprint(report_api)
    app.register_blueprint(books_api)
    app.register_blueprint(pages_api)
    app.register_blueprint(chart_api)
    app.register_blueprint(orders_api)
    app.register_blueprint(exports)
    app.register_blueprint(openapi)
    register_errors(app)
    warn_if_vendor_missing()

    # Cross-origin handshakes are refused by the same rule as the API's writes.
    socketio = SocketIO(app, async_mode=dashboard_config.async_mode, always_connect=True,
                        ping_interval=25, ping_timeout=20, max_http_buffer_size=MAX_CONTENT_LENGTH,
                        cors_allowed_origins=host_policy.socketio_origin_check)
    # SocketIO(app) put engineio in front of Flask; the login check on its handshake, then the
    # edge, then (behind a trusted reverse proxy) ProxyFix go in front of both.
    app.wsgi_app = auth.socketio_gate(app.wsgi_app, app)
    app.wsgi_app = EdgeMiddleware(app.wsgi_app, host_policy, MAX_CONTENT_LENGTH, SECURITY_HEADERS)
    app.wsgi_app = proxy_fix(app.wsgi_app, dashboard_config.trusted_proxies)
    metrics = DashboardMetrics(engine)
    broadcaster = Broadcaster(socketio, engine, dashboard_config.broadcast_seconds, metrics)
    register_handlers(socketio, broadcaster)
    engine.data_flow.subscribe(broadcaster.on_engine_event)
    app.extensions["dashboard"] = DashboardContext(engine, socketio, broadcaster, metrics)

    @app.get("/metrics")
    def prometheus_metrics():
        return Response(generate_latest(metrics.registry), mimetype=CONTENT_TYPE_LATEST)

    return app, socketio
