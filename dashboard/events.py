"""Socket.IO: the connect handler, the periodic broadcaster and the engine's immediate events.

Every broadcast_seconds the Broadcaster sends each *_update event to every client. Each
event is encoded once and then sent client by client, so a client that drops mid-send costs
one counted failure, not the broadcast for everyone else. Dict payloads of *_update events
carry "sent_at" (server epoch seconds) and "broadcast_seq" (0 for the copy sent on connect)
so clients and the load benchmark can measure delivery delay and spot missed broadcasts.
"""
from __future__ import annotations

import logging
import threading
import time

from flask import request
from flask_socketio import SocketIO

from dashboard.socket_transport import SocketTransport

log = logging.getLogger(__name__)

UPDATE_EVENTS = ("portfolio_update", "trades_update", "strategies_update", "alerts_update", "market_update",
                 "orders_update")
IMMEDIATE_EVENTS = ("trade_executed", "notification", "bot_status")


class Broadcaster:
    """Sends the cached engine updates to every connected dashboard."""

    def __init__(self, socketio: SocketIO, engine, interval_seconds: float, metrics=None):
        self.socketio = socketio
        self.transport = SocketTransport(socketio)
        self.engine = engine
        self.interval_seconds = interval_seconds
        self.metrics = metrics
        self.broadcasts = 0
        self.send_failures = 0
        self.clients = 0
        self._clients_lock = threading.Lock()
        self._running = False
        self._task = None

    # ----- payloads ---------------------------------------------------------------------
    def payload(self, event: str, seq: int, sent_at: float | None = None):
        data = self.engine.cache.get(event)
        if isinstance(data, dict):
            data = {**data, "sent_at": sent_at if sent_at is not None else time.time(), "broadcast_seq": seq}
        return data

    # ----- sending ----------------------------------------------------------------------
    def send(self, event: str, data, to: str | None = None) -> int:
        """Encode once, queue to every client (or one sid); returns how many sends failed.

        Queueing to 500 clients takes a few tens of milliseconds and never waits on a client
        (each has its own writer), so this does not yield midway: measured with
        bench/dashboard_load.py, yielding every 50-100 clients made rounds ten times longer.
        """
        try:
            packets = self.transport.encode(event, data)
        except Exception:  # noqa: BLE001 - an unencodable payload is a bug; log it, keep serving
            log.exception("cannot encode %s", event)
            return 0
        failures = self.transport.send_packets(packets, to)
        if failures:
            self.send_failures += failures
            if self.metrics is not None:
                self.metrics.send_failures.inc(failures)
        return failures

    def broadcast_once(self) -> int:
        """One round of every *_update event to every client; returns the failed sends."""
        started = time.perf_counter()
        self.broadcasts += 1
        sent_at = time.time()
        failures = 0
        for event in UPDATE_EVENTS:
            try:
                data = self.payload(event, self.broadcasts, sent_at)
            except Exception:  # noqa: BLE001 - one broken builder must not silence the others
                log.exception("building %s failed", event)
                continue
            failures += self.send(event, data)
        if self.metrics is not None:
            self.metrics.broadcast_seconds.observe(time.perf_counter() - started)
        return failures

    def greet(self, sid: str) -> None:
        """Send a newly connected client every update and the bot status at once."""
        sent_at = time.time()
        for event in UPDATE_EVENTS + ("bot_status",):
            try:
                data = self.engine.facade.status() if event == "bot_status" else self.payload(event, 0, sent_at)
            except Exception:  # noqa: BLE001 - the client still gets the rest, and the next broadcast
                log.exception("building %s for a new client failed", event)
                continue
            self.send(event, data, to=sid)

    # ----- the engine's own events ------------------------------------------------------
    def on_engine_event(self, event: str, payload) -> None:
        """DataFlowManager listener (called on the tick thread): forward at once, never raise."""
        if event not in IMMEDIATE_EVENTS:
            return
        try:
            if event == "bot_status":
                payload = self.engine.facade.status()
            elif event == "trade_executed":
                # The engine hands over its Trade objects; they become JSON-ready dicts here, at the edge.
                payload = [trade.to_dict() for trade in payload]
            self.send(event, payload)
        except Exception:  # noqa: BLE001 - the engine must never see a dashboard failure
            log.exception("forwarding %s failed", event)

    # ----- the periodic task ------------------------------------------------------------
    def start(self) -> None:
        if self._running:
            return
        self._running = True
        self._task = self.socketio.start_background_task(self._run)

    def stop(self) -> None:
        self._running = False

    def _run(self) -> None:
        next_at = time.monotonic() + self.interval_seconds
        while self._running:
            delay = next_at - time.monotonic()
            if delay > 0:
                self.socketio.sleep(min(delay, 0.5))
                continue
            next_at += self.interval_seconds
            if next_at < time.monotonic():  # fell behind (a long tick): do not burst to catch up
                next_at = time.monotonic() + self.interval_seconds
            try:
                self.broadcast_once()
            except Exception:  # noqa: BLE001 - the loop outlives any one broadcast
                log.exception("broadcast failed")

    # ----- client bookkeeping -----------------------------------------------------------
    def client_joined(self) -> None:
        with self._clients_lock:
            self.clients += 1
        if self.metrics is not None:
            self.metrics.clients.inc()

    def client_left(self) -> None:
        with self._clients_lock:
            self.clients = max(0, self.clients - 1)
        if self.metrics is not None:
            self.metrics.clients.dec()


def register_handlers(socketio: SocketIO, broadcaster: Broadcaster) -> None:
    """Connect and disconnect handlers for the default namespace."""

    @socketio.on("connect")
    def _connect(auth=None):
        broadcaster.client_joined()
        broadcaster.greet(request.sid)

    @socketio.on("disconnect")
    def _disconnect(reason=None):
        broadcaster.client_left()
