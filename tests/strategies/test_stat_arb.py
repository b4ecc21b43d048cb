"""StatArbStrategy on hand-built snapshots: synthetic cointegrated closes, fake runners and views."""
import math
import statistics
import tempfile
from concurrent.futures import Future
from dataclasses import replace

import numpy as np
import pytest

from bot.config import ExecutionConfig, StatArbConfig
from bot.data_flow import DataFlowManager
from bot.execution.executor import PaperExecutor
from bot.accounting.ledger import TradeLedger
from bot.models import CandleHistory, PositionView, round_step
from bot.accounting.portfolio import PortfolioTracker
from bot.strategies.stat_arb import ORPHAN_REASON, StatArbStrategy
from bot.strategies.stat_arb_pairs import PairCandidate, run_tests
from tests.builders import T0, flat_book, market, snapshot

EX = "binance"
Y, X, W = "ETH/USDT", "SOL/USDT", "LINK/USDT"
LOOKBACK = 120
STEPS = {Y: 0.001, X: 0.01, W: 0.01, "BTC/USDT": 1e-5}


# -- synthetic data -----------------------------------------------------------------------------


def cointegrated(seed, a, b, n=LOOKBACK, log_x=None):
    """Prices (y, x): x a random walk near 20, y = a + b*x + AR(1) noise, in logs."""
    rng = np.random.default_rng(seed)
    if log_x is None:
        log_x = math.log(20.0) + np.cumsum(rng.normal(0.0, 0.002, n))
    noise = np.zeros(n)
    shocks = rng.normal(0.0, 0.002, n)
    for i in range(1, n):
        noise[i] = 0.5 * noise[i - 1] + shocks[i]
    return np.exp(a + b * log_x + noise), np.exp(log_x)


Y_CLOSES, X_CLOSES = cointegrated(seed=3, a=0.5, b=1.2)
W_CLOSES, _ = cointegrated(seed=4, a=-0.3, b=0.9, log_x=np.log(X_CLOSES))
# Independent of X: seed 1 gives an Engle-Granger p-value far above 0.05 (checked in a test).
UNRELATED = np.exp(math.log(60.0) + np.cumsum(np.random.default_rng(1).normal(0.0, 0.002, LOOKBACK)))


class FakeHistory(CandleHistory):
    def __init__(self, closes_by_symbol=None, error=None):
        self.data = {symbol: np.asarray(v, dtype=float) for symbol, v in (closes_by_symbol or {}).items()}
        self.error = error

    def closes(self, exchange, symbol, count):
        if self.error is not None:
            raise self.error
        return self.data.get(symbol, np.array([]))[-count:]

    def candles(self, exchange, symbol, count):  # pragma: no cover - the strategy reads closes only
        raise NotImplementedError


def model(y_closes, x_closes):
    """(beta, alpha, mean, std) computed here: OLS of log y on log x, then the spread's moments."""
    log_y, log_x = np.log(y_closes), np.log(x_closes)
    beta, alpha = np.polyfit(log_x, log_y, 1)
    spread = [a - beta * b - alpha for a, b in zip(log_y.tolist(), log_x.tolist())]
    return beta, alpha, statistics.mean(spread), statistics.stdev(spread)


def price_for_z(z, y_closes=Y_CLOSES, x_closes=X_CLOSES, price_x=20.0, fitted_on=None):
    """The y price at which the spread's z is z; beta and alpha fitted on fitted_on if given."""
    beta, alpha, mean, std = model(y_closes, x_closes)
    if fitted_on is not None:
        beta, alpha = model(*fitted_on)[:2]
        spread = [a - beta * b - alpha for a, b in zip(np.log(y_closes).tolist(), np.log(x_closes).tolist())]
        mean, std = statistics.mean(spread), statistics.stdev(spread)
    return math.exp(mean + z * std + alpha + beta * math.log(price_x))


# -- runners and views --------------------------------------------------------------------------


class InlineRunner:
    """Runs the submitted function at once; the future is done before anyone asks."""

    def submit(self, fn, *args):
        future = Future()
        future.set_result(fn(*args))
        return future


