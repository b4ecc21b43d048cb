"""The Telegram commands: each answer read from the engine's facade, each change a command object.

/status /profit /balance /positions /trades N /pause /resume /stop (confirmed) /help. The
answers are plain text built from the same facade the dashboard reads, and /pause, /resume and
/stop go through engine.commands.handle like the dashboard's buttons, so they are persisted,
recorded and refused in exactly the same way.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from bot.commands import PauseBot, StartBot, StopBot
from bot.requests import CommandError

log = logging.getLogger(__name__)

TRADES_DEFAULT, TRADES_MAX = 5, 30
HELP = ("Commands:\n"
        "/status - bot state, market, exchanges\n"
        "/profit - P&L per strategy and where the total comes from\n"
        "/balance - wallets per exchange\n"
        "/positions - open positions\n"
        "/trades N - the last N trades (default 5, at most 30)\n"
        "/pause - stop trading (the market keeps updating)\n"
        "/resume - trade again\n"
        "/stop - halt the bot (asks you to confirm)\n"
        "/help - this list")


def usdt(value: float | None, signed: bool = False) -> str:
    """An amount in USDT with two decimals (and a sign when asked): '+12.40 USDT'."""
    if value is None:
        return "-"
    value = 0.0 if abs(value) < 0.005 else value  # never "-0.00"
    return f"{value:+,.2f} USDT" if signed else f"{value:,.2f} USDT"


def amount(value: float) -> str:
    """A coin amount without float noise: up to 8 decimals, trailing zeros dropped."""
    text = f"{value:,.8f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


class TelegramCommands:
    """Answers one chat message (answer()); /stop waits for "/stop confirm" from the same chat."""

    def __init__(self, engine, confirm_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.engine = engine
        self.confirm_seconds = confirm_seconds
        self.clock = clock
        self._stop_asked: dict[int, float] = {}
        self._lock = threading.Lock()
        self._table: dict[str, Callable[[int, list[str]], str]] = {
            "/start": self._help, "/help": self._help, "/status": self._status, "/profit": self._profit,
            "/balance": self._balance, "/positions": self._positions, "/trades": self._trades,
            "/pause": self._pause, "/resume": self._resume, "/stop": self._stop,
        }

    def answer(self, chat_id: int, text: str) -> str | None:
        """The reply to one message from an allowed chat (None: nothing to say)."""
        words = text.strip().split()
        if not words or not words[0].startswith("/"):
            return "Send a command; /help lists them."
        command = words[0].split("@", 1)[0].lower()  # "/status@my_bot" in a group chat
        handler = self._table.get(command)
        if handler is None:
            return f"Unknown command {command}; /help lists them."
        try:
            return handler(chat_id, words[1:])
        except CommandError as exc:
            return f"Refused: {exc.message}"

    # ----- reads ---------------------------------------------------------------------------
    def _help(self, chat_id: int, args: list[str]) -> str:
        return HELP

    def _status(self, chat_id: int, args: list[str]) -> str:
        facade = self.engine.facade
        status = facade.status()
        summary = facade.portfolio_summary()
        lines = [f"Bot: {status['state']}" + (f" ({status['pause_reason']})" if status.get("pause_reason") else ""),
                 f"Market: {status['market_description']}",
                 f"Market time: {status.get('market_time') or 'not started'} · tick {status.get('tick')}",
                 f"Equity: {usdt(summary['equity'])} (P&L {usdt(summary['total_pnl'], signed=True)})"]
        for exchange, feed in sorted((status.get("health") or {}).items()):
            reason = f" - {feed['reason']}" if feed.get("reason") else ""
            lines.append(f"  {exchange}: {feed.get('state')}{reason}")
        if status.get("storage_fault"):
            lines.append(f"Storage fault: {status['storage_fault'].get('error')}")
        return "\n".join(lines)

    def _profit(self, chat_id: int, args: list[str]) -> str:
        facade = self.engine.facade
        summary = facade.portfolio_summary()
        lines = ["P&L per strategy (net of every fee):"]
        for row in facade.strategy_performance():
            trips = row.get("round_trips", 0)
            win_rate = row.get("win_rate")
            wins = f", win rate {win_rate * 100:.0f}%" if win_rate is not None and trips else ""
            lines.append(f"  {row['strategy']}: {usdt(row['net_pnl'], signed=True)} ({trips} round trips{wins})")
        lines += [f"Strategies: {usdt(summary['strategies_net_pnl'], signed=True)}",
                  f"Starting holdings' price moves: {usdt(summary['holdings_pnl'], signed=True)}",
                  f"Total P&L: {usdt(summary['total_pnl'], signed=True)} (= strategies + holdings)"]
        return "\n".join(lines)

    def _balance(self, chat_id: int, args: list[str]) -> str:
        summary = self.engine.facade.portfolio_summary()
        lines = [f"Equity: {usdt(summary['equity'])} · cash {usdt(summary['cash_usdt'])}"]
        for exchange, wallet in summary["balances"].items():
            held = [f"{asset} {amount(qty)}" for asset, qty in wallet.items() if abs(qty) > 1e-12]
            lines.append(f"{exchange}: " + (", ".join(held) if held else "empty"))
        for transfer in summary.get("in_transit") or []:
            lines.append(f"In transit: {amount(transfer['amount'])} {transfer['asset']} {transfer['from']} -> "
                         f"{transfer['to']}, arrives {transfer['arrival_ts']}")
        return "\n".join(lines)

    def _positions(self, chat_id: int, args: list[str]) -> str:
        positions = self.engine.facade.portfolio_summary()["positions"]
        if not positions:
            return "No open positions."
        lines = ["Open positions:"]
        for pos in positions:
            lines.append(f"  {pos['strategy']} {pos['side']} {amount(abs(pos['qty']))} {pos['asset']} "
                         f"@ {amount(pos['avg_cost'])} · mark {amount(pos['mark'])} · "
                         f"{usdt(pos['unrealized_pnl'], signed=True)}")
        return "\n".join(lines)

    def _trades(self, chat_id: int, args: list[str]) -> str:
        count = TRADES_DEFAULT
        if args:
            if not args[0].isdigit() or not 1 <= int(args[0]) <= TRADES_MAX:
                return f"/trades N: N must be a whole number from 1 to {TRADES_MAX} (got {args[0][:20]!r})."
            count = int(args[0])
        trades = self.engine.facade.recent_trades(count)
        if not trades:
            return "No trades yet."
        lines = [f"Last {len(trades)} trade(s), newest first (market time):"]
        for trade in trades:
            lines.append(f"  {trade['ts']} {trade['strategy']} {trade['side']} {amount(trade['qty'])} "
                         f"{trade['symbol']} @ {amount(trade['price'])} on {trade['exchange']}"
                         + (f" · P&L {usdt(trade.get('realized_pnl'), signed=True)}"
                            if trade.get("realized_pnl") else ""))
        return "\n".join(lines)

    # ----- changes, through the command path ----------------------------------------------
    def _pause(self, chat_id: int, args: list[str]) -> str:
        state = self.engine.commands.handle(PauseBot(reason="paused from Telegram"))
        return f"Bot: {state}."

    def _resume(self, chat_id: int, args: list[str]) -> str:
        state = self.engine.commands.handle(StartBot())
        return f"Bot: {state}."

    def _stop(self, chat_id: int, args: list[str]) -> str:
        now = self.clock()
        with self._lock:
            asked = self._stop_asked.pop(chat_id, None)
            confirmed = bool(args) and args[0].lower() == "confirm" and asked is not None \
                and now - asked <= self.confirm_seconds
            if not confirmed:
                self._stop_asked[chat_id] = now
        if not confirmed:
            return (f"This halts the bot (the market stops too; /resume starts it again). "
                    f"Send /stop confirm within {self.confirm_seconds:g} s to go ahead.")
        state = self.engine.commands.handle(StopBot(reason="stopped from Telegram"))
        return f"Bot: {state}."


def start_telegram(engine):
    """The command poller for notifications.telegram, started; None when Telegram or its commands are off."""
    from bot.notify.telegram import TelegramPoller

    settings = engine.config.notifications.telegram
    if not settings.enabled or not settings.commands:
        return None
    commands = TelegramCommands(engine, confirm_seconds=settings.confirm_seconds)
    poller = TelegramPoller(settings, commands.answer,
                            on_event=lambda name, fields: engine.activity.record(name, **fields))
    poller.start()
    return poller
