"""StrategyManager: runs the enabled strategies, filters their signals, hands the rest on.

The filter is where opportunities become trades or are rejected for a reason that is counted
per strategy: net profit below min_profit_pct, position too large for equity, too many open
positions, the symbol's cooldown, an order of the strategy for the symbol still in flight
("in_flight"), or the market's own answer (a miss, counted under its reason key: price_moved,
liquidity_taken, insufficient_funds, no_book, timeout, other). An order in flight is counted
when its outcome is known (settle). Strategy code is called through one guard, so a strategy
that raises is logged and counted and the others go on.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Protocol

from bot.config import StrategyConfig
from bot.models import Signal, Snapshot, split_symbol
from bot.strategies.base import Strategy

log = logging.getLogger(__name__)


@dataclass(slots=True)
class StrategyCounters:
    """What a strategy proposed and what became of it."""

    opportunities: int = 0
    executed: int = 0
    in_flight: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    last_error: str = ""
    last_rejection: str = ""

    def reject(self, reason: str, detail: str) -> None:
        """Count one rejection under reason and keep detail as the latest."""
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
        self.last_rejection = detail

    def to_dict(self) -> dict:
        """The counters as the dashboard and API show them."""
        return {
            "opportunities": self.opportunities,
            "executed": self.executed,
            "in_flight": self.in_flight,
            "rejected": dict(sorted(self.rejected.items())),
            "rejected_total": sum(self.rejected.values()),
            "errors": self.errors,
            "last_error": self.last_error,
            "last_rejection": self.last_rejection,
        }

    def persisted(self) -> dict:
        """The counts the state file keeps, so a restart goes on counting (not the in-flight ones)."""
        return {"opportunities": self.opportunities, "executed": self.executed,
                "rejected": dict(sorted(self.rejected.items())), "errors": self.errors}

    def restore(self, saved: dict) -> None:
        """Take the counts of a state file written by persisted(); anything malformed is ignored."""
        for name in ("opportunities", "executed", "errors"):
            value = saved.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                setattr(self, name, value)
        rejected = saved.get("rejected")
        if isinstance(rejected, dict):
            self.rejected = {str(k): v for k, v in rejected.items() if isinstance(v, int) and not isinstance(v, bool) and v >= 0}


class SignalProcessor(Protocol):
    """What executes an accepted signal (DataFlowManager.process_signal): returns an object with
    .status ("filled"|"partial"|"rejected"|"pending"), .reason and .reason_key; allows_short is
    Strategy.allows_short. A "pending" order's outcome comes later through settle()."""

    def __call__(self, signal: Signal, snapshot: Snapshot, *, allows_short: bool) -> object: ...


ErrorReporter = Callable[[str, str], None]


