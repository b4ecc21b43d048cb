"""StrategyManager: the guard around strategy code, the opportunity filter, the counters."""
from types import SimpleNamespace

import pytest

from bot.config import StrategyConfig
from bot.models import Leg, Signal
from bot.accounting.portfolio import PortfolioTracker
from bot.strategies.base import Strategy
from bot.strategies.manager import StrategyManager
from tests.builders import flat_book, snapshot


class Scripted(Strategy):
    def __init__(self, name, signals=(), raises=False):
        super().__init__(StrategyConfig())
        self.name = name
        self.signals = list(signals)
        self.raises = raises
        self.calls = 0

    def on_snapshot(self, snapshot, view):
        self.calls += 1
        if self.raises:
            raise ZeroDivisionError("bad maths")
        return self.signals


def buy(qty=0.01, symbol="BTC/USDT", **kwargs):
    return Signal("x", "entry", (Leg("ex", symbol, "buy", qty, 100.0),), "because", **kwargs)


def make(strategies, configs=None, status="filled"):
    tracker = PortfolioTracker({"ex": {"USDT": 10_000.0}})
    snap = snapshot({("ex", "BTC/USDT"): flat_book(100.0), ("ex", "ETH/USDT"): flat_book(50.0)})
    tracker.mark(snap)
    processed = []

    def process(signal, snapshot, *, allows_short):
        processed.append((signal.strategy, signal))
        return SimpleNamespace(status=status, reason="the book is thin" if status == "rejected" else "",
                               reason_key="liquidity_taken" if status == "rejected" else "")

    configs = configs or {s.name: StrategyConfig() for s in strategies}
    errors = []
    manager = StrategyManager(strategies, configs, tracker, process, on_error=lambda n, m: errors.append((n, m)))
    return manager, snap, processed, errors


def test_a_strategy_that_raises_is_logged_and_counted_and_the_others_keep_trading(caplog):
    bad = Scripted("bad", raises=True)
    good = Scripted("good", [buy()])
    manager, snap, processed, errors = make([bad, good])
    for tick in range(3):
        manager.run(snap)
    assert manager.counters["bad"].errors == 3
    assert manager.counters["bad"].last_error == "ZeroDivisionError: bad maths"
    assert errors[0] == ("bad", "ZeroDivisionError: bad maths")
    assert "strategy bad raised" in caplog.text
    assert [name for name, _ in processed].count("good") >= 1


def test_signals_get_deterministic_ids_and_the_strategy_name():
    manager, snap, processed, _ = make([Scripted("good", [buy(), buy(symbol="ETH/USDT")])])
    manager.run(snap)
    assert [s.id for _, s in processed] == ["good-0-1", "good-0-2"]
    assert all(s.strategy == "good" for _, s in processed)


def test_the_processor_is_told_whether_the_signals_strategy_may_go_short():
    class Shorting(Scripted):
        allows_short = True

    told = []

    def process(signal, snapshot, *, allows_short):
        told.append((signal.strategy, allows_short))
        return SimpleNamespace(status="filled", reason="")

    strategies = [Scripted("long_only", [buy()]), Shorting("pairs", [buy(symbol="ETH/USDT")])]
    tracker = PortfolioTracker({"ex": {"USDT": 10_000.0}})
    snap = snapshot({("ex", "BTC/USDT"): flat_book(100.0), ("ex", "ETH/USDT"): flat_book(50.0)})
    tracker.mark(snap)
    manager = StrategyManager(strategies, {s.name: StrategyConfig() for s in strategies}, tracker, process)
    manager.run(snap)
    assert told == [("long_only", False), ("pairs", True)]


def test_below_min_profit_is_rejected_and_counted():
    strategy = Scripted("arb", [buy(expected_profit_pct=0.05)])
    manager, snap, processed, _ = make([strategy], {"arb": StrategyConfig(min_profit_pct=0.1)})
    manager.run(snap)
    assert processed == []
    assert manager.counters["arb"].rejected == {"below_min_profit": 1}
    assert manager.counters["arb"].opportunities == 1


def test_cooldown_blocks_a_new_entry_in_the_same_symbol_but_not_an_exit():
    strategy = Scripted("m", [buy()])
    manager, snap, processed, _ = make([strategy], {"m": StrategyConfig(cooldown_seconds=300)})
    manager.run(snap)
    manager.run(snap)
    assert len(processed) == 1 and manager.counters["m"].rejected == {"cooldown": 1}
    strategy.signals = [Signal("m", "exit", (Leg("ex", "BTC/USDT", "sell", 0.01, 100.0),), "exit", closes_position=True)]
    manager.run(snap)
    assert len(processed) == 2


