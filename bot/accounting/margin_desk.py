"""The margin desk, every tick: borrow fees due, and margin calls for shorts under maintenance.

Borrow fees (bot/accounting/margin.py for the model): a short is billed every
`margin.borrow_booking_seconds` of market time since its last bill, and once more, pro rata,
when it is closed or reduced to nothing; the bill is a borrow_fee ledger entry priced at the
exchange's mid (the mark when it has no quote).

Margin calls: a short whose margin level is below `margin.maintenance_ratio` is bought back at
market: a Signal of kind "margin_call" (reason "margin call: ..."), closes_position=True, from
the short's own strategy, sent through the same signal path as any other (DataFlowManager).
A call that does not fill is sent again on every tick and notified (the first time, then every
NOTIFY_EVERY ticks) until the short is back above maintenance or closed. A call the path
accepts without an immediate answer (an order in flight) is not sent again until the short
changes or PENDING_SECONDS of market time pass.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.models import PORTFOLIO_QUOTE, Leg, Signal, Snapshot, round_step
from bot.timestamps import iso_utc
from bot.accounting.entries import borrow_fee
from bot.accounting.margin import MarginRules, borrow_fee_usdt, collateral_of, margin_level

log = logging.getLogger(__name__)

MARGIN_CALL = "margin_call"
NOTIFY_EVERY = 60
PENDING_SECONDS = 30.0
# Answers of the signal path that mean "sent, the fill comes later" (an order in flight, helper
# "fill"'s latency); any other answer but filled / partial is a failure, retried next tick.
IN_FLIGHT = ("pending", "in_flight", "submitted", "accepted")


@dataclass(slots=True)
class CallState:
    """One short's margin call episode: failed sends so far, and an unanswered order if any."""

    failures: int = 0
    pending_since: float | None = None
    pending_qty: float = 0.0


def exchange_price(snapshot: Snapshot, exchange: str, asset: str, marks: dict) -> float:
    """The asset's mid on exchange, or its mark when that exchange has no fresh quote."""
    quote = snapshot.quotes.get((exchange, f"{asset}/{PORTFOLIO_QUOTE}"))
    if quote is not None and quote.bid > 0 and quote.ask > 0:
        return (quote.bid + quote.ask) * 0.5
    return marks.get(asset, 0.0)


def borrow_bills(portfolio, rules: MarginRules, snapshot: Snapshot, first_seq: int) -> list:
    """The borrow_fee entries due at this snapshot, numbered from first_seq."""
    entries = []
    marks = portfolio.marks()
    for key in sorted(portfolio.accruals):
        accrual = portfolio.accruals[key]
        strategy, asset, exchange = key
        closed = accrual.qty <= 0.0
        if not closed and snapshot.ts - accrual.since_ts < rules.borrow_interval_seconds:
            continue
        qty_seconds = accrual.qty_seconds_until(snapshot.ts)
        rate = rules.rate_pct(asset)
        price = exchange_price(snapshot, exchange, asset, marks)
        fee = borrow_fee_usdt(qty_seconds, price, rate)
        if fee <= 0.0 and not closed:
            continue
        detail = {"qty": accrual.qty, "qty_hours": qty_seconds / 3600.0, "price": price, "rate_hourly_pct": rate,
                  "from_ts": iso_utc(accrual.since_ts), "to_ts": iso_utc(snapshot.ts),
                  "closed": closed}
        entries.append(borrow_fee(first_seq + len(entries), snapshot.ts, snapshot.tick, strategy, asset, exchange,
                                  max(fee, 0.0), detail))
    return entries


def short_collaterals(portfolio, rules: MarginRules):
    """(strategy, asset, exchange, qty short, collateral) of every short leg, sorted; the collateral is
    scaled by its exchange's cash pool (the cash over what is reserved there, at most 1)."""
    pools: dict[str, float] = {}
    for strategy, asset in sorted(portfolio.shorts):
        position = portfolio.positions[(strategy, asset)]
        for exchange, amount in sorted(position.by_exchange.items()):
            if amount >= 0:
                continue
            if exchange not in pools:
                reserved = portfolio.reserved_on(exchange)
                cash = portfolio.balance(exchange, PORTFOLIO_QUOTE)
                pools[exchange] = min(1.0, max(0.0, cash) / reserved) if reserved > 0 else 1.0
            yield strategy, asset, exchange, -amount, collateral_of(position, rules, exchange) * pools[exchange]


