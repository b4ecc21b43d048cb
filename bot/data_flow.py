"""DataFlowManager: from an accepted signal to fills, ledger, portfolio, state file and listeners.

A signal becomes an order in flight (bot/execution/orders.py): it reaches each leg's exchange
after that exchange's latency and fills against the book it meets there, net of what our
earlier fills took (bot/execution/liquidity.py). With latency 0 it fills at once on the
decision snapshot. Each tick the engine first delivers the orders that have arrived
(deliver_due), then runs the strategies; while trading is paused, orders already sent still land. An order that does not fill is a miss: a line of
data/misses.jsonl, an activity record and the manager's counter for its reason.

Order matters for crash safety: the ledger line is written (and flushed) before the portfolio
changes and before the state file is replaced, so the ledger is never behind the state; a
crash between the two leaves a stale state file that the next start rebuilds from the ledger.
A failed ledger append (StorageError) leaves the portfolio and the liquidity memory untouched
(the order goes back in flight with the books it met, and is filled on them once the disk takes
it); a failed state write after a good append keeps the trades
(the ledger has them) and still raises, so the engine pauses. A failed miss write is reported
as side work (on_side_error) and never touches the trades.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import fields
from pathlib import Path
from typing import Callable, Iterable

from bot.execution.executor import ExecutionResult, PaperExecutor
from bot.execution.liquidity import LiquidityView
from bot.execution.misses import MissLog, miss_record
from bot.execution.orders import Order, OrdersInFlight
from bot.accounting.ledger import TradeLedger
from bot.models import Fill, Signal, Snapshot, Trade, fast_constructor
from bot.timestamps import iso_utc, whole_ms
from bot.accounting.portfolio import PortfolioTracker
from bot.accounting.state_encoding import StateEncoder
from bot.storage import SCHEMA_VERSION, StorageError, atomic_write_text

log = logging.getLogger(__name__)

STATE_FILE = "portfolio_state.json"
Listener = Callable[[str, object], None]
ListenerErrorReporter = Callable[[str, BaseException], None]
# Called with one signal's trades (as the ledger has them) after they are recorded, before listeners.
TradesHandler = Callable[[list[Trade]], None]
# Told the outcome of an order that was in flight: (signal, result, market time of the outcome).
OutcomeHandler = Callable[[Signal, ExecutionResult, float], None]
# The market source's note of one of our fills (MarketSource.note_fill: market impact).
FillNote = Callable[..., None]
CANCELLED_AT_SHUTDOWN = "cancelled at shutdown"


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
    """Executes accepted signals (now or once their orders arrive) and records everything that follows."""

    def __init__(self, executor: PaperExecutor, ledger: TradeLedger, portfolio: PortfolioTracker,
                 data_dir: str | Path, fsync: bool = True, activity=None,
                 state_extra: Callable[[], dict] | None = None, on_trades: TradesHandler | None = None,
                 orders: OrdersInFlight | None = None):
        self.executor = executor
        self.ledger = ledger
        self.portfolio = portfolio
        self.state_path = Path(data_dir) / STATE_FILE
        self._state_encoder = StateEncoder()
        self.fsync = fsync
        # False in a fast-forwarded backtest or replay (bot/fast_forward.py): the state file is then a
        # periodic checkpoint, and the ledger, written first as ever, is what the books are rebuilt from.
        # The books' own entries (transfers, borrow fees, margin calls) follow it too (write_state_after).
        self.state_after_trades = True
        self.activity = activity
        self.state_extra = state_extra or (lambda: {})
        # The engine's own follow-up to recorded trades (alerts, notifications): a direct call with the
        # Trade objects; the listeners (the dashboard) get the event after it.
        self.on_trades = on_trades
        self.orders = orders
        self.misses = MissLog(data_dir)
        self.on_outcome: OutcomeHandler | None = None  # the StrategyManager's settle
        self.note_fill: FillNote | None = None  # the market source's (impact on the simulator)
        # Called with (part, exception) for failed side work (a miss line, the impact note).
        self.on_side_error: ListenerErrorReporter | None = None
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

    # ----- the market as our orders see it ---------------------------------------------------
    def market_view(self, snapshot: Snapshot) -> Snapshot:
        """The snapshot with every book net of what our fills took (what strategies and orders see)."""
        memory = self.executor.liquidity
        if not memory.enabled:
            return snapshot
        memory.prune(snapshot.ts)
        return snapshot.with_book_reader(LiquidityView(snapshot.book_reader, memory))

    def restore(self, trades: Iterable[Trade]) -> int:
        """After a restart: replay the ledger's fills into the liquidity memory and the source's impact."""
        count = 0
        memory = self.executor.liquidity
        for trade in trades:
            memory.remember(trade)
            memory.prune(trade.ts)
            self._note_fill(trade)
            count += 1
        return count

    # ----- the trade path -------------------------------------------------------------------
    def process_signal(self, signal: Signal, snapshot: Snapshot, *, allows_short: bool) -> ExecutionResult:
        """Send the signal's order: filled and recorded now when every leg's latency is 0, else
        "pending" (deliver_due fills it on arrival and tells on_outcome).

        allows_short: whether the signal's strategy may hold negative positions (Strategy.allows_short).
        """
        if self.orders is None:
            order = Order(signal, snapshot, allows_short, (), [snapshot] * len(signal.legs))
        else:
            order = self.orders.make(signal, snapshot, allows_short)
            if not order.ready:
                self.orders.add(order)
                return ExecutionResult("pending")
        result, state_error = self._complete(order, snapshot)
        if state_error is not None:
            raise state_error
        return result

    def deliver_due(self, snapshot: Snapshot) -> int:
        """Fill the orders in flight that have met their books by this snapshot; record expired ones
        as misses. Returns how many orders were settled. Runs before the strategies each tick."""
        if not self.orders:
            return 0
        ready, expired = self.orders.advance(snapshot)
        state_error = None
        for number, order in enumerate(ready):
            try:
                result, failed_write = self._complete(order, snapshot)
            except StorageError:
                for unsettled in ready[number:]:  # nothing of these was recorded: they wait for the disk,
                    self.orders.add(unsettled)  # still holding the books they met on arrival
                raise
            state_error = state_error or failed_write  # recorded in the ledger all the same: settled
            self._tell(order, result, snapshot.ts)
        for order in expired:
            reason = (f"no fresh book within execution.order_timeout_seconds "
                      f"({self.orders.timeout_seconds:g}s) of the decision")
            self._tell(order, self._missed(order, snapshot.tick, snapshot.ts, "timeout", reason, None), snapshot.ts)
        if state_error is not None:
            raise state_error
        return len(ready) + len(expired)

    def cancel_in_flight(self, tick: int, ts: float) -> int:
        """At shutdown: every order still in flight is a miss ("cancelled at shutdown")."""
        if not self.orders:
            return 0
        cancelled = self.orders.cancel_all()
        for order in cancelled:
            self._tell(order, self._missed(order, tick, ts, "other", CANCELLED_AT_SHUTDOWN, None), ts)
        return len(cancelled)

    def _tell(self, order: Order, result: ExecutionResult, ts: float) -> None:
        if self.on_outcome is not None:
            self.on_outcome(order.signal, result, ts)

    def _complete(self, order: Order, snapshot: Snapshot) -> tuple[ExecutionResult, StorageError | None]:
        """Fill an order that has met its books and record it; a refusal becomes a miss. Raises
        StorageError when the ledger refused it (nothing recorded); returns a failed state write
        (the trades are recorded) for the caller to raise once the order is settled."""
        signal = order.signal
        fill_ts = whole_ms(snapshot.ts)  # whole milliseconds, exactly what the ledger line replays to
        result = self.executor.execute(signal, snapshot, self.portfolio, allows_short=order.allows_short,
                                       arrivals=order.arrivals, fill_ts=fill_ts)
        if result.status == "rejected":
            log.debug("signal %s missed: %s", signal.id, result.reason)
            return self._missed(order, snapshot.tick, snapshot.ts, result.reason_key, result.reason,
                                order.latency_ms(), result), None
        return self._record(order, snapshot, result, fill_ts)

    def execute_now(self, signal: Signal, snapshot: Snapshot, allows_short: bool = False
                    ) -> tuple[ExecutionResult, list[Trade]]:
        """Fill a signal on this snapshot at once (a resting order that arrived and crosses) and record it;
        returns the result and the trades as the ledger has them. Raises StorageError as _complete does."""
        order = Order(signal, snapshot, allows_short, (), [snapshot] * len(signal.legs))
        result, state_error = self._complete(order, snapshot)
        if state_error is not None:
            raise state_error
        return result, list(self.ledger.recent(len(result.fills)))[::-1] if result.fills else []

    def record_fills(self, signal: Signal, decision: Snapshot, snapshot: Snapshot, fills: tuple[Fill, ...]
                     ) -> list[Trade]:
        """Record fills made outside the executor (resting orders' maker fills): ledger, portfolio, state.
        Raises StorageError when the ledger refused them (nothing recorded) or the state write failed."""
        order = Order(signal, decision, False, (), [snapshot] * len(signal.legs))
        result = ExecutionResult("filled", tuple(fills))
        _, state_error = self._record(order, snapshot, result, whole_ms(snapshot.ts))
        if state_error is not None:
            raise state_error
        return list(self.ledger.recent(len(fills)))[::-1]

    def _record(self, order: Order, snapshot: Snapshot, result: ExecutionResult, fill_ts: float
                ) -> tuple[ExecutionResult, StorageError | None]:
        signal = order.signal
        trades = self._trades_for(order, snapshot, result.fills, fill_ts)
        try:
            self.ledger.append(trades)  # StorageError here: nothing recorded, so nothing is applied
        except StorageError:
            self.executor.liquidity.rollback(result.takes)
            raise
        for trade in trades:
            self.portfolio.apply(trade)
        if self.note_fill is not None:
            for trade in trades:
                self._note_fill(trade)
        state_error = None
        try:
            if self.state_after_trades:
                self.write_state()
        except StorageError as exc:
            state_error = exc  # the trades are in the ledger; the state file is rebuilt from it later
        if self.activity is not None:
            self.activity.trades_executed(signal.strategy, signal.id, signal.kind, [t.id for t in trades],
                                          result.status, signal.reason)
        if self.on_trades is not None:
            self.on_trades(trades)
        if self._listeners:  # nobody listening (a backtest): no event to build
            self.emit("trade_executed", list(trades))
        return result, state_error

    def _missed(self, order: Order, tick: int, ts: float, reason_key: str, reason: str,
                latency_ms: float | None, result: ExecutionResult | None = None) -> ExecutionResult:
        """Record a miss (file, activity log) and return the rejected result the manager counts."""
        signal = order.signal
        try:
            self.misses.append(miss_record(signal, tick, ts, order.decision.ts, reason_key, reason, latency_ms))
        except Exception as exc:  # noqa: BLE001 - a miss line must never cost a trade or stop the tick
            self._side_failed("misses", exc)
        if self.activity is not None:
            self.activity.record("order_missed", strategy=signal.strategy, signal_id=signal.id, kind=signal.kind,
                                 reason_key=reason_key, reason=reason, latency_ms=latency_ms)
        return result or ExecutionResult("rejected", reason=reason, reason_key=reason_key)

    def _note_fill(self, trade: Trade) -> None:
        if self.note_fill is None:
            return
        share = (trade.liquidity_taken_pct or 0.0) / 100.0
        try:
            self.note_fill(trade.exchange, trade.symbol, trade.side, trade.qty, trade.price, trade.ts,
                           depth_share=share)
        except Exception as exc:  # noqa: BLE001 - the market's reaction must not undo a recorded trade
            self._side_failed("impact", exc)

    def _side_failed(self, part: str, exc: BaseException) -> None:
        if self.on_side_error is not None:
            self.on_side_error(part, exc)
        else:
            log.error("%s failed: %s", part, exc)

    def _trades_for(self, order: Order, snapshot: Snapshot, fills: tuple[Fill, ...], ts: float) -> list[Trade]:
        signal, decision = order.signal, order.decision
        status = "filled"
        for f in fills:
            if f.partial:
                status = "partial"
                break
        decision_at, quotes = decision.ts, decision.quotes
        decision_ts = whole_ms(decision_at)
        tick, strategy, signal_id, kind, reason = snapshot.tick, signal.strategy, signal.id, signal.kind, signal.reason
        seq = self.ledger.next_seq()
        drafts = []
        for f in fills:
            quote = quotes.get((f.exchange, f.symbol))
            book_ts = f.book_ts
            drafts.append(_draft_trade(
                f"T{seq:08d}", seq, ts, tick, strategy, signal_id, kind, f.exchange, f.symbol, f.side, f.qty, f.price,
                f.fee, f.fee_asset, f.quote_usdt_rate, 0.0, status, reason, decision_ts,
                quote.mid if quote is not None else None,
                round((book_ts - decision_at) * 1000.0, 3) if book_ts is not None else None,
                f.liquidity_taken_pct, f.levels_taken))
            seq += 1
        realized = self.portfolio.realized_for(drafts)
        for trade, pnl in zip(drafts, realized):
            _REALIZED_PNL.__set__(trade, pnl)
        return drafts

    # ----- state file -----------------------------------------------------------------------
    def state_document(self, raw_curve: bool = False) -> dict:
        """What portfolio_state.json holds: the books, the equity curve and the engine's state."""
        return {
            "schema_version": SCHEMA_VERSION,
            "last_updated": iso_utc(time.time()),
            **self.portfolio.to_state(raw_curve),
            **self.state_extra(),
        }

    def write_state_after(self) -> None:
        """write_state after ledger lines the books recorded, unless the state file is a periodic checkpoint
        (state_after_trades off: a fast-forwarded run, whose checkpoint and close write it)."""
        if self.state_after_trades:
            self.write_state()

    def write_state(self) -> None:
        """Replace portfolio_state.json atomically with the current books (StorageError: old file kept)."""
        # The curve's points are encoded once each (bot/accounting/state_encoding.py): the same text.
        atomic_write_text(self.state_path, self._state_encoder.encode(self.state_document(raw_curve=True)),
                          fsync=self.fsync, mode=None)


_REALIZED_PNL = Trade.__dict__["realized_pnl"]  # the slot's descriptor: sets a frozen field on a private draft
# Trade(*values) through its slots: a draft is this call's own (nothing else holds it until realized_for has
# seen it and its realized P&L is set).
_draft_trade = fast_constructor(Trade, tuple(f.name for f in fields(Trade)))
