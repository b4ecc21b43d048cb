"""BooksKeeper: the non-trade side of the books, run by the engine once a tick before the strategies.

In order: transfers due land (or wait, or are cancelled back to their source); on its schedule
the rebalancer sends new transfers (only while trading); borrow fees due are billed; shorts under
maintenance are margin-called. Margin calls and borrow fees go on while trading is paused (the
exchange would not wait); nothing runs while storage is failing (the engine does not call it).

Every entry is recorded as a trade is: ledger line first (written through), then the books,
then the state file. A ledger append that fails (StorageError) changes nothing and raises, so
the engine pauses; what was not recorded is decided again on a later tick, never lost or doubled.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Callable

from bot.config import BotConfig
from bot.models import PORTFOLIO_QUOTE, Snapshot
from bot.ledger_entries import LedgerEntry
from bot.timestamps import whole_ms
from bot.accounting import entries as make
from bot.accounting.margin import MarginRules
from bot.accounting.margin_desk import MarginDesk, borrow_bills
from bot.accounting.transfers import arrivals, check_due, plan_transfers

log = logging.getLogger(__name__)

Notify = Callable[[str, str], None]  # (message, level)


def margin_rules(config: BotConfig, shorting) -> MarginRules | None:
    """The books' margin rules for these shorting strategies, or None when margin is off."""
    if not config.margin.enabled:
        return None
    return MarginRules(frozenset(shorting), config.portfolio.short_margin_ratio, config.margin.maintenance_ratio,
                       config.margin.rates(), config.margin.borrow_booking_seconds)


class BooksKeeper:
    """Transfers, borrow fees and margin calls for one engine's ledger and portfolio."""

    def __init__(self, config: BotConfig, ledger, portfolio, write_state: Callable[[], None], process_signal,
                 notify: Notify):
        self.transfers = config.transfers
        self.ledger = ledger
        self.portfolio = portfolio
        self.write_state = write_state
        self.notify = notify
        rules = portfolio.margin
        self.rules = rules
        self.desk = MarginDesk(rules, portfolio, process_signal, notify) if rules is not None else None
        self._last_check_ts: float | None = None
        self._told_waiting: set[str] = set()
        self._told_unknown: set[str] = set()
        self._ts: float | None = None
        self._dirty = False
        self.counts = {"sent": 0, "landed": 0, "cancelled": 0, "borrow_fees": 0}

    def on_tick(self, snapshot: Snapshot, trading: bool) -> None:
        """Everything due at this snapshot (raises StorageError when the ledger refuses a line)."""
        self._ts = None
        if self.portfolio.in_transit:
            self._arrivals(snapshot)
        if self.transfers.enabled and trading:
            due = check_due(self._last_check_ts, snapshot.ts, self.transfers.check_seconds)
            self._last_check_ts = snapshot.ts
            if due:
                self._rebalance(snapshot)
        if self.rules is not None:
            self._bill(snapshot)
            if self.desk.check(snapshot):
                self._bill(snapshot)  # what a margin call closed is billed at once
        if self._dirty:  # one state write for the tick's entries (the ledger lines are already written)
            self._dirty = False
            self.write_state()

    def _entry_ts(self, snapshot: Snapshot) -> float:
        """The tick's time in whole milliseconds, as the ledger line replays (computed once a tick)."""
        if self._ts is None:
            self._ts = whole_ms(snapshot.ts)
        return self._ts

    def _bill(self, snapshot: Snapshot) -> None:
        if not self.portfolio.accruals:
            return
        bills = borrow_bills(self.portfolio, self.rules, snapshot, self.ledger.next_seq())
        if bills:
            ts = self._entry_ts(snapshot)
            self.record([replace(bill, ts=ts) for bill in bills])
            self.counts["borrow_fees"] += len(bills)

    def record(self, entries: list[LedgerEntry]) -> None:
        """Ledger, then books; the state file follows at the end of the tick (a failed state write
        keeps the entries, which the ledger has, and raises)."""
        self.ledger.append(entries)
        for entry in entries:
            self.portfolio.apply_record(entry)
        self._dirty = True

    # ----- transfers -------------------------------------------------------------------------
    def _arrivals(self, snapshot: Snapshot) -> None:
        for arrival in arrivals(self.portfolio, snapshot, self.transfers):
            transit = arrival.transit
            if arrival.action == "wait":
                if transit.ref not in self._told_waiting:
                    self._told_waiting.add(transit.ref)
                    self.notify(f"Transfer {transit.ref} of {transit.amount:.8g} {transit.asset} to "
                                f"{transit.destination} is due but {arrival.reason}; retrying each tick for up to "
                                f"{self.transfers.retry_minutes:g} minutes, then it goes back to {transit.source}",
                                "warning")
                continue
            cancelled = arrival.reason if arrival.action == "cancel" else ""
            ts = self._entry_ts(snapshot)
            self.record([make.transfer_in(self.ledger.next_seq(), ts, snapshot.tick, transit, cancelled)])
            self._told_waiting.discard(transit.ref)
            if cancelled:
                self.counts["cancelled"] += 1
                self.notify(f"Transfer {transit.ref} of {transit.amount:.8g} {transit.asset} to "
                            f"{transit.destination} cancelled ({cancelled}); the coins are back on {transit.source}",
                            "error")
            else:
                self.counts["landed"] += 1

    def _rebalance(self, snapshot: Snapshot) -> None:
        if len(snapshot.exchanges) < 2:  # an asset needs two exchanges to be moved: plan_transfers finds nothing
            return
        planned, unknown = plan_transfers(self.portfolio, snapshot, self.transfers)
        for asset in sorted(unknown - self._told_unknown):
            self._told_unknown.add(asset)
            self.notify(f"{asset} runs low on an exchange but no withdrawal fee or transfer time is known for it; "
                        f"set transfers.withdrawal_fees.{asset} and transfers.minutes.{asset} to let it be moved",
                        "warning")
        marks = self.portfolio.marks()
        ts = self._entry_ts(snapshot) if planned else 0.0
        for plan in planned:
            mark = 1.0 if plan.asset == PORTFOLIO_QUOTE else marks.get(plan.asset, 0.0)
            entry = make.transfer_out(self.ledger.next_seq(), ts, snapshot.tick, plan.strategy, plan.asset,
                                      plan.source, plan.destination, plan.moved, plan.fee, plan.fee * mark,
                                      whole_ms(ts + plan.minutes * 60.0), plan.reason)
            self.record([entry])
            self.counts["sent"] += 1
            log.info("transfer %s: %.8g %s %s -> %s (fee %.8g), charged to %s", entry.ref, plan.moved, plan.asset,
                     plan.source, plan.destination, plan.fee, plan.strategy)

    def status(self) -> dict:
        """Counters of this run, what is in transit, and the margin desk's state."""
        return {"transfers": dict(self.counts), "in_transit": len(self.portfolio.in_transit),
                "margin": self.desk.status() if self.desk is not None else None}

