"""MomentumStrategy on hand-built snapshots: closes designed to cross, a fake portfolio view."""
import math
import statistics

import numpy as np
import pytest

from bot.config import MomentumConfig
from bot.models import CandleHistory, Market, PositionView, Quote, Snapshot, round_step
from bot.strategies.indicators import ema, rsi
from bot.strategies.momentum import MomentumStrategy

SYMBOL = "BTC/USDT"
TS = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a minute boundary

# A zigzag decline then three rising closes: EMA3 crosses above EMA6 on the last close.
CROSS_UP = [100 - 0.3 * i + (0.4 if i % 2 else 0.0) for i in range(24)] + [94.0, 94.5, 95.0]
# The mirror image: a zigzag rise then three falling closes, EMA3 crosses below EMA6 last.
CROSS_DOWN = [200.0 - close for close in CROSS_UP]


def params(**changes) -> MomentumConfig:
    values = dict(
        fast=3, slow=6, rsi_period=5, volatility_period=5, rsi_overbought=70.0,
        stop_volatility_mult=2.0, take_profit_volatility_mult=4.0, risk_per_trade_pct=1.0,
        max_position_pct=100.0,
    )
    values.update(changes)
    return MomentumConfig(**values)


def horizon_volatility(closes, period=5, slow=6):
    """The strategy's volatility, computed here with the standard library."""
    returns = [math.log(b / a) for a, b in zip(closes, closes[1:])]
    return statistics.stdev(returns[-period:]) * math.sqrt(slow)


class FakeHistory(CandleHistory):
    def __init__(self, closes_by_market=None, error=None):
        self.data = {key: list(value) for key, value in (closes_by_market or {}).items()}
        self.error = error
        self.calls = 0

    def closes(self, exchange, symbol, count):
        self.calls += 1
        if self.error is not None:
            raise self.error
        return np.asarray(self.data.get((exchange, symbol), [])[-count:], dtype=float)

    def candles(self, exchange, symbol, count):  # pragma: no cover - the strategy reads closes only
        raise NotImplementedError


class FakeView:
    """Implements PortfolioView with fixed figures."""

    def __init__(self, equity=10_000.0, balances=None, positions=()):
        self._equity = equity
        self._balances = balances if balances is not None else {"binance": {"USDT": 10_000.0}}
        self._positions = {p.asset: p for p in positions}
        self.positions_calls = 0

    def position(self, asset):
        return self._positions.get(asset)

    def positions(self):
        self.positions_calls += 1
        return list(self._positions.values())

    def balance(self, exchange, asset):
        return self._balances.get(exchange, {}).get(asset, 0.0)

    def equity(self):
        return self._equity


def market(exchange="binance", symbol=SYMBOL, amount_step=0.001, min_notional=10.0, taker_fee=0.001):
    base, quote = symbol.split("/")
    return Market(exchange, symbol, base, quote, taker_fee=taker_fee, maker_fee=taker_fee,
                  amount_step=amount_step, price_step=0.01, min_amount=amount_step, min_notional=min_notional)


def quote(exchange="binance", symbol=SYMBOL, bid=95.0, ask=95.05):
    return Quote(exchange, symbol, bid=bid, ask=ask, last=bid, bid_size=10.0, ask_size=10.0, ts=TS)


def snapshot(history, quotes=(), markets=(), new_candle=True, ts=TS, exchanges=("binance",), symbols=(SYMBOL,)):
    return Snapshot(
        tick=1, ts=ts, exchanges=exchanges, symbols=symbols,
        quotes={(q.exchange, q.symbol): q for q in quotes},
        markets={(m.exchange, m.symbol): m for m in markets},
        history=history, book_reader=lambda exchange, symbol: None, new_candle=new_candle,
    )


def position(qty=2.0, avg_cost=100.0, by_exchange=None, asset="BTC"):
    return PositionView(asset=asset, qty=qty, avg_cost=avg_cost,
                        by_exchange=by_exchange if by_exchange is not None else {"binance": qty}, opened_ts=TS - 600)


