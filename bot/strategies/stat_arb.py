"""Statistical arbitrage: trade the spread of cointegrated pairs, long one leg, short the other.

Pairs (stat_arb_pairs.py): params.pairs (the first symbol of each is the dependent y) plus, with
auto_select, every pair of USDT-quoted symbols in the order given (earlier symbol is y). Only
USDT-quoted markets are traded: legs are sized, paid for and valued in USDT. A pair trades on
params.exchange, else on the first exchange listing both markets.

Model: Engle-Granger on the last lookback_candles 1-minute closes (cointegration.py), giving
p, beta and alpha of log y = alpha + beta log x. A pair trades while p < p_value_max and beta > 0
(otherwise the legs would not offset). Spread mean and standard deviation come from the same
window with those beta and alpha, recomputed once per candle; each tick only evaluates
z = (log y - beta log x - alpha - mean) / std at the quote mids.

Entry at entry_z <= |z| < stop_z when this strategy holds neither asset: z > 0 (y rich) shorts
y and buys x, z < 0 buys y and shorts x; one two-leg Signal. Exit of a short spread (y short)
when z <= exit_z (reverted, overshoot included) or z >= stop_z (stop), mirrored for a long
spread, so a tick that jumps across the exit band still exits.

Testing off the hot path, deterministically. The test costs a few milliseconds per pair, too
much for a real-time tick, yet the same seed must give the same trades. So on the candle where
a test is due the strategy copies the close arrays and submits the computation to `runner`
(default: a lazily created single-worker ThreadPoolExecutor), and applies the result on the
next candle tick (exactly one candle later in market time), calling future.result() there,
which waits only if the worker is not done yet (fast mode). What the results are and when they
take effect thus never depend on wall-clock speed. Trading starts when the first result is
applied. close() shuts the default executor down.

Restarts: nothing is remembered. A held position belongs to the tested pair whose two assets
this strategy holds with opposite signs; that is re-derived from the view on every tick. When a
test result is applied, a held asset no such pair explains is closed as an orphan; a pair that
fails a re-test is closed ("no longer cointegrated") and then dropped. A pair that cannot be
tested (missing data) keeps its previous parameters.
"""
from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from bot.config import StatArbConfig
from bot.models import PORTFOLIO_QUOTE, Leg, PortfolioView, PositionView, Signal, Snapshot, round_step
from bot.lookahead import Lookahead
from bot.strategies.base import Strategy
from bot.strategies.common import format_price, format_qty, recent_closes
from bot.strategies.cointegration import EngleGrangerResult, spread_stats, spread_zscore
from bot.strategies import stat_arb_screen
from bot.strategies.stat_arb_pairs import PairCandidate, pair_candidates, run_tests

log = logging.getLogger(__name__)

CANDLE_SECONDS = 60
# Leave room in the wallet for the price moving before the fill.
WALLET_SPEND_FRACTION = 0.95
ORPHAN_REASON = "orphaned position after restart"


@dataclass(slots=True)
class _PairState:
    """A tested pair: its model, this minute's spread statistics, and whether it is closing."""

    candidate: PairCandidate
    exchange: str
    result: EngleGrangerResult
    mean: float = math.nan
    std: float = math.nan
    stats_minute: int = -1
    closing_reason: str = ""


@dataclass(slots=True)
class _Round:
    future: object
    minute: int


