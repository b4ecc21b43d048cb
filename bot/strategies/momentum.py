"""Momentum: trend following on 1-minute candles, long only.

Entry: on a closed candle the fast EMA crosses above the slow EMA while RSI is below
rsi_overbought. Size: risk_per_trade_pct of equity is what the stop would lose.
Exit: price reaches the stop or the take-profit (checked on every tick), or the fast EMA is
below the slow EMA on a closed candle. RSI does not trigger exits: in a strong trend RSI stays
overbought for long stretches, and leaving there would cut the very moves the strategy rides
(the take-profit already books extended moves).

Volatility: the standard deviation of 1-minute log returns over volatility_period, scaled by
sqrt(slow) to the horizon of the slow EMA, roughly how long a trend trade lives. Stop and
take-profit are that horizon volatility times stop_volatility_mult / take_profit_volatility_mult
away from the position's average cost, recomputed from history each minute: a restarted bot
derives the same levels with no memory of its own.

Switches for the textbook EMA crossover (the backtesting.py check in tests/test_textbook_backtest.py):
rsi_filter: false enters on every cross up; volatility_exits: false leaves only the trend exit;
order_qty buys a fixed base amount (still within max_position_pct and the wallet) instead of
sizing from risk_per_trade_pct.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from bot.config import MomentumConfig
from bot.models import PORTFOLIO_QUOTE, Leg, PortfolioView, PositionView, Signal, Snapshot, round_step
from bot.lookahead import Lookahead
from bot.strategies.base import Strategy
from bot.strategies.common import (exit_signal, format_price, format_qty, is_dust, recent_closes,
                                    trading_exchange, usdt_symbols)
from bot.strategies.indicators import crossover_last, ema, log_return_volatility_last, rsi, rsi_last, volatility_defined
from bot.strategies.momentum_screen import MomentumScreen

# Leave room in the wallet for the taker fee and for the price moving before the fill.
WALLET_SPEND_FRACTION = 0.95
# The manager values a position at the mark (the mean over exchanges), not at this ask.
POSITION_LIMIT_HEADROOM = 0.99
CANDLE_SECONDS = 60


class _Reading(NamedTuple):
    """Indicator values on the last two closed candles of one market (a tuple: one is made per candle decision)."""

    close: float
    fast_now: float
    fast_previous: float
    slow_now: float
    slow_previous: float
    rsi: float
    volatility_1m: float
    volatility_horizon: float

    @property
    def crossed_up(self) -> bool:
        return self.fast_previous <= self.slow_previous and self.fast_now > self.slow_now

    @property
    def trend_down(self) -> bool:
        return self.fast_now < self.slow_now



class MomentumStrategy(Strategy):
    """EMA crossover with an RSI filter, volatility stops and risk-based position size."""

    name = "momentum"
    allows_short = False
    params: MomentumConfig

    def __init__(self, params: MomentumConfig, exchanges: tuple[str, ...], symbols: tuple[str, ...]):
        super().__init__(params)
        self.exchanges = tuple(exchanges)
        # Only USDT-quoted markets: sizing, equity and P&L are all in USDT.
        self.symbol_by_asset: dict[str, str] = usdt_symbols(symbols)
        self._horizon_factor = math.sqrt(params.slow)
        self._window = self.warmup_candles  # params are fixed for a strategy's life (as _horizon_factor takes them)
        # (exchange, symbol) -> (candle minute, horizon volatility or None). Pure memoisation of
        # what history gives, so that ticks between candles cost a dict lookup.
        self._volatility: dict[tuple[str, str], tuple[int, float | None]] = {}
        # asset -> the stop and take-profit last checked for its position (shown beside it; never traded on).
        self._shown_levels: dict[str, dict] = {}
        self._screen = MomentumScreen(params, self._window, self._horizon_factor)  # quiet_ticks' screen and memos

    @property
    def warmup_candles(self) -> int:
        """Closes read per decision: three slow (or RSI) periods so the SMA seed has faded."""
        p = self.params
        return max(3 * p.slow, 3 * p.rsi_period, p.volatility_period) + 1

    def on_snapshot(self, snapshot: Snapshot, view: PortfolioView) -> list[Signal]:
        """Entries and trend exits on a new candle; stop-loss / take-profit on every tick."""
        if self._shown_levels:
            held = {position.asset for position in view.positions() if position.qty > 0}
            self._shown_levels = {a: v for a, v in self._shown_levels.items() if a in held}
        if snapshot.new_candle:
            return self._on_candle(snapshot, view)
        positions = view.positions()
        if not positions:
            return []
        signals = []
        for position in positions:
            symbol = self.symbol_by_asset.get(position.asset)
            if symbol is None or position.qty <= 0:
                continue
            signal = self._exit_signal(snapshot, position, symbol, reading=None)
            if signal is not None:
                signals.append(signal)
        return signals

    # -- fast-forward screening --------------------------------------------------------------

    def quiet_ticks(self, lookahead: Lookahead, view: PortfolioView) -> int:
        """Ticks before the first one that could give a signal: a closed-candle reading that could
        cross up (any held asset: also trend down), or a stop / take-profit that could trigger.

        Vectorised and conservative (bot/strategies/momentum_screen.py: a margin around every comparison,
        unknowns count as maybe): the ticks it flags run through on_snapshot, which alone decides. Skipped ticks
        leave only the volatility memo and the shown levels stale, and both are recomputed on the
        next tick that reads them.
        """
        p, screen = self.params, self._screen
        n = len(lookahead)
        first = n
        held = {position.asset: position for position in view.positions() if position.qty > 0}
        for asset, symbol in self.symbol_by_asset.items():
            position = held.get(asset)
            for key, ahead in lookahead.markets.items():
                if key[1] != symbol:
                    continue
                if n:
                    first = min(first, screen.first_trend_tick(key, ahead, lookahead.new_candle, position is not None))
                if position is not None and p.volatility_exits and position.avg_cost > 0:
                    first = min(first, screen.first_level_tick(key, ahead, position.avg_cost))
        return first

    # -- per candle -------------------------------------------------------------------------

    def _on_candle(self, snapshot: Snapshot, view: PortfolioView) -> list[Signal]:
        signals = []
        committed: dict[str, float] = {}  # USDT this candle's entries already spend, per exchange
        for asset, symbol in self.symbol_by_asset.items():
            position = view.position(asset)
            if position is not None and position.qty > 0 and not is_dust(snapshot, position, symbol):
                exchange = self._reference_exchange(snapshot, symbol, position)
                if exchange is None:
                    continue
                # A trend exit reads no volatility, and with volatility_exits off no stop or target does.
                reading = self._read(snapshot, exchange, symbol, volatility=self.params.volatility_exits)
                signal = self._exit_signal(snapshot, position, symbol, reading, exchange)
            else:
                exchange = trading_exchange(snapshot, symbol, self.params.exchange, self.exchanges)
                if exchange is None:
                    continue
                reading = self._read(snapshot, exchange, symbol)
                signal = self._entry_signal(snapshot, view, exchange, symbol, reading, committed)
            if signal is not None:
                signals.append(signal)
        return signals

    def _read(self, snapshot: Snapshot, exchange: str, symbol: str, volatility: bool = True) -> _Reading | None:
        """Indicators from the last warmup_candles closes; refreshes the volatility memo.

        The last values only, from a plain list (bot/strategies/indicators.py: crossover_last, rsi_last,
        log_return_volatility_last): the same floats as _indicators' arrays give, a fraction of the cost.
        volatility=False (a caller that reads none): the reading's volatility fields are nan, the memo
        entry is dropped (recomputed when read), and the reading is None exactly when it would be.
        """
        p = self.params
        window = self._window
        closes = recent_closes(snapshot, exchange, symbol, window)
        key = (exchange, symbol)
        values = closes.tolist() if closes is not None else None
        if not volatility:
            self._volatility.pop(key, None)
            defined = values is not None and volatility_defined(values, p.volatility_period)
            volatility_1m = horizon = math.nan if defined else None
        else:
            volatility_1m = (log_return_volatility_last(closes, p.volatility_period, values) if closes is not None
                             else None)
            horizon = volatility_1m * self._horizon_factor if volatility_1m is not None else None
            self._volatility[key] = (self._minute(snapshot), horizon)
        if values is None or len(values) < window or volatility_1m is None:
            return None
        fast_now, fast_previous, slow_now, slow_previous = crossover_last(values, p.fast, p.slow)
        strength = rsi_last(values, p.rsi_period)
        if not (math.isfinite(fast_now) and math.isfinite(fast_previous) and math.isfinite(slow_now)
                and math.isfinite(slow_previous) and math.isfinite(strength)):
            return None
        return _Reading(values[-1], fast_now, fast_previous, slow_now, slow_previous, strength, volatility_1m, horizon)

    def _indicators(self, closes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """EMA fast, EMA slow and RSI over one window of closes (what a decision reads)."""
        p = self.params
        return ema(closes, p.fast), ema(closes, p.slow), rsi(closes, p.rsi_period)

    def indicator_series(self, closes: np.ndarray, start: int) -> dict[str, list[float | None]]:
        """For each candle index from start on, the EMAs and RSI a decision on that candle read.

        closes are a market's candles oldest first; each value comes from the warmup_candles
        closes ending at that candle, as _read takes them (None before a full window).
        """
        window = self.warmup_candles
        series: dict[str, list[float | None]] = {"ema_fast": [], "ema_slow": [], "rsi": []}
        for end in range(start + 1, closes.shape[0] + 1):
            if end < window:
                values = (math.nan, math.nan, math.nan)
            else:
                values = tuple(float(line[-1]) for line in self._indicators(closes[end - window:end]))
            for name, value in zip(series, values):
                series[name].append(value if math.isfinite(value) else None)
        return series

    # -- entries ----------------------------------------------------------------------------

    def _entry_signal(
        self, snapshot: Snapshot, view: PortfolioView, exchange: str, symbol: str, reading: _Reading | None,
        committed: dict[str, float] | None = None,
    ) -> Signal | None:
        p = self.params
        if reading is None or not reading.crossed_up or (p.rsi_filter and reading.rsi >= p.rsi_overbought):
            return None
        quote = snapshot.quotes.get((exchange, symbol))
        market = snapshot.markets.get((exchange, symbol))
        if quote is None or market is None or quote.ask <= 0 or reading.volatility_horizon <= 0:
            return None
        price = quote.ask
        equity = view.equity()
        if equity <= 0:
            return None
        risk_usdt = equity * p.risk_per_trade_pct / 100.0
        stop_distance = p.stop_volatility_mult * reading.volatility_horizon * price
        committed = {} if committed is None else committed
        max_notional = min(
            POSITION_LIMIT_HEADROOM * equity * p.max_position_pct / 100.0,
            WALLET_SPEND_FRACTION * view.balance(exchange, PORTFOLIO_QUOTE) - committed.get(exchange, 0.0),
        )
        wanted = risk_usdt / stop_distance if p.order_qty is None else p.order_qty
        qty = round_step(min(wanted, max_notional / price), market.amount_step)
        notional = qty * price
        if qty <= 0 or qty < market.min_amount or notional < market.min_notional:
            return None
        stop, target = self._levels(price, reading.volatility_horizon)
        # How far the fast EMA cleared the slow one, in 1-minute standard deviations:
        # a bare touch gives 0.5, a decisive break approaches 1.
        gap_sigmas = (reading.fast_now - reading.slow_now) / (reading.close * reading.volatility_1m)
        confidence = min(1.0, max(0.0, 0.5 + 0.5 * math.tanh(gap_sigmas)))
        base = market.base
        reason = (
            f"EMA{p.fast} crossed above EMA{p.slow} on {symbol} "
            f"(RSI {reading.rsi:.1f}, {p.slow}-min vol {reading.volatility_horizon * 100:.2f}%); "
            f"buy {format_qty(qty)} {base} on {exchange} at ~{format_price(price)} "
            f"({notional:,.2f} USDT, risking {min(risk_usdt, qty * stop_distance):,.2f} USDT); "
            f"stop {format_price(stop)}, target {format_price(target)}"
        )
        committed[exchange] = committed.get(exchange, 0.0) + notional * (1 + market.taker_fee)
        leg = Leg(exchange=exchange, symbol=symbol, side="buy", qty=qty, expected_price=price)
        return Signal(
            strategy=self.name, kind="momentum_entry", legs=(leg,), reason=reason, confidence=round(confidence, 4)
        )

    # -- exits ------------------------------------------------------------------------------

    def _exit_signal(
        self, snapshot: Snapshot, position: PositionView, symbol: str, reading: _Reading | None,
        exchange: str | None = None,
    ) -> Signal | None:
        """Exit on stop, take-profit or (with a candle reading) a down trend; else None.
        exchange: _reference_exchange's answer for this snapshot and position, when the caller has it."""
        if exchange is None:
            exchange = self._reference_exchange(snapshot, symbol, position)
            if exchange is None:
                return None
        bid = snapshot.quotes[(exchange, symbol)].bid
        volatility = self._horizon_volatility(snapshot, exchange, symbol) if self.params.volatility_exits else None
        trigger = None
        if volatility is not None and position.avg_cost > 0:
            stop, target = self._levels(position.avg_cost, volatility)
            self._shown_levels[position.asset] = {"asset": position.asset, "symbol": symbol, "exchange": exchange,
                                                  "entry_price": position.avg_cost, "stop": stop,
                                                  "take_profit": target}
            if bid <= stop:
                trigger = f"Stop-loss on {symbol}: bid {format_price(bid)} <= stop {format_price(stop)}"
            elif bid >= target:
                trigger = f"Take-profit on {symbol}: bid {format_price(bid)} >= target {format_price(target)}"
        if trigger is None and reading is not None and reading.trend_down:
            p = self.params
            trigger = f"EMA{p.fast} crossed below EMA{p.slow} on {symbol} (RSI {reading.rsi:.1f})"
        if trigger is None:
            return None
        return exit_signal(self.name, "momentum_exit", snapshot, position, symbol, trigger)

    def exit_levels(self) -> list[dict]:
        """The stop and take-profit of each open position, as last checked (asset, symbol, exchange, levels)."""
        return list(self._shown_levels.values())

    def _levels(self, entry_price: float, volatility_horizon: float) -> tuple[float, float]:
        """(stop, take-profit) around an entry price, never below zero."""
        p = self.params
        stop = entry_price * (1.0 - p.stop_volatility_mult * volatility_horizon)
        target = entry_price * (1.0 + p.take_profit_volatility_mult * volatility_horizon)
        return max(0.0, stop), target

    # -- market data ------------------------------------------------------------------------

    def _reference_exchange(self, snapshot: Snapshot, symbol: str, position: PositionView) -> str | None:
        """Where an open position is watched: the trading exchange, else where it is held."""
        exchange = trading_exchange(snapshot, symbol, self.params.exchange, self.exchanges)
        if exchange is not None and (exchange, symbol) in snapshot.quotes:
            return exchange
        for exchange, held in position.by_exchange.items():
            if held > 0 and (exchange, symbol) in snapshot.quotes:
                return exchange
        return None

    def _horizon_volatility(self, snapshot: Snapshot, exchange: str, symbol: str) -> float | None:
        minute = self._minute(snapshot)
        cached = self._volatility.get((exchange, symbol))
        if cached is not None and cached[0] == minute:
            return cached[1]
        period = self.params.volatility_period
        closes = recent_closes(snapshot, exchange, symbol, period + 1)
        volatility_1m = log_return_volatility_last(closes, period) if closes is not None else None
        horizon = volatility_1m * self._horizon_factor if volatility_1m is not None else None
        self._volatility[(exchange, symbol)] = (minute, horizon)
        return horizon

    @staticmethod
    def _minute(snapshot: Snapshot) -> int:
        return int(snapshot.ts // CANDLE_SECONDS)
