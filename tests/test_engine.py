"""BotEngine in-process: recovery from damaged state, resume, kill switch, contained strategy errors."""
import json

import pytest

from bot.config import BotConfig, parse_config
from bot.engine import BotEngine
from bot.models import Leg, Signal
from bot.reconcile import compare_books
from bot.storage import CorruptFileError
from bot.strategies.base import Strategy


def make_config(tmp_path, **sections) -> BotConfig:
    data = {"storage": {"data_dir": str(tmp_path / "data"), "log_dir": str(tmp_path / "logs"), "fsync": False},
            "dashboard": {"enabled": False}}
    for key, value in sections.items():
        data.setdefault(key, {}).update(value)
    return parse_config(data)


def run(config, ticks, strategies=None, configs=None):
    engine = BotEngine(config, strategies=strategies, strategy_configs=configs)
    warnings = engine.open()
    engine.run_fast(ticks)
    engine.close()
    return engine, warnings


def activity(tmp_path):
    path = tmp_path / "logs" / "activity.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_restart_continues_the_market_where_it_stopped(tmp_path):
    config = make_config(tmp_path)
    first, _ = run(config, 3000)
    assert first.next_tick == 3000
    second, warnings = run(config, 1000)
    assert warnings == []
    assert second.next_tick == 4000
    state = json.loads((tmp_path / "data" / "portfolio_state.json").read_text())
    assert state["engine"]["next_tick"] == 4000
    assert state["schema_version"] == 1


