"""DashboardServer in threading mode: serves HTTP and Socket.IO, returns once a stop is requested."""
from __future__ import annotations

import requests
import socketio

from tests.dashboard.serving import serve_in_thread
from tests.polling import wait_for


def test_serve_until_stop_requested(engine):
    running = serve_in_thread(engine, broadcast_seconds=0.1)
    base = running.base
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
    running.stop(engine)