class DeferredFuture:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args
        self.finished = False
        self.result_calls = 0
        self.value = None

    def done(self):
        return self.finished

    def finish(self):
        self.value = self.fn(*self.args)
        self.finished = True

    def result(self):
        self.result_calls += 1
        if not self.finished:
            self.finish()  # what waiting for the worker amounts to
        return self.value


class RecordingRunner:
    def __init__(self):
        self.submissions = []

    def submit(self, fn, *args):
        future = DeferredFuture(fn, args)
        self.submissions.append(future)
        return future


class FakeView:
    def __init__(self, equity=10_000.0, usdt=10_000.0, positions=()):
        self._equity = equity
        self._usdt = usdt
        self.held = {p.asset: p for p in positions}

    def position(self, asset):
        return self.held.get(asset)

    def positions(self):
        return list(self.held.values())

    def balance(self, exchange, asset):
        return self._usdt if asset == "USDT" else 0.0

    def equity(self):
        return self._equity


def held(asset, qty, avg_cost):
    return PositionView(asset=asset, qty=qty, avg_cost=avg_cost, by_exchange={EX: qty}, opened_ts=T0 - 600)


def params(**changes):
    values = dict(lookback_candles=LOOKBACK, retest_minutes=60.0, entry_z=2.0, exit_z=0.5, stop_z=4.0,
                  leg_notional_pct=5.0, max_position_pct=100.0, auto_select=True)
    values.update(changes)
    return StatArbConfig(**values)


def strategy(symbols=(Y, X), runner=None, **changes):
    return StatArbStrategy(params(**changes), (EX,), symbols, runner=runner or InlineRunner())


def snap(prices, ts, new_candle=False, history=None, tick=0, depth=100.0):
    """Books (and so quotes) at the given mids on EX; every market's step from STEPS."""
    books = {(EX, symbol): flat_book(price, qty=depth) for symbol, price in prices.items()}
    markets = {(EX, symbol): market(EX, symbol, amount_step=STEPS[symbol], min_notional=5.0) for symbol in prices}
    history = history if history is not None else FakeHistory({Y: Y_CLOSES, X: X_CLOSES, W: W_CLOSES})
    return snapshot(books, markets=markets, tick=tick, ts=ts, history=history, new_candle=new_candle)


def activate(s, view, extra_prices=None, history=None, z=0.0):
    """Submit the first test at T0, apply it one candle later; returns what the apply tick gave."""
    prices = {Y: price_for_z(z), X: 20.0, **(extra_prices or {})}
    first = s.on_snapshot(snap(prices, T0, new_candle=True, history=history), view)
    assert first == []  # nothing trades before the first result is applied
    return s.on_snapshot(snap(prices, T0 + 60, new_candle=True, history=history), view)


def tick_at_z(s, view, z, ts=T0 + 61, price_x=20.0, extra=None):
    prices = {Y: price_for_z(z, price_x=price_x), X: price_x, **(extra or {})}
    return s.on_snapshot(snap(prices, ts), view)


# -- identity and candidates --------------------------------------------------------------------


def test_identity_and_warmup():
    s = strategy()
    assert s.name == "stat_arb" and s.allows_short is True
    assert s.warmup_candles == LOOKBACK


def test_candidates_configured_first_then_every_usdt_pair_once():
    s = StatArbStrategy(params(pairs=[[X, Y], ["ETH/BTC", X]]), (EX,), (Y, X, "ETH/BTC", W))
    assert s.candidates == (PairCandidate(X, Y), PairCandidate(Y, W), PairCandidate(X, W))
    s = StatArbStrategy(params(pairs=[[W, Y]], auto_select=False), (EX,), (Y, X, W))
    assert s.candidates == (PairCandidate(W, Y),)


