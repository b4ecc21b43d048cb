"""BotEngine: wires the pieces, recovers state, runs the tick loop, start/pause/stop, kill switch."""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable

from bot.activity import ActivityLog
from bot.alerts import AlertEngine
from bot.config import BotConfig
from bot.data_flow import STATE_FILE, DataFlowManager, LiveCache
from bot.equity_log import EquityLog
from bot.execution import PaperExecutor
from bot.ledger import TradeLedger
from bot.market.base import MarketSource
from bot.models import Snapshot, Trade
from bot.notifications import NotificationService
from bot.portfolio import PortfolioTracker
from bot.reconcile import compare_books
from bot.storage import CorruptFileError, read_json, remove_stale_temp_files
from bot.strategies.base import Strategy
from bot.strategies.manager import StrategyManager

log = logging.getLogger(__name__)

# Wall-clock seconds between state-file writes when no trade forces one.
STATE_WRITE_SECONDS = 5.0


def build_source(config: BotConfig) -> MarketSource:
    """The market source the config names."""
    if config.market.source == "live":
        from bot.market.live_source import LiveMarket  # imported only in live mode: ccxt comes with it

        return LiveMarket(config.market)
    from bot.market.simulator import SimulatedMarket

    return SimulatedMarket(config.market)


class BotEngine:
    """The running bot. Every mutation happens under self.lock, so readers see whole ticks."""

    def __init__(self, config: BotConfig, data_dir: str | Path | None = None, log_dir: str | Path | None = None,
                 source: MarketSource | None = None, strategies: list[Strategy] | None = None,
                 strategy_configs: dict | None = None, runner=None):
        self.config = config
        self.data_dir = Path(data_dir or config.storage.data_dir)
        self.log_dir = Path(log_dir or config.storage.log_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.source = source or build_source(config)
        if strategies is None:
            from bot.strategies.registry import build_strategies

            strategies, strategy_configs = build_strategies(config, self.source.exchanges, self.source.symbols,
                                                            runner=runner)
        self.activity = ActivityLog(self.log_dir)
        self.ledger = TradeLedger(self.data_dir, fsync=config.storage.fsync)
        self.equity_log = EquityLog(self.data_dir)  # every equity sample, data/equity.jsonl
        self.portfolio = self._new_tracker(self._default_starting_balances())
        self.executor = PaperExecutor(config.execution, config.portfolio.short_margin_ratio)
        self.data_flow = DataFlowManager(self.executor, self.ledger, self.portfolio, self.data_dir,
                                         fsync=config.storage.fsync, activity=self.activity,
                                         state_extra=self._engine_state)
        self.notifications = NotificationService(config.notifications, self.log_dir,
                                                 emit=lambda note: self.data_flow.emit("notification", note))
        self.alerts = AlertEngine(self.data_dir, notify=self._alert_fired, fsync=config.storage.fsync)
        self.data_flow.subscribe(self._on_event)
        self._strategies = strategies
        self._strategy_configs = strategy_configs or {}
        self.manager: StrategyManager | None = None
        self.state = "stopped"
        self.pause_reason = ""
        self.kill_switch: dict | None = None
        self.last_snapshot: Snapshot | None = None
        self.ticks_run = 0
        self.next_tick = 0
        self.version = 0
        self._stop_requested = threading.Event()
        self._last_state_write = 0.0
        self._scheduler = None
        self.cache = None

    # ----- start-up -------------------------------------------------------------------------
    def _default_starting_balances(self) -> dict[str, dict[str, float]]:
        return {ex: dict(self.config.portfolio.starting_balances) for ex in self.source.exchanges}

    def _new_tracker(self, starting_balances) -> PortfolioTracker:
        return PortfolioTracker(starting_balances, self.config.storage.equity_history_points,
                                self.config.engine.equity_sample_seconds)

    def open(self) -> list[str]:
        """Load the ledger and state, rebuild the books, position the market; returns warnings.

        Raises CorruptFileError when the ledger is damaged anywhere but its last line (nothing
        is modified then).
        """
        warnings: list[str] = []
        state_path = self.data_dir / STATE_FILE
        try:
            saved = read_json(state_path)
        except CorruptFileError as exc:
            saved = None
            warnings.append(f"{exc}; rebuilding the portfolio from the ledger")
        trades = self.ledger.load()
        remove_stale_temp_files(self.data_dir)
        warnings.extend(self.alerts.load())
        starting = self._default_starting_balances()
        if saved and isinstance(saved.get("starting_balances"), dict) and saved["starting_balances"]:
            if saved["starting_balances"] != starting:
                warnings.append("portfolio.starting_balances differ from those this data dir started with; "
                                "keeping the data dir's (start a new --data-dir to use the new ones)")
            starting = saved["starting_balances"]
        tracker = self._new_tracker(starting)
        for trade in trades:
            tracker.apply(trade)
        resume_tick = self.ledger.last_tick + 1
        if saved is not None:
            try:
                if saved.get("schema_version") != 1:
                    raise ValueError(f"schema_version {saved.get('schema_version')!r} is not 1")
                differences = compare_books(tracker.to_state(), saved)
                if differences:
                    shown = "; ".join(differences[:5]) + (" ..." if len(differences) > 5 else "")
                    warnings.append(f"{state_path} disagrees with the ledger ({len(differences)} differences: "
                                    f"{shown}); rebuilt from the ledger")
                tracker.restore_curve(saved)
                resume_tick = max(resume_tick, int(saved.get("engine", {}).get("next_tick", 0)))
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                warnings.append(f"{state_path} is not a usable state ({exc}); rebuilt from the ledger")
        self.portfolio = tracker
        self.data_flow.portfolio = tracker
        self.manager = StrategyManager(self._strategies, self._strategy_configs, tracker,
                                       self.data_flow.process_signal, on_error=self._strategy_error)
        if saved and isinstance(saved.get("engine", {}).get("enabled"), dict):
            for name, enabled in saved["engine"]["enabled"].items():
                if name in self.manager.enabled and isinstance(enabled, bool):
                    self.manager.enabled[name] = enabled
        self.next_tick = resume_tick
        self.source.seek(resume_tick)
        for warning in warnings:
            log.warning(warning)
            self.activity.record("errors", kind="state_recovery", message=warning)
        from bot.facade import BotFacade

        self.facade = BotFacade(self)
        self.cache = LiveCache({
            "portfolio_update": self.facade.portfolio_summary,
            "trades_update": lambda: self.facade.recent_trades(10),
            "strategies_update": self.facade.strategy_performance,
            "alerts_update": self.facade.alerts,
            "market_update": self.facade.market_live,
        }, version=lambda: self.version)
        self.state = "running"
        self.activity.record("bot_started", market=self.source.kind, resume_tick=resume_tick,
                             trades_in_ledger=self.ledger.count, data_dir=str(self.data_dir))
        self.notifications.notify("bot_status", f"Bot started on the {self.source.description}", level="info",
                                  state="running")
        self.data_flow.write_state()
        return warnings

    # ----- the tick -------------------------------------------------------------------------
    def tick(self) -> Snapshot | None:
        """One pass of the data flow: market, marks, kill switch, strategies, fills.

        A stopped engine does not advance the market; a paused one marks but does not trade.
        """
        with self.lock:
            if self.state == "stopped":
                return self.last_snapshot
            snapshot = self.source.next_snapshot()
            for event in self.source.drain_events():
                self._market_event(event)
            self.last_snapshot = snapshot
            self.next_tick = snapshot.tick + 1
            sampled = self.portfolio.mark(snapshot)
            if sampled: self.equity_log.append(self.portfolio)  # every sample also goes to data/equity.jsonl
            self.alerts.check(snapshot, self.portfolio.drawdown_pct, self.portfolio.marks)
            if self.state == "running":
                before = self.ledger.count
                self.manager.run(snapshot)
                if self.ledger.count != before or sampled:
                    self._check_kill_switch()
            self.ticks_run += 1
            self.version += 1
            now = time.monotonic()
            if now - self._last_state_write >= STATE_WRITE_SECONDS:
                self._last_state_write = now
                self.data_flow.write_state()
        return snapshot

    def _check_kill_switch(self) -> None:
        drawdown = self.portfolio.drawdown_pct()
        limit = self.config.risk.max_drawdown_pct
        if drawdown > limit and self.state == "running":
            reason = (f"kill switch: drawdown {drawdown:.2f}% from peak equity {self.portfolio.peak_equity:.2f} "
                      f"exceeds risk.max_drawdown_pct {limit:g}%")
            self.kill_switch = {"reason": reason, "drawdown_pct": drawdown, "tick": self.next_tick - 1}
            log.warning(reason)
            self.activity.record("kill_switch", reason=reason, drawdown_pct=drawdown)
            self.notifications.notify("kill_switch", reason, level="error", drawdown_pct=drawdown)
            self.pause(reason)

    def _strategy_error(self, name: str, message: str) -> None:
        counters = self.manager.counters[name] if self.manager else None
        if counters is None or counters.errors == 1 or counters.errors % 100 == 0:
            count = counters.errors if counters else 1
            self.activity.record("errors", kind="strategy", strategy=name, message=message, count=count)
            self.notifications.notify("strategy_error", f"Strategy {name} raised ({count} so far): {message}",
                                      level="error", strategy=name)

    def _market_event(self, event: dict) -> None:
        """An exchange went degraded/down/live, or a symbol went missing: log it; tell the user when it matters."""
        fields = {k: v for k, v in event.items() if k not in ("ts", "kind", "health")}
        self.activity.record(event["kind"], **fields)
        state, previous = event.get("state"), event.get("previous")
        # down <-> recovering repeats once per breaker cooldown in a long outage: notify the edges only
        worth_telling = event["kind"] == "market_warning" or state == "down" and previous != "recovering" \
            or state == "live" and previous in ("down", "recovering", "degraded")
        if worth_telling:
            self.notifications.notify("market", event.get("message") or f"{event.get('exchange')}: {state}",
                                      level=event.get("level") or "warning", exchange=event.get("exchange"))

    def _alert_fired(self, rule, message: str, event: dict) -> None:
        self.activity.record("alert_triggered", rule_id=rule.id, message=message)
        self.notifications.notify("alert", message, level="warning", rule_id=rule.id, condition=rule.condition)

    def _on_event(self, event: str, payload) -> None:
        """The engine's own listener: trade confirmations, loss streaks, bot status notifications."""
        if event == "trade_executed":
            trades = [Trade(**t) for t in payload]
            for trade in trades:
                self.alerts.on_trade(trade)
            first = trades[0]
            legs = "; ".join(f"{t.side} {t.qty:g} {t.symbol} on {t.exchange} at {t.price:.6g}" for t in trades)
            realized = sum(t.realized_pnl for t in trades)
            suffix = f" (realized {realized:+.2f} USDT)" if realized else ""
            self.notifications.notify("trade_executed", f"{first.strategy}: {legs}{suffix}", level="success",
                                      strategy=first.strategy, signal_id=first.signal_id,
                                      trade_ids=[t.id for t in trades])
        elif event == "bot_status":
            state, reason = payload.get("state"), payload.get("reason") or ""
            level = "warning" if state in ("paused", "stopped") else "info"
            self.notifications.notify("bot_status", f"Bot {state}" + (f": {reason}" if reason else ""),
                                      level=level, state=state)

    # ----- controls -------------------------------------------------------------------------
    def _set_state(self, state: str, reason: str = "") -> None:
        with self.lock:
            changed = state != self.state
            self.state = state
            self.pause_reason = reason if state in ("paused", "stopped") else ""
            self.version += 1
        if changed:
            event = {"running": "bot_resumed", "paused": "bot_paused", "stopped": "bot_halted"}[state]
            self.activity.record(event, reason=reason)
            self.data_flow.emit("bot_status", {"state": state, "reason": reason})

    def pause(self, reason: str = "paused by user") -> None:
        """Stop trading; the market keeps updating and positions keep being marked."""
        if self.state == "running":
            self._set_state("paused", reason)

    def start(self) -> None:
        """Trade again after a pause or a stop (a kill-switch pause included, on the user's word)."""
        if self.state in ("paused", "stopped"):
            if self.kill_switch is not None:
                # The user chose to go on: measure the next drawdown from here.
                self.kill_switch = None
                with self.lock:
                    self.portfolio.peak_equity = self.portfolio.equity()
            self._set_state("running")

    def stop_trading(self, reason: str = "stopped by user") -> None:
        """Halt the tick loop (the market stops too) and flush state; start() goes on from here."""
        if self.state in ("running", "paused"):
            self._set_state("stopped", reason)
            with self.lock:
                self.data_flow.write_state()

    def set_strategy_enabled(self, name: str, enabled: bool) -> None:
        """Switch a strategy on or off and record it in the state file at once."""
        with self.lock:
            self.manager.set_enabled(name, enabled)
            self.version += 1
            self.data_flow.write_state()
        self.activity.record("strategy_toggled", strategy=name, enabled=enabled)

    def request_stop(self) -> None:
        """Ask the loop to stop after the current tick (safe from a signal handler)."""
        self._stop_requested.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested.is_set()

    def wait_for_stop(self, timeout: float | None = None) -> bool:
        return self._stop_requested.wait(timeout)

    # ----- loops ----------------------------------------------------------------------------
    def run_fast(self, max_ticks: int | None, progress: Callable[[int], None] | None = None,
                 cooperate: Callable[[], None] | None = None) -> int:
        """Run ticks back to back until max_ticks or a stop request; returns ticks run.

        cooperate() is called every 100 ticks so a green-threaded server can serve meanwhile.
        """
        done = 0
        while not self._stop_requested.is_set() and (max_ticks is None or done < max_ticks):
            self.tick()
            done += 1
            if cooperate is not None and done % 100 == 0:
                cooperate()
            if progress is not None and done % 500 == 0:
                progress(done)
        if progress is not None:
            progress(done)
        return done

    def start_realtime(self, max_ticks: int | None = None) -> None:
        """Schedule one tick every engine.tick_interval_seconds on APScheduler."""
        from apscheduler.schedulers.background import BackgroundScheduler

        interval = self.config.engine.tick_interval_seconds
        start = self.ticks_run

        def job() -> None:
            if self._stop_requested.is_set():
                return
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001 - a failed tick is logged; the next one runs
                log.exception("tick failed")
                self.activity.record("errors", kind="tick", message=f"{type(exc).__name__}: {exc}")
            if max_ticks is not None and self.ticks_run - start >= max_ticks:
                self.request_stop()

        self._scheduler = BackgroundScheduler(timezone="UTC")
        from datetime import datetime, timezone

        self._scheduler.add_job(job, "interval", seconds=interval, max_instances=1, coalesce=True,
                                misfire_grace_time=max(1, int(interval * 5)), id="tick",
                                next_run_time=datetime.now(timezone.utc))
        self._scheduler.start()

    def close(self) -> None:
        """Stop scheduling, flush the state file, close the logs. Safe to call twice."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        if self.state == "closed":
            return
        with self.lock:
            if self.manager is not None:
                self.data_flow.write_state()
            self.state = "stopped"
        self.activity.record("bot_stopped", ticks_this_run=self.ticks_run, next_tick=self.next_tick,
                             trades_in_ledger=self.ledger.count)
        self.data_flow.emit("bot_status", {"state": "stopped", "reason": ""})
        self.ledger.close()
        self.equity_log.close()
        self.activity.close()
        self.notifications.close()
        for strategy in self._strategies:
            closer = getattr(strategy, "close", None)
            if callable(closer):
                closer()
        self.source.close()
        self.state = "closed"

    def _engine_state(self) -> dict:
        return {
            "engine": {
                "state": self.state,
                "pause_reason": self.pause_reason,
                "kill_switch": self.kill_switch,
                "next_tick": self.next_tick,
                "market_source": self.source.kind,
                "enabled": dict(self.manager.enabled) if self.manager else {},
            }
        }
