"""BotEngine in-process: recovery from damaged state, resume, kill switch, contained strategy errors."""
import json

import pytest

from bot.config import BotConfig, parse_config
from bot.engine import BotEngine
from bot.models import Leg, Signal
from bot.accounting.reconcile import compare_books
from bot.storage_reading import CorruptFileError
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


# ----- storage faults, the data dir lock, contained side work, health ---------------------------
def ledger_file_seqs(tmp_path) -> list[int]:
    """The ledger's sequence numbers as the file says, read without the bot."""
    path = tmp_path / "data" / "trades.jsonl"
    return [json.loads(line)["seq"] for line in path.read_bytes().splitlines() if line.strip()]


class FakeClock:
    """A monotonic clock the test moves (the storage probe runs at most once per wall second)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def fill_data_dir(monkeypatch, tmp_path, **kwargs):
    import bot.storage
    from tests.disk import FullDisk

    data = str(tmp_path / "data")
    disk = FullDisk(only=lambda path: path.startswith(data), **kwargs)
    monkeypatch.setattr(bot.storage, "os", disk)
    return disk


def run_until(engine, condition, limit=20000):
    for _ in range(limit):
        if condition():
            return
        engine.tick()
    raise AssertionError("the condition never held")


def test_disk_full_pauses_trading_loses_nothing_and_resumes_when_space_returns(tmp_path, monkeypatch):
    from bot.accounting.portfolio import PortfolioTracker

    monkeypatch.setattr("bot.engine.STATE_WRITE_SECONDS", float("inf"))  # only a trade writes: the fault is the ledger's
    config = make_config(tmp_path, engine={"equity_sample_seconds": 86400})  # (no equity sample in the window)
    engine = BotEngine(config)
    engine.open()
    clock = FakeClock()
    engine.faults.clock = clock
    run_until(engine, lambda: engine.ledger.count >= 3)
    ledger_path = tmp_path / "data" / "trades.jsonl"
    before_bytes = ledger_path.read_bytes()
    count_at_fill, seq_at_fill = engine.ledger.count, engine.ledger.last_seq
    disk = fill_data_dir(monkeypatch, tmp_path)
    run_until(engine, lambda: engine.state == "paused")
    assert disk.refused >= 1
    assert engine.pause_reason == "storage: No space left on device"
    assert engine.paused_by() == "storage"
    assert ledger_path.read_bytes() == before_bytes, "nothing half-written stays in the ledger"
    # The failed trade reached neither the ledger's memory nor the books.
    # (count: trades; last_seq: every line, transfers and borrow fees included)
    assert engine.ledger.count == count_at_fill
    assert engine.ledger.last_seq == seq_at_fill == len(ledger_file_seqs(tmp_path)) == engine.portfolio.last_seq
    replayed = PortfolioTracker.from_ledger(engine.portfolio.starting_balances, list(engine.ledger.iter_entries()))
    assert compare_books(replayed.to_state(), engine.portfolio.to_state()) == []
    health = engine.facade.health()
    assert health["status"] == "degraded"
    assert any(r.startswith("storage failing:") and "No space left on device" in r for r in health["reasons"])
    assert any("trading paused by storage" in r for r in health["reasons"])
    notes = [n for n in engine.notifications.history if n["level"] == "error" and "Storage failing" in n["message"]]
    assert len(notes) == 1
    # Paused: ticks go on (marks), nothing trades, and the probe waits for the clock.
    ticks, count = engine.ticks_run, engine.ledger.count
    for _ in range(200):
        engine.tick()
    assert engine.ticks_run == ticks + 200 and engine.ledger.count == count and engine.state == "paused"
    clock.now += 1.5
    engine.tick()  # a probe: still full
    assert engine.state == "paused" and engine.faults.storage_fault is not None
    disk.free()
    engine.tick()  # the probe is not due yet (once a second)
    assert engine.state == "paused"
    clock.now += 1.5
    engine.tick()
    assert engine.state == "running" and engine.faults.storage_fault is None
    assert engine.facade.health()["status"] == "ok"
    run_until(engine, lambda: engine.ledger.count >= count + 3)
    engine.close()
    assert ledger_file_seqs(tmp_path) == list(range(1, engine.ledger.last_seq + 1))
    events = activity(tmp_path)
    storage_errors = [e for e in events if e["event"] == "errors" and e.get("kind") == "storage"]
    assert len(storage_errors) == 1
    # The first write refused is a trade's ledger line or a miss's line (data/misses.jsonl, same disk).
    assert storage_errors[0]["message"] in {f"{path}: cannot append: No space left on device"
                                            for path in (ledger_path, tmp_path / "data" / "misses.jsonl")}
    assert any(e["event"] == "bot_paused" and e["reason"] == "storage: No space left on device" for e in events)
    assert any(e["event"] == "storage_recovered" for e in events)
    assert any(e["event"] == "bot_resumed" for e in events)
    state = json.loads((tmp_path / "data" / "portfolio_state.json").read_text())
    assert state["last_seq"] == engine.ledger.last_seq


def test_a_failed_state_write_keeps_the_trade_pauses_and_is_retried(tmp_path, monkeypatch):
    from bot.accounting.portfolio import PortfolioTracker

    config = make_config(tmp_path)
    engine = BotEngine(config)
    engine.open()
    engine.faults.clock = clock = FakeClock()
    run_until(engine, lambda: engine.ledger.count >= 1)
    state_path = tmp_path / "data" / "portfolio_state.json"
    import bot.storage
    from tests.disk import FullDisk

    disk = FullDisk(only=lambda path: "portfolio_state" in path or ".probe." in path)
    monkeypatch.setattr(bot.storage, "os", disk)
    seq = engine.ledger.last_seq
    run_until(engine, lambda: engine.ledger.last_seq > seq)  # a trade, or a transfer / borrow fee entry
    assert engine.state == "paused" and engine.pause_reason == "storage: No space left on device"
    saved = json.loads(state_path.read_text())
    assert saved["last_seq"] < engine.ledger.last_seq, "the old state file stayed"
    replayed = PortfolioTracker.from_ledger(engine.portfolio.starting_balances, list(engine.ledger.iter_entries()))
    assert compare_books(replayed.to_state(), engine.portfolio.to_state()) == [], "the trade was kept and applied"
    assert not list((tmp_path / "data").glob(".*.tmp"))
    disk.free()
    clock.now += 2
    engine.tick()
    assert engine.state == "running"
    assert json.loads(state_path.read_text())["last_seq"] == engine.portfolio.last_seq
    engine.close()


def test_a_user_pause_is_not_lifted_by_the_storage_probe(tmp_path, monkeypatch):
    config = make_config(tmp_path)
    engine = BotEngine(config)
    engine.open()
    engine.faults.clock = clock = FakeClock()
    disk = fill_data_dir(monkeypatch, tmp_path)
    run_until(engine, lambda: engine.state == "paused")
    assert engine.paused_by() == "storage"
    engine.pause("paused by user")  # over the storage pause
    assert engine.paused_by() == "user" and engine.pause_reason == "paused by user"
    assert engine.facade.status()["paused_by"] == "user"
    disk.free()
    clock.now += 2
    engine.tick()
    assert engine.faults.storage_fault is None, "the probe succeeded"
    assert engine.state == "paused" and engine.pause_reason == "paused by user"
    health = engine.facade.health()
    assert health["status"] == "ok" and health["reasons"] == [], "a user's pause is not degraded"
    engine.close()


def test_a_second_engine_on_the_same_data_dir_is_refused_and_changes_nothing(tmp_path):
    from bot.storage import DataDirInUse

    config = make_config(tmp_path)
    first = BotEngine(config)
    first.open()
    first.run_fast(3000)
    data = tmp_path / "data"
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    with pytest.raises(DataDirInUse) as info:
        BotEngine(config).open()
    assert str(data) in str(info.value) and "PID" in str(info.value)
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before
    first.close()
    again = BotEngine(config)
    again.open()  # closed: the lock is free
    again.close()


def test_an_error_while_closing_does_not_stop_the_rest_of_the_shutdown(tmp_path, monkeypatch):
    config = make_config(tmp_path)
    engine = BotEngine(config)
    engine.open()
    engine.run_fast(10)

    def broken():
        raise RuntimeError("ledger close failed")

    monkeypatch.setattr(engine.ledger, "close", broken)
    with pytest.raises(RuntimeError, match="ledger close failed"):
        engine.close()
    assert engine.state == "closed"
    assert any(e["event"] == "bot_stopped" for e in activity(tmp_path))
    again = BotEngine(config)
    again.open()  # the lock was let go despite the failure
    again.close()


def test_an_alert_check_that_raises_every_tick_does_not_stop_the_strategies(tmp_path, monkeypatch):
    config = make_config(tmp_path)
    engine = BotEngine(config)
    engine.open()

    def broken_check(*args):
        raise ValueError("alert rule bug")

    monkeypatch.setattr(engine.alerts, "check", broken_check)
    engine.run_fast(6000)
    assert engine.ticks_run == 6000
    assert engine.ledger.count > 0, "the strategies still traded"
    assert engine.faults.side_errors["alerts"] == 6000
    engine.close()
    errors = [e for e in activity(tmp_path) if e["event"] == "errors" and e.get("kind") == "alerts"]
    assert errors[0]["message"] == "ValueError: alert rule bug"
    assert len(errors) == 1 + 6000 // 100, "counted, reported once and then every 100th"


def test_marks_notifications_and_listeners_that_raise_are_contained(tmp_path, monkeypatch):
    config = make_config(tmp_path)
    engine = BotEngine(config)
    engine.open()
    engine.run_fast(5)  # marks taken, so the strategies have prices

    def broken(*args, **kwargs):
        raise RuntimeError("side bug")

    monkeypatch.setattr(engine.portfolio, "mark", broken)
    monkeypatch.setattr(engine.notifications, "notify", broken)
    monkeypatch.setattr(engine.notifications, "notify_composed", broken)  # the trade confirmations' way in
    engine.data_flow.subscribe(broken)
    engine.run_fast(6000)
    assert engine.ticks_run == 6005 and engine.ledger.count > 0
    assert engine.faults.side_errors["equity"] == 6000
    executed = sum(counters.executed for counters in engine.manager.counters.values())
    assert executed > 0 and engine.faults.side_errors["notifications"] >= executed  # a confirmation per signal
    assert engine.faults.side_errors["listeners"] >= 1
    engine.close()


def test_a_failing_tick_in_the_real_time_loop_is_counted_and_health_says_so(tmp_path, monkeypatch):
    config = make_config(tmp_path)
    engine = BotEngine(config)
    engine.open()
    assert engine.facade.health()["status"] == "ok"
    real_next = engine.source.next_snapshot
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] % 2 == 0:
            raise RuntimeError("feed bug")
        return real_next()

    monkeypatch.setattr(engine.source, "next_snapshot", flaky)
    for _ in range(10):
        engine.tick_guarded()
    assert engine.faults.tick_errors == 5 and engine.ticks_run == 5
    health = engine.facade.health()
    assert health["status"] == "degraded"
    assert health["reasons"] == ["ticks failing: 5 of the last 100 ticks raised (last: RuntimeError: feed bug)"]
    engine.close()
    errors = [e for e in activity(tmp_path) if e["event"] == "errors" and e.get("kind") == "tick"]
    assert len(errors) == 1 and errors[0]["message"] == "RuntimeError: feed bug"


def test_a_storage_fault_escaping_a_tick_in_the_real_time_loop_pauses_trading(tmp_path, monkeypatch):
    from bot.storage import StorageError

    config = make_config(tmp_path)
    engine = BotEngine(config)
    engine.open()
    engine.faults.clock = clock = FakeClock()
    engine.run_fast(5)
    real_next = engine.source.next_snapshot

    def failing_source():  # e.g. a recording segment written under the data dir
        raise StorageError(tmp_path / "data" / "recordings" / "x", "append", OSError(5, "Input/output error"))

    monkeypatch.setattr(engine.source, "next_snapshot", failing_source)
    engine.tick_guarded()
    assert engine.state == "paused" and engine.pause_reason == "storage: Input/output error"
    assert (engine.faults.tick_errors, engine.faults.storage_errors) == (1, 1)
    monkeypatch.setattr(engine.source, "next_snapshot", real_next)
    clock.now += 2
    engine.tick_guarded()
    assert engine.state == "running", "the probe write succeeded, so trading resumed"
    engine.close()


def test_the_kill_switch_pause_is_degraded_in_health(tmp_path):
    config = make_config(tmp_path, risk={"max_drawdown_pct": 0.3}, execution={"max_slippage_pct": 5.0})
    loser_config = config.strategies.momentum.model_copy(update={"cooldown_seconds": 0, "max_position_pct": 100})
    engine = BotEngine(config, strategies=[Loser(loser_config)], strategy_configs={"loser": loser_config})
    engine.open()
    run_until(engine, lambda: engine.kill_switch is not None, limit=3000)
    health = engine.facade.health()
    assert engine.paused_by() == "kill_switch"
    assert health["status"] == "degraded" and health["reasons"][0].startswith("trading paused by kill switch: ")
    engine.close()


def test_with_the_logs_on_the_full_disk_too_nothing_raises_into_the_tick(tmp_path, monkeypatch):
    import bot.storage
    from tests.disk import FullDisk

    config = make_config(tmp_path)
    engine = BotEngine(config)
    engine.open()
    engine.faults.clock = clock = FakeClock()
    run_until(engine, lambda: engine.ledger.count >= 1)
    disk = FullDisk()  # every file: ledger, state, activity log, notifications log
    monkeypatch.setattr(bot.storage, "os", disk)
    run_until(engine, lambda: engine.state == "paused")  # raises nothing
    assert engine.pause_reason == "storage: No space left on device"
    assert engine.activity.write_errors >= 1, "the pause's activity record was lost, counted"
    assert engine.notifications.stats["log_failed"] >= 1
    assert any("Storage failing" in n["message"] for n in engine.notifications.history), "the dashboards still hear"
    disk.free()
    clock.now += 2
    engine.tick()
    assert engine.state == "running"
    engine.close()


def test_reading_the_drawdown_changes_nothing_and_the_peak_moves_only_when_noted():
    from bot.accounting.portfolio import PortfolioTracker
    from tests.builders import flat_book, snapshot

    tracker = PortfolioTracker({"ex": {"USDT": 1000.0, "BTC": 1.0}}, equity_sample_seconds=1e9)
    tracker.mark(snapshot({("ex", "BTC/USDT"): flat_book(100.0)}))  # equity 1100: the first sample sets the peak
    assert tracker.peak_equity == pytest.approx(1100.0)
    tracker.mark(snapshot({("ex", "BTC/USDT"): flat_book(300.0)}, tick=1))  # equity 1300, no sample
    before = tracker.to_state()
    assert tracker.drawdown_pct() == 0.0 and tracker.drawdown_pct() == 0.0  # above the peak: no drawdown
    assert tracker.peak_equity == pytest.approx(1100.0) and tracker.to_state() == before
    tracker.note_equity()  # the engine's explicit step
    assert tracker.peak_equity == pytest.approx(1300.0)
    tracker.mark(snapshot({("ex", "BTC/USDT"): flat_book(40.0)}, tick=2))  # equity 1040
    assert tracker.drawdown_pct() == pytest.approx((1300.0 - 1040.0) / 1300.0 * 100.0)  # 20%
    assert tracker.peak_equity == pytest.approx(1300.0)


def test_dashboard_reads_do_not_move_the_kill_switchs_peak(tmp_path):
    engine = BotEngine(make_config(tmp_path))
    engine.open()
    engine.run_fast(50)
    portfolio = engine.portfolio
    portfolio.peak_equity = portfolio.equity() - 500.0  # as if equity rose since the peak was last noted
    peak = portfolio.peak_equity
    summary = engine.facade.portfolio_summary()
    engine.facade.portfolio_summary()
    engine.cache.get("portfolio_update")
    assert portfolio.peak_equity == peak and summary["peak_equity"] == peak
    assert summary["drawdown_pct"] == 0.0
    engine.close()


def test_a_trade_reaches_alerts_and_notifications_as_trade_objects_and_the_dashboard_event_after(tmp_path):
    from bot.models import Trade

    engine = BotEngine(make_config(tmp_path))
    engine.open()
    seen = []
    engine.alerts.on_trade = lambda trade: seen.append(("alerts", trade))
    engine.data_flow.subscribe(lambda event, payload: seen.append((event, payload)))
    run_until(engine, lambda: any(kind == "trade_executed" for kind, _ in seen), limit=6000)
    engine.close()
    first_event = next(i for i, (kind, _) in enumerate(seen) if kind == "trade_executed")
    trades = seen[first_event][1]
    recorded = [json.loads(line) for line in (tmp_path / "data" / "trades.jsonl").read_text().splitlines()]
    assert all(isinstance(t, Trade) for t in trades)
    assert [t.to_dict() for t in trades] == recorded[:len(trades)]  # the ledger's first lines, read from disk
    # Alerts saw each trade, then the confirmation went out, and only then did the listeners hear of it.
    assert [entry for entry in seen[:first_event] if entry[0] == "alerts"] == [("alerts", t) for t in trades]
    assert seen[first_event - 1][0] == "notification"
    assert seen[first_event - 1][1]["kind"] == "trade_executed"
    assert seen[first_event - 1][1]["trade_ids"] == [t["id"] for t in recorded[:len(trades)]]


def test_after_each_trade_the_kill_switch_has_noted_the_equity_as_a_peak_candidate(tmp_path):
    # The kill switch measures from the highest equity seen at its checks (after trades and samples),
    # not only from the once-a-minute samples: right after a trade the peak is never below equity.
    engine = BotEngine(make_config(tmp_path))
    engine.open()
    checked = 0
    for _ in range(3000):
        before = engine.ledger.count
        engine.tick()
        if engine.ledger.count != before:
            checked += 1
            assert engine.portfolio.peak_equity >= engine.portfolio.equity()
    engine.close()
    assert checked >= 5


def test_a_fast_run_keeps_what_was_alive_before_it_out_of_the_collector_and_hands_it_back(tmp_path):
    """gc.freeze for the run (a full collection over the start-up heap cost a replay a tenth of its
    time), gc.unfreeze after it, also when the run raises."""
    import gc

    engine = BotEngine(make_config(tmp_path))
    engine.open()
    before = gc.get_freeze_count()
    seen = []
    try:
        engine.run_fast(600, progress=lambda done: seen.append(gc.get_freeze_count()))

        def fail(done):
            raise RuntimeError("a progress callback that fails")

        with pytest.raises(RuntimeError):
            engine.run_fast(600, progress=fail)
    finally:
        engine.close()
    assert seen and min(seen) > before
    assert gc.get_freeze_count() == before
