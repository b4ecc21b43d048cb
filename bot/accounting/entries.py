"""Non-trade ledger entries: how each kind is built and what it does to the books.

- transfer_out: the source wallet loses amount (moved + fee); `moved` goes in transit (counted
  in equity at the mark, spendable nowhere) until its transfer_in lands it on the destination
  (or, cancelled, back on the source). The fee is a cost of the strategy the entry names.
- borrow_fee: the short's exchange wallet pays the fee in USDT, a cost of the short's strategy.
Fees paid in coins leave the house inventory (the coins no position holds): the strategy is
charged their USDT value when paid (fee_usdt), and their price move after that is no one's, so
holdings_pnl leaves it out (PortfolioTracker.holdings_pnl). That keeps, at every moment,
    equity - initial = realized + unrealized + holdings_pnl - fees - transfer fees - borrow fees.
"""
from __future__ import annotations

from dataclasses import dataclass

from bot.ledger_entries import BORROW_FEE, TRANSFER_IN, TRANSFER_OUT, LedgerEntry
from bot.timestamps import iso_utc, parse_iso
from bot.accounting.entry_checks import in_transit_amount
from bot.accounting.margin import note_borrow_billed


@dataclass(slots=True)
class Transit:
    """Coins on their way between two exchanges (a transfer_out without its transfer_in yet)."""

    ref: str
    strategy: str
    asset: str
    amount: float
    source: str
    destination: str
    sent_ts: float
    arrival_ts: float

    def to_dict(self) -> dict:
        """As portfolio_state.json and the API show it (times ISO 8601)."""
        return {"ref": self.ref, "strategy": self.strategy, "asset": self.asset, "amount": self.amount,
                "from": self.source, "to": self.destination, "sent_ts": iso_utc(self.sent_ts),
                "arrival_ts": iso_utc(self.arrival_ts)}


def transit_of(entry: LedgerEntry) -> Transit:
    """The coins a transfer_out put in transit."""
    detail = entry.detail
    return Transit(entry.ref, entry.strategy, entry.asset, in_transit_amount(entry), entry.exchange,
                   str(detail["to"]), parse_iso(detail["sent_ts"]), parse_iso(detail["arrival_ts"]))


def transfer_out(seq: int, ts: float, tick: int, strategy: str, asset: str, source: str, destination: str,
                 moved: float, fee: float, fee_usdt: float, arrival_ts: float, reason: str) -> LedgerEntry:
    """The entry that sends `moved` of asset from source to destination, paying fee on top."""
    ref = f"X{seq:08d}"
    detail = {"from": source, "to": destination, "moved": moved, "sent_ts": iso_utc(ts),
              "arrival_ts": iso_utc(arrival_ts), "reason": reason}
    return LedgerEntry(f"E{seq:08d}", seq, ts, tick, TRANSFER_OUT, strategy, source, asset, -(moved + fee), fee,
                       fee_usdt, ref, detail)


def transfer_in(seq: int, ts: float, tick: int, transit: Transit, cancelled_reason: str = "") -> LedgerEntry:
    """The entry that lands a transfer on its destination, or back on its source when cancelled."""
    detail = {"from": transit.source, "to": transit.destination, "sent_ts": iso_utc(transit.sent_ts),
              "arrival_ts": iso_utc(transit.arrival_ts)}
    exchange = transit.destination
    if cancelled_reason:
        detail.update(cancelled=True, reason=cancelled_reason)
        exchange = transit.source
    return LedgerEntry(f"E{seq:08d}", seq, ts, tick, TRANSFER_IN, transit.strategy, exchange, transit.asset,
                       transit.amount, 0.0, 0.0, transit.ref, detail)


def borrow_fee(seq: int, ts: float, tick: int, strategy: str, asset: str, exchange: str, fee_usdt: float,
               detail: dict) -> LedgerEntry:
    """The entry that pays fee_usdt of borrow on a short of asset on exchange (detail says how)."""
    return LedgerEntry(f"E{seq:08d}", seq, ts, tick, BORROW_FEE, strategy, exchange, "USDT", -fee_usdt, fee_usdt,
                       fee_usdt, "", {"borrowed_asset": asset, **detail})


def apply_entry(tracker, entry: LedgerEntry) -> None:
    """Book one non-trade entry into tracker (a PortfolioTracker): wallet, transit, costs."""
    wallet = tracker.balances.setdefault(entry.exchange, {})
    wallet[entry.asset] = wallet.get(entry.asset, 0.0) + entry.amount
    stats = tracker.stats_of(entry.strategy)
    if entry.entry == TRANSFER_OUT:
        tracker.in_transit[entry.ref] = transit_of(entry)
        stats.transfer_fees_usdt += entry.fee_usdt
        stats.transfers += 1
        if entry.fee:
            tracker.fee_coins[entry.asset] = tracker.fee_coins.get(entry.asset, 0.0) + entry.fee
            tracker.fee_coins_usdt[entry.asset] = tracker.fee_coins_usdt.get(entry.asset, 0.0) + entry.fee_usdt
    elif entry.entry == TRANSFER_IN:
        tracker.in_transit.pop(entry.ref, None)
    elif entry.entry == BORROW_FEE:
        stats.borrow_fees_usdt += entry.fee_usdt
        asset = str(entry.detail.get("borrowed_asset", ""))
        until = entry.detail.get("to_ts")
        if until is not None:
            note_borrow_billed(tracker.accruals, (entry.strategy, asset, entry.exchange), parse_iso(until))
    tracker.last_seq = entry.seq
    tracker.last_tick = max(tracker.last_tick, entry.tick)