def test_synthetic_series_are_what_the_tests_assume():
    tests = run_tests(((PairCandidate(Y, X), EX, Y_CLOSES, X_CLOSES), (PairCandidate(W, X), EX, W_CLOSES, X_CLOSES),
                       (PairCandidate(Y, X), EX, UNRELATED, X_CLOSES)))
    assert tests[0].result.p_value < 0.01 and tests[1].result.p_value < 0.01
    assert tests[2].result.p_value > 0.2
    assert tests[0].result.beta == pytest.approx(model(Y_CLOSES, X_CLOSES)[0], rel=1e-9)


def test_run_tests_reports_untestable_data_instead_of_raising():
    (outcome,) = run_tests(((PairCandidate(Y, X), EX, Y_CLOSES[:50], X_CLOSES),))
    assert outcome.result is None and "same length" in outcome.error


# -- entries ------------------------------------------------------------------------------------


def test_entry_when_rich_shorts_y_and_buys_x_sized_from_equity():
    s, view = strategy(), FakeView()
    assert activate(s, view) == []
    (signal,) = tick_at_z(s, view, 2.1)
    assert signal.strategy == "stat_arb" and signal.kind == "stat_arb_entry" and not signal.closes_position
    legs = {leg.symbol: leg for leg in signal.legs}
    price_y = price_for_z(2.1)
    bid_y, ask_x = price_y * (1 - 0.0001), 20.0 * (1 + 0.0001)
    assert (legs[Y].side, legs[X].side) == ("sell", "buy")
    assert legs[Y].qty == pytest.approx(round_step(500.0 / bid_y, 0.001), abs=1e-12)
    assert legs[X].qty == pytest.approx(round_step(500.0 / ask_x, 0.01), abs=1e-12)
    assert legs[Y].expected_price == pytest.approx(bid_y) and legs[X].expected_price == pytest.approx(ask_x)
    assert signal.legs[0].side == "buy"  # long leg first: the margin rule sees the cash left after it
    beta = model(Y_CLOSES, X_CLOSES)[0]
    assert f"Spread {Y} vs {X} on {EX} is rich: z +2.10" in signal.reason
    assert f"beta {beta:.4f}" in signal.reason and "p-value 0.00" in signal.reason


def test_entry_when_cheap_buys_y_and_shorts_x():
    s, view = strategy(), FakeView()
    activate(s, view)
    (signal,) = tick_at_z(s, view, -2.5)
    legs = {leg.symbol: leg.side for leg in signal.legs}
    assert legs == {Y: "buy", X: "sell"}
    assert "is cheap: z -2.50 <= -2" in signal.reason


@pytest.mark.parametrize("z", [1.9, -1.9, 0.0, 4.0, -4.5])
def test_no_entry_inside_the_entry_band_or_beyond_the_stop(z):
    s, view = strategy(), FakeView()
    activate(s, view)
    assert tick_at_z(s, view, z) == []


def test_beta_hedge_scales_the_x_leg():
    s, view = strategy(hedge="beta"), FakeView()
    activate(s, view)
    (signal,) = tick_at_z(s, view, 2.2)
    beta = model(Y_CLOSES, X_CLOSES)[0]
    x_leg = next(leg for leg in signal.legs if leg.symbol == X)
    assert x_leg.qty == pytest.approx(round_step(500.0 * beta / (20.0 * 1.0001), 0.01), abs=1e-12)


def test_no_entry_when_the_long_leg_cannot_be_paid_or_is_too_small():
    s = strategy()
    activate(s, FakeView())
    assert tick_at_z(s, FakeView(usdt=400.0), 2.2) == []  # 500 USDT long leg, 400 in the wallet
    assert tick_at_z(s, FakeView(equity=60.0), 2.2) == []  # 3 USDT legs: below min_notional 5
    assert tick_at_z(s, FakeView(equity=0.0), 2.2) == []


def test_no_entry_while_an_asset_of_the_pair_is_held():
    s = strategy()
    activate(s, FakeView())
    assert tick_at_z(s, FakeView(positions=[held("SOL", 10.0, 20.0)]), 2.5) == []


