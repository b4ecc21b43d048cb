"""BotEngine: wires the pieces, recovers state, runs the tick, kill switch.

What drives the ticks (back to back or on a real-time schedule) is bot/tick_loop.py; what the
engine tells the user (activity lines, notifications) is bot/notify/notices.py; start/pause/stop,
a strategy's switch, speed and the storage-fault pause are bot/engine_controls.py.

The engine owns its data dir through a lock taken before anything there is read. A storage
fault pauses trading ("storage: <cause>") until a probe write succeeds; per-tick side work runs
under FaultTracker guards so its failures never stop the strategies.
"""
from __future__ import annotations

import gc
import logging
import threading
import time
from pathlib import Path
from typing import Callable

from bot.notify.activity import ActivityLog
from bot.notify.alerts import AlertEngine
from bot.chart_data import CandleArchive
from bot.commands import CommandHandler
from bot.config import BotConfig
from bot.data_flow import DataFlowManager, LiveCache
from bot.drawdown import DrawdownMeter
from bot.accounting.books import BooksKeeper, margin_rules
from bot.accounting.equity_log import EquityLog
from bot.engine_controls import EngineControls
from bot.engine_state import EngineState
from bot.execution.executor import PaperExecutor
from bot.execution.orders import OrdersInFlight
from bot.execution.resting_desk import RestingDesk
from bot.faults import FaultTracker
from bot.accounting.ledger import TradeLedger
from bot.market.base import MarketSource, SourceExhausted
from bot.market.sources import build_source
from bot.models import Snapshot, Trade
from bot.notify.notices import EngineNotices
from bot.notify.notifications import NotificationService
from bot.notify.telegram_commands import start_telegram
from bot.accounting.portfolio import PortfolioTracker
from bot.accounting.recovery import recover_books
from bot.run_settings import write_run_settings
from bot.storage import DataDirLock, StorageError, prepare_dir, remove_stale_temp_files
from bot.strategies.base import Strategy
from bot.strategies.manager import StrategyManager
from bot.tick_loop import TickLoop

log = logging.getLogger(__name__)

# Wall-clock seconds between state-file writes when no trade forces one.
STATE_WRITE_SECONDS = 5.0
# The states the tick compares with, looked up once (an Enum member's lookup on its class costs more
# than the comparison itself, and the tick makes several).
_RUNNING, _PAUSED, _STOPPED = EngineState.RUNNING, EngineState.PAUSED, EngineState.STOPPED
_RUNNING_OR_PAUSED = (_RUNNING, _PAUSED)


