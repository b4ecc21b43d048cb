"""risk.drawdown_basis: the kill switch measures trading equity by default, so a fall in the prices
of the coins the bot started with does not stop trading; with "equity" it does. Hand-made market:
one exchange, BTC/USDT at 100 and then at 50, an equity sample every tick."""
from __future__ import annotations

import json

import pytest

from bot.config import parse_config
from bot.engine import BotEngine
from bot.market.base import MarketSource
from bot.models import Leg, Signal
from bot.strategies.base import Strategy
from tests.builders import T0, flat_book, market, snapshot

START = {"USDT": 1000.0, "BTC": 1.0}  # 1,100 USDT at 100; 1,050 at 50: a 4.5% fall
PRICES = [100.0] * 3 + [50.0] * 5


class ScriptedMarket(MarketSource):
    """BTC/USDT on one exchange at the scripted mids, a minute apart."""

    kind = "simulated"
    description = "scripted market"

    def __init__(self, prices):
        super().__init__(("binance",), ("BTC/USDT",))
        self.prices = list(prices)
        self.tick = 0

    @property
    def markets(self):
        return {("binance", "BTC/USDT"): market("binance", "BTC/USDT")}

    def next_snapshot(self):
        price = self.prices[min(self.tick, len(self.prices) - 1)]
        snap = snapshot({("binance", "BTC/USDT"): flat_book(price, qty=5.0)}, tick=self.tick, ts=T0 + 60.0 * self.tick)
        self.tick += 1
        return snap

    def seek(self, tick):
        self.tick = tick


class BuyOnce(Strategy):
    """Buys one BTC on the first tick and holds it: its loss when the price halves is the strategy's."""

    name = "buy_once"

    def on_snapshot(self, snapshot, view):
        if view.position("BTC") is not None or snapshot.tick > 0:
            return []
        quote = snapshot.quotes[("binance", "BTC/USDT")]
        return [Signal("buy_once", "entry", (Leg("binance", "BTC/USDT", "buy", 1.0, quote.ask),), "buy and hold")]


def make_engine(tmp_path, basis: str | None, trade: bool = False):
    risk = {"max_drawdown_pct": 3.0, **({"drawdown_basis": basis} if basis else {})}
    config = parse_config({
        "market": {"exchanges": ["binance"], "symbols": ["BTC/USDT"]},
        "portfolio": {"starting_balances": START},
        "risk": risk,
        "execution": {"max_slippage_pct": 5.0},
        "storage": {"data_dir": str(tmp_path / "data"), "log_dir": str(tmp_path / "logs"), "fsync": False},
        "dashboard": {"enabled": False},
    })
    strategies, configs = [], {}
    if trade:
        params = config.strategies.momentum.model_copy(update={"cooldown_seconds": 0, "max_position_pct": 100})
        strategies, configs = [BuyOnce(params)], {"buy_once": params}
    engine = BotEngine(config, source=ScriptedMarket(PRICES), strategies=strategies, strategy_configs=configs)
    engine.open()
    return engine


def run_all(engine):
    for _ in PRICES:
        engine.tick()


def test_the_default_basis_is_trading():
    assert parse_config({}).risk.drawdown_basis == "trading"


def test_an_inventory_price_drop_alone_does_not_trip_the_kill_switch_on_trading(tmp_path):
    engine = make_engine(tmp_path, None)
    run_all(engine)
    summary = engine.facade.portfolio_summary()
    engine.close()
    assert engine.kill_switch is None
    assert summary["drawdown_basis"] == "trading"
    assert summary["drawdown_pct"] == pytest.approx(50.0 / 1100.0 * 100.0)  # equity fell 4.5%, past the 3% limit
    assert summary["trading_drawdown_pct"] == pytest.approx(0.0, abs=1e-9)  # no strategy lost anything
    assert summary["holdings_pnl"] == pytest.approx(-50.0)


def test_the_same_drop_trips_it_on_equity(tmp_path):
    engine = make_engine(tmp_path, "equity")
    run_all(engine)
    engine.close()
    assert engine.kill_switch is not None and engine.kill_switch["basis"] == "equity"
    assert engine.kill_switch["drawdown_pct"] == pytest.approx(50.0 / 1100.0 * 100.0)
    assert engine.kill_switch["tick"] == 3  # the first tick at 50
    assert "(risk.drawdown_basis: equity)" in engine.kill_switch["reason"]
    saved = json.loads((tmp_path / "data" / "portfolio_state.json").read_text(encoding="utf-8"))
    assert saved["engine"]["kill_switch"]["basis"] == "equity"


def test_a_strategys_own_loss_trips_it_on_trading(tmp_path):
    engine = make_engine(tmp_path, "trading", trade=True)
    run_all(engine)
    engine.close()
    trades = [json.loads(line) for line in (tmp_path / "data" / "trades.jsonl").read_text().splitlines()]
    assert [t["strategy"] for t in trades] == ["buy_once"]
    bought = trades[0]["price"] * trades[0]["qty"]
    # Hand count at 50: the strategy's BTC lost (price - 50) x 1 and its fee; the start's BTC is not counted.
    trading_fall = bought + trades[0]["fee"] - 50.0
    initial = 1100.0
    assert engine.kill_switch is not None and engine.kill_switch["basis"] == "trading"
    assert engine.kill_switch["drawdown_pct"] == pytest.approx(trading_fall / initial * 100.0, rel=1e-6)