def test_never_opens_a_second_pair_on_a_held_asset():
    s = strategy(symbols=(Y, X, W), pairs=[[Y, X], [W, X]], auto_select=False)
    activate(s, FakeView(), extra_prices={W: 20.0})
    assert {c.label for c in s.pairs} == {f"{Y} vs {X}", f"{W} vs {X}"}
    rich_w = price_for_z(2.5, W_CLOSES)
    # both spreads rich on the same tick: only the first pair trades, the second would reuse X
    (signal,) = tick_at_z(s, FakeView(), 2.5, extra={W: rich_w})
    assert {leg.symbol for leg in signal.legs} == {Y, X}
    # the Y/X pair is open (Y short, X long) and inside its band: W/X must not enter either
    open_pair = FakeView(positions=[held("ETH", -8.0, 62.0), held("SOL", 25.0, 20.0)])
    assert tick_at_z(s, open_pair, 1.5, extra={W: rich_w}) == []


# -- exits --------------------------------------------------------------------------------------


SHORT_SPREAD = [held("ETH", -8.123, price_for_z(2.2)), held("SOL", 24.99, 20.0)]  # entered with y rich
LONG_SPREAD = [held("ETH", 8.123, price_for_z(-2.2)), held("SOL", -24.99, 20.0)]


def test_exit_when_the_spread_reverts():
    s = strategy()
    view = FakeView(positions=SHORT_SPREAD)
    activate(s, view, z=1.0)
    assert tick_at_z(s, view, 0.6) == []
    (signal,) = tick_at_z(s, view, 0.4)
    assert signal.kind == "stat_arb_exit" and signal.closes_position
    assert [(leg.symbol, leg.side, leg.qty) for leg in signal.legs] == [(X, "sell", 24.99), (Y, "buy", 8.123)]
    assert signal.reason.startswith(f"Spread {Y} vs {X} reverted: z +0.40")
    assert "buy back 8.123 ETH on binance" in signal.reason and "est. P&L" in signal.reason


def test_overshooting_through_zero_still_exits_as_reverted():
    s = strategy()
    view = FakeView(positions=SHORT_SPREAD)
    activate(s, view, z=1.0)
    (signal,) = tick_at_z(s, view, -1.5)
    assert "reverted" in signal.reason


def test_long_spread_exits_mirror_the_short_spread():
    s = strategy()
    view = FakeView(positions=LONG_SPREAD)
    activate(s, view, z=-1.0)
    assert tick_at_z(s, view, -0.6) == []
    (signal,) = tick_at_z(s, view, -0.3)
    assert [(leg.symbol, leg.side) for leg in signal.legs] == [(Y, "sell"), (X, "buy")]
    (signal,) = tick_at_z(s, view, -4.1)
    assert signal.reason.startswith(f"Stop on spread {Y} vs {X}: z -4.10 beyond stop_z 4")


def test_stop_when_the_spread_keeps_widening():
    s = strategy()
    view = FakeView(positions=SHORT_SPREAD)
    activate(s, view, z=2.5)
    assert tick_at_z(s, view, 3.9) == []
    (signal,) = tick_at_z(s, view, 4.0)
    assert signal.kind == "stat_arb_exit" and signal.closes_position
    assert signal.reason.startswith(f"Stop on spread {Y} vs {X}: z +4.00 beyond stop_z 4")
    assert "est. P&L -" in signal.reason


def test_exit_legs_cover_every_exchange_and_skip_dust():
    s = strategy()
    y_position = PositionView("ETH", -8.1234, 62.0, {EX: -8.1230, "kraken": -0.0004}, T0)
    x_position = PositionView("SOL", 25.99, 20.0, {EX: 24.99, "kraken": 1.0}, T0)
    view = FakeView(positions=[y_position, x_position])
    activate(s, view, z=1.0)
    prices = {Y: price_for_z(0.0), X: 20.0}
    books = {(ex, symbol): flat_book(price, qty=100.0) for symbol, price in prices.items() for ex in (EX, "kraken")}
    markets = {(ex, symbol): market(ex, symbol, amount_step=STEPS[symbol]) for ex, symbol in books}
    history = FakeHistory({Y: Y_CLOSES, X: X_CLOSES})
    (signal,) = s.on_snapshot(snapshot(books, markets=markets, ts=T0 + 61, history=history), view)
    assert [(leg.exchange, leg.symbol, leg.side, leg.qty) for leg in signal.legs] == [
        (EX, X, "sell", 24.99), ("kraken", X, "sell", 1.0), (EX, Y, "buy", 8.123)]
    # a holding on an exchange without a quote this tick: wait rather than close half the pair
    assert s.on_snapshot(snap(prices, T0 + 62), view) == []


