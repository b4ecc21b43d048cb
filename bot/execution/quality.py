"""Fill quality per strategy and per (strategy, exchange): a pure aggregation of the ledger and the misses.

ExecutionQuality takes, in ledger (and misses-file) order, one record at a time: fills (FillView),
non-trade ledger entries (anything with .entry, .strategy, .exchange, .fee_usdt: transfers and
borrow fees) and misses (MissView), and answers report(). Old ledgers without the fill-quality
fields (decision_mid, latency_ms, liquidity_taken_pct) still count fills; the figures that need
those fields are None. Memory: scalars per group, one float per fill with a decision mid (kept for
the exact p95), one entry per market set traded, and two bounded tables of recent signal ids.

Definitions (side_sign is +1 for a buy, -1 for a sell; positive numbers are costs):
- slippage_bps = side_sign * (price / decision_mid - 1) * 1e4, against the mid of the leg's market
  in the snapshot the signal was decided on; mean and p95 (numpy.percentile, linear).
- latency_cost_usdt = sum of side_sign * (price - decision_mid) * qty * quote_usdt_rate: what the
  fill cost against the decision mid, i.e. half the spread + the walk down the book + the market's
  move while the order travelled. With a recorded best price at arrival it splits into
  arrival_cost_usdt (decision mid -> best price: half spread and the move) and book_walk_usdt
  (best price -> fill price); without one those two are None.
- signals: distinct signals that reached the market (filled at least one leg, or a recorded miss);
  fill_ratio = filled signals / signals.
- repeat fills within one gap episode: a signal filling the same market set (same kind, same legs'
  exchange, symbol and side) on the same or the next tick as the previous fill of that set is a
  repeat; the first signal of each run of consecutive ticks is not. repeat_pnl_share = the repeats'
  realized P&L / the strategy's realized P&L (both as booked by the ledger, before fees).
"""
from __future__ import annotations

from array import array
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from bot.models import split_symbol

TRANSFER_OUT, TRANSFER_IN, BORROW_FEE = "transfer_out", "transfer_in", "borrow_fee"
MARGIN_CALL_KIND = "margin_call"
MISS_REASONS = ("price_moved", "liquidity_taken", "insufficient_funds", "no_book", "timeout", "other")
RECENT_SIGNALS = 4096  # how many recent signal ids are kept to spot a signal with both fills and a miss
UNATTRIBUTED = "(unattributed)"


def _number(value) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True, slots=True)
class FillView:
    """What the aggregation reads of one fill (a Trade, or a trades.jsonl line)."""

    strategy: str
    signal_id: str
    kind: str
    tick: int
    exchange: str
    symbol: str
    side: str
    qty: float
    price: float
    fee_usdt: float
    quote_usdt_rate: float
    realized_pnl: float
    decision_mid: float | None = None
    latency_ms: float | None = None
    liquidity_taken_pct: float | None = None
    best_price: float | None = None  # best book price at arrival, if the executor records it

    @classmethod
    def from_record(cls, record: dict) -> "FillView":
        """From a ledger line's fields; absent fill-quality fields read as None."""
        _, quote = split_symbol(record["symbol"])
        rate = float(record["quote_usdt_rate"])
        fee = float(record["fee"])
        return cls(record["strategy"], record["signal_id"], record["kind"], int(record["tick"]), record["exchange"],
                   record["symbol"], record["side"], float(record["qty"]), float(record["price"]),
                   fee * (rate if record["fee_asset"] == quote else 1.0), rate, float(record["realized_pnl"]),
                   _number(record.get("decision_mid")), _number(record.get("latency_ms")),
                   _number(record.get("liquidity_taken_pct")), _number(record.get("best_price")))

    @classmethod
    def from_trade(cls, trade) -> "FillView":
        """From a Trade object (fields it lacks read as None)."""
        record = {name: getattr(trade, name, None) for name in cls.__slots__ if name != "fee_usdt"}
        record.update(fee=trade.fee, fee_asset=trade.fee_asset)
        return cls.from_record(record)


@dataclass(frozen=True, slots=True)
class EntryView:
    """What the aggregation reads of a non-trade ledger entry (a trades.jsonl line with an "entry" key)."""

    entry: str
    strategy: str | None
    exchange: str | None
    fee_usdt: float

    @classmethod
    def from_record(cls, record: dict) -> "EntryView":
        """From a ledger line's fields (a missing fee_usdt counts as 0)."""
        return cls(record["entry"], record.get("strategy"), record.get("exchange"),
                   float(record.get("fee_usdt") or 0.0))


@dataclass(frozen=True, slots=True)
class MissView:
    """One line of data/misses.jsonl: an order that reached the market and did not fill."""

    strategy: str
    signal_id: str
    tick: int
    reason_key: str
    exchanges: tuple[str, ...]
    latency_ms: float | None = None

    @classmethod
    def from_record(cls, record: dict) -> "MissView":
        """From a misses.jsonl line; the exchanges are its legs' (each once, in leg order)."""
        exchanges = tuple(dict.fromkeys(leg["exchange"] for leg in record.get("legs") or ()))
        return cls(record["strategy"], record["signal_id"], int(record.get("tick", -1)),
                   record.get("reason_key") or "other", exchanges, _number(record.get("latency_ms")))