def test_corrupt_state_file_is_rebuilt_from_the_ledger_with_a_warning(tmp_path):
    config = make_config(tmp_path)
    engine, _ = run(config, 6000)
    assert engine.ledger.count > 0, "the default market should trade within 6000 ticks"
    expected = engine.portfolio.to_state()
    state_path = tmp_path / "data" / "portfolio_state.json"
    state_path.write_text(state_path.read_text()[: len(state_path.read_text()) // 2])  # half-written
    again = BotEngine(config)
    warnings = again.open()
    assert any("not valid JSON" in w and "rebuilding" in w for w in warnings)
    assert compare_books(expected, again.portfolio.to_state()) == []
    again.close()
    assert any(e["event"] == "errors" and e.get("kind") == "state_recovery" for e in activity(tmp_path))


def test_state_behind_the_ledger_is_rebuilt(tmp_path):
    config = make_config(tmp_path)
    engine, _ = run(config, 6000)
    state_path = tmp_path / "data" / "portfolio_state.json"
    state = json.loads(state_path.read_text())
    state["balances"]["binance"]["USDT"] += 123.0  # as if a fill reached the ledger but not the state
    state_path.write_text(json.dumps(state))
    again = BotEngine(config)
    warnings = again.open()
    assert any("disagrees with the ledger" in w for w in warnings)
    assert compare_books(engine.portfolio.to_state(), again.portfolio.to_state()) == []
    again.close()


def test_corrupt_ledger_line_stops_start_up_and_modifies_nothing(tmp_path):
    config = make_config(tmp_path)
    engine, _ = run(config, 6000)
    assert engine.ledger.count >= 3
    ledger = tmp_path / "data" / "trades.jsonl"
    lines = ledger.read_text().splitlines(keepends=True)
    lines[1] = "{broken\n"
    ledger.write_text("".join(lines))
    before = {p.name: p.read_bytes() for p in (tmp_path / "data").iterdir()}
    with pytest.raises(CorruptFileError) as info:
        BotEngine(config).open()
    assert info.value.line == 2
    assert {p.name: p.read_bytes() for p in (tmp_path / "data").iterdir()} == before


class Exploding(Strategy):
    name = "exploding"

    def on_snapshot(self, snapshot, view):
        if snapshot.tick % 7 == 0:
            raise RuntimeError("strategy bug")
        return []


def test_a_strategy_that_raises_is_contained_and_momentum_keeps_trading(tmp_path):
    from bot.strategies.momentum import MomentumStrategy

    config = make_config(tmp_path)
    source_config = config.market
    momentum = MomentumStrategy(config.strategies.momentum, tuple(source_config.exchanges), tuple(source_config.symbols))
    configs = {"momentum": config.strategies.momentum, "exploding": config.strategies.momentum}
    engine, _ = run(config, 6000, strategies=[Exploding(config.strategies.momentum), momentum], configs=configs)
    assert engine.manager.counters["exploding"].errors == len(range(0, 6000, 7))
    assert engine.manager.counters["momentum"].executed > 0
    errors = [e for e in activity(tmp_path) if e["event"] == "errors" and e.get("kind") == "strategy"]
    assert errors and errors[0]["message"] == "RuntimeError: strategy bug"
    count = engine.manager.counters["exploding"].errors
    assert len(errors) == 1 + count // 100, "repeated errors are counted, logged once per hundred"


class Loser(Strategy):
    """Buys high and sells low every tick so the drawdown grows."""

    name = "loser"

    def on_snapshot(self, snapshot, view):
        quote = snapshot.quotes[("binance", "BTC/USDT")]
        held = view.position("BTC")
        if held is None:
            return [Signal("loser", "entry", (Leg("binance", "BTC/USDT", "buy", 0.15, quote.ask),), "buy")]
        return [Signal("loser", "exit", (Leg("binance", "BTC/USDT", "sell", held.qty, quote.bid),), "sell",
                       closes_position=True)]


def test_drawdown_kill_switch_pauses_trading_and_records_why(tmp_path):
    config = make_config(tmp_path, risk={"max_drawdown_pct": 0.3},
                         execution={"max_slippage_pct": 5.0})
    loser_config = config.strategies.momentum.model_copy(update={"cooldown_seconds": 0, "max_position_pct": 100})
    engine, _ = run(config, 3000, strategies=[Loser(loser_config)], configs={"loser": loser_config})
    assert engine.kill_switch is not None
    assert "kill switch: drawdown" in engine.kill_switch["reason"]
    trades_at_trip = engine.ledger.count
    events = activity(tmp_path)
    assert any(e["event"] == "kill_switch" for e in events)
    assert any(e["event"] == "bot_paused" and "kill switch" in e["reason"] for e in events)
    state = json.loads((tmp_path / "data" / "portfolio_state.json").read_text())
    assert "kill switch" in state["engine"]["kill_switch"]["reason"]
    assert trades_at_trip > 0


def test_pause_marks_but_does_not_trade_and_stop_halts_the_market(tmp_path):
    config = make_config(tmp_path)
    engine = BotEngine(config)
    engine.open()
    engine.pause("test")
    engine.run_fast(3000)
    assert engine.ledger.count == 0 and engine.next_tick == 3000
    engine.stop_trading("test")
    engine.run_fast(100)
    assert engine.next_tick == 3000
    engine.start()
    engine.run_fast(10)
    assert engine.next_tick == 3010 and engine.state == "running"
    engine.close()


def test_market_source_events_are_logged_and_the_edges_notified(tmp_path):
    from bot.market.simulator import SimulatedMarket

    script = [
        {"ts": "t", "kind": "market_status", "exchange": "kraken", "state": "degraded", "previous": "live",
         "reason": "HTTP 429", "level": "warning", "message": "kraken degraded: HTTP 429"},
        {"ts": "t", "kind": "market_status", "exchange": "kraken", "state": "down", "previous": "degraded",
         "reason": "breaker open", "level": "error", "message": "kraken down: breaker open"},
        {"ts": "t", "kind": "market_status", "exchange": "kraken", "state": "recovering", "previous": "down",
         "reason": "probe", "level": "info", "message": "kraken recovering"},
        {"ts": "t", "kind": "market_status", "exchange": "kraken", "state": "down", "previous": "recovering",
         "reason": "probe failed", "level": "error", "message": "kraken down again"},
        {"ts": "t", "kind": "market_status", "exchange": "kraken", "state": "live", "previous": "recovering",
         "reason": "", "level": "success", "message": "kraken live again"},
    ]

    class Scripted(SimulatedMarket):
        def drain_events(self):
            events, script[:] = list(script), []
            return events

    config = make_config(tmp_path)
    engine = BotEngine(config, source=Scripted(config.market))
    engine.open()
    engine.run_fast(3)
    engine.close()
    logged = [e for e in activity(tmp_path) if e["event"] == "market_status"]
    assert [e["state"] for e in logged] == ["degraded", "down", "recovering", "down", "live"]
    notes = [json.loads(line) for line in (tmp_path / "logs" / "notifications.jsonl").read_text().splitlines()]
    market_notes = [n["message"] for n in notes if n["kind"] == "market"]
    assert market_notes == ["kraken down: breaker open", "kraken live again"]


def test_a_webhook_that_never_answers_does_not_hold_up_the_ticks(tmp_path):
    from tests.test_notifications import Hook

    hook = Hook([None] * 1000)  # accepts the connection, never answers
    try:
        config = make_config(tmp_path, notifications={"webhook_url": hook.url, "webhook_timeout_seconds": 5.0,
                                                      "webhook_retries": 0, "rate_limit_per_minute": 10_000})
        engine = BotEngine(config)
        engine.open()
        engine.run_fast(6000)
        assert engine.next_tick == 6000
        trades_notified = [n for n in engine.notifications.history if n["kind"] == "trade_executed"]
        assert trades_notified, "trades were confirmed to the dashboards while the webhook hung"
        assert engine.notifications.pending() > 0, "deliveries are still queued behind the hung webhook"
        assert engine.notifications.stats["webhook_sent"] == 0
        engine.close()
    finally:
        hook.close()