def test_pair_that_stops_being_cointegrated_is_closed_then_dropped():
    s = strategy(retest_minutes=5.0)
    view = FakeView(positions=SHORT_SPREAD)
    activate(s, view, z=1.0)
    assert tick_at_z(s, view, 1.0, ts=T0 + 120) == []
    unrelated = FakeHistory({Y: UNRELATED, X: X_CLOSES})
    # the old model's spread over the new closes, at z = 1: no reason to exit before the result
    prices = {Y: price_for_z(1.0, UNRELATED, fitted_on=(Y_CLOSES, X_CLOSES)), X: 20.0}
    assert s.on_snapshot(snap(prices, T0 + 300, new_candle=True, history=unrelated), view) == []  # submitted
    assert s.rounds_submitted == 2
    (signal,) = s.on_snapshot(snap(prices, T0 + 360, new_candle=True, history=unrelated), view)
    assert signal.kind == "stat_arb_exit" and signal.closes_position
    assert signal.reason.startswith(f"Pair {Y} vs {X} no longer cointegrated (p-value ")
    assert {(leg.symbol, leg.side) for leg in signal.legs} == {(Y, "buy"), (X, "sell")}
    # still held (say the fill was refused): asked again on the next tick
    assert len(s.on_snapshot(snap(prices, T0 + 361, history=unrelated), view)) == 1
    # once flat the pair is gone: no entry even far out of its old band
    flat = FakeView()
    assert s.on_snapshot(snap({Y: price_for_z(3.0), X: 20.0}, T0 + 362, history=unrelated), flat) == []
    assert s.pairs == {}


def test_a_failed_pair_without_a_position_is_simply_dropped():
    s = strategy(retest_minutes=2.0)
    activate(s, FakeView())
    unrelated = FakeHistory({Y: UNRELATED, X: X_CLOSES})
    prices = {Y: price_for_z(1.0, UNRELATED, fitted_on=(Y_CLOSES, X_CLOSES)), X: 20.0}
    assert s.on_snapshot(snap(prices, T0 + 120, new_candle=True, history=unrelated), FakeView()) == []
    assert s.rounds_submitted == 2
    prices = {Y: price_for_z(3.0, UNRELATED, fitted_on=(Y_CLOSES, X_CLOSES)), X: 20.0}
    assert s.on_snapshot(snap(prices, T0 + 180, new_candle=True, history=unrelated), FakeView()) == []
    assert s.pairs == {}


# -- the runner: off the hot path, applied one candle later --------------------------------------


