"""Commands: every change a front end asks of the bot, as a small frozen object, handled in one place.

The dashboard (and later API tokens and Telegram) builds a command from a checked request
(bot/requests.py) and calls engine.commands.handle(command). The handler checks what needs the
running bot, writes the change to disk, and only then applies it in memory and bumps
engine.version, so the live cache rebuilds itself. A command that fails raises CommandError
and changes nothing, memory included; a write that fails is a 503 naming `storage: <cause>`.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Callable

from bot.engine_state import EngineState
from bot.requests import CommandError, JournalEntryRequest, NotificationRequest, SpeedRequest

log = logging.getLogger(__name__)


# ----- the commands -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StartBot:
    """Trade again after a pause or a stop (a kill-switch pause included, on the user's word)."""


@dataclass(frozen=True, slots=True)
class PauseBot:
    """Stop trading; the market keeps updating and positions keep being marked."""

    reason: str = "paused by user"


@dataclass(frozen=True, slots=True)
class StopBot:
    """Halt the tick loop (the market stops too)."""

    reason: str = "stopped by user"


@dataclass(frozen=True, slots=True)
class ToggleStrategy:
    """Switch a strategy on if it is off, off if it is on."""

    name: str


@dataclass(frozen=True, slots=True)
class SetSpeed:
    """Run the simulated clock at a new speed (simulated seconds per wall second) from now on."""

    request: SpeedRequest


@dataclass(frozen=True, slots=True)
class AddAlertRule:
    """Add an alert rule (one of the models of bot.requests.AlertRuleRequest)."""

    rule: object


@dataclass(frozen=True, slots=True)
class DeleteAlertRule:
    """Delete an alert rule by id."""

    rule_id: str


@dataclass(frozen=True, slots=True)
class ToggleAlertRule:
    """Pause an active alert rule, or resume (and re-arm) a paused one."""

    rule_id: str


@dataclass(frozen=True, slots=True)
class AddJournalEntry:
    """Write a new journal entry."""

    entry: JournalEntryRequest


@dataclass(frozen=True, slots=True)
class EditJournalEntry:
    """Change the fields sent of an existing journal entry."""

    entry_id: str
    changes: JournalEntryRequest


@dataclass(frozen=True, slots=True)
class SendNotification:
    """Send a notification by hand (to every dashboard, the log and the webhook)."""

    notification: NotificationRequest


# ----- trading by hand (issue 17: resting orders, the order ticket, closing positions) -----------
@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """Place a paper order of the manual strategy (bot.requests_orders.OrderRequest)."""

    request: object


@dataclass(frozen=True, slots=True)
class EstimateOrder:
    """What an order would do now (a read: nothing is placed or reserved)."""

    request: object


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Cancel an open order; one that has filled answers with its fill."""

    order_id: str


@dataclass(frozen=True, slots=True)
class ClosePosition:
    """Close or reduce any strategy's position (bot.requests_orders.ClosePositionRequest), reason `manual close`."""

    request: object


# ----- the handler --------------------------------------------------------------------------
def storage_error(exc: Exception) -> CommandError:
    """A failed write as the error a command answers with (503: try again when the disk is back)."""
    cause = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return CommandError(f"storage: {cause}; nothing was changed", None, status=503)


class CommandHandler:
    """Checks, persists, then applies each command to the engine; see the module docstring."""

    def __init__(self, engine):
        self.engine = engine
        self._handlers: dict[type, Callable] = {
            StartBot: self._start, PauseBot: self._pause, StopBot: self._stop, ToggleStrategy: self._toggle_strategy,
            AddAlertRule: self._add_rule, DeleteAlertRule: self._delete_rule, ToggleAlertRule: self._toggle_rule,
            AddJournalEntry: self._add_entry, EditJournalEntry: self._edit_entry,
            SendNotification: self._notify, SetSpeed: self._set_speed,
        }
        from bot.commands_orders import OrderCommands  # trading by hand

        self.orders = OrderCommands(engine)
        self._handlers.update({PlaceOrder: self.orders.place, EstimateOrder: self.orders.estimate,
                               CancelOrder: self.orders.cancel, ClosePosition: self.orders.close})

    def handle(self, command, cooperate: Callable[[], None] | None = None):
        """Carry out command; returns its result or raises CommandError (and then nothing changed).

        cooperate() is called while a long check streams the ledger (a green-threaded server).
        """
        handler = self._handlers.get(type(command))
        if handler is None:
            raise TypeError(f"not a command: {command!r}")
        try:
            if handler in (self._add_entry, self._edit_entry):
                return handler(command, cooperate)
            return handler(command)
        except CommandError:
            raise
        except (OSError, ValueError) as exc:  # ValueError: a document that cannot be encoded
            log.warning("%s failed to write: %s", type(command).__name__, exc)
            raise storage_error(exc) from exc

    def _applied(self) -> None:
        """After a change in memory: the live cache's payloads are stale now."""
        with self.engine.lock:
            self.engine.version += 1

    def _record(self, event: str, **fields) -> None:
        """An activity line after a change that already happened: a failure here is only logged."""
        try:
            self.engine.activity.record(event, **fields)
        except Exception:  # noqa: BLE001 - the change stands; the activity log is best effort
            log.exception("could not record %s in the activity log", event)

    # ----- bot state and strategies (the engine writes its state file first) ----------------
    def _start(self, command: StartBot) -> str:
        self.engine.start()
        return self.engine.state

    def _pause(self, command: PauseBot) -> str:
        self.engine.change_state(EngineState.PAUSED, command.reason)
        return self.engine.state

    def _stop(self, command: StopBot) -> str:
        self.engine.stop_trading(command.reason)
        return self.engine.state

    def _toggle_strategy(self, command: ToggleStrategy) -> bool:
        engine = self.engine
        with engine.lock:
            manager = engine.manager
            if manager is None or command.name not in manager.strategies:
                known = ", ".join(sorted(manager.strategies)) if manager else ""
                raise CommandError(f"unknown strategy {command.name!r}; known: {known}", "name", status=404)
            enabled = not manager.enabled[command.name]
            engine.set_strategy_enabled(command.name, enabled)
        return enabled

    def _set_speed(self, command: SetSpeed) -> dict:
        engine = self.engine
        if engine.source.kind not in ("simulated", "replay"):
            raise CommandError(f"speed applies to the simulated and replayed markets only (this bot reads the "
                               f"{engine.source.kind} market in real time)", "speed", status=409)
        engine.set_speed(float(command.request.speed))
        return engine.facade.clock()

    # ----- alert rules ----------------------------------------------------------------------
    def _add_rule(self, command: AddAlertRule):
        engine = self.engine
        spec = command.rule.spec()
        self._check_rule_context(spec)
        with engine.lock:
            snapshot = engine.last_snapshot
            rule = engine.alerts.add(snapshot.ts if snapshot else time.time(), **spec)
            engine.version += 1
        self._record("alert_added", rule_id=rule.id, rule=rule.describe())
        return rule

    def _check_rule_context(self, spec: dict) -> None:
        """The checks a rule's shape cannot tell: its symbol, exchange and strategy exist here."""
        engine = self.engine
        symbols, exchanges = list(engine.source.symbols), list(engine.source.exchanges)
        if spec.get("symbol") is not None and spec["symbol"] not in symbols:
            raise CommandError(f"symbol must be one of the traded symbols: {', '.join(symbols)}", "symbol")
        if spec.get("exchange") is not None and spec["exchange"] not in exchanges:
            raise CommandError(f"exchange must be one of {', '.join(exchanges)}", "exchange")
        strategies = sorted(engine.manager.strategies) if engine.manager else []
        if spec.get("strategy") is not None and spec["strategy"] not in strategies:
            raise CommandError(f"strategy must be one of {', '.join(strategies)}", "strategy")

    def _delete_rule(self, command: DeleteAlertRule) -> str:
        with self.engine.lock:
            if not self.engine.alerts.delete(command.rule_id):
                raise CommandError(f"no alert rule {command.rule_id!r}", "id", status=404)
            self.engine.version += 1
        self._record("alert_deleted", rule_id=command.rule_id)
        return command.rule_id

    def _toggle_rule(self, command: ToggleAlertRule):
        with self.engine.lock:
            rule = self.engine.alerts.toggle(command.rule_id)
            if rule is None:
                raise CommandError(f"no alert rule {command.rule_id!r}", "id", status=404)
            self.engine.version += 1
        self._record("alert_toggled", rule_id=rule.id, active=rule.active)
        return rule

    # ----- journal --------------------------------------------------------------------------
    def _journal(self):
        from bot.storage_reading import CorruptFileError

        try:
            return self.engine.facade.journal
        except CorruptFileError as exc:
            raise CommandError(f"storage: the journal file cannot be read, so it is not changed: {exc}",
                               None, status=503) from None

    def _with_trade(self, fields: dict, cooperate) -> dict:
        """fields plus the strategy and symbol of the trade they name (None for a general note)."""
        trade_id = fields.get("trade_id")
        trade = None
        if trade_id is not None:
            trade = self.engine.facade.find_trade(trade_id, cooperate)
            if trade is None:
                raise CommandError(f"no trade with id {trade_id!r} in the ledger", "trade_id")
        return {**fields, "strategy": trade.get("strategy") if trade else None,
                "symbol": trade.get("symbol") if trade else None}

    def _add_entry(self, command: AddJournalEntry, cooperate) -> dict:
        journal = self._journal()
        entry = journal.add(self._with_trade(command.entry.fields(partial=False), cooperate))
        self._applied()
        return entry

    def _edit_entry(self, command: EditJournalEntry, cooperate) -> dict:
        journal = self._journal()
        changes = command.changes.fields(partial=True)
        if "trade_id" in changes:
            changes = self._with_trade(changes, cooperate)
        entry = journal.update(command.entry_id, changes)
        self._applied()
        return entry

    # ----- notifications --------------------------------------------------------------------
    def _notify(self, command: SendNotification) -> dict:
        notifications = self.engine.notifications
        if not notifications.config.kinds.get("manual", True):
            raise CommandError("manual notifications are switched off (notifications.kinds.manual)", None, 409)
        request = command.notification
        note = notifications.notify("manual", request.message, level=request.level, must_log=True)
        if note is None:
            raise CommandError("too many notifications this minute; try again shortly", None, 429)
        self._applied()
        return note


def rule_dict(rule) -> dict:
    """An AlertRule as the API and the alerts file show it."""
    return asdict(rule)
