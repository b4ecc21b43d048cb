"""Ledger lines that are not fills (owner: the books, bot/accounting/books.py): a transfer leg or a borrow fee.
What each kind does to the books is bot/accounting/entries.py."""
from __future__ import annotations

from dataclasses import dataclass

from bot.timestamps import iso_utc, parse_iso

# Kinds of the lines of trades.jsonl that are not fills; a trade line has no "entry" key.
TRANSFER_OUT, TRANSFER_IN, BORROW_FEE = "transfer_out", "transfer_in", "borrow_fee"
ENTRY_KINDS = (TRANSFER_OUT, TRANSFER_IN, BORROW_FEE)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """A ledger line that changes a wallet without a fill: a transfer leg or a borrow fee.

    amount is the signed change of wallets[exchange][asset], the fee included (a transfer_out of
    1 BTC with a 0.0002 fee has amount -1.0002; the 1 BTC is in transit). fee is the part of
    amount that is a cost, in asset; fee_usdt its USDT value when booked, charged to strategy.
    ref is the transfer id (both legs carry it); detail holds from/to, sent/arrival times, etc.
    """

    id: str
    seq: int
    ts: float
    tick: int
    entry: str
    strategy: str
    exchange: str
    asset: str
    amount: float
    fee: float
    fee_usdt: float
    ref: str
    detail: dict

    def to_dict(self) -> dict:
        """Every field by name, as one line of trades.jsonl holds it (ts as ISO 8601)."""
        fields = {name: getattr(self, name) for name in self.__slots__}
        fields["ts"] = iso_utc(self.ts)
        fields["detail"] = dict(self.detail)
        return fields

    @classmethod
    def from_dict(cls, fields: dict) -> "LedgerEntry":
        """A LedgerEntry from a ledger line's fields (ts as ISO 8601, or already epoch seconds)."""
        ts = fields["ts"]
        return cls(**{**fields, "ts": parse_iso(ts) if isinstance(ts, str) else float(ts),
                      "detail": dict(fields["detail"])})