def test_test_is_submitted_at_a_candle_and_applied_exactly_one_candle_later():
    runner = RecordingRunner()
    s = strategy(runner=runner, retest_minutes=3.0)
    view = FakeView()
    prices = {Y: price_for_z(2.5), X: 20.0}  # rich from the start: trades as soon as the model exists
    assert s.on_snapshot(snap(prices, T0 + 10), view) == []  # first snapshot: submit at once
    (submitted,) = runner.submissions
    assert submitted.fn is run_tests
    ((candidate, exchange, y_closes, x_closes),) = submitted.args[0]
    assert (candidate, exchange) == (PairCandidate(Y, X), EX)
    assert y_closes.tolist() == Y_CLOSES.tolist() and x_closes.shape == (LOOKBACK,)
    assert s.on_snapshot(snap(prices, T0 + 30), view) == []  # same candle: not applied, not even asked
    assert submitted.result_calls == 0 and s.pairs == {}
    # the next candle: the worker is not done, so the strategy waits for it, then trades
    (signal,) = s.on_snapshot(snap(prices, T0 + 60, new_candle=True), view)
    assert signal.kind == "stat_arb_entry"
    assert submitted.result_calls == 1 and s.result_waits == 1 and s.rounds_applied == 1
    # re-tests every 3 minutes of market time from the first submission (T0 + 10)
    s.on_snapshot(snap(prices, T0 + 120, new_candle=True), view)
    s.on_snapshot(snap(prices, T0 + 180, new_candle=True), view)
    assert len(runner.submissions) == 1
    s.on_snapshot(snap(prices, T0 + 240, new_candle=True), view)
    assert len(runner.submissions) == 2
    runner.submissions[1].finish()  # a fast worker: applied at the next candle without waiting
    s.on_snapshot(snap(prices, T0 + 300, new_candle=True), view)
    assert s.result_waits == 1 and s.rounds_applied == 2


def test_not_warm_means_no_submission_until_the_history_is_long_enough():
    runner = RecordingRunner()
    s = strategy(runner=runner)
    short = FakeHistory({Y: Y_CLOSES[:50], X: X_CLOSES[:50]})
    s.on_snapshot(snap({Y: 60.0, X: 20.0}, T0, new_candle=True, history=short), FakeView())
    assert runner.submissions == []
    s.on_snapshot(snap({Y: 60.0, X: 20.0}, T0 + 60, new_candle=True), FakeView())
    assert len(runner.submissions) == 1


def test_default_executor_gives_the_same_signals_as_an_inline_runner():
    def run(s):
        view = FakeView()
        out = activate(s, view)
        for i, z in enumerate((1.0, 2.3, -2.6, 0.2)):
            out += tick_at_z(s, view, z, ts=T0 + 61 + i)
        return out

    threaded = StatArbStrategy(params(), (EX,), (Y, X))
    try:
        assert run(threaded) == run(strategy())
        assert threaded.rounds_applied == 1
    finally:
        threaded.close()
    threaded.close()  # twice is fine


def test_a_failed_round_keeps_the_previous_models():
    class FailingRunner:
        def submit(self, fn, *args):
            future = Future()
            future.set_exception(RuntimeError("worker died"))
            return future

    s = strategy(retest_minutes=1.0)
    activate(s, FakeView())
    s._runner = FailingRunner()
    prices = {Y: price_for_z(0.0), X: 20.0}
    s.on_snapshot(snap(prices, T0 + 120, new_candle=True), FakeView())
    # round 3 (the first on the broken runner) fails when applied: raised, so the manager counts
    # and reports it, and nothing about the pairs changes
    with pytest.raises(RuntimeError, match="cointegration round failed .RuntimeError: worker died."):
        s.on_snapshot(snap(prices, T0 + 180, new_candle=True), FakeView())
    assert s.rounds_applied == 2
    assert list(s.pairs) == [PairCandidate(Y, X)] and s.pairs[PairCandidate(Y, X)].closing_reason == ""
    # the next candle tests anew rather than re-raising the same lost round
    s.on_snapshot(snap(prices, T0 + 240, new_candle=True), FakeView())
    assert s.rounds_submitted == 4


# -- restarts -----------------------------------------------------------------------------------


def test_orphans_closed_and_pair_positions_managed_after_restart():
    s = strategy()  # a new process: no memory of what it opened
    view = FakeView(positions=SHORT_SPREAD + [held("BTC", 0.01, 60_000.0)])
    extra = {"BTC/USDT": 61_000.0}
    prices = {Y: price_for_z(1.0), X: 20.0, **extra}
    assert s.on_snapshot(snap(prices, T0, new_candle=True), view) == []  # nothing known yet
    (signal,) = s.on_snapshot(snap(prices, T0 + 60, new_candle=True), view)
    assert signal.kind == "stat_arb_exit" and signal.closes_position
    assert signal.reason.startswith(f"{ORPHAN_REASON}: no tested pair explains BTC")
    assert [(leg.symbol, leg.side, leg.qty) for leg in signal.legs] == [("BTC/USDT", "sell", 0.01)]
    # the ETH/SOL position is recognised as the pair's and exits when the spread reverts
    pair_exit, orphan_again = tick_at_z(s, view, 0.1, extra=extra)
    assert pair_exit.reason.startswith(f"Spread {Y} vs {X} reverted")
    assert orphan_again.reason.startswith(ORPHAN_REASON)  # still held: asked again
    # once the orphan is sold it is forgotten
    del view.held["BTC"]
    assert tick_at_z(s, view, 1.0, extra=extra) == []