def strategy(exchanges=("binance",), symbols=(SYMBOL,), **changes):
    return MomentumStrategy(params(**changes), exchanges, symbols)


def entry_snapshot(closes=CROSS_UP, **kwargs):
    return snapshot(FakeHistory({("binance", SYMBOL): closes}), quotes=[quote()], markets=[market()], **kwargs)


# -- the designed series really do what the tests rely on ---------------------------------


def test_designed_series_cross_where_intended():
    fast, slow = ema(CROSS_UP, 3), ema(CROSS_UP, 6)
    assert fast[-2] <= slow[-2] and fast[-1] > slow[-1]
    assert 50 < rsi(CROSS_UP, 5)[-1] < 70
    fast, slow = ema(CROSS_DOWN, 3), ema(CROSS_DOWN, 6)
    assert fast[-2] >= slow[-2] and fast[-1] < slow[-1]
    assert len(CROSS_UP) >= strategy().warmup_candles


def test_identity_and_warmup():
    s = strategy()
    assert s.name == "momentum" and s.allows_short is False
    # three slow periods (18) or three RSI periods (15) or the volatility window (5), plus one
    assert s.warmup_candles == 19
    assert MomentumStrategy(MomentumConfig(), ("binance",), (SYMBOL,)).warmup_candles == 79


# -- entries ------------------------------------------------------------------------------


def test_entry_on_cross_up_sized_from_risk():
    signals = strategy().on_snapshot(entry_snapshot(), FakeView())
    assert len(signals) == 1
    signal = signals[0]
    vol = horizon_volatility(CROSS_UP)
    expected_qty = round_step(10_000 * 0.01 / (2.0 * vol * 95.05), 0.001)
    assert expected_qty * 95.05 < 9_500  # the risk figure binds, not a cap
    assert signal.strategy == "momentum" and signal.kind == "momentum_entry"
    assert not signal.closes_position
    (leg,) = signal.legs
    assert (leg.exchange, leg.symbol, leg.side, leg.expected_price) == ("binance", SYMBOL, "buy", 95.05)
    assert leg.qty == pytest.approx(expected_qty, abs=1e-12)
    assert 0.5 <= signal.confidence <= 1.0
    assert signal.reason.startswith("EMA3 crossed above EMA6 on BTC/USDT (RSI ")
    stop = 95.05 * (1 - 2 * vol)
    target = 95.05 * (1 + 4 * vol)
    assert f"stop {stop:,.4f}" in signal.reason and f"target {target:,.2f}" in signal.reason


def test_no_entry_when_rsi_overbought():
    assert rsi(CROSS_UP, 5)[-1] > 60
    assert strategy(rsi_overbought=60.0).on_snapshot(entry_snapshot(), FakeView()) == []


def test_no_entry_without_a_cross():
    assert strategy().on_snapshot(entry_snapshot(closes=CROSS_UP[:-1]), FakeView()) == []
    assert strategy().on_snapshot(entry_snapshot(closes=CROSS_DOWN), FakeView()) == []


def test_no_entry_between_candles():
    view = FakeView()
    assert strategy().on_snapshot(entry_snapshot(new_candle=False), view) == []


def test_no_entry_when_already_holding():
    # bid 95.0 is inside the stop / take-profit band around 95, and the trend is up: no exit either
    view = FakeView(positions=[position(qty=1.0, avg_cost=95.0)])
    assert strategy().on_snapshot(entry_snapshot(), view) == []


def test_leftover_dust_does_not_block_an_entry():
    view = FakeView(positions=[position(qty=0.0004, avg_cost=95.0)])
    signals = strategy().on_snapshot(entry_snapshot(), view)
    assert [s.kind for s in signals] == ["momentum_entry"]


def test_size_capped_by_max_position_pct():
    (signal,) = strategy(max_position_pct=10.0).on_snapshot(entry_snapshot(), FakeView())
    # 1% headroom: the manager values the position at the cross-exchange mark, not this ask
    assert signal.legs[0].qty == pytest.approx(round_step(0.99 * 1_000 / 95.05, 0.001), abs=1e-12)


