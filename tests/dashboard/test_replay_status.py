"""A replay watched on the dashboard: /api/status names the recording and its time range, and the
speed control applies to a replay as it does to the simulator."""
from __future__ import annotations

import pytest

from bot.config import parse_config
from bot.engine import BotEngine
from dashboard import create_app
from tests.market.test_recording import record_sim


@pytest.fixture
def replay_app(tmp_path):
    source, _ = record_sim(tmp_path / "made", 120, keep=False)
    engine = BotEngine(parse_config({
        "market": {"source": "replay"}, "recording": {"path": str(source.folder)},
        "storage": {"data_dir": str(tmp_path / "data"), "log_dir": str(tmp_path / "logs"), "fsync": False},
        "dashboard": {"async_mode": "threading", "broadcast_seconds": 0.05}}))
    engine.open()
    engine.run_fast(10)
    app, _socketio = create_app(engine, engine.config.dashboard, testing=True)
    yield app, engine, source.folder
    app.extensions["dashboard"].close()
    engine.close()


def test_the_status_names_the_replay_and_its_speed_can_be_changed(replay_app):
    app, engine, folder = replay_app
    client = app.test_client()
    status = client.get("/api/status").get_json()
    assert status["market_source"] == "replay"
    assert status["market_description"] == (
        f"Replay of {folder.name} (simulated market: binance, kraken) from 2026-01-01T00:00:00.000Z "
        f"to 2026-01-01T00:01:59.000Z - paper trading")
    assert status["clock"]["applies"] is True and status["clock"]["tick_seconds"] == 1.0
    answer = client.post("/api/market/speed", headers={"X-CSRF-Token": app.config["DASHBOARD_CSRF_TOKEN"]},
                         json={"speed": 240})
    assert answer.status_code == 200 and answer.get_json()["tick_interval_seconds"] == 1 / 240
    assert engine.speed == 240.0 and engine.loop.interval_seconds == 1 / 240
