"""EngineNotices: what the engine tells the user about trades, state changes, market events, alerts and
strategy errors, as activity-log lines and notifications.

A seam of its own because it needs nothing of the engine's books, state or lock: only the activity
log, the notification service and the fault counters. Telling must never stop trading, so a
failed notification is a counted "notifications" fault, never an exception in the tick.
"""
from __future__ import annotations

from bot.notify.activity import ActivityLog
from bot.engine_state import EngineState
from bot.faults import FaultTracker
from bot.models import Trade
from bot.notify.notifications import NotificationService


def trade_confirmation(trades: list[Trade]) -> tuple[str, dict]:
    """The trade_executed note for one signal's trades: (message, fields)."""
    first = trades[0]
    legs = "; ".join(f"{t.side} {t.qty:g} {t.symbol} on {t.exchange} at {t.price:.6g}" for t in trades)
    realized = sum(t.realized_pnl for t in trades)
    suffix = f" (realized {realized:+.2f} USDT)" if realized else ""
    return (f"{first.strategy}: {legs}{suffix}",
            {"strategy": first.strategy, "signal_id": first.signal_id, "trade_ids": [t.id for t in trades]})


class EngineNotices:
    """The engine's messages to the user; every method is safe to call from the tick."""

    def __init__(self, activity: ActivityLog, notifications: NotificationService, faults: FaultTracker):
        self.activity = activity
        self.notifications = notifications
        self.faults = faults

    def notify(self, kind: str, message: str, **fields) -> None:
        """A notification that can never raise into the tick (its failure is a counted error)."""
        try:
            self.notifications.notify(kind, message, **fields)
        except Exception as exc:  # noqa: BLE001 - telling must not stop trading
            self.faults.side_failed("notifications", exc)

    def books(self, message: str, level: str = "info") -> None:
        """Transfers waiting or cancelled, margin calls that cannot fill: logged and told."""
        self.activity.record("books", message=message, level=level)
        self.notify("books", message, level=level)

    def trades_executed(self, trades: list[Trade]) -> None:
        """One confirmation for one signal's trades: every leg, and the realized P&L when there is some
        (composed only when it is sent: most of a fast run's are rate-limited)."""
        try:
            self.notifications.notify_composed("trade_executed", lambda: trade_confirmation(trades), level="success")
        except Exception as exc:  # noqa: BLE001 - telling must not stop trading
            self.faults.side_failed("notifications", exc)

    def status_changed(self, state: EngineState, reason: str) -> None:
        """The engine is now running, paused or stopped (and why)."""
        level = "warning" if state.holds_a_reason else "info"
        self.notify("bot_status", f"Bot {state}" + (f": {reason}" if reason else ""), level=level, state=state)

    def strategy_error(self, name: str, message: str, errors_so_far: int | None) -> None:
        """A strategy raised: recorded and told the first time and every 100th, not on every tick."""
        if errors_so_far is None or errors_so_far == 1 or errors_so_far % 100 == 0:
            count = errors_so_far if errors_so_far is not None else 1
            self.activity.record("errors", kind="strategy", strategy=name, message=message, count=count)
            self.notify("strategy_error", f"Strategy {name} raised ({count} so far): {message}",
                        level="error", strategy=name)

    def market_event(self, event: dict) -> None:
        """An exchange went degraded/down/live, a symbol went missing, a stress scenario changed phase:
        log it; tell the user when it matters."""
        fields = {k: v for k, v in event.items() if k not in ("ts", "kind", "health")}
        self.activity.record(event["kind"], **fields)
        state, previous = event.get("state"), event.get("previous")
        # down <-> recovering repeats once per breaker cooldown in a long outage: notify the edges only
        worth_telling = event["kind"] in ("market_warning", "scenario") or state == "down" and previous != "recovering" \
            or state == "live" and previous in ("down", "recovering", "degraded")
        if worth_telling:
            self.notify("market", event.get("message") or f"{event.get('exchange')}: {state}",
                        level=event.get("level") or "warning", exchange=event.get("exchange"))

    def alert_fired(self, rule, message: str, event: dict) -> None:
        """AlertEngine's notify: an alert rule triggered."""
        self.activity.record("alert_triggered", rule_id=rule.id, message=message)
        self.notify("alert", message, level="warning", rule_id=rule.id, condition=rule.condition)