def test_the_trading_peak_survives_a_restart_and_resume_measures_from_now(tmp_path):
    engine = make_engine(tmp_path, "trading", trade=True)
    run_all(engine)
    peak = engine.drawdown.trading_peak
    assert peak == pytest.approx(1100.0, rel=1e-3)
    engine.close()
    saved = json.loads((tmp_path / "data" / "portfolio_state.json").read_text(encoding="utf-8"))
    assert saved["engine"]["trading_peak_equity"] == peak
    again = BotEngine(engine.config, source=ScriptedMarket(PRICES), strategies=[], strategy_configs={})
    again.open()
    assert again.drawdown.trading_peak == peak
    again.tick()
    assert again.drawdown.trading_drawdown_pct(again.portfolio) > 3.0
    again.start()  # the user's word after a kill switch: measure from here
    assert again.drawdown.trading_drawdown_pct(again.portfolio) == 0.0
    again.close()
    saved = json.loads((tmp_path / "data" / "portfolio_state.json").read_text(encoding="utf-8"))
    assert saved["engine"]["trading_peak_equity"] < peak


def test_an_unknown_basis_is_a_config_error_naming_the_key():
    from bot.config import ConfigError

    with pytest.raises(ConfigError, match=r"^risk\.drawdown_basis: "):
        parse_config({"risk": {"drawdown_basis": "holdings"}})


@pytest.mark.parametrize("basis", ["trading", "equity"])
def test_the_kill_switch_look_equals_note_then_drawdown_pct(basis):
    """DrawdownMeter.note_and_measure (one valuation) against the plain look: the tracker's note_equity,
    the trading peak raised to trading_equity, then drawdown_pct; two trackers taken through the same
    marks (sampled once an hour only) and wallet changes: the same value and peaks every time."""
    from bot.accounting.portfolio import PortfolioTracker
    from bot.drawdown import DrawdownMeter, trading_equity

    start = {"binance": dict(START)}
    plain_tracker, fast_tracker = PortfolioTracker(start, equity_sample_seconds=3600.0), \
        PortfolioTracker(start, equity_sample_seconds=3600.0)
    plain, fast = DrawdownMeter(basis), DrawdownMeter(basis)
    prices = [100.0, 104.0, 97.5, 50.0, 50.0, 120.0, 80.0, 130.0, 131.0]
    for tick, price in enumerate(prices):
        snap = snapshot({("binance", "BTC/USDT"): flat_book(price, qty=5.0)}, tick=tick, ts=T0 + 60.0 * tick)
        for tracker in (plain_tracker, fast_tracker):
            tracker.mark(snap)
            tracker.balances["binance"]["USDT"] -= 3.0 * (tick % 3)  # a strategy's losses (fees) now and then
        plain_tracker.note_equity()
        plain.trading_peak = max(plain.trading_peak, trading_equity(plain_tracker))
        expected = plain.drawdown_pct(plain_tracker)
        assert fast.note_and_measure(fast_tracker) == expected
        assert (fast.trading_peak, fast_tracker.peak_equity) == (plain.trading_peak, plain_tracker.peak_equity)
    assert fast_tracker.peak_equity > max(equity for _, equity in fast_tracker.equity_history)  # raised by the look


def test_the_kill_switch_look_by_hand():
    """1,000 USDT + 1 BTC at 100 is 1,100; at 120 equity is 1,120 (the new peak) and trading equity stays
    1,100 (the coins' own move); at 50 equity is 1,050 (6.25% down from 1,120) and trading equity still
    1,100; 11 USDT of fees then is 1% of trading equity."""
    from bot.accounting.portfolio import PortfolioTracker
    from bot.drawdown import DrawdownMeter

    def at(price, tick):
        return snapshot({("binance", "BTC/USDT"): flat_book(price, spread=0.0, qty=5.0)}, tick=tick, ts=T0 + 60.0 * tick)

    for basis, after_fall, after_fees in (("equity", 70 / 1120 * 100, 81 / 1120 * 100), ("trading", 0.0, 1.0)):
        tracker, meter = PortfolioTracker({"binance": dict(START)}, equity_sample_seconds=3600.0), DrawdownMeter(basis)
        tracker.mark(at(100.0, 0))
        assert meter.note_and_measure(tracker) == 0.0
        tracker.mark(at(120.0, 1))
        assert meter.note_and_measure(tracker) == 0.0
        assert tracker.peak_equity == pytest.approx(1120.0) and meter.trading_peak == pytest.approx(1100.0)
        tracker.mark(at(50.0, 2))
        assert meter.note_and_measure(tracker) == pytest.approx(after_fall)
        tracker.balances["binance"]["USDT"] -= 11.0
        assert meter.note_and_measure(tracker) == pytest.approx(after_fees)
        assert meter.trading_peak == pytest.approx(1100.0) and tracker.peak_equity == pytest.approx(1120.0)