class StatArbStrategy(Strategy):
    """Pairs trading on cointegrated spreads, tested in the background, applied deterministically."""

    name = "stat_arb"
    allows_short = True
    params: StatArbConfig
    screen_cost = 1  # quiet_ticks runs in this order, cheap first (bot/fast_forward.py)

    def __init__(self, params: StatArbConfig, exchanges: tuple[str, ...], symbols: tuple[str, ...], runner=None):
        super().__init__(params)
        self.exchanges = tuple(exchanges)
        self.candidates = pair_candidates(params, symbols)
        self.pairs: dict[PairCandidate, _PairState] = {}
        self.rounds_submitted = 0
        self.rounds_applied = 0
        self.result_waits = 0
        self._runner = runner
        self._own_executor: ThreadPoolExecutor | None = None
        self._pending: _Round | None = None
        self._next_test_ts: float | None = None
        self._seen_a_snapshot = False
        self._orphans: set[str] = set()
        self._screened = None  # the last screen's statistics per candle (stat_arb_screen), for skipped()
        self._stats_memo: dict = {}  # spread statistics by pair, model and candle tick (stat_arb_screen.stats_at)

    @property
    def warmup_candles(self) -> int:
        """The cointegration test's lookback: no decision before a full window."""
        return self.params.lookback_candles

    def close(self) -> None:
        """Shut down the default executor (a runner passed in belongs to the caller)."""
        if self._own_executor is not None:
            self._own_executor.shutdown(wait=True, cancel_futures=True)
            self._own_executor = None

    def on_snapshot(self, snapshot: Snapshot, view: PortfolioView) -> list[Signal]:
        """Test schedule and spread statistics on candles; exits and entries on every tick."""
        if snapshot.new_candle or not self._seen_a_snapshot:
            self._seen_a_snapshot = True
            self._on_candle(snapshot, view)
        if not self.pairs and not self._orphans:
            return []
        held = self._held(snapshot, view)
        owners = self._owners(held)
        claimed = set(held)
        signals = []
        for candidate, state in list(self.pairs.items()):
            if candidate in owners:
                signal = self._exit_signal(snapshot, state, held)
            elif state.closing_reason:
                del self.pairs[candidate]  # failed a re-test and nothing left to close: drop
                continue
            elif candidate.y_asset in claimed or candidate.x_asset in claimed:
                continue
            else:
                signal = self._entry_signal(snapshot, view, state)
                if signal is not None:
                    claimed.update((candidate.y_asset, candidate.x_asset))
            if signal is not None:
                signals.append(signal)
        for asset in sorted(self._orphans):
            position = held.get(asset)
            if position is None:
                self._orphans.discard(asset)
                continue
            signal = self._close_signal(snapshot, (position,), f"{ORPHAN_REASON}: no tested pair explains {asset}")
            if signal is not None:
                signals.append(signal)
        return signals

    def quiet_ticks(self, lookahead: Lookahead, view: PortfolioView) -> int:
        """Ticks before a candle that applies or submits a re-test, or a z-score that could enter or
        exit (bot/strategies/stat_arb_screen.py)."""
        return stat_arb_screen.first_maybe(self, lookahead, view)

    def skipped(self, lookahead: Lookahead, count: int, view: PortfolioView) -> None:
        """The spread statistics of the skipped stretch's candles, as stepping them refreshes them."""
        stat_arb_screen.skipped(self, lookahead, count)

    # -- the test schedule (candle ticks) ------------------------------------------------------

    def _on_candle(self, snapshot: Snapshot, view: PortfolioView) -> None:
        minute = int(snapshot.ts // CANDLE_SECONDS)
        if self._pending is not None and minute > self._pending.minute:
            pending, self._pending = self._pending, None
            self._apply(pending, snapshot, view)
        if self._pending is None and (self._next_test_ts is None or snapshot.ts >= self._next_test_ts):
            self._submit(snapshot, minute)
        for state in self.pairs.values():
            if state.stats_minute != minute:
                self._refresh_stats(snapshot, state, minute)

    def _submit(self, snapshot: Snapshot, minute: int) -> None:
        count = self.params.lookback_candles
        jobs = []
        for candidate in self.candidates:
            exchange = self._trading_exchange(snapshot, candidate)
            if exchange is None:
                continue
            y_closes = recent_closes(snapshot, exchange, candidate.y, count, copy=True)
            x_closes = recent_closes(snapshot, exchange, candidate.x, count, copy=True)
            if y_closes is None or x_closes is None or y_closes.shape[0] < count or x_closes.shape[0] < count:
                continue
            jobs.append((candidate, exchange, y_closes[-count:], x_closes[-count:]))
        if not jobs:
            return  # not warm yet: try again next candle
        self._pending = _Round(self._runner_submit(run_tests, tuple(jobs)), minute)
        self._next_test_ts = snapshot.ts + self.params.retest_minutes * CANDLE_SECONDS
        self.rounds_submitted += 1

    def _runner_submit(self, fn, *args):
        if self._runner is None:
            if self._own_executor is None:
                self._own_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stat-arb-test")
            return self._own_executor.submit(fn, *args)
        return self._runner.submit(fn, *args)

    def _apply(self, pending: _Round, snapshot: Snapshot, view: PortfolioView) -> None:
        """Take a round's results: new models, failed pairs to close, orphans to close."""
        if not pending.future.done():
            self.result_waits += 1
        try:
            outcomes = pending.future.result()
        except Exception as exc:  # noqa: BLE001 - a lost round keeps the previous models
            # Raised on, so the manager counts, logs and notifies it like any strategy error:
            # quietly never trading again would hide a broken worker. The next candle tests anew.
            raise RuntimeError(f"cointegration round failed ({type(exc).__name__}: {exc}); "
                               f"keeping the previous models") from exc
        self.rounds_applied += 1
        p_max = self.params.p_value_max
        for outcome in outcomes:
            result = outcome.result
            if result is None:
                continue
            state = _PairState(outcome.candidate, outcome.exchange, result)
            if result.p_value >= p_max:
                state.closing_reason = (f"Pair {outcome.candidate.label} no longer cointegrated "
                                        f"(p-value {result.p_value:.4f} >= {p_max:g})")
            elif result.beta <= 0:
                state.closing_reason = (f"Pair {outcome.candidate.label} has hedge ratio beta {result.beta:.4f} <= 0 "
                                        f"(the legs would not offset)")
            self.pairs[outcome.candidate] = state
        held = self._held(snapshot, view)
        explained = {asset for candidate in self._owners(held) for asset in (candidate.y_asset, candidate.x_asset)}
        # Recomputed, not accumulated: an asset a newly tested pair explains is that pair's again.
        self._orphans = {asset for asset in held if asset not in explained}

    def _refresh_stats(self, snapshot: Snapshot, state: _PairState, minute: int) -> None:
        """Spread mean / std over the lookback with the pair's model; keeps the last on bad data."""
        count = self.params.lookback_candles
        y_closes = recent_closes(snapshot, state.exchange, state.candidate.y, count, copy=True)
        x_closes = recent_closes(snapshot, state.exchange, state.candidate.x, count, copy=True)
        if y_closes is None or x_closes is None:
            return
        n = min(y_closes.shape[0], x_closes.shape[0])
        mean, std = spread_stats(y_closes[-n:], x_closes[-n:], state.result.beta, state.result.alpha)
        if math.isfinite(mean) and math.isfinite(std) and std > 0:
            state.mean, state.std, state.stats_minute = mean, std, minute

    def spread_series(self, symbol: str, y_closes: np.ndarray, x_closes: np.ndarray, start: int) -> dict | None:
        """The z-score of each candle's close from index start on for the tested pair holding symbol.

        y_closes and x_closes are the pair's aligned closes on its exchange, oldest first. Each z
        uses the pair's current model (beta, alpha) and the spread statistics of the
        lookback_candles closes ending at that candle, as _refresh_stats and _zscore compute them.
        None when symbol is in no tested pair; z is None before a full window.
        """
        state = next((s for c, s in self.pairs.items() if symbol in (c.y, c.x)), None)
        if state is None:
            return None
        p, result, count = self.params, state.result, self.params.lookback_candles
        values: list[float | None] = []
        for end in range(start + 1, min(y_closes.shape[0], x_closes.shape[0]) + 1):
            z = math.nan
            if end >= count:
                mean, std = spread_stats(y_closes[end - count:end], x_closes[end - count:end], result.beta, result.alpha)
                z = spread_zscore(float(y_closes[end - 1]), float(x_closes[end - 1]), result.beta, result.alpha,
                                  mean, std)
            values.append(z if math.isfinite(z) else None)
        return {"pair": state.candidate.label, "y": state.candidate.y, "x": state.candidate.x,
                "exchange": state.exchange, "beta": result.beta, "alpha": result.alpha, "p_value": result.p_value,
                "entry_z": p.entry_z, "exit_z": p.exit_z, "stop_z": p.stop_z, "closing": bool(state.closing_reason),
                "z": values}

    # -- per tick --------------------------------------------------------------------------------

    def _zscore(self, snapshot: Snapshot, state: _PairState) -> float | None:
        """z of the pair's spread at the current quote mids, or None without data."""
        quote_y = snapshot.quotes.get((state.exchange, state.candidate.y))
        quote_x = snapshot.quotes.get((state.exchange, state.candidate.x))
        if quote_y is None or quote_x is None or not state.std > 0:
            return None
        z = spread_zscore((quote_y.bid + quote_y.ask) * 0.5, (quote_x.bid + quote_x.ask) * 0.5,
                          state.result.beta, state.result.alpha, state.mean, state.std)
        return z if math.isfinite(z) else None

    def _entry_signal(self, snapshot: Snapshot, view: PortfolioView, state: _PairState) -> Signal | None:
        p = self.params
        z = self._zscore(snapshot, state)
        if z is None or not p.entry_z <= abs(z) < p.stop_z:
            return None
        candidate, exchange, result = state.candidate, state.exchange, state.result
        quote_y = snapshot.quotes[(exchange, candidate.y)]
        quote_x = snapshot.quotes[(exchange, candidate.x)]
        market_y = snapshot.markets.get((exchange, candidate.y))
        market_x = snapshot.markets.get((exchange, candidate.x))
        equity = view.equity()
        if market_y is None or market_x is None or equity <= 0:
            return None
        notional_y = equity * p.leg_notional_pct / 100.0
        notional_x = notional_y * result.beta if p.hedge == "beta" else notional_y
        rich = z > 0  # y rich against x: short y, buy x
        legs = {}
        for symbol, market, quote, notional, side in (
            (candidate.y, market_y, quote_y, notional_y, "sell" if rich else "buy"),
            (candidate.x, market_x, quote_x, notional_x, "buy" if rich else "sell"),
        ):
            price = quote.ask if side == "buy" else quote.bid
            if price <= 0:
                return None
            qty = round_step(notional / price, market.amount_step)
            if qty <= 0 or qty < market.min_amount or qty * price < market.min_notional:
                return None
            if side == "buy" and qty * price * (1 + market.taker_fee) > \
                    WALLET_SPEND_FRACTION * view.balance(exchange, PORTFOLIO_QUOTE):
                return None
            legs[side] = Leg(exchange=exchange, symbol=symbol, side=side, qty=qty, expected_price=price)
        # The long leg first: the margin rule then sees the cash left after paying for it.
        long_leg, short_leg = legs["buy"], legs["sell"]
        band = f">= {p.entry_z:g}" if rich else f"<= {-p.entry_z:g}"
        reason = (
            f"Spread {candidate.label} on {exchange} is {'rich' if rich else 'cheap'}: z {z:+.2f} {band} "
            f"(beta {result.beta:.4f}, alpha {result.alpha:+.4f}, p-value {result.p_value:.4f}, "
            f"{p.lookback_candles}-min window); short {format_qty(short_leg.qty)} {_base(short_leg.symbol)} "
            f"at ~{format_price(short_leg.expected_price)}, long {format_qty(long_leg.qty)} "
            f"{_base(long_leg.symbol)} at ~{format_price(long_leg.expected_price)}"
        )
        # A p-value well below the threshold is the stronger evidence that the spread reverts.
        confidence = 0.5 + 0.5 * max(0.0, 1.0 - result.p_value / p.p_value_max)
        return Signal(strategy=self.name, kind="stat_arb_entry", legs=(long_leg, short_leg), reason=reason,
                      confidence=round(confidence, 4))

    def _exit_signal(self, snapshot: Snapshot, state: _PairState, held: dict[str, PositionView]) -> Signal | None:
        candidate = state.candidate
        positions = (held[candidate.y_asset], held[candidate.x_asset])
        if state.closing_reason:
            return self._close_signal(snapshot, positions, state.closing_reason)
        z = self._zscore(snapshot, state)
        if z is None:
            return None
        p = self.params
        short_spread = positions[0].qty < 0  # entered with y rich (z > 0)
        if (z <= p.exit_z) if short_spread else (z >= -p.exit_z):
            trigger = f"Spread {candidate.label} reverted: z {z:+.2f} (exit at |z| <= {p.exit_z:g})"
        elif (z >= p.stop_z) if short_spread else (z <= -p.stop_z):
            trigger = f"Stop on spread {candidate.label}: z {z:+.2f} beyond stop_z {p.stop_z:g}"
        else:
            return None
        return self._close_signal(snapshot, positions, trigger)

    def _close_signal(self, snapshot: Snapshot, positions: tuple[PositionView, ...], trigger: str) -> Signal | None:
        """Sell every long and buy back every short, per exchange held; None if a leg cannot be formed."""
        sells, buys = [], []
        pnl_usdt = 0.0
        for position in positions:
            symbol = f"{position.asset}/{PORTFOLIO_QUOTE}"
            for exchange, amount in sorted(position.by_exchange.items()):
                market = snapshot.markets.get((exchange, symbol))
                quote = snapshot.quotes.get((exchange, symbol))
                if market is None or quote is None:
                    return None
                qty = round_step(abs(amount), market.amount_step)
                if qty <= 0 or qty < market.min_amount:
                    continue
                if amount > 0:
                    sells.append(Leg(exchange, symbol, "sell", qty, quote.bid))
                    pnl_usdt += (quote.bid - position.avg_cost) * qty - quote.bid * qty * market.taker_fee
                else:
                    buys.append(Leg(exchange, symbol, "buy", qty, quote.ask))
                    pnl_usdt += (position.avg_cost - quote.ask) * qty - quote.ask * qty * market.taker_fee
        legs = tuple(sells + buys)  # sells first: their proceeds pay for buying back the shorts
        if not legs:
            return None
        actions = ", ".join(f"{'sell' if leg.side == 'sell' else 'buy back'} {format_qty(leg.qty)} "
                            f"{_base(leg.symbol)} on {leg.exchange}" for leg in legs)
        reason = f"{trigger}; {actions}; est. P&L {pnl_usdt:+,.2f} USDT after fees"
        return Signal(strategy=self.name, kind="stat_arb_exit", legs=legs, reason=reason,
                      confidence=1.0, closes_position=True)

    # -- market and portfolio data ---------------------------------------------------------------

    def _trading_exchange(self, snapshot: Snapshot, candidate: PairCandidate) -> str | None:
        """params.exchange if it lists both markets, else the first exchange that does."""
        options = (self.params.exchange,) if self.params.exchange is not None else self.exchanges
        for exchange in options:
            if (exchange, candidate.y) in snapshot.markets and (exchange, candidate.x) in snapshot.markets:
                return exchange
        return None

    def _owners(self, held: dict[str, PositionView]) -> set[PairCandidate]:
        """Tested pairs that own a held position: both assets held, one long and one short.

        Each asset goes to at most one pair (the first in order), so two pairs never close the
        same holding; the strategy itself never opens overlapping pairs.
        """
        owners = set()
        taken: set[str] = set()
        for candidate in self.pairs:
            y = held.get(candidate.y_asset)
            x = held.get(candidate.x_asset)
            if y is None or x is None or (y.qty > 0) == (x.qty > 0):
                continue
            if candidate.y_asset in taken or candidate.x_asset in taken:
                continue
            owners.add(candidate)
            taken.update((candidate.y_asset, candidate.x_asset))
        return owners

    @staticmethod
    def _held(snapshot: Snapshot, view: PortfolioView) -> dict[str, PositionView]:
        """This strategy's positions that are more than rounding dust, by asset."""
        held = {}
        for position in view.positions():
            if position is None:
                continue
            symbol = f"{position.asset}/{PORTFOLIO_QUOTE}"
            for exchange, amount in position.by_exchange.items():
                market = snapshot.markets.get((exchange, symbol))
                if market is None or round_step(abs(amount), market.amount_step) >= max(market.min_amount, 1e-12):
                    held[position.asset] = position
                    break
        return held


def _base(symbol: str) -> str:
    return symbol.partition("/")[0]

