"""AlertEngine rules on hand-built price paths: crossings, touches, gaps, cooldown, one-shot, restart."""
import json

import pytest

from bot.notify.alerts import AlertEngine
from bot.models import WhaleEvent
from tests.builders import T0, flat_book, snapshot


def tick_at(price, tick, exchange="binance", whales=()):
    snap = snapshot({(exchange, "BTC/USDT"): flat_book(price, spread=0.0)}, tick=tick, ts=T0 + tick * 60.0,
                    whales=tuple(whales))
    return snap


def run_path(engine, prices, **kwargs):
    """Feed one price per simulated minute; returns the ticks at which rules fired."""
    fired = []
    for tick, price in enumerate(prices):
        snap = tick_at(price, tick)
        events = engine.check(snap, drawdown_pct=kwargs.get("drawdown", lambda: 0.0),
                              marks=lambda p=price: {"BTC": p, "USDT": 1.0})
        fired.extend(tick for _ in events)
    return fired


@pytest.fixture
def engine(tmp_path):
    notes = []
    alert_engine = AlertEngine(tmp_path, notify=lambda rule, message, event: notes.append(message), fsync=False)
    alert_engine.notes = notes
    return alert_engine


def test_above_fires_on_crossing_up_and_on_touching(engine):
    engine.add(T0, condition="above", symbol="BTC/USDT", price=100.0, repeat=True)
    assert run_path(engine, [98, 99, 100, 101, 99, 100.0]) == [2, 5]
    assert "BTC/USDT above 100" in engine.notes[0] and "price 100" in engine.notes[0]


def test_below_fires_on_crossing_down_and_a_gap_counts(engine):
    engine.add(T0, condition="below", symbol="BTC/USDT", price=100.0, repeat=True)
    assert run_path(engine, [105, 104, 90, 91, 106, 80]) == [2, 5]


def test_one_shot_fires_once_and_deactivates(engine):
    rule = engine.add(T0, condition="above", symbol="BTC/USDT", price=100.0)
    assert run_path(engine, [99, 101, 99, 101]) == [1]
    assert engine.rules[rule.id].active is False
    assert engine.rules[rule.id].trigger_count == 1


def test_cooldown_holds_back_a_repeat(engine):
    engine.add(T0, condition="above", symbol="BTC/USDT", price=100.0, repeat=True, cooldown_minutes=3)
    # crosses at minutes 1, 3, 5, 7: the one at 3 is within 3 minutes of 1
    assert run_path(engine, [99, 101, 99, 101, 99, 101, 99, 101]) == [1, 5]


def test_specific_exchange_uses_that_exchange_price(engine):
    engine.add(T0, condition="above", symbol="BTC/USDT", exchange="kraken", price=100.0)
    assert run_path(engine, [101, 102]) == []  # the path is on binance only


def test_pct_move_over_a_window(engine):
    engine.add(T0, condition="pct_move", symbol="BTC/USDT", pct=5.0, window_minutes=3, repeat=True)
    # +2%, +4%, +6% from 100 within 3 minutes fires at minute 3; later a slow drift does not
    assert run_path(engine, [100, 102, 104, 106, 107, 108, 109, 110]) == [3]


def test_drawdown_rule(engine):
    engine.add(T0, condition="drawdown", pct=10.0)
    levels = iter([2.0, 9.9, 10.0, 12.0])
    fired = run_path(engine, [100, 100, 100, 100], drawdown=lambda: next(levels))
    assert fired == [2]


def test_whale_rule_needs_the_asset_and_size(engine):
    engine.add(T0, condition="whale", symbol="BTC/USDT", min_usd=5e6, repeat=True)
    small = WhaleEvent("w1", T0, "BTC", 10, 1e6, "unknown wallet", "Binance")
    other = WhaleEvent("w2", T0, "ETH", 5000, 1e7, "unknown wallet", "Kraken")
    big = WhaleEvent("w3", T0, "BTC", 200, 1.2e7, "Coinbase", "unknown wallet")
    for tick, whales in enumerate([[small], [other], [big]]):
        engine.check(tick_at(100.0, tick, whales=whales), lambda: 0.0, lambda: {"BTC": 100.0})
    assert len(engine.notes) == 1 and "200.00 BTC" in engine.notes[0]
    assert [w["id"] for w in engine.snapshot_state()["whales"]] == ["w3", "w2", "w1"]


def test_loss_streak_rule(engine):
    from tests.test_portfolio import trade
    engine.add(T0, condition="loss_streak", strategy="momentum", count=2)
    for seq, pnl in enumerate([-5.0, 3.0, -1.0, -2.0], start=1):
        t = trade(seq, "sell", 1.0, 100.0)
        engine.on_trade(t.__class__(**{**t.to_dict(), "realized_pnl": pnl}))
        engine.check(tick_at(100.0, seq), lambda: 0.0, lambda: {"BTC": 100.0})
    assert len(engine.notes) == 1 and "2 losing trades in a row" in engine.notes[0]


def test_rules_and_history_survive_a_restart(tmp_path, engine):
    kept = engine.add(T0, condition="above", symbol="BTC/USDT", price=100.0, repeat=True)
    run_path(engine, [99, 101])
    again = AlertEngine(tmp_path)
    assert again.load() == []
    assert again.rules[kept.id].trigger_count == 1
    assert again.rules[kept.id].armed is False  # still above: no second alert for the same crossing
    assert len(again.snapshot_state()["history"]) == 1
    document = json.loads((tmp_path / "alerts.json").read_text())
    assert document["schema_version"] == 1


def test_toggle_and_delete(engine):
    rule = engine.add(T0, condition="above", symbol="BTC/USDT", price=100.0)
    engine.toggle(rule.id)
    assert run_path(engine, [101]) == []
    engine.toggle(rule.id)
    assert run_path(engine, [101]) == [0]
    assert engine.delete(rule.id) and not engine.delete(rule.id)


def test_a_damaged_alerts_file_is_set_aside_with_a_warning(tmp_path):
    (tmp_path / "alerts.json").write_text("{not json")
    warnings = AlertEngine(tmp_path).load()
    assert warnings and "starting with no alert rules" in warnings[0]
    assert (tmp_path / "alerts.json.corrupt").exists()


def test_a_failed_write_changes_no_rule_in_memory(tmp_path, engine):
    from tests.storage_faults import refuse_writes

    kept = engine.add(T0, condition="above", symbol="BTC/USDT", price=100.0)
    saved = (tmp_path / "alerts.json").read_bytes()
    faults = pytest.MonkeyPatch()
    attempts = refuse_writes(faults)
    with pytest.raises(OSError):
        engine.add(T0, condition="below", symbol="BTC/USDT", price=50.0)
    with pytest.raises(OSError):
        engine.toggle(kept.id)
    with pytest.raises(OSError):
        engine.delete(kept.id)
    assert len(attempts) == 3
    assert list(engine.rules) == [kept.id] and engine.rules[kept.id].active is True
    assert (tmp_path / "alerts.json").read_bytes() == saved
    faults.undo()
    assert engine.delete(kept.id)  # the rule was still there to delete, and now it is gone for good
    assert AlertEngine(tmp_path).load() == [] and json.loads((tmp_path / "alerts.json").read_text())["rules"] == []
