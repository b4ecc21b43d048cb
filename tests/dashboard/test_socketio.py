"""Socket.IO: updates on connect, periodic broadcasts, immediate events, dropped clients."""
from __future__ import annotations

import pytest

from dashboard.events import UPDATE_EVENTS
from tests.dashboard.conftest import all_ledger_lines, force_trade, ledger_lines
from tests.polling import wait_for


@pytest.fixture
def sio(dashboard, app):
    socketio = dashboard[1]
    clients = []

    def connect():
        client = socketio.test_client(app, flask_test_client=app.test_client())
        assert client.is_connected()
        clients.append(client)
        return client

    yield connect
    for client in clients:
        if client.is_connected():
            client.disconnect()


def names(received) -> list[str]:
    return [packet["name"] for packet in received]


def by_name(received, name):
    return [packet["args"][0] for packet in received if packet["name"] == name]


def test_a_new_client_gets_every_update_and_the_status_at_once(sio, engine):
    received = sio().get_received()
    assert set(UPDATE_EVENTS) | {"bot_status"} <= set(names(received))
    portfolio = by_name(received, "portfolio_update")[0]
    assert portfolio["last_seq"] == len(all_ledger_lines(engine))
    assert portfolio["broadcast_seq"] == 0 and portfolio["sent_at"] > 0
    assert by_name(received, "trades_update")[0]["trades"] == list(reversed(ledger_lines(engine)))[:10]
    assert by_name(received, "alerts_update")[0]["rules"] == []
    assert by_name(received, "bot_status")[0]["state"] == "running"
    assert "momentum" in {row["strategy"] for row in by_name(received, "strategies_update")[0]["strategies"]}
    assert by_name(received, "market_update")[0]["tick"] == engine.last_snapshot.tick


def test_each_broadcast_reaches_every_client(sio, app):
    broadcaster = app.extensions["dashboard"].broadcaster
    clients = [sio() for _ in range(3)]
    for client in clients:
        client.get_received()
    for _ in range(3):
        assert broadcaster.broadcast_once() == 0
    for client in clients:
        received = client.get_received()
        for event in UPDATE_EVENTS:
            assert len(by_name(received, event)) == 3, event
        assert [p["broadcast_seq"] for p in by_name(received, "portfolio_update")] == [1, 2, 3]


def test_the_periodic_task_broadcasts(sio, app):
    broadcaster = app.extensions["dashboard"].broadcaster
    client = sio()
    broadcaster.start()
    # Read the queue without clearing it: the broadcast thread appends to it meanwhile.
    wait_for(lambda: len(by_name(list(client.queue), "portfolio_update")) >= 4, timeout=10)
    broadcaster.stop()
    seqs = [p["broadcast_seq"] for p in by_name(list(client.queue), "portfolio_update")]
    assert seqs[:4] == [0, 1, 2, 3]


def test_a_fill_is_pushed_at_once(sio, engine):
    client = sio()
    client.get_received()
    force_trade(engine)
    received = client.get_received()
    fills = by_name(received, "trade_executed")
    assert [fill["trades"] for fill in fills] == [[ledger_lines(engine)[-1]]]


def test_notifications_and_status_changes_are_pushed(sio, engine, client, csrf):
    sio_client = sio()
    sio_client.get_received()
    engine.data_flow.emit("notification", {"level": "warning", "message": "hello", "kind": "test"})
    client.post("/api/bot/pause", headers=csrf)
    received = sio_client.get_received()
    mine = [n for n in by_name(received, "notification") if n.get("kind") == "test"]
    assert mine == [{"level": "warning", "message": "hello", "kind": "test"}]
    status = by_name(received, "bot_status")
    assert status[-1]["state"] == "paused" and status[-1]["pause_reason"] == "paused from the dashboard"


def test_a_client_that_drops_mid_broadcast_does_not_stop_the_others(sio, app, dashboard):
    socketio = dashboard[1]
    context = app.extensions["dashboard"]
    first, dropping, last = sio(), sio(), sio()
    for client in (first, dropping, last):
        client.get_received()
    real_send = socketio.server._send_eio_packet

    def send(eio_sid, pkt):
        if eio_sid == dropping.eio_sid:
            raise ConnectionResetError("client went away mid-send")
        return real_send(eio_sid, pkt)

    socketio.server._send_eio_packet = send
    try:
        failures = context.broadcaster.broadcast_once()
    finally:
        socketio.server._send_eio_packet = real_send
    assert failures == len(UPDATE_EVENTS)
    assert context.broadcaster.send_failures == len(UPDATE_EVENTS)
    for client in (first, last):
        assert set(names(client.get_received())) == set(UPDATE_EVENTS)
    assert dropping.get_received() == []
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert f"dashboard_send_failures_total {float(len(UPDATE_EVENTS))}" in metrics


def test_a_client_that_disconnects_leaves_the_others_served(sio, app):
    broadcaster = app.extensions["dashboard"].broadcaster
    staying, leaving = sio(), sio()
    assert broadcaster.clients == 2
    leaving.disconnect()
    assert broadcaster.clients == 1
    staying.get_received()
    assert broadcaster.broadcast_once() == 0
    assert set(names(staying.get_received())) == set(UPDATE_EVENTS)


def test_a_failing_listener_payload_never_reaches_the_engine(engine, app):
    # An unencodable payload is logged; the engine's emit goes on.
    errors_before = engine.data_flow.listener_errors
    engine.data_flow.emit("notification", {"bad": object()})
    assert engine.data_flow.listener_errors == errors_before