def test_size_capped_by_the_wallet_on_that_exchange():
    view = FakeView(balances={"binance": {"USDT": 1_000.0}})
    (signal,) = strategy().on_snapshot(entry_snapshot(), view)
    assert signal.legs[0].qty == pytest.approx(round_step(0.95 * 1_000 / 95.05, 0.001), abs=1e-12)


def test_below_min_notional_gives_nothing():
    view = FakeView(balances={"binance": {"USDT": 10.0}})  # 95% of it is 9.50 < min_notional 10
    assert strategy().on_snapshot(entry_snapshot(), view) == []
    assert strategy().on_snapshot(entry_snapshot(), FakeView(equity=0.0)) == []


def test_trades_on_first_exchange_listing_the_market():
    history = FakeHistory({("binance", SYMBOL): CROSS_UP, ("kraken", SYMBOL): CROSS_DOWN})
    snap = snapshot(history, quotes=[quote()], markets=[market()], exchanges=("kraken", "binance"))
    (signal,) = strategy(exchanges=("kraken", "binance")).on_snapshot(snap, FakeView())
    assert signal.legs[0].exchange == "binance"


def test_configured_exchange_is_used():
    history = FakeHistory({("binance", SYMBOL): CROSS_DOWN, ("kraken", SYMBOL): CROSS_UP})
    quotes = [quote(), quote("kraken")]
    markets = [market(), market("kraken")]
    view = FakeView(balances={"kraken": {"USDT": 10_000.0}})
    snap = snapshot(history, quotes=quotes, markets=markets, exchanges=("binance", "kraken"))
    (signal,) = strategy(exchanges=("binance", "kraken"), exchange="kraken").on_snapshot(snap, view)
    assert signal.legs[0].exchange == "kraken"
    # configured exchange without the market: no trade, not a fall-back elsewhere
    snap = snapshot(history, quotes=quotes, markets=[market()], exchanges=("binance", "kraken"))
    assert strategy(exchanges=("binance", "kraken"), exchange="kraken").on_snapshot(snap, view) == []


def test_cross_pairs_are_ignored():
    pair = "ETH/BTC"
    snap = snapshot(FakeHistory({("binance", pair): CROSS_UP}), quotes=[quote(symbol=pair)],
                    markets=[market(symbol=pair)], symbols=(pair,))
    s = strategy(symbols=(pair,))
    assert s.symbol_by_asset == {}
    assert s.on_snapshot(snap, FakeView(balances={"binance": {"USDT": 1e6, "BTC": 10.0}})) == []


@pytest.mark.parametrize("case", ["no candles", "too few candles", "history raises", "no quote", "no market"])
def test_missing_data_gives_no_signal_and_no_exception(case):
    history = FakeHistory({("binance", SYMBOL): CROSS_UP})
    quotes, markets = [quote()], [market()]
    if case == "no candles":
        history = FakeHistory({})
    elif case == "too few candles":
        history = FakeHistory({("binance", SYMBOL): CROSS_UP[-10:]})
    elif case == "history raises":
        history = FakeHistory(error=KeyError(("binance", SYMBOL)))
    elif case == "no quote":
        quotes = []
    else:
        markets = []
    held = FakeView(positions=[position(qty=1.0, avg_cost=120.0)])  # far above: a stop if anything
    for new_candle in (True, False):
        snap = snapshot(history, quotes=quotes, markets=markets, new_candle=new_candle)
        assert strategy().on_snapshot(snap, FakeView()) == []
        if case not in ("no quote", "no market"):
            continue
        assert strategy().on_snapshot(snap, held) == []


def test_quiet_tick_touches_nothing():
    history = FakeHistory({("binance", SYMBOL): CROSS_UP})
    view = FakeView()
    assert strategy().on_snapshot(entry_snapshot(new_candle=False), view) == []
    snap = snapshot(history, quotes=[quote()], markets=[market()], new_candle=False)
    assert strategy().on_snapshot(snap, view) == []
    assert history.calls == 0 and view.positions_calls == 2


# -- exits --------------------------------------------------------------------------------


