"""GET /api/health tells the truth (503 with reasons when degraded) and /metrics counts the faults."""
from __future__ import annotations

import bot.storage
from tests.dashboard.conftest import ledger_lines
from tests.disk import FullDisk


def metric(client, name: str, labels: str = "") -> float:
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(f"{name}{labels} ") or line.startswith(f"{name}{{{labels}}} "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{labels} not in /metrics")


def test_healthy_is_200_ok_with_no_reasons(client, engine):
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["reasons"] == [] and body["paused_by"] is None
    assert body["trades"] == len(ledger_lines(engine))


def test_a_user_pause_is_not_degraded(client, engine):
    engine.pause("paused from the dashboard")
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.get_json()["paused_by"] == "user"


def test_a_full_disk_is_503_degraded_with_the_cause_and_counted(client, engine, monkeypatch):
    data = str(engine.data_dir)
    disk = FullDisk(only=lambda path: path.startswith(data))
    monkeypatch.setattr(bot.storage, "os", disk)
    for _ in range(20000):
        if engine.state == "paused":
            break
        engine.tick()
    assert engine.state == "paused"
    response = client.get("/api/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "degraded" and body["paused_by"] == "storage"
    assert body["pause_reason"] == "storage: No space left on device"
    assert any(r.startswith("storage failing: ") and r.endswith("No space left on device") for r in body["reasons"])
    assert any(r == "trading paused by storage: storage: No space left on device" for r in body["reasons"])
    assert metric(client, "bot_storage_errors_total") == disk.refused >= 1
    assert client.get("/api/status").get_json()["paused_by"] == "storage"
    disk.free()  # before the fixture closes the engine


def test_failing_ticks_are_503_and_counted_in_metrics(client, engine, monkeypatch):
    def broken():
        raise RuntimeError("feed bug")

    monkeypatch.setattr(engine.source, "next_snapshot", broken)
    for _ in range(3):
        engine.tick_guarded()
    response = client.get("/api/health")
    assert response.status_code == 503
    assert response.get_json()["reasons"] == ["ticks failing: 3 of the last 100 ticks raised (last: RuntimeError: feed bug)"]
    assert metric(client, "bot_tick_errors_total") == 3


def test_side_work_errors_are_counted_per_part(client, engine, monkeypatch):
    def broken(*args):
        raise ValueError("rule bug")

    monkeypatch.setattr(engine.alerts, "check", broken)
    engine.run_fast(7)
    assert metric(client, "bot_side_work_errors_total", 'part="alerts"') == 7
    assert metric(client, "bot_side_work_errors_total", 'part="equity"') == 0
    assert client.get("/api/health").status_code == 200, "side work failing is counted, not a degraded bot"


def test_a_market_with_no_live_exchange_is_degraded(client, engine, monkeypatch):
    monkeypatch.setattr(engine.source, "health", lambda: {
        "binance": {"state": "down", "reason": "breaker open", "age_seconds": 40.0},
        "kraken": {"state": "degraded", "reason": "stale: BTC/USDT quote 31.0s old", "age_seconds": 31.0}})
    body = client.get("/api/health").get_json()
    assert body["status"] == "degraded"
    assert body["reasons"] == ["market stale: no exchange is live (binance down (breaker open); "
                               "kraken degraded (stale: BTC/USDT quote 31.0s old))"]


def test_the_engine_state_leaves_the_process_as_its_plain_name(client, engine, csrf):
    # EngineState is an Enum inside; JSON, /metrics, notifications and the state file carry "paused".
    response = client.post("/api/bot/pause", headers=csrf)
    assert response.get_data(as_text=True).replace(" ", "").strip() == '{"state":"paused"}'
    assert metric(client, "bot_state", 'state="paused"') == 1.0
    note = engine.notifications.history[-1]
    assert note["message"] == "Bot paused: paused from the dashboard" and note["state"] == "paused"
    state_file = (engine.data_dir / "portfolio_state.json").read_text()
    assert '"state": "paused"' in state_file
