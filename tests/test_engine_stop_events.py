"""Stopping the bot loses no market event: what the source reported after the last tick (an
exchange live again just before SIGTERM) is an activity record before bot_stopped."""
from __future__ import annotations

import json

from bot.config import parse_config
from bot.engine import BotEngine

OFF = {name: {"enabled": False} for name in ("arbitrage", "momentum", "news", "stat_arb")}


def test_market_events_after_the_last_tick_are_recorded_at_stop(tmp_path):
    engine = BotEngine(parse_config({"storage": {"data_dir": str(tmp_path / "data"), "log_dir": str(tmp_path / "logs"),
                                                 "fsync": False}, "dashboard": {"enabled": False}, "strategies": OFF}))
    engine.open()
    engine.run_fast(2)
    late = {"ts": "2026-12-02T09:00:00.000Z", "kind": "market_status", "exchange": "binance", "state": "live",
            "previous": "degraded", "health": "live", "reason": "", "level": "success",
            "message": "binance: live again"}
    pending = [late]
    engine.source.drain_events = lambda: [pending.pop()] if pending else []
    engine.close()
    records = [json.loads(line) for line in (tmp_path / "logs" / "activity.jsonl").read_text().splitlines()]
    events = [r["event"] for r in records]
    assert "market_status" in events and events[-1] == "bot_stopped"
    assert events.index("market_status") < events.index("bot_stopped")
    assert records[events.index("market_status")]["message"] == "binance: live again"