def test_max_position_pct_of_equity():
    equity = 10_000.0
    strategy = Scripted("m", [buy(qty=equity * 0.25 / 100.0)])  # 25% of equity
    manager, snap, processed, _ = make([strategy], {"m": StrategyConfig(max_position_pct=20)})
    manager.run(snap)
    assert processed == [] and manager.counters["m"].rejected == {"max_position": 1}


def test_max_open_positions():
    strategy = Scripted("m", [buy(symbol="ETH/USDT")])
    manager, snap, processed, _ = make([strategy], {"m": StrategyConfig(max_open_positions=1)})
    from tests.test_portfolio import trade
    manager.portfolio.apply(trade(1, "buy", 0.01, 100.0, strategy="m"))
    manager.run(snap)
    assert processed == [] and manager.counters["m"].rejected == {"max_open_positions": 1}


def test_execution_refusals_are_counted_under_their_miss_reason():
    manager, snap, _, _ = make([Scripted("m", [buy()])], status="rejected")
    manager.run(snap)
    assert manager.counters["m"].rejected == {"liquidity_taken": 1}
    assert manager.counters["m"].last_rejection == "the book is thin"
    assert manager.counters["m"].executed == 0


def test_disabled_strategies_are_not_called():
    strategy = Scripted("m", [buy()])
    manager, snap, processed, _ = make([strategy])
    manager.set_enabled("m", False)
    manager.run(snap)
    assert strategy.calls == 0 and processed == []


def test_position_limits_by_hand_with_a_position_held():
    """Equity 10,000 USDT (flat book at 100, no spread); max_position_pct 20: limit 2,000 USDT.
    Holding 10 BTC (1,000): 10 more reach exactly 2,000 (allowed), 10.5 more 2,050 (refused); a
    position already over the limit may still shrink, not grow; ETH/BTC's base is ETH."""
    from tests.test_portfolio import trade

    tracker = PortfolioTracker({"ex": {"USDT": 10_000.0}})
    snap = snapshot({("ex", "BTC/USDT"): flat_book(100.0, spread=0.0), ("ex", "ETH/USDT"): flat_book(50.0, spread=0.0)})
    tracker.mark(snap)
    strategy = Scripted("m")
    manager = StrategyManager([strategy], {"m": StrategyConfig(max_position_pct=20, max_open_positions=1)}, tracker,
                              lambda *a, **k: None)
    tracker.apply(trade(1, "buy", 10.0, 100.0, strategy="m"))  # cash 9,000 + 10 BTC at 100: equity 10,000

    def leg(side, qty, symbol="BTC/USDT"):
        return Signal("m", "entry", (Leg("ex", symbol, side, qty, 100.0),), "because")

    assert manager.check(strategy, leg("buy", 10.0), snap) is None
    assert manager.check(strategy, leg("buy", 10.5), snap) == (
        "max_position", "BTC position would be 2050.00 USDT, limit 20% of equity = 2000.00")
    assert manager.check(strategy, leg("buy", 1.0, "ETH/USDT"), snap) == ("max_open_positions", "1 open, limit 1")
    assert manager.check(strategy, leg("sell", 1.0, "ETH/BTC"), snap) == ("max_open_positions", "1 open, limit 1")
    tracker.apply(trade(2, "buy", 15.0, 100.0, strategy="m"))  # 25 BTC: 2,500, over the limit
    assert manager.check(strategy, leg("sell", 1.0), snap) is None  # 2,400: still over, but smaller
    assert manager.check(strategy, leg("buy", 0.01), snap)[0] == "max_position"
    arbitrage = Signal("m", "cross", (Leg("ex", "BTC/USDT", "buy", 30.0, 100.0), Leg("ex", "BTC/USDT", "sell", 30.0, 100.0)),
                       "nets to nothing")
    assert manager.check(strategy, arbitrage, snap) is None


def test_a_symbol_that_is_not_base_quote_is_refused_every_time():
    tracker = PortfolioTracker({"ex": {"USDT": 10_000.0}})
    snap = snapshot({("ex", "BTC/USDT"): flat_book(100.0)})
    tracker.mark(snap)
    strategy = Scripted("m")
    manager = StrategyManager([strategy], {"m": StrategyConfig()}, tracker, lambda *a, **k: None)
    bad = Signal("m", "entry", (Leg("ex", "BTCUSDT", "buy", 0.01, 100.0),), "because")
    for _ in range(2):
        with pytest.raises(ValueError, match="not a ccxt symbol"):
            manager.check(strategy, bad, snap)