def test_positions_of_an_untestable_pair_are_orphans():
    s = strategy(symbols=(Y, X, W))
    history = FakeHistory({Y: Y_CLOSES, X: X_CLOSES})  # nothing for W: Y/W and X/W cannot be tested
    view = FakeView(positions=[held("ETH", -8.0, 62.0), held("LINK", 30.0, 15.0)])
    signals = activate(s, view, extra_prices={W: 15.0}, history=history, z=1.0)
    assert sorted(sig.legs[0].symbol for sig in signals) == [Y, W]
    assert all(sig.reason.startswith(ORPHAN_REASON) for sig in signals)


def test_a_pair_tested_later_takes_its_orphans_back():
    s = strategy(symbols=(Y, X, W), retest_minutes=2.0)
    view = FakeView(positions=[held("ETH", -8.0, 62.0), held("LINK", 30.0, 15.0)])
    activate(s, view, extra_prices={W: 15.0}, history=FakeHistory({Y: Y_CLOSES, X: X_CLOSES}), z=1.0)
    prices = {Y: price_for_z(1.0), X: 20.0, W: 15.0}
    s.on_snapshot(snap(prices, T0 + 120, new_candle=True), view)  # W's history is there now
    signals = s.on_snapshot(snap(prices, T0 + 180, new_candle=True), view)
    assert PairCandidate(Y, W) in s.pairs and not s.pairs[PairCandidate(Y, W)].closing_reason
    assert not any(sig.reason.startswith(ORPHAN_REASON) for sig in signals)
    assert all(sig.reason.startswith(f"Spread {Y} vs {W}") for sig in signals)


# -- missing data -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["no history", "history raises", "short history", "nan closes", "no quote",
                                  "no market"])
def test_missing_data_gives_no_signal_and_no_exception(case):
    history = FakeHistory({Y: Y_CLOSES, X: X_CLOSES})
    prices = {Y: price_for_z(3.0), X: 20.0}
    if case == "no history":
        history = FakeHistory({})
    elif case == "history raises":
        history = FakeHistory(error=KeyError((EX, Y)))
    elif case == "short history":
        history = FakeHistory({Y: Y_CLOSES[-10:], X: X_CLOSES})
    elif case == "nan closes":
        history = FakeHistory({Y: np.full(LOOKBACK, np.nan), X: X_CLOSES})
    elif case == "no quote":
        prices = {Y: price_for_z(3.0)}
    for view in (FakeView(), FakeView(positions=SHORT_SPREAD)):
        s = strategy()
        signals = []
        for minute in range(3):
            snapshot_ = snap(prices, T0 + 60 * minute, new_candle=True, history=history)
            if case == "no market":
                snapshot_ = replace(snapshot_, markets={})
            signals += s.on_snapshot(snapshot_, view)
        if case == "nan closes" and view.held:
            # tested and found untestable: no pair explains the holding, so it is closed
            assert {sig.legs[0].symbol for sig in signals} == {Y, X}
            assert all(sig.reason.startswith(ORPHAN_REASON) for sig in signals)
        else:
            assert signals == []


