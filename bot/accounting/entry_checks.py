"""Reading and checking the non-trade lines of the ledger (transfers, borrow fees).

A line must name every LedgerEntry field, a known kind and finite numbers; beyond that the
entries must add up: a transfer_out sends -amount - fee (what arrives), its transfer_in (same
ref, after it) receives exactly that on the named destination or, cancelled, back on the
source; a transfer completes once; a fee is never negative and a borrow fee is paid out of the
wallet (amount = -fee). A line that breaks one of these is ledger damage (CorruptFileError
naming the line), refused before the books are rebuilt: `verify` reports it, start-up stops.
"""
from __future__ import annotations

import math
from pathlib import Path

from bot.ledger_entries import BORROW_FEE, ENTRY_KINDS, TRANSFER_IN, TRANSFER_OUT, LedgerEntry
from bot.storage_reading import CorruptFileError

REQUIRED_ENTRY_FIELDS = tuple(LedgerEntry.__slots__)
NUMBERS = ("amount", "fee", "fee_usdt")
# Transfer amounts are written as computed (no rounding), so the legs agree to float round-off.
AMOUNT_TOLERANCE = 1e-9


def entry_from_record(record: dict, path: Path, line: int | None = None) -> LedgerEntry:
    """Turn one ledger line with an "entry" key into a LedgerEntry, naming what is wrong."""
    missing = [name for name in REQUIRED_ENTRY_FIELDS if name not in record]
    if missing:
        raise CorruptFileError(path, f"ledger entry lacks field(s) {', '.join(missing)}", line)
    if record["entry"] not in ENTRY_KINDS:
        raise CorruptFileError(path, f"unknown ledger entry kind {record['entry']!r} "
                                     f"(known: {', '.join(ENTRY_KINDS)})", line)
    for name in NUMBERS:
        value = record[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise CorruptFileError(path, f"ledger entry field {name} is not a finite number ({value!r})", line)
    if not isinstance(record["detail"], dict):
        raise CorruptFileError(path, "ledger entry field detail is not an object", line)
    try:
        return LedgerEntry.from_dict({name: record[name] for name in REQUIRED_ENTRY_FIELDS})
    except (TypeError, ValueError) as exc:
        raise CorruptFileError(path, f"ledger entry has an unreadable ts ({exc})", line) from None


def in_transit_amount(entry: LedgerEntry) -> float:
    """What a transfer_out puts in transit: what left the source less the fee."""
    return -entry.amount - entry.fee


class EntryChecker:
    """Checks each entry against the ones before it, in ledger order (one per load)."""

    def __init__(self, path: Path):
        self.path = path
        self.open_transfers: dict[str, LedgerEntry] = {}
        self.done: set[str] = set()

    def fail(self, line: int | None, message: str) -> None:
        """Raise the CorruptFileError for this line."""
        raise CorruptFileError(self.path, message, line)

    def check(self, entry: LedgerEntry, line: int | None = None) -> None:
        """Raise CorruptFileError when entry does not add up with what came before it."""
        if entry.fee < 0 or entry.fee_usdt < 0:
            self.fail(line, f"{entry.entry} {entry.id}: fee must not be negative (fee {entry.fee!r}, "
                            f"fee_usdt {entry.fee_usdt!r})")
        if entry.entry == TRANSFER_OUT:
            self._check_out(entry, line)
        elif entry.entry == TRANSFER_IN:
            self._check_in(entry, line)
        elif entry.entry == BORROW_FEE and abs(entry.amount + entry.fee) > AMOUNT_TOLERANCE:
            self.fail(line, f"borrow_fee {entry.id}: amount {entry.amount!r} is not minus its fee {entry.fee!r}")

    def _check_out(self, entry: LedgerEntry, line: int | None) -> None:
        if not entry.ref or entry.ref in self.open_transfers or entry.ref in self.done:
            self.fail(line, f"transfer_out {entry.id}: transfer id {entry.ref!r} is empty or used before")
        if in_transit_amount(entry) <= 0:
            self.fail(line, f"transfer_out {entry.id}: sends nothing after its fee "
                            f"(amount {entry.amount!r}, fee {entry.fee!r})")
        destination = entry.detail.get("to")
        if not isinstance(destination, str) or not destination or destination == entry.exchange:
            self.fail(line, f"transfer_out {entry.id}: detail.to must name another exchange (got {destination!r})")
        self.open_transfers[entry.ref] = entry

    def _check_in(self, entry: LedgerEntry, line: int | None) -> None:
        sent = self.open_transfers.pop(entry.ref, None)
        if sent is None:
            again = "completed before" if entry.ref in self.done else "has no transfer_out before it"
            self.fail(line, f"transfer_in {entry.id}: transfer {entry.ref!r} {again}")
        self.done.add(entry.ref)
        expected_exchange = sent.exchange if entry.detail.get("cancelled") else sent.detail.get("to")
        if entry.exchange != expected_exchange or entry.asset != sent.asset:
            self.fail(line, f"transfer_in {entry.id}: lands {entry.asset} on {entry.exchange}, but transfer "
                            f"{entry.ref} sent {sent.asset} to {expected_exchange}")
        if entry.fee != 0 or abs(entry.amount - in_transit_amount(sent)) > AMOUNT_TOLERANCE:
            self.fail(line, f"transfer_in {entry.id}: receives {entry.amount!r} (fee {entry.fee!r}); transfer "
                            f"{entry.ref} has {in_transit_amount(sent)!r} in transit")
        if entry.strategy != sent.strategy:
            self.fail(line, f"transfer_in {entry.id}: charged to {entry.strategy!r}, its transfer_out to "
                            f"{sent.strategy!r}")
