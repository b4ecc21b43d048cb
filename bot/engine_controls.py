"""A running BotEngine's state changes: the user's controls (start, pause and stop, a strategy's switch,
the simulated clock's speed; bot/commands.py calls them) and the pause a storage fault makes and lifts.
BotEngine inherits them.

Each change is written to the state file first and applied only when that worked, so a change the
disk refused never shows in memory or after a restart. pause() stays memory-first: a safety pause
(the kill switch) must not depend on the disk.
"""
from __future__ import annotations

import logging

from bot.config import MAX_SPEED
from bot.drawdown import trading_equity
from bot.engine_state import ALLOWED_FROM, ARRIVAL_EVENT, EngineState
from bot.faults import STORAGE_REASON_PREFIX, storage_reason
from bot.storage import StorageError, atomic_write_json, probe_write

log = logging.getLogger("bot.engine")  # the engine's logger: these lines read as they always did


class EngineControls:
    """BotEngine's state changes (a mixin: the attributes they use are BotEngine's)."""

    # ----- storage faults: a failed write pauses trading, a probe write that works lifts that pause ---
    def _storage_failed(self, exc: StorageError) -> None:
        """A write under the data dir failed: pause trading with the cause, tell once per fault."""
        if self.faults.storage_failed(exc):
            self.notices.notify("bot_status", f"Storage failing ({exc}); trading paused until a write succeeds",
                                level="error", state=EngineState.PAUSED)
        if self.state == EngineState.RUNNING:
            self._set_state(EngineState.PAUSED, storage_reason(exc))

    def _probe_storage(self) -> None:
        """While storage is failing: a probe write and a state write; both good ends the fault."""
        try:
            probe_write(self.data_dir)
            self.data_flow.write_state()
        except StorageError as exc:
            self.faults.storage_failed(exc)
            return
        paused_by_storage = self.paused_by() == "storage"
        fault = self.faults.storage_recovered()
        if paused_by_storage:
            # Only a pause the fault made is lifted: a user's or the kill switch's stays.
            self._set_state(EngineState.RUNNING)
        self.notices.notify("bot_status", f"Storage writable again (was: {fault['error'] if fault else '?'})",
                            level="success", state=self.state)

    def paused_by(self) -> str | None:
        """Why trading is paused: "storage", "kill_switch" or "user"; None when not paused."""
        if self.state != EngineState.PAUSED:
            return None
        if self.pause_reason.startswith(STORAGE_REASON_PREFIX) and self.faults.storage_fault is not None:
            return "storage"
        if self.kill_switch is not None and self.pause_reason == self.kill_switch.get("reason"):
            return "kill_switch"
        return "user"

    def _set_state(self, state: EngineState, reason: str = "") -> None:
        with self.lock:
            changed = state != self.state
            self.state = state
            self.pause_reason = reason if state.holds_a_reason else ""
            self.version += 1
        if changed:
            self._record_quietly(ARRIVAL_EVENT[state], reason=reason)
            self._status_changed(state, reason)

    def _record_quietly(self, event: str, **fields) -> None:
        """An activity line about a change already made: failing to write it must not undo or fail the change."""
        try:
            self.activity.record(event, **fields)
        except Exception:  # noqa: BLE001 - logged; the change stands
            log.exception("could not record %s in the activity log", event)

    def _write_state_with(self, engine_fields: dict, books: dict | None = None) -> None:
        """Write the state file as it will be after a change (raises when it cannot; nothing changed)."""
        document = self.data_flow.state_document()
        document["engine"] = {**document.get("engine", {}), **engine_fields}
        document.update(books or {})
        atomic_write_json(self.data_flow.state_path, document, fsync=self.data_flow.fsync)

    def change_state(self, state: EngineState, reason: str = "") -> bool:
        """The user's start/pause/stop: persisted, then applied; False when it does not apply from here.

        Raises OSError (or ValueError) when the state file cannot be written; the engine is then unchanged.
        """
        state = EngineState(state)  # a plain "paused" is welcome too; ValueError for anything else
        with self.lock:
            # A user's pause over a storage pause takes its place (the storage probe lifts only its own).
            over_storage_pause = state == EngineState.PAUSED and self.paused_by() == "storage"
            if self.state not in ALLOWED_FROM[state] and not over_storage_pause:
                return False
            fields = {"state": state, "pause_reason": reason if state.holds_a_reason else ""}
            books = {}
            resume = state == EngineState.RUNNING and self.kill_switch is not None
            if resume:
                # The user chose to go on: measure the next drawdown from here.
                fields["kill_switch"] = None
                fields["trading_peak_equity"] = trading_equity(self.portfolio)
                books["peak_equity"] = self.portfolio.equity()
            self._write_state_with(fields, books)
            if resume:
                self.kill_switch = None
                self.drawdown.restart_from(self.portfolio)
            self._set_state(state, reason)
        return True

    def pause(self, reason: str = "paused by user") -> None:
        """Stop trading at once (kill switch, faults); the market keeps updating and positions keep being marked."""
        # A user's pause over a storage pause takes its place, so the storage probe will not lift it.
        if self.state == EngineState.RUNNING or self.paused_by() == "storage":
            self._set_state(EngineState.PAUSED, reason)

    def start(self) -> None:
        """Trade again after a pause or a stop (a kill-switch pause included, on the user's word); persisted first."""
        self.change_state(EngineState.RUNNING)

    def stop_trading(self, reason: str = "stopped by user") -> None:
        """Halt the tick loop (the market stops too), recorded in the state file first; start() goes on from here."""
        self.change_state(EngineState.STOPPED, reason)

    def set_strategy_enabled(self, name: str, enabled: bool) -> None:
        """Switch a strategy on or off: written to the state file first, then applied (raises if the write fails)."""
        with self.lock:
            if name not in self.manager.strategies:
                raise KeyError(f"unknown strategy {name!r}")
            self._write_state_with({"enabled": {**self.manager.enabled, name: enabled}})
            self.manager.set_enabled(name, enabled)
            self.version += 1
        self._record_quietly("strategy_toggled", strategy=name, enabled=enabled)

    # ----- the simulated clock's speed ------------------------------------------------------
    def _tick_interval(self) -> float:
        """Wall seconds between real-time ticks: tick_seconds / speed on the simulator, the configured interval live."""
        if self.source.kind in ("simulated", "replay", "candles"):
            return self.source_tick_seconds() / self.speed
        return self.config.engine.tick_interval_seconds

    def source_tick_seconds(self) -> float:
        """Market seconds per tick: the simulator's tick_seconds, a replay's as recorded, live's poll interval."""
        if self.source.kind == "live":
            return self.config.engine.tick_interval_seconds
        return getattr(self.source, "tick_seconds", None) or self.config.market.tick_seconds

    def _restore_speed(self, saved: dict | None) -> None:
        """A speed set on the dashboard outlives a restart, until the config (or --speed) names a new one:
        the state file keeps the configured speed it was set under, and the latest choice wins."""
        recorded = (saved or {}).get("engine", {}).get("speed")
        if not isinstance(recorded, dict) or recorded.get("config") != self.config.market.speed:
            return
        value = recorded.get("value")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= MAX_SPEED:
            self.speed = float(value)
            self.loop.set_interval(self._tick_interval())

    def set_speed(self, speed: float) -> None:
        """Change the simulated seconds per wall second: written to the state file first, then applied."""
        with self.lock:
            self._write_state_with({"speed": {"value": speed, "config": self.config.market.speed}})
            self.speed = speed
            self.loop.set_interval(self._tick_interval())
            self.version += 1
        self._record_quietly("speed_changed", speed=speed, tick_interval_seconds=self.loop.interval_seconds)