def test_quotes_missing_after_activation_give_nothing():
    s = strategy()
    view = FakeView(positions=SHORT_SPREAD)
    activate(s, view, z=1.0)
    assert s.on_snapshot(snap({Y: price_for_z(0.0)}, T0 + 61), view) == []
    assert s.on_snapshot(snap({X: 20.0}, T0 + 62), view) == []
    assert s.on_snapshot(snap({}, T0 + 120, new_candle=True, history=FakeHistory({})), view) == []
    (signal,) = tick_at_z(s, view, 0.0, ts=T0 + 121)  # back: the last statistics still hold
    assert signal.kind == "stat_arb_exit"


# -- through the real executor and portfolio ------------------------------------------------------


def trade_path(usdt):
    folder = tempfile.TemporaryDirectory()
    tracker = PortfolioTracker({EX: {"USDT": usdt}})
    ledger = TradeLedger(folder.name, fsync=False)
    executor = PaperExecutor(ExecutionConfig(max_slippage_pct=2.0), short_margin_ratio=1.5)
    flow = DataFlowManager(executor, ledger, tracker, folder.name, fsync=False)
    return folder, tracker, ledger, flow


def test_entry_and_exit_through_executor_and_portfolio_make_a_real_short():
    folder, tracker, ledger, flow = trade_path(1_000.0)
    s = strategy(leg_notional_pct=20.0)
    view = tracker.view_for("stat_arb")
    first = snap({Y: price_for_z(0.0), X: 20.0}, T0, new_candle=True)
    tracker.mark(first)
    s.on_snapshot(first, view)
    s.on_snapshot(snap({Y: price_for_z(0.0), X: 20.0}, T0 + 60, new_candle=True), view)
    entry_snap = snap({Y: price_for_z(2.4), X: 20.0}, T0 + 61, tick=1)
    tracker.mark(entry_snap)
    (signal,) = s.on_snapshot(entry_snap, view)
    result = flow.process_signal(signal, entry_snap, allows_short=s.allows_short)
    assert result.status == "filled", result.reason
    eth, sol = tracker.positions[("stat_arb", "ETH")], tracker.positions[("stat_arb", "SOL")]
    assert eth.qty < 0 and sol.qty > 0
    assert tracker.balance(EX, "ETH") == pytest.approx(eth.qty)  # borrowed: the wallet is short too
    short_usdt = -eth.qty * price_for_z(2.4)
    assert short_usdt * 1.5 <= tracker.balance(EX, "USDT")  # within the margin rule
    exit_snap = snap({Y: price_for_z(0.1), X: 20.0}, T0 + 62, tick=2)
    tracker.mark(exit_snap)
    (signal,) = s.on_snapshot(exit_snap, view)
    assert signal.kind == "stat_arb_exit"
    assert flow.process_signal(signal, exit_snap, allows_short=s.allows_short).status == "filled"
    assert tracker.open_positions("stat_arb") == []
    assert tracker.balance(EX, "ETH") == pytest.approx(0.0, abs=1e-9)
    assert tracker.stats["stat_arb"].realized_pnl > 0  # the spread came back from +2.4 sigma
    ledger.close()
    folder.cleanup()


def test_a_short_beyond_the_margin_rule_is_rejected_by_the_executor():
    folder, tracker, ledger, flow = trade_path(1_000.0)
    s = strategy(leg_notional_pct=90.0)  # long leg 900 fits the wallet; a 900 short needs 1,350 collateral
    view = tracker.view_for("stat_arb")
    first = snap({Y: price_for_z(0.0), X: 20.0}, T0, new_candle=True)
    tracker.mark(first)
    s.on_snapshot(first, view)
    s.on_snapshot(snap({Y: price_for_z(0.0), X: 20.0}, T0 + 60, new_candle=True), view)
    entry_snap = snap({Y: price_for_z(2.4), X: 20.0}, T0 + 61, tick=1)
    tracker.mark(entry_snap)
    (signal,) = s.on_snapshot(entry_snap, view)
    result = flow.process_signal(signal, entry_snap, allows_short=s.allows_short)
    assert result.status == "rejected" and "margin rule" in result.reason
    assert tracker.open_positions("stat_arb") == [] and ledger.count == 0
    assert tracker.balance(EX, "USDT") == 1_000.0
    ledger.close()
    folder.cleanup()
