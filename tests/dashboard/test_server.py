"""DashboardServer in threading mode: serves HTTP and Socket.IO, returns once a stop is requested."""
from __future__ import annotations

import socket
import threading

import requests
import socketio

from dashboard.server import DashboardServer
from tests.polling import http_ok, wait_for


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_until_stop_requested(engine):
    config = engine.config.dashboard.model_copy(update={"port": free_port(), "broadcast_seconds": 0.1})
    server = DashboardServer(engine, config)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{config.port}"
    wait_for(lambda: http_ok(base + "/api/health"), timeout=10)
    assert requests.get(base + "/api/portfolio", timeout=5).json()["last_seq"] == engine.ledger.last_seq

    received: dict[str, list] = {}
    client = socketio.Client(reconnection=False)
    client.on("*", lambda event, data: received.setdefault(event, []).append(data))
    client.connect(base, transports=["websocket"], wait_timeout=5)
    try:
        wait_for(lambda: len(received.get("portfolio_update", [])) >= 3, timeout=10)
        assert "bot_status" in received and "trades_update" in received
    finally:
        client.disconnect()
    engine.request_stop()
    thread.join(timeout=10)
    assert not thread.is_alive(), "serve() did not return after request_stop()"