def exit_snapshot(closes, bid, new_candle, ts=TS, markets=None, quotes=None):
    history = FakeHistory({("binance", SYMBOL): closes, ("kraken", SYMBOL): closes})
    return snapshot(
        history,
        quotes=quotes if quotes is not None else [quote(bid=bid, ask=bid + 0.05)],
        markets=markets if markets is not None else [market()],
        new_candle=new_candle, ts=ts, exchanges=("binance", "kraken"),
    )


def test_exit_on_cross_down():
    held = FakeView(positions=[position(qty=1.2345, avg_cost=105.0)])
    (signal,) = strategy().on_snapshot(exit_snapshot(CROSS_DOWN, bid=105.4, new_candle=True), held)
    assert signal.kind == "momentum_exit" and signal.closes_position
    (leg,) = signal.legs
    assert (leg.exchange, leg.side, leg.qty, leg.expected_price) == ("binance", "sell", 1.234, 105.4)
    assert signal.reason.startswith("EMA3 crossed below EMA6 on BTC/USDT")
    pnl = (105.4 - 105.0) * 1.234 - 105.4 * 1.234 * 0.001
    assert f"est. P&L {pnl:+,.2f} USDT" in signal.reason
    # the trend exit is a candle decision: the same prices between candles do nothing
    assert strategy().on_snapshot(exit_snapshot(CROSS_DOWN, bid=105.4, new_candle=False), held) == []


def test_trend_exit_without_volatility_exits_reads_as_with_them():
    """volatility_exits off: the exit's reading skips the volatility but is None exactly when it is
    (a bad close in the window: no trend exit either way), and the exit is the same otherwise."""
    held = FakeView(positions=[position(qty=1.2345, avg_cost=105.0)])
    falling = [200.0 - 5.0 * i for i in range(19)]  # a steady fall: the fast EMA well below the slow one
    for bad in (None, 0.0, -1.0, -0.0, math.nan, math.inf):
        closes = list(falling)
        if bad is not None:
            closes[0] = bad  # the oldest close read: it moves the EMAs too little to undo the fall
        for switch in (True, False):
            # volatility_period 18: the volatility reads all 19 closes (the warm-up), the oldest one too
            run = strategy(volatility_exits=switch, volatility_period=18)
            assert run.warmup_candles == 19
            signals = run.on_snapshot(exit_snapshot(closes, bid=105.4, new_candle=True), held)
            if bad is None:
                (signal,) = signals
                assert signal.reason.startswith("EMA3 crossed below EMA6"), switch
            else:
                assert signals == [], (bad, switch)
    with_them = strategy(volatility_exits=True).on_snapshot(exit_snapshot(CROSS_DOWN, bid=105.4, new_candle=True), held)
    without = strategy(volatility_exits=False).on_snapshot(exit_snapshot(CROSS_DOWN, bid=105.4, new_candle=True), held)
    assert [s.reason for s in without] == [s.reason for s in with_them] and len(without) == 1


def test_stop_loss_between_candles():
    vol = horizon_volatility(CROSS_UP)
    stop = 100.0 * (1 - 2.0 * vol)
    held = FakeView(positions=[position(qty=2.0, avg_cost=100.0)])
    s = strategy()
    assert s.on_snapshot(exit_snapshot(CROSS_UP, bid=stop + 0.01, new_candle=False), held) == []
    (signal,) = s.on_snapshot(exit_snapshot(CROSS_UP, bid=stop - 0.01, new_candle=False), held)
    assert signal.kind == "momentum_exit" and signal.closes_position
    assert signal.reason.startswith("Stop-loss on BTC/USDT")
    assert signal.legs[0].qty == 2.0 and signal.legs[0].side == "sell"
    assert "est. P&L -" in signal.reason


