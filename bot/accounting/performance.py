"""PerformanceFigures: round trips kept up to date from the ledger, and the figures built on them.

The facade owns one. sync() feeds the RoundTripBuilder the trades it has not seen through
TradeLedger.since (memory under the engine lock; a large gap, such as the first call after a
start, streams the file outside it). Figures come from bot/accounting/statistics.py and are cached by
ledger sequence (trade figures) and by the size of data/equity.jsonl (risk figures), so a page
or a broadcast that asks again computes nothing.

Per-strategy capital base: the largest capital the strategy had committed at once over the run
(the entry cost of its open round trips, peaked after every fill; for arbitrage, its largest
signal's entry notional). A strategy's value series is that base plus its cumulative net P&L
marked to market (data/equity.jsonl); its risk figures are that series' returns.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable, Mapping

from bot.accounting.equity_log import EquitySeries, read_equity
from bot.timestamps import iso_utc
from bot.accounting.roundtrips import RoundTrip, RoundTripBuilder, open_unrealized
from bot.accounting.statistics import (AUTO_RULE, MIN_PERIODS, bucket_returns, choose_period, downsample_extremes,
                                       drawdown_pct_series, fees_by_kind, histogram, per_symbol, period_label,
                                       risk_metrics, trade_stats)

COOPERATE_EVERY = 2000


class PerformanceFigures:
    """Round trips and every trade and risk figure, for one engine's ledger and equity file."""

    def __init__(self, equity_path: str | Path, period: str | float = "auto"):
        self.equity_path = Path(equity_path)
        self.period = period  # analytics.period: "auto", "hourly", "daily" (tests may give seconds)
        self.builder = RoundTripBuilder()
        self._lock = threading.RLock()
        self._stats_cache: tuple[int, dict] | None = None
        self._series_cache: tuple[int, EquitySeries] | None = None
        self._risk_cache: tuple[tuple, dict] | None = None

    def sync(self, ledger, engine_lock, cooperate: Callable[[], None] | None = None) -> None:
        """Take in every trade the ledger holds that the round trips have not seen."""
        with self._lock:
            with engine_lock:
                fresh = ledger.since(self.builder.seen_seq)
            for number, trade in enumerate(fresh, start=1):
                self.builder.add(trade)
                if cooperate is not None and number % COOPERATE_EVERY == 0:
                    cooperate()

    # ----- trade figures ---------------------------------------------------------------------
    def trips_of(self, strategy: str | None = None) -> list[RoundTrip]:
        """The round trips (closed and open) of one strategy or all, in the order they opened."""
        with self._lock:
            return [t for t in self.builder.trips if strategy is None or t.strategy == strategy]

    def trade_figures(self) -> dict:
        """{"overall": trade_stats, "strategies": {name: trade_stats}}, cached by ledger sequence."""
        with self._lock:
            seq = self.builder.seen_seq
            if self._stats_cache is None or self._stats_cache[0] != seq:
                groups: dict[str, list[RoundTrip]] = {}
                for trip in self.builder.trips:
                    groups.setdefault(trip.strategy, []).append(trip)
                figures = {"overall": trade_stats(self.builder.trips),
                           "strategies": {name: trade_stats(trips) for name, trips in sorted(groups.items())}}
                self._stats_cache = (seq, figures)
            return self._stats_cache[1]

    def capital_base(self, strategy: str) -> float | None:
        """The strategy's largest committed capital so far (None before its first fill)."""
        with self._lock:
            return self.builder.peak_capital_usdt.get(strategy)

    # ----- equity series and risk figures ----------------------------------------------------
    def equity_series(self) -> EquitySeries:
        """The complete data/equity.jsonl as arrays, re-read only when the file has grown."""
        try:
            size = os.stat(self.equity_path).st_size
        except FileNotFoundError:
            size = 0
        with self._lock:
            if self._series_cache is None or self._series_cache[0] != size:
                self._series_cache = (size, read_equity(self.equity_path))
            return self._series_cache[1]

    def period_seconds(self, series: EquitySeries | None = None) -> float:
        """The risk figures' period for the equity history (analytics.period; auto follows its span)."""
        series = self.equity_series() if series is None else series
        span = float(series.times[-1] - series.times[0]) if len(series) else 0.0
        return choose_period(self.period, span)

    def period_info(self) -> dict:
        """The period as the API states it: label, seconds, the setting and how auto decides."""
        seconds = self.period_seconds()
        setting = self.period if isinstance(self.period, str) else f"{seconds:g}s"
        return {"period": period_label(seconds), "period_seconds": seconds, "period_setting": setting,
                "period_rule": AUTO_RULE if setting == "auto" else f"analytics.period: {setting}",
                "min_periods": MIN_PERIODS}

    def risk(self, times, values, period_seconds: float | None = None) -> dict:
        """risk_metrics at this object's period."""
        return risk_metrics(times, values, self.period_seconds() if period_seconds is None else period_seconds)

    def strategy_risk(self, name: str, series: EquitySeries, period_seconds: float | None = None) -> dict:
        """Risk figures of capital base + the strategy's cumulative net P&L; the base included."""
        base = self.capital_base(name)
        values = series.strategies.get(name)
        if not base or values is None:
            return {**self.risk([], [], period_seconds), "capital_base": base}
        return {**self.risk(series.times, base + values, period_seconds), "capital_base": base}

    # ----- round-trip listings ---------------------------------------------------------------
    def listing(self, unrealized_by_position: Mapping[tuple[str, str], float], strategy: str | None = None,
                symbol: str | None = None, status: str | None = None, start: float | None = None,
                end: float | None = None) -> list[dict]:
        """Matching round trips as dicts, newest first. A round trip matches a time range when it
        was open at some moment of it (opened before its end, and open or closed after its start)."""
        with self._lock:
            rows = []
            for trip in reversed(self.builder.trips):
                if strategy is not None and trip.strategy != strategy:
                    continue
                if symbol is not None and symbol not in trip.legs:
                    continue
                if status is not None and trip.status != status:
                    continue
                if end is not None and trip.opened_ts > end:
                    continue
                if start is not None and trip.closed_ts is not None and trip.closed_ts < start:
                    continue
                unrealized = None if trip.closed else open_unrealized(self.builder, trip, unrealized_by_position)
                rows.append(trip.to_dict(unrealized))
            return rows

    def symbols(self) -> set[str]:
        """Every symbol a round trip traded."""
        with self._lock:
            return {symbol for trip in self.builder.trips for symbol in trip.legs}

    def per_symbol(self, strategy: str | None = None) -> dict:
        """trade_stats per symbol for one strategy or all."""
        return per_symbol(self.trips_of(strategy))

    # ----- the answers the facade gives ------------------------------------------------------
    def analytics(self, performance_rows: list[dict]) -> dict:
        """Overall and per-strategy figures: trade figures per round trip, risk figures of the
        equity (overall; "trading" for trading equity) and of each strategy's value series.
        performance_rows are the facade's strategy rows (fills and net P&L with unrealized)."""
        figures = self.trade_figures()
        risk = self._risk_figures()
        rows = {row["strategy"]: row for row in performance_rows}
        names = sorted(set(rows) | set(figures["strategies"]))
        empty = trade_stats([])
        no_risk = {**risk_metrics([], [], risk["equity"]["period_seconds"]), "capital_base": None}  # never traded
        strategies = {}
        for name in names:
            row = rows.get(name, {})
            strategies[name] = {**figures["strategies"].get(name, empty), **risk["strategies"].get(name, no_risk),
                                "trades": row.get("trades", 0), "net_pnl": row.get("net_pnl", 0.0),
                                "per_symbol": self.per_symbol(name)}
        overall = {**figures["overall"], **risk["equity"], "trading": risk["trading"],
                   "trades": sum(row.get("trades", 0) for row in rows.values()),
                   "net_pnl": sum(row.get("net_pnl", 0.0) for row in rows.values()),
                   "per_symbol": self.per_symbol()}
        return {**self.period_info(), "overall": overall, "strategies": strategies}

    def _risk_figures(self) -> dict:
        """Risk figures of every series, cached by equity-file size and ledger sequence."""
        series = self.equity_series()
        with self._lock:
            period = self.period_seconds(series)
            key = (self._series_cache[0] if self._series_cache else 0, self.builder.seen_seq, period)
            if self._risk_cache is None or self._risk_cache[0] != key:
                names = sorted(set(series.strategies) | set(self.builder.peak_capital_usdt))
                figures = {"equity": self.risk(series.times, series.equity, period),
                           "trading": self.risk(series.times, series.trading_equity, period),
                           "strategies": {name: self.strategy_risk(name, series, period) for name in names}}
                self._risk_cache = (key, figures)
            return self._risk_cache[1]

    def distribution(self, bins: int = 20) -> dict:
        """Per strategy: wins, losses and a histogram of its closed round trips' net P&L."""
        groups: dict[str, list[float]] = {}
        for trip in self.trips_of():
            if trip.closed:
                groups.setdefault(trip.strategy, []).append(trip.net_pnl)
        return {name: histogram(nets, bins) for name, nets in sorted(groups.items())}

    def daily_returns(self) -> list[dict]:
        """Per UTC day the run covered (the first and last may be part days): the return of equity
        and of trading equity in %, from the complete series."""
        series = self.equity_series()
        trading = dict(bucket_returns(series.times, series.trading_equity, 86400.0))
        return [{"date": iso_utc(start)[:10], "equity_pct": value * 100.0,
                 "trading_pct": trading[start] * 100.0 if start in trading else None}
                for start, value in bucket_returns(series.times, series.equity, 86400.0)]

    def drawdown_chart(self, max_points: int = 2000) -> dict:
        """[[iso_ts, % below the running peak], ...] of every equity and trading-equity sample,
        downsampled keeping extremes (the deepest point stays)."""
        series = self.equity_series()
        result = {}
        for name, values in (("equity", series.equity), ("trading_equity", series.trading_equity)):
            falls = drawdown_pct_series(values)
            result[name] = [[iso_utc(series.times[i]), float(falls[i])]
                            for i in downsample_extremes(series.times, falls, max_points)]
        return result

    def fees(self) -> dict[str, dict[str, float]]:
        """Fees by kind (entry, exit) per strategy and in total, from every round trip."""
        return fees_by_kind(self.trips_of())

    def chart_series(self, max_points: int = 2000, initial_equity: float | None = None) -> dict:
        """[[iso_ts, value], ...] for equity, trading equity, each strategy's net P&L and, given the
        initial equity, buy and hold (the starting inventory left alone: initial + holdings_pnl)."""
        series = self.equity_series()

        def points(values) -> list:
            return [[iso_utc(series.times[i]), float(values[i])]
                    for i in downsample_extremes(series.times, values, max_points)]

        result = {"equity": points(series.equity), "trading_equity": points(series.trading_equity),
                  "strategies": {name: points(values) for name, values in series.strategies.items()}}
        if initial_equity is not None:
            result["buy_and_hold"] = points(initial_equity + (series.equity - series.trading_equity))
        return result
