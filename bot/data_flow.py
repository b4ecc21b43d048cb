"""DataFlowManager: from an accepted signal to fills, ledger, portfolio, state file and listeners.

Order matters for crash safety: the ledger line is written (and flushed) before the portfolio
changes and before the state file is replaced, so the ledger is never behind the state; a
crash between the two leaves a stale state file that the next start rebuilds from the ledger.
A failed ledger append (StorageError) leaves the portfolio untouched; a failed state write after
a good append keeps the trades (the ledger has them) and still raises, so the engine pauses.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path
from typing import Callable

from bot.execution.executor import ExecutionResult, PaperExecutor
from bot.accounting.ledger import TradeLedger
from bot.models import Fill, Signal, Snapshot, Trade, iso_utc, parse_iso
from bot.accounting.portfolio import PortfolioTracker
from bot.storage import SCHEMA_VERSION, StorageError, atomic_write_json

log = logging.getLogger(__name__)

STATE_FILE = "portfolio_state.json"
Listener = Callable[[str, object], None]
ListenerErrorReporter = Callable[[str, BaseException], None]
# Called with one signal's trades (as the ledger has them) after they are recorded, before listeners.
TradesHandler = Callable[[list[Trade]], None]


class LiveCache:
    """The latest payload for each dashboard event, built on demand at most once per tick."""

    def __init__(self, builders: dict[str, Callable[[], object]], version: Callable[[], int]):
        self._builders = builders
        self._version = version
        self._cached: dict[str, tuple[int, object]] = {}
        self._lock = threading.Lock()

    def get(self, event: str) -> object:
        """The payload for event as of the engine's current version (built now if the cached one is older)."""
        version = self._version()
        with self._lock:
            hit = self._cached.get(event)
            if hit is not None and hit[0] == version:
                return hit[1]
        payload = self._builders[event]()
        with self._lock:
            self._cached[event] = (version, payload)
        return payload

    def all(self) -> dict[str, object]:
        """Every event's current payload, by event name."""
        return {event: self.get(event) for event in self._builders}


class DataFlowManager:
    """Executes accepted signals and records everything that follows from them."""

    def __init__(self, executor: PaperExecutor, ledger: TradeLedger, portfolio: PortfolioTracker,
                 data_dir: str | Path, fsync: bool = True, activity=None,
                 state_extra: Callable[[], dict] | None = None, on_trades: TradesHandler | None = None):
        self.executor = executor
        self.ledger = ledger
        self.portfolio = portfolio
        self.state_path = Path(data_dir) / STATE_FILE
        self.fsync = fsync
        self.activity = activity
        self.state_extra = state_extra or (lambda: {})
        # The engine's own follow-up to recorded trades (alerts, notifications): a direct call with the
        # Trade objects; the listeners (the dashboard) get the event after it.
        self.on_trades = on_trades
        self._listeners: list[Listener] = []
        self.listener_errors = 0
        # Called with (event, exception) for each failed listener call; the engine counts and reports.
        self.on_listener_error: ListenerErrorReporter | None = None

    # ----- listeners ------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """Call listener(event, payload) for every event; the dashboard attaches here."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        """Stop calling listener."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def emit(self, event: str, payload: object) -> None:
        """Call every listener with (event, payload); a failing listener is counted, never raised."""
        for listener in list(self._listeners):
            try:
                listener(event, payload)
            except Exception as exc:  # noqa: BLE001 - a broken listener must not stop trading
                self.listener_errors += 1
                if self.on_listener_error is not None:
                    self.on_listener_error(event, exc)
                elif self.listener_errors == 1 or self.listener_errors % 100 == 0:
                    log.exception("listener failed on %s (%d failures so far)", event, self.listener_errors)

    # ----- the trade path -------------------------------------------------------------------
    def process_signal(self, signal: Signal, snapshot: Snapshot, *, allows_short: bool) -> ExecutionResult:
        """Fill the signal on paper and record it: ledger, portfolio, state file, on_trades, listeners.

        allows_short: whether the signal's strategy may hold negative positions (Strategy.allows_short).
        """
        result = self.executor.execute(signal, snapshot, self.portfolio, allows_short=allows_short)
        if result.status == "rejected":
            log.debug("signal %s rejected: %s", signal.id, result.reason)
            return result
        trades = self._trades_for(signal, snapshot, result.fills)
        self.ledger.append(trades)  # StorageError here: nothing recorded, so nothing is applied
        for trade in trades:
            self.portfolio.apply(trade)
        state_error = None
        try:
            self.write_state()
        except StorageError as exc:
            state_error = exc  # the trades are in the ledger; the state file is rebuilt from it later
        if self.activity is not None:
            self.activity.record("trades_executed", strategy=signal.strategy, signal_id=signal.id, kind=signal.kind,
                                 trades=[t.id for t in trades], status=result.status, reason=signal.reason)
        if self.on_trades is not None:
            self.on_trades(trades)
        self.emit("trade_executed", list(trades))
        if state_error is not None:
            raise state_error
        return result

    def _trades_for(self, signal: Signal, snapshot: Snapshot, fills: tuple[Fill, ...]) -> list[Trade]:
        status = "partial" if any(f.partial for f in fills) else "filled"
        ts = parse_iso(iso_utc(snapshot.ts))  # whole milliseconds, exactly what the ledger line replays to
        first_seq = self.ledger.next_seq()
        drafts = [
            Trade(id=f"T{first_seq + i:08d}", seq=first_seq + i, ts=ts, tick=snapshot.tick, strategy=signal.strategy,
                  signal_id=signal.id, kind=signal.kind, exchange=f.exchange, symbol=f.symbol, side=f.side,
                  qty=f.qty, price=f.price, fee=f.fee, fee_asset=f.fee_asset, quote_usdt_rate=f.quote_usdt_rate,
                  realized_pnl=0.0, status=status, reason=signal.reason)
            for i, f in enumerate(fills)
        ]
        realized = self.portfolio.realized_for(drafts)
        return [_with_realized(trade, pnl) for trade, pnl in zip(drafts, realized)]

    # ----- state file -----------------------------------------------------------------------
    def state_document(self) -> dict:
        """What portfolio_state.json holds: the books, the equity curve and the engine's state."""
        return {
            "schema_version": SCHEMA_VERSION,
            "last_updated": iso_utc(time.time()),
            **self.portfolio.to_state(),
            **self.state_extra(),
        }

    def write_state(self) -> None:
        """Replace portfolio_state.json atomically with the current books (StorageError: old file kept)."""
        atomic_write_json(self.state_path, self.state_document(), fsync=self.fsync)


def _with_realized(trade: Trade, realized: float) -> Trade:
    return dataclasses.replace(trade, realized_pnl=realized)