class StrategyManager:
    """Owns the strategies, their enabled flags, risk limits and counters."""

    def __init__(self, strategies: list[Strategy], configs: dict[str, StrategyConfig], portfolio,
                 process: SignalProcessor, on_error: ErrorReporter | None = None):
        self.strategies = {s.name: s for s in strategies}
        self.configs = configs
        self.portfolio = portfolio
        self.process = process
        self.on_error = on_error
        self.enabled = {name: configs[name].enabled for name in self.strategies}
        self.counters = {name: StrategyCounters() for name in self.strategies}
        self._views = {name: portfolio.view_for(name) for name in self.strategies}
        self._last_trade_ts: dict[tuple[str, str], float] = {}
        self._in_flight: dict[tuple[str, str], str] = {}  # (strategy, symbol) -> signal id
        self._signal_number = 0
        self._signal_tick = -1

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Switch a strategy on or off; KeyError naming the known ones for an unknown name."""
        if name not in self.strategies:
            raise KeyError(f"unknown strategy {name!r}; known: {', '.join(sorted(self.strategies))}")
        self.enabled[name] = enabled

    def run(self, snapshot: Snapshot) -> int:
        """Run every enabled strategy on the snapshot; returns how many signals were executed."""
        executed = 0
        for name, strategy in self.strategies.items():
            if not self.enabled[name]:
                continue
            signals = self._guarded(strategy, snapshot)
            for signal in signals:
                if self._consider(strategy, signal, snapshot):
                    executed += 1
        return executed

    def _guarded(self, strategy: Strategy, snapshot: Snapshot) -> list[Signal]:
        try:
            signals = strategy.on_snapshot(snapshot, self._views[strategy.name])
            return list(signals or ())
        except Exception as exc:  # noqa: BLE001 - user-level strategy code must not stop the loop
            counters = self.counters[strategy.name]
            counters.errors += 1
            counters.last_error = f"{type(exc).__name__}: {exc}"
            # The first error gets a traceback; after that a line now and then, not a flood.
            if counters.errors == 1:
                log.exception("strategy %s raised at tick %d", strategy.name, snapshot.tick)
            elif counters.errors % 100 == 0:
                log.error("strategy %s has raised %d times; last: %s", strategy.name, counters.errors, counters.last_error)
            if self.on_error is not None:
                self.on_error(strategy.name, counters.last_error)
            return []

    def _consider(self, strategy: Strategy, signal: Signal, snapshot: Snapshot) -> bool:
        counters = self.counters[strategy.name]
        counters.opportunities += 1
        verdict = self.check(strategy, signal, snapshot)
        if verdict is not None:
            counters.reject(*verdict)
            return False
        signal = signal.as_sent(strategy.name, self._next_signal_id(strategy.name, snapshot.tick))
        result = self.process(signal, snapshot, allows_short=strategy.allows_short)
        if result.status == "pending":
            counters.in_flight += 1
            for leg in signal.legs:
                self._in_flight[(strategy.name, leg.symbol)] = signal.id
            return False
        return self._count(signal, result, snapshot.ts)

    def settle(self, signal: Signal, result, ts: float) -> None:
        """The outcome of an order that was in flight (DataFlowManager.on_outcome): count it."""
        counters = self.counters.get(signal.strategy)
        if counters is None:
            return
        counters.in_flight = max(0, counters.in_flight - 1)
        for leg in signal.legs:
            if self._in_flight.get((signal.strategy, leg.symbol)) == signal.id:
                del self._in_flight[(signal.strategy, leg.symbol)]
        self._count(signal, result, ts)

    def _count(self, signal: Signal, result, ts: float) -> bool:
        counters = self.counters[signal.strategy]
        if result.status == "rejected":
            counters.reject(getattr(result, "reason_key", "") or "other", result.reason)
            return False
        counters.executed += 1
        for leg in signal.legs:
            self._last_trade_ts[(signal.strategy, leg.symbol)] = ts
        return True

    def _next_signal_id(self, name: str, tick: int) -> str:
        if tick != self._signal_tick:
            self._signal_tick = tick
            self._signal_number = 0
        self._signal_number += 1
        return f"{name}-{tick}-{self._signal_number}"

    def check(self, strategy: Strategy, signal: Signal, snapshot: Snapshot) -> tuple[str, str] | None:
        """Why the signal must not trade, as (reason key, sentence), or None when it may."""
        params = self.configs[strategy.name]
        if not signal.legs:
            return ("invalid", "signal has no legs")
        for leg in signal.legs:
            waiting = self._in_flight.get((strategy.name, leg.symbol))
            if waiting is not None:
                return ("in_flight", f"order {waiting} for {leg.symbol} is still on its way")
        if signal.expected_profit_pct is not None and signal.expected_profit_pct < params.min_profit_pct:
            return ("below_min_profit", f"net {signal.expected_profit_pct:.4f}% < min_profit_pct {params.min_profit_pct:g}%")
        if signal.closes_position:
            return None
        for leg in signal.legs:
            last = self._last_trade_ts.get((strategy.name, leg.symbol))
            if last is not None and snapshot.ts - last < params.cooldown_seconds:
                return ("cooldown", f"{leg.symbol} traded {snapshot.ts - last:.0f}s ago (cooldown {params.cooldown_seconds:g}s)")
        changes = self._net_base_changes(signal)
        name, portfolio = strategy.name, self.portfolio
        held = {asset: portfolio.position_view(name, asset) for asset in changes}  # None when flat
        opening = [asset for asset, qty in changes.items() if abs(qty) > 0 and held[asset] is None]
        if opening:
            open_count = len(portfolio.open_positions(name))
            if open_count + len(opening) > params.max_open_positions:
                return ("max_open_positions", f"{open_count} open, limit {params.max_open_positions}")
        equity = portfolio.equity()
        limit = equity * params.max_position_pct / 100.0
        marks = portfolio.marks()
        for asset, change in changes.items():
            before = held[asset].qty if held[asset] is not None else 0.0
            after = before + change
            value = abs(after) * marks.get(asset, 0.0)
            if value > limit + 1e-9 and abs(after) > abs(before):
                return ("max_position", f"{asset} position would be {value:.2f} USDT, limit "
                                        f"{params.max_position_pct:g}% of equity = {limit:.2f}")
        return None

    @staticmethod
    def _net_base_changes(signal: Signal) -> dict[str, float]:
        changes: dict[str, float] = {}
        for leg in signal.legs:
            base, _ = split_symbol(leg.symbol)
            sign = 1.0 if leg.side == "buy" else -1.0
            changes[base] = changes.get(base, 0.0) + sign * leg.qty
        # Multi-leg arbitrage nets to (almost) nothing per asset: not a position being opened.
        return {asset: qty for asset, qty in changes.items() if abs(qty) > 1e-9}

    def stats(self) -> dict[str, dict]:
        """Per strategy: enabled and its counters."""
        return {name: {"enabled": self.enabled[name], **self.counters[name].to_dict()} for name in self.strategies}