def shorts_below(portfolio, rules: MarginRules, snapshot: Snapshot) -> list[tuple[str, str, str, float, float]]:
    """(strategy, asset, exchange, qty, level) of every short under maintenance, sorted."""
    found = []
    if not portfolio.shorts:
        return found
    marks = portfolio.marks()
    for strategy, asset, exchange, qty, collateral in short_collaterals(portfolio, rules):
        level = margin_level(collateral, qty, exchange_price(snapshot, exchange, asset, marks))
        if level < rules.maintenance_ratio:
            found.append((strategy, asset, exchange, qty, level))
    return found


class MarginDesk:
    """Sends margin calls and remembers each short's episode; the keeper books the borrow fees."""

    def __init__(self, rules: MarginRules, portfolio, process, notify):
        self.rules = rules
        self.portfolio = portfolio
        self.process = process  # DataFlowManager.process_signal
        self.notify = notify  # (message, level) -> None
        self.calls: dict[tuple[str, str, str], CallState] = {}
        self.sent = 0
        self.filled = 0
        self.failed = 0

    def check(self, snapshot: Snapshot) -> int:
        """Margin-call every short under maintenance; returns how many calls filled now."""
        below = shorts_below(self.portfolio, self.rules, snapshot)
        keys = {(strategy, asset, exchange) for strategy, asset, exchange, _, _ in below}
        for key in [k for k in self.calls if k not in keys]:
            self._resolved(key)
        filled = 0
        for number, (strategy, asset, exchange, qty, level) in enumerate(below, start=1):
            if self._call(snapshot, strategy, asset, exchange, qty, level, number):
                filled += 1
        return filled

    def _call(self, snapshot: Snapshot, strategy: str, asset: str, exchange: str, qty: float, level: float,
              number: int) -> bool:
        key = (strategy, asset, exchange)
        state = self.calls.setdefault(key, CallState())
        if state.pending_since is not None:
            if qty == state.pending_qty and snapshot.ts - state.pending_since < PENDING_SECONDS:
                return False
            state.pending_since = None
        symbol = f"{asset}/{PORTFOLIO_QUOTE}"
        market = snapshot.markets.get((exchange, symbol))
        if market is None:
            return self._failed(state, key, qty, level, f"{symbol} is not traded on {exchange}")
        buy_qty = round_step(qty, market.amount_step)
        quote = snapshot.quotes.get((exchange, symbol))
        price = quote.ask if quote is not None else self.portfolio.marks().get(asset, 0.0)
        if buy_qty < max(market.min_amount, 1e-12) or buy_qty * price < market.min_notional:
            return False  # dust below the smallest order: nothing an order could buy back
        reason = (f"margin call: {strategy}'s short of {qty:.8g} {asset} on {exchange} has margin level "
                  f"{level:.3f} < maintenance {self.rules.maintenance_ratio:g}; buying it back at market")
        signal = Signal(strategy=strategy, kind=MARGIN_CALL, legs=(Leg(exchange, symbol, "buy", buy_qty, price),),
                        reason=reason, confidence=1.0, closes_position=True,
                        id=f"{strategy}-margin-{snapshot.tick}-{number}")
        self.sent += 1
        result = self.process(signal, snapshot, allows_short=True)
        status = getattr(result, "status", None)
        if status in ("filled", "partial"):
            self.filled += 1
            if status == "partial":
                log.info("margin call %s filled partly; the rest is called again next tick", signal.id)
            else:
                self._resolved(key)
            return True
        if status in IN_FLIGHT:
            state.pending_since, state.pending_qty = snapshot.ts, qty
            return False
        return self._failed(state, key, qty, level, getattr(result, "reason", "") or "rejected")

    def _resolved(self, key: tuple[str, str, str]) -> None:
        """The short is bought back or above maintenance again: end its episode (told if it had failed)."""
        state = self.calls.pop(key, None)
        if state is not None and state.failures:
            self.notify(f"Margin call on {key[0]}'s {key[1]} short on {key[2]} resolved after "
                        f"{state.failures} failed attempt(s)", "success")

    def _failed(self, state: CallState, key, qty: float, level: float, why: str) -> bool:
        state.failures += 1
        self.failed += 1
        if state.failures == 1 or state.failures % NOTIFY_EVERY == 0:
            self.notify(f"Margin call on {key[0]}'s short of {qty:.8g} {key[1]} on {key[2]} (margin level "
                        f"{level:.3f}) could not fill ({why}); retrying every tick "
                        f"({state.failures} attempt(s) so far)", "error")
        return False

    def status(self) -> dict:
        """Counters and the open margin call episodes, for the API and the exit summary."""
        return {"sent": self.sent, "filled": self.filled, "failed": self.failed,
                "open": [{"strategy": s, "asset": a, "exchange": e, "failures": c.failures,
                          "pending": c.pending_since is not None} for (s, a, e), c in sorted(self.calls.items())]}