class BotEngine(EngineControls):
    """The running bot. Every mutation happens under self.lock, so readers see whole ticks."""

    def __init__(self, config: BotConfig, data_dir: str | Path | None = None, log_dir: str | Path | None = None,
                 source: MarketSource | None = None, strategies: list[Strategy] | None = None,
                 strategy_configs: dict | None = None, runner=None):
        self.config = config
        self.data_dir = prepare_dir(data_dir or config.storage.data_dir, "data dir")
        self.log_dir = prepare_dir(log_dir or config.storage.log_dir, "log dir")
        self.data_lock = DataDirLock(self.data_dir)
        self.lock = threading.RLock()
        self.source = source or build_source(config, runner)
        if config.recording.record:  # every snapshot to data/recordings/<start>/, off the tick path
            from bot.market.recorder import RecordingSource

            self.source = RecordingSource(self.source, config, self.data_dir, self.source_tick_seconds())
        if strategies is None:
            from bot.strategies.registry import build_strategies

            strategies, strategy_configs = build_strategies(config, self.source.exchanges, self.source.symbols,
                                                            runner=runner)
        self.activity = ActivityLog(self.log_dir)
        self.faults = FaultTracker(self.activity.record)
        self.faults.on_storage_error = self._storage_failed
        self.ledger = TradeLedger(self.data_dir, fsync=config.storage.fsync)
        self.equity_log = EquityLog(self.data_dir)  # every equity sample, data/equity.jsonl
        # Built once, by open(), from the ledger (the books exist only once the data dir is read).
        self.portfolio: PortfolioTracker | None = None
        self.executor = PaperExecutor(config.execution, config.portfolio.short_margin_ratio)
        self.data_flow = DataFlowManager(self.executor, self.ledger, None, self.data_dir,
                                         fsync=config.storage.fsync, activity=self.activity,
                                         state_extra=self._engine_state, on_trades=self._trades_recorded,
                                         orders=OrdersInFlight(config.execution))
        self.data_flow.on_side_error = self.faults.side_failed  # a miss line or impact note that failed
        self.data_flow.note_fill = self.source.note_fill  # our fills move the simulated market
        # Resting limit and stop orders (the order ticket, the API), data/orders.jsonl.
        self.desk = RestingDesk(config.execution, self.source, self.data_flow, self.data_dir, fsync=config.storage.fsync,
                                shorting=frozenset(s.name for s in strategies if s.allows_short))
        self.notifications = NotificationService(config.notifications, self.log_dir,
                                                 emit=lambda note: self.data_flow.emit("notification", note))
        self.notices = EngineNotices(self.activity, self.notifications, self.faults)
        self.alerts = AlertEngine(self.data_dir, notify=self.notices.alert_fired, fsync=config.storage.fsync)
        self.commands = CommandHandler(self)
        self.data_flow.on_listener_error = lambda _event, exc: self.faults.side_failed("listeners", exc)
        self._strategies = strategies
        self._strategy_configs = strategy_configs or {}
        # Shorts' margin (collateral, borrow, maintenance) for the strategies that declare shorts.
        self.margin_rules = margin_rules(config, {s.name for s in strategies if s.allows_short})
        self.books: BooksKeeper | None = None
        self.manager: StrategyManager | None = None
        self.state = EngineState.STOPPED
        self.pause_reason = ""
        self.kill_switch: dict | None = None
        self.drawdown = DrawdownMeter(config.risk.drawdown_basis)  # the kill switch's peaks (bot/drawdown.py)
        self.last_snapshot: Snapshot | None = None
        self.candle_archive = CandleArchive()  # every closed candle since the start, for the price chart
        self.ticks_run = 0
        self.fast_forward = None  # the last run_fast's FastForward (bot/fast_forward.py), if it skipped in bulk
        self.next_tick = 0
        self.version = 0
        self.speed = config.market.speed  # simulated seconds per wall second (the dashboard can change it)
        self.loop = TickLoop(self.tick, self.tick_guarded, lambda: self.ticks_run, self._tick_interval())
        self._last_state_write = 0.0
        self.cache = None
        self.telegram = None  # the Telegram command poller, once open() has started it

    # ----- start-up -------------------------------------------------------------------------
    def _default_starting_balances(self) -> dict[str, dict[str, float]]:
        return {ex: dict(self.config.portfolio.starting_balances) for ex in self.source.exchanges}

    def _new_tracker(self, starting_balances) -> PortfolioTracker:
        return PortfolioTracker(starting_balances, self.config.storage.equity_history_points,
                                self.config.engine.equity_sample_seconds, margin=self.margin_rules)

    def open(self) -> list[str]:
        """Lock the data dir, load the ledger and state, rebuild the books, position the market;
        returns warnings.

        Raises DataDirInUse when another process holds the data dir, CorruptFileError when the
        ledger is damaged anywhere but its last line (nothing is modified then), StorageError
        when the data dir cannot be written. On any of them the lock is let go.
        """
        self.data_lock.acquire()
        try:
            return self._open_locked()
        except BaseException:
            self.data_lock.release()
            raise

    def _open_locked(self) -> list[str]:
        recovered = recover_books(self.data_dir, self.ledger, self._default_starting_balances(), self._new_tracker)
        remove_stale_temp_files(self.data_dir)
        warnings = recovered.warnings + self.alerts.load()
        tracker, saved, resume_tick = recovered.tracker, recovered.saved, recovered.resume_tick
        self.portfolio = self.data_flow.portfolio = tracker
        warnings += self.desk.restore(self.ledger.iter_all())  # open orders, queue places included
        tracker.order_reserve = self.desk.reserved  # what they hold, no one may spend
        self.manager = StrategyManager(self._strategies, self._strategy_configs, tracker,
                                       self.data_flow.process_signal, on_error=self._strategy_error)
        self.data_flow.on_outcome = self.manager.settle  # orders in flight are counted when they land
        if saved and isinstance(saved.get("engine"), dict):
            self.drawdown.restore(saved["engine"].get("trading_peak_equity"))
        self.books = BooksKeeper(self.config, self.ledger, tracker, self.data_flow.write_state_after,
                                 self.data_flow.process_signal, self.notices.books)
        if saved and isinstance(saved.get("engine", {}).get("enabled"), dict):
            for name, enabled in saved["engine"]["enabled"].items():
                if name in self.manager.enabled and isinstance(enabled, bool):
                    self.manager.enabled[name] = enabled
        if saved and isinstance(saved.get("engine", {}).get("counters"), dict):
            for name, counts in saved["engine"]["counters"].items():
                if name in self.manager.counters and isinstance(counts, dict):
                    self.manager.counters[name].restore(counts)
        self._restore_speed(saved)
        self.next_tick = resume_tick
        self.source.seek(resume_tick)
        # Liquidity memory and market impact are functions of our fills: the same market continues.
        self.data_flow.restore(self.ledger.iter_all())
        for warning in warnings:
            log.warning(warning)
            self.activity.record("errors", kind="state_recovery", message=warning)
        from bot.facade import BotFacade
        from bot.payloads import update_builders

        self.facade = BotFacade(self)
        # One builder per event, shared with the REST twins (bot/payloads.py).
        self.cache = LiveCache(update_builders(self.facade), version=lambda: self.version)
        self.state = EngineState.RUNNING
        # The first write: a full or read-only data dir stops the start here, before "started" is said.
        self.data_flow.write_state()
        write_run_settings(self.data_dir, self.config, resume_tick, fsync=self.config.storage.fsync)  # for the report
        self.activity.record("bot_started", market=self.source.kind, resume_tick=resume_tick,
                             trades_in_ledger=self.ledger.count, data_dir=str(self.data_dir))
        self.notices.notify("bot_status", f"Bot started on the {self.source.description}", level="info",
                            state=EngineState.RUNNING)
        self.telegram = start_telegram(self)  # commands from the allowed chats, on a thread of its own
        return warnings

    # ----- the tick -------------------------------------------------------------------------
    def tick(self) -> Snapshot | None:
        """One pass of the data flow: market, marks, kill switch, strategies, fills.

        A stopped engine does not advance the market; a paused one marks but does not trade.
        Side work (market events, marks, alerts) runs guarded; a storage fault pauses trading.
        """
        with self.lock:
            if self.state == _STOPPED:
                return self.last_snapshot
            if getattr(self.source, "finished", False):  # stored data (candles) ran out: the run is over
                self.loop.request_stop()
                return self.last_snapshot
            try:
                raw = self.source.next_snapshot()
            except SourceExhausted as exc:  # the end of a replayed recording: stop here
                if not self.loop.wait_for_stop(0):
                    log.info("%s; stopping", exc)
                    self._record_quietly("market_finished", message=str(exc))
                    self.request_stop()
                return self.last_snapshot
            snapshot = self.data_flow.market_view(raw)  # books net of our takes
            for event in self.source.drain_events():
                self.faults.guard("notifications", self.notices.market_event, event)
            self.last_snapshot = snapshot
            self.next_tick = snapshot.tick + 1
            self.faults.guard("chart", self.candle_archive.note, snapshot)
            sampled = self.faults.guard("equity", self.portfolio.mark, snapshot, default=False)
            if sampled:  # every sample also goes to data/equity.jsonl, and may raise the kill switch's peaks
                self.faults.guard("equity", self.equity_log.append, self.portfolio)
                self.faults.guard("equity", self.drawdown.note, self.portfolio)
            self.faults.guard("alerts", self.alerts.check, snapshot, self._drawdown_now, self.portfolio.marks)
            self.act(snapshot, sampled)
        return snapshot

    def act(self, snapshot: Snapshot, sampled: bool) -> None:
        """The rest of tick() once the snapshot is the last one and marked (sampled: an equity sample was
        taken on it): deliveries, resting orders, the books' work, the strategies, the kill switch, the
        counters. A fast-forwarded stretch that ends on a tick a strategy may act on marks that tick in
        bulk and runs this on it (bot/fast_forward.py). Called with the engine's lock held."""
        if self.faults.probe_due():
            self._probe_storage()
        before = self.ledger.count
        if self.state in _RUNNING_OR_PAUSED and self.data_flow.orders:
            try:
                # Orders that reach the market now fill first; those sent before a pause still land.
                self.data_flow.deliver_due(snapshot)
            except StorageError as exc:
                self._storage_failed(exc)
        if self.state in _RUNNING_OR_PAUSED and self.desk.active:
            try:
                # Resting orders arrive, trigger and fill from the market's trades (bot/execution/resting_desk.py).
                self.desk.on_tick(snapshot)
            except StorageError as exc:
                self._storage_failed(exc)
        if self.state == _RUNNING or self.paused_by() in ("user", "kill_switch"):
            # Transfers land, borrow fees and margin calls go on while paused; not while storage fails.
            self.faults.guard("books", self.books.on_tick, snapshot, self.state == _RUNNING)
        if self.state == _RUNNING:
            try:
                self.manager.run(snapshot)
            except StorageError as exc:
                self._storage_failed(exc)
            if self.ledger.count != before or sampled:
                self._check_kill_switch()
        self.ticks_run += 1
        self.version += 1
        self.periodic_state_write()
        self.faults.tick_succeeded()

    def periodic_state_write(self) -> None:
        """The state file every STATE_WRITE_SECONDS of wall time (also after a fast-forwarded stretch)."""
        now = time.monotonic()
        if now - self._last_state_write >= STATE_WRITE_SECONDS:
            self._last_state_write = now
            self.flush_held()
            try:
                self.data_flow.write_state()
            except StorageError as exc:
                self._storage_failed(exc)

    def flush_held(self) -> None:
        """Write the equity samples and activity lines a fast run holds (EquityLog.hold, ActivityLog.hold)."""
        if self.equity_log.held:
            self.faults.guard("equity", self.equity_log.flush)
        self.activity.flush()

    def tick_guarded(self) -> Snapshot | None:
        """tick(), with a failure counted and reported instead of raised (the real-time loop goes on);
        a storage fault that escapes it still pauses trading."""
        try:
            return self.tick()
        except Exception as exc:  # noqa: BLE001 - one failed tick must not end the loop
            self.faults.tick_failed(exc)
            if isinstance(exc, StorageError):
                self._storage_failed(exc)
            return None

    def _drawdown_now(self) -> float:
        """Raise the peaks to the values now, then the fall on risk.drawdown_basis in %: what the
        kill switch and drawdown alerts see. Peaks move only here and at equity samples, never on a read."""
        return self.drawdown.note_and_measure(self.portfolio)

    def _check_kill_switch(self) -> None:
        drawdown = self._drawdown_now()
        limit = self.config.risk.max_drawdown_pct
        if drawdown > limit and self.state == _RUNNING:
            basis = self.drawdown.basis
            reason = (f"kill switch: drawdown {drawdown:.2f}% of {basis} equity from its peak "
                      f"{self.drawdown.peak(self.portfolio):.2f} exceeds risk.max_drawdown_pct {limit:g}% "
                      f"(risk.drawdown_basis: {basis})")
            self.kill_switch = {"reason": reason, "drawdown_pct": drawdown, "basis": basis, "tick": self.next_tick - 1}
            log.warning(reason)
            self.activity.record("kill_switch", reason=reason, drawdown_pct=drawdown)
            self.notices.notify("kill_switch", reason, level="error", drawdown_pct=drawdown)
            self.pause(reason)

    def _strategy_error(self, name: str, message: str) -> None:
        counters = self.manager.counters[name] if self.manager else None
        self.notices.strategy_error(name, message, counters.errors if counters else None)

    def _trades_recorded(self, trades: list[Trade]) -> None:
        """DataFlowManager.on_trades, for one signal's trades: loss streaks, then the confirmation. Never raises."""
        for trade in trades:
            self.faults.guard("alerts", self.alerts.on_trade, trade)
        self.notices.trades_executed(trades)

    def _status_changed(self, state: EngineState, reason: str) -> None:
        """Tell the user (a notification), then the dashboard (the bot_status event)."""
        self.notices.status_changed(state, reason)
        self.data_flow.emit("bot_status", {"state": state, "reason": reason})

    # ----- loops (bot/tick_loop.py) ---------------------------------------------------------
    def request_stop(self) -> None:
        """Ask the loop to stop after the current tick (safe from a signal handler)."""
        self.loop.request_stop()

    def wait_for_stop(self, timeout: float | None = None) -> bool:
        """Wait up to timeout seconds for a stop request; True once one was made."""
        return self.loop.wait_for_stop(timeout)

    def run_fast(self, max_ticks: int | None, progress: Callable[[int], None] | None = None,
                 cooperate: Callable[[], None] | None = None) -> int:
        """Run ticks back to back until max_ticks or a stop request; returns ticks run (TickLoop.run_fast;
        a candle backtest skips quiet stretches in bulk, bot/fast_forward.py)."""
        from bot.fast_forward import fast_forward_for

        if hasattr(self.source, "wait_when_full"):  # a recording made at full speed keeps every tick
            self.source.wait_when_full = True
        runner = self.fast_forward = fast_forward_for(self)  # kept: its skipped count is a figure of the run
        # What is alive now (modules, config, the engine) is left out of the cyclic collector's passes
        # during the run and handed back to it after: a full pass over it took a tenth of a 20,000-tick
        # replay (the replay decodes many small objects, so the collector runs often).
        gc.freeze()
        try:
            if runner is not None:
                return runner.run_fast(max_ticks, progress, cooperate)
            return self.loop.run_fast(max_ticks, progress, cooperate)
        finally:
            gc.unfreeze()

    def start_realtime(self, max_ticks: int | None = None) -> None:
        """Run guarded ticks on APScheduler, one every tick_seconds / speed wall seconds (live: tick_interval_seconds)."""
        self.loop.start_realtime(max_ticks)

    def close(self) -> None:
        """Stop scheduling, flush the state file, close the logs, let the data dir go. Safe to call twice.

        Every step runs even when one before it failed; the first failure is raised at the end.
        """
        errors: list[BaseException] = []

        def step(work, *args) -> None:
            try:
                work(*args)
            except Exception as exc:  # noqa: BLE001 - the rest of the shutdown must still happen
                log.error("shutdown step %s failed: %s", getattr(work, "__qualname__", work), exc)
                errors.append(exc)

        step(self.loop.shutdown)
        if self.state == EngineState.CLOSED:
            return
        step(self._cancel_orders)
        step(self._final_state_write)
        step(self._last_market_events)
        step(lambda: self.activity.record("bot_stopped", ticks_this_run=self.ticks_run, next_tick=self.next_tick,
                                          trades_in_ledger=self.ledger.count))
        step(self._status_changed, EngineState.STOPPED, "")
        if self.telegram is not None:
            step(self.telegram.stop)
        for closer in (self.ledger.close, self.data_flow.misses.close, self.desk.log.close,
                       self.equity_log.close, self.activity.close,
                       self.notifications.close,
                       *(getattr(strategy, "close", None) for strategy in self._strategies), self.source.close):
            if callable(closer):
                step(closer)
        self.data_lock.release()
        self.state = EngineState.CLOSED
        if errors:
            raise errors[0]

    def _last_market_events(self) -> None:
        """What the market said since the last tick (an exchange live again just before the stop) is recorded too."""
        with self.lock:
            for event in self.source.drain_events():
                self.faults.guard("notifications", self.notices.market_event, event)

    def _cancel_orders(self) -> None:
        """Orders still in flight at shutdown are misses ("cancelled at shutdown"), not carried over."""
        with self.lock:
            last = self.last_snapshot
            if last is not None:
                self.data_flow.cancel_in_flight(last.tick, last.ts)

    def _final_state_write(self) -> None:
        with self.lock:
            try:
                if self.manager is not None:
                    self.data_flow.write_state()
            finally:
                self.state = EngineState.STOPPED

    def _engine_state(self) -> dict:
        return {
            "engine": {
                "state": self.state,
                "pause_reason": self.pause_reason,
                "kill_switch": self.kill_switch,
                "trading_peak_equity": self.drawdown.trading_peak,
                "next_tick": self.next_tick,
                "market_source": self.source.kind,
                "enabled": dict(self.manager.enabled) if self.manager else {},
                "speed": {"value": self.speed, "config": self.config.market.speed},
                # the strategies' counters: they go on counting across restarts, like the ledger's totals
                "counters": {name: c.persisted() for name, c in self.manager.counters.items()} if self.manager else {},
            }
        }