class _Figures:
    """The running sums of one group (a strategy, or a strategy on one exchange)."""

    __slots__ = ("fills", "filled_signals", "missed_signals", "both", "misses", "slippage", "cost", "arrival",
                 "walk", "split_fills", "latency_sum", "latency_fills", "taken_sum", "taken_fills", "taken_max",
                 "transfers", "transfer_fees", "borrow_fees", "borrow_entries", "margin_calls")

    def __init__(self):
        self.fills = self.filled_signals = self.missed_signals = self.both = 0
        self.misses: dict[str, int] = {}
        self.slippage = array("d")
        self.cost = self.arrival = self.walk = 0.0
        self.split_fills = self.latency_fills = self.taken_fills = 0
        self.latency_sum = self.taken_sum = 0.0
        self.taken_max: float | None = None
        self.transfers = self.borrow_entries = self.margin_calls = 0
        self.transfer_fees = self.borrow_fees = 0.0

    def add_fill(self, fill: FillView) -> None:
        self.fills += 1
        sign = 1.0 if fill.side == "buy" else -1.0
        if fill.decision_mid is not None and fill.decision_mid > 0:
            self.slippage.append(sign * (fill.price / fill.decision_mid - 1.0) * 1e4)
            value = fill.qty * fill.quote_usdt_rate
            self.cost += sign * (fill.price - fill.decision_mid) * value
            if fill.best_price is not None:
                self.split_fills += 1
                self.arrival += sign * (fill.best_price - fill.decision_mid) * value
                self.walk += sign * (fill.price - fill.best_price) * value
        if fill.latency_ms is not None:
            self.latency_fills += 1
            self.latency_sum += fill.latency_ms
        if fill.liquidity_taken_pct is not None:
            self.taken_fills += 1
            self.taken_sum += fill.liquidity_taken_pct
            self.taken_max = max(self.taken_max or fill.liquidity_taken_pct, fill.liquidity_taken_pct)

    def add_entry(self, entry) -> None:
        fee = float(entry.fee_usdt or 0.0)
        if entry.entry in (TRANSFER_OUT, TRANSFER_IN):
            self.transfers += entry.entry == TRANSFER_OUT  # one transfer = one withdrawal
            self.transfer_fees += fee
        elif entry.entry == BORROW_FEE:
            self.borrow_entries += 1
            self.borrow_fees += fee

    def as_dict(self) -> dict:
        signals = self.filled_signals + self.missed_signals - self.both
        slippage = np.frombuffer(self.slippage, dtype=float) if self.slippage else None
        priced = slippage is not None
        return {
            "signals": signals, "filled_signals": self.filled_signals, "missed_signals": self.missed_signals,
            "fill_ratio": self.filled_signals / signals if signals else None,
            "fills": self.fills, "misses_total": sum(self.misses.values()), "misses": dict(sorted(self.misses.items())),
            "slippage_bps": {"mean": float(slippage.mean()) if priced else None,
                             "p95": float(np.percentile(slippage, 95)) if priced else None,
                             "fills": len(self.slippage)},
            "latency_cost_usdt": self.cost if priced else None,
            "arrival_cost_usdt": self.arrival if self.split_fills else None,
            "book_walk_usdt": self.walk if self.split_fills else None,
            "latency_ms_mean": self.latency_sum / self.latency_fills if self.latency_fills else None,
            "liquidity_taken_pct": {"mean": self.taken_sum / self.taken_fills if self.taken_fills else None,
                                    "max": self.taken_max},
            "transfers": self.transfers, "transfer_fees_usdt": self.transfer_fees,
            "borrow_fees_usdt": self.borrow_fees, "borrow_fee_entries": self.borrow_entries,
            "margin_calls": self.margin_calls,
        }


@dataclass(slots=True)
class _Signal:
    """The signal whose fills are being read (a signal's fills are contiguous in the ledger)."""

    strategy: str
    signal_id: str
    kind: str
    tick: int
    markets: set = field(default_factory=set)
    exchanges: set = field(default_factory=set)
    realized: float = 0.0
    repeat: bool | None = None  # decided when the signal is complete


@dataclass(slots=True)
class _Strategy:
    figures: _Figures = field(default_factory=_Figures)
    exchanges: dict = field(default_factory=dict)
    realized: float = 0.0
    fees: float = 0.0
    repeat_fills: int = 0
    repeat_realized: float = 0.0
    last_fill_tick: dict = field(default_factory=dict)  # market set -> tick of its latest fill
    last_missed: str | None = None
    missed_exchanges: set = field(default_factory=set)

    def on(self, exchange: str | None) -> _Figures:
        key = exchange or UNATTRIBUTED
        found = self.exchanges.get(key)
        if found is None:
            found = self.exchanges[key] = _Figures()
        return found