def test_take_profit_between_candles():
    vol = horizon_volatility(CROSS_UP)
    target = 100.0 * (1 + 4.0 * vol)
    held = FakeView(positions=[position(qty=2.0, avg_cost=100.0)])
    assert strategy().on_snapshot(exit_snapshot(CROSS_UP, bid=target - 0.01, new_candle=False), held) == []
    (signal,) = strategy().on_snapshot(exit_snapshot(CROSS_UP, bid=target + 0.01, new_candle=False), held)
    assert signal.reason.startswith("Take-profit on BTC/USDT")
    assert "est. P&L +" in signal.reason


def test_levels_follow_the_current_volatility_each_minute():
    held = FakeView(positions=[position(qty=2.0, avg_cost=100.0)])
    calm = [100.0, 100.1] * 15
    stop_calm = 100.0 * (1 - 2.0 * horizon_volatility(calm))
    bid = stop_calm - 0.05
    s = strategy()
    assert len(s.on_snapshot(exit_snapshot(calm, bid=bid, new_candle=False), held)) == 1
    # next minute the history is wild: the stop widens and the same bid no longer triggers it
    wild = [100.0, 104.0] * 15
    assert 100.0 * (1 - 2.0 * horizon_volatility(wild)) < bid
    assert s.on_snapshot(exit_snapshot(wild, bid=bid, new_candle=False, ts=TS + 60), held) == []


def test_exit_sells_every_exchange_rounded_to_each_step():
    markets = [market(), market("kraken", amount_step=0.01)]
    quotes = [quote(bid=90.0, ask=90.05), quote("kraken", bid=90.1, ask=90.15)]
    held = FakeView(positions=[position(qty=1.73456, avg_cost=100.0,
                                        by_exchange={"binance": 1.23456, "kraken": 0.5})])
    snap = exit_snapshot(CROSS_UP, bid=0, new_candle=False, markets=markets, quotes=quotes)
    (signal,) = strategy(exchanges=("binance", "kraken")).on_snapshot(snap, held)
    assert [(leg.exchange, leg.qty, leg.expected_price) for leg in signal.legs] == [
        ("binance", 1.234, 90.0), ("kraken", 0.5, 90.1)]
    assert all(leg.side == "sell" for leg in signal.legs)


def test_position_held_elsewhere_is_watched_where_it_is_held():
    # configured to trade on binance, which has no quote now; the kraken holding is still protected
    markets = [market(), market("kraken")]
    quotes = [quote("kraken", bid=50.0, ask=50.05)]
    held = FakeView(positions=[position(qty=1.0, avg_cost=100.0, by_exchange={"kraken": 1.0})])
    snap = exit_snapshot(CROSS_UP, bid=0, new_candle=False, markets=markets, quotes=quotes)
    (signal,) = strategy(exchanges=("binance", "kraken"), exchange="binance").on_snapshot(snap, held)
    assert [(leg.exchange, leg.qty) for leg in signal.legs] == [("kraken", 1.0)]


def test_dust_position_gives_no_exit():
    held = FakeView(positions=[position(qty=0.0004, avg_cost=100.0)])
    assert strategy().on_snapshot(exit_snapshot(CROSS_UP, bid=10.0, new_candle=False), held) == []
    assert strategy().on_snapshot(exit_snapshot(CROSS_DOWN, bid=10.0, new_candle=True), held) == []


def test_entries_on_the_same_candle_share_the_wallet():
    eth = "ETH/USDT"
    history = FakeHistory({("binance", SYMBOL): CROSS_UP, ("binance", eth): CROSS_UP})
    snap = snapshot(history, quotes=[quote(), quote(symbol=eth)], markets=[market(), market(symbol=eth)],
                    symbols=(SYMBOL, eth))
    view = FakeView(equity=10_000.0, balances={"binance": {"USDT": 5_000.0}})
    first, second = strategy(symbols=(SYMBOL, eth), max_position_pct=100.0).on_snapshot(snap, view)
    notionals = [signal.legs[0].qty * signal.legs[0].expected_price for signal in (first, second)]
    # the first takes its risk-based size (plus fee); the second the rest of 95% of the wallet
    left = 0.95 * 5_000.0 - notionals[0] * 1.001
    assert left - 0.001 * 95.05 <= notionals[1] <= left
    assert sum(n * 1.001 for n in notionals) <= 5_000.0