class ExecutionQuality:
    """Fill-quality figures, fed one ledger record or miss at a time (see the module docstring)."""

    def __init__(self):
        self._strategies: dict[str, _Strategy] = {}
        self._current: _Signal | None = None
        # (strategy, signal id) -> exchanges, for the last RECENT_SIGNALS filled and missed signals.
        self._recent_filled: OrderedDict[tuple[str, str], set] = OrderedDict()
        self._recent_missed: OrderedDict[tuple[str, str], set] = OrderedDict()

    def _strategy(self, name: str | None) -> _Strategy:
        name = name or UNATTRIBUTED
        found = self._strategies.get(name)
        if found is None:
            found = self._strategies[name] = _Strategy()
        return found

    # ----- feeding ---------------------------------------------------------------------------
    def add_fill(self, fill: FillView) -> None:
        """One fill, in ledger order."""
        book = self._strategy(fill.strategy)
        current = self._current
        if current is None or (current.strategy, current.signal_id) != (fill.strategy, fill.signal_id):
            self._close_signal()
            current = self._current = _Signal(fill.strategy, fill.signal_id, fill.kind, fill.tick)
            book.figures.filled_signals += 1
            book.figures.margin_calls += fill.kind == MARGIN_CALL_KIND
            key = (fill.strategy, fill.signal_id)
            _remember(self._recent_filled, key, current.exchanges)
            book.figures.both += key in self._recent_missed
        elif current.repeat:  # a late fill of a signal already judged a repeat
            book.repeat_realized += fill.realized_pnl
        on_exchange = book.on(fill.exchange)
        if fill.exchange not in current.exchanges:
            current.exchanges.add(fill.exchange)
            on_exchange.filled_signals += 1
            on_exchange.margin_calls += fill.kind == MARGIN_CALL_KIND
            missed = self._recent_missed.get((fill.strategy, fill.signal_id))
            on_exchange.both += missed is not None and fill.exchange in missed
        current.markets.add((fill.exchange, fill.symbol, fill.side))
        current.realized += fill.realized_pnl
        book.realized += fill.realized_pnl
        book.fees += fill.fee_usdt
        book.figures.add_fill(fill)
        on_exchange.add_fill(fill)

    def add_entry(self, entry) -> None:
        """One non-trade ledger entry (transfer_out / transfer_in / borrow_fee; others are ignored)."""
        book = self._strategy(entry.strategy)
        book.figures.add_entry(entry)
        book.on(entry.exchange).add_entry(entry)

    def add_miss(self, miss: MissView) -> None:
        """One miss record, in file order (one signal's records are contiguous)."""
        book = self._strategy(miss.strategy)
        book.figures.misses[miss.reason_key] = book.figures.misses.get(miss.reason_key, 0) + 1
        key = (miss.strategy, miss.signal_id)
        filled = self._recent_filled.get(key)
        if book.last_missed != miss.signal_id:
            book.last_missed = miss.signal_id
            book.missed_exchanges = set()
            book.figures.missed_signals += 1
            book.figures.both += filled is not None
            _remember(self._recent_missed, key, book.missed_exchanges)
        for exchange in miss.exchanges:
            on_exchange = book.on(exchange)
            on_exchange.misses[miss.reason_key] = on_exchange.misses.get(miss.reason_key, 0) + 1
            if exchange not in book.missed_exchanges:
                book.missed_exchanges.add(exchange)
                on_exchange.missed_signals += 1
                on_exchange.both += filled is not None and exchange in filled

    def _close_signal(self) -> None:
        """Judge the current signal's place in its gap episode (its market set is complete now)."""
        current = self._current
        if current is None or current.repeat is not None:
            return
        book = self._strategies[current.strategy]
        market_set = (current.kind, tuple(sorted(current.markets)))
        previous = book.last_fill_tick.get(market_set)
        current.repeat = previous is not None and 0 <= current.tick - previous <= 1
        book.last_fill_tick[market_set] = current.tick
        if current.repeat:
            book.repeat_fills += 1
            book.repeat_realized += current.realized

    # ----- answers ---------------------------------------------------------------------------
    def strategies(self) -> list[str]:
        """The strategies seen so far, sorted."""
        return sorted(self._strategies)

    def report(self, strategy: str | None = None, include: tuple[str, ...] = ()) -> list[dict]:
        """One row per strategy seen or named in include (or only the one asked for), sorted, each
        with its per-exchange rows."""
        self._close_signal()  # a report is taken between whole signals
        rows = []
        for name in sorted(set(self._strategies) | set(include)):
            if strategy is not None and name != strategy:
                continue
            book = self._strategies.get(name) or _Strategy()
            rows.append({
                "strategy": name, **book.figures.as_dict(),
                "realized_pnl": book.realized, "fees_usdt": book.fees,
                "repeat_fills": book.repeat_fills, "repeat_realized_pnl": book.repeat_realized,
                "repeat_pnl_share": book.repeat_realized / book.realized + 0.0 if book.realized else None,  # no -0.0
                "exchanges": [{"exchange": exchange, **figures.as_dict()}
                              for exchange, figures in sorted(book.exchanges.items())],
            })
        return rows


def _remember(table: OrderedDict, key, value) -> None:
    """Put key in a table bounded to RECENT_SIGNALS entries, dropping the oldest."""
    table[key] = value
    if len(table) > RECENT_SIGNALS:
        table.popitem(last=False)
