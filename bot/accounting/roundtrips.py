"""Round trips: the trades a strategy made, derived from the ledger (never stored as truth).

Definitions (one round trip per open-to-flat, as freqtrade and backtesting.py count them):
- Position strategies (momentum, news, stat_arb, anything but arbitrage): a round trip starts
  with the fill that opens a position of the strategy in an asset (positions are keyed by
  strategy and asset, as in bot/accounting/positions.py) and ends with the fill that leaves it flat.
  Adding to the position and partial exits belong to the same round trip; a partial exit is
  not a round trip of its own. A fill that flips the position (long -> short) closes one round
  trip and opens the next: its quantity and fee are split pro rata, its booked P&L goes to the
  one it closes (the opening part books none).
- The fills of one signal that open positions in several assets form one round trip (a
  stat-arb pair: long one leg, short the other); it closes when all its assets are flat.
- Arbitrage: every signal (its legs share one signal_id) is one round trip, closed at once.
  Its first leg is the entry (its notional is the entry notional), the other legs the exit.
- Net P&L is the P&L the ledger booked (realized_pnl, the books' average-cost figure) less
  every fee of the round trip in USDT (bot.models.trade_fee_usdt). For a USDT market that
  is (exit VWAP - entry VWAP) x quantity x direction - fees. Return % is on the entry notional.
- Flat: a remaining quantity at most FLAT_FRACTION of the round trip's largest quantity (or
  DUST_QTY): exits are rounded down to the market's amount step, so a position can keep a
  residue no exit signal can sell; that residue stays in the books but ends the round trip.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from bot.models import Trade, split_symbol, trade_fee_usdt
from bot.timestamps import iso_utc
from bot.accounting.positions import DUST_QTY

SIGNAL_GROUPED_STRATEGIES = frozenset({"arbitrage"})
# A residue below this share of the round trip's largest quantity is rounding, not a holding.
FLAT_FRACTION = 1e-3


@dataclass(slots=True)
class TripLeg:
    """One symbol of a round trip: what was bought or sold to enter, and to exit."""

    symbol: str
    entry_side: str
    entry_qty: float = 0.0
    entry_quote: float = 0.0  # quantity x price, in the market's quote asset (for the VWAP)
    entry_usdt: float = 0.0
    exit_qty: float = 0.0
    exit_quote: float = 0.0
    exit_usdt: float = 0.0
    open_qty: float = 0.0  # signed: positive long, negative short
    peak_qty: float = 0.0

    @property
    def entry_vwap(self) -> float | None:
        """Volume-weighted entry price in the quote asset."""
        return self.entry_quote / self.entry_qty if self.entry_qty > 0 else None

    @property
    def exit_vwap(self) -> float | None:
        """Volume-weighted exit price in the quote asset (None before any exit)."""
        return self.exit_quote / self.exit_qty if self.exit_qty > 0 else None

    @property
    def flat(self) -> bool:
        """True when what is left is rounding residue."""
        return abs(self.open_qty) <= max(DUST_QTY, FLAT_FRACTION * self.peak_qty)

    def open_cost_usdt(self) -> float:
        """The entry cost of the quantity still open (average cost), in USDT."""
        return self.entry_usdt * abs(self.open_qty) / self.entry_qty if self.entry_qty > 0 else 0.0

    def to_dict(self) -> dict:
        """The leg as the API and the CSV show it."""
        return {"symbol": self.symbol, "side": self.entry_side, "entry_qty": self.entry_qty,
                "entry_vwap": self.entry_vwap, "exit_qty": self.exit_qty, "exit_vwap": self.exit_vwap}


@dataclass(slots=True)
class RoundTrip:
    """One round trip of one strategy; times are market-clock epoch seconds."""

    id: str
    strategy: str
    kind: str
    opened_ts: float
    status: str = "open"
    closed_ts: float | None = None
    legs: dict[str, TripLeg] = field(default_factory=dict)
    exchanges: set[str] = field(default_factory=set)
    entry_fees_usdt: float = 0.0
    exit_fees_usdt: float = 0.0
    realized_pnl: float = 0.0
    entry_reason: str = ""
    exit_reason: str = ""
    signal_ids: list[str] = field(default_factory=list)
    trade_ids: list[str] = field(default_factory=list)

    @property
    def closed(self) -> bool:
        """True once every leg is flat (arbitrage: at once)."""
        return self.status == "closed"

    @property
    def symbols(self) -> list[str]:
        """The symbols traded, sorted."""
        return sorted(leg.symbol for leg in self.legs.values())

    @property
    def side(self) -> str:
        """long or short (one symbol), pair (a long and a short), or arbitrage."""
        if self.strategy in SIGNAL_GROUPED_STRATEGIES:
            return "arbitrage"
        sides = {leg.entry_side for leg in self.legs.values()}
        if len(sides) > 1:
            return "pair"
        return "long" if sides == {"buy"} else "short"

    @property
    def fees_usdt(self) -> float:
        """Every fee of the round trip, entry and exit, in USDT."""
        return self.entry_fees_usdt + self.exit_fees_usdt

    @property
    def net_pnl(self) -> float:
        """Booked P&L less every fee, in USDT."""
        return self.realized_pnl - self.fees_usdt

    @property
    def entry_notional_usdt(self) -> float:
        """What entering cost (or, for a short, raised), in USDT."""
        return sum(leg.entry_usdt for leg in self.legs.values())

    @property
    def return_pct(self) -> float | None:
        """Net P&L in % of the entry notional."""
        notional = self.entry_notional_usdt
        return self.net_pnl / notional * 100.0 if notional > 0 else None

    @property
    def duration_seconds(self) -> float | None:
        """Close time less open time (None while open)."""
        return self.closed_ts - self.opened_ts if self.closed_ts is not None else None

    def _single_leg(self) -> TripLeg | None:
        return next(iter(self.legs.values())) if len(self.legs) == 1 else None

    def to_dict(self, unrealized_pnl: float | None = None) -> dict:
        """The round trip as the API shows it (ISO times at this edge)."""
        leg = self._single_leg()
        return {
            "id": self.id, "strategy": self.strategy, "kind": self.kind, "status": self.status,
            "side": self.side, "symbols": self.symbols, "exchanges": sorted(self.exchanges),
            "opened_at": iso_utc(self.opened_ts),
            "closed_at": iso_utc(self.closed_ts) if self.closed_ts is not None else None,
            "quantity": leg.entry_qty if leg else None,
            "entry_vwap": leg.entry_vwap if leg else None, "exit_vwap": leg.exit_vwap if leg else None,
            "entry_notional_usdt": self.entry_notional_usdt,
            "entry_fees_usdt": self.entry_fees_usdt, "exit_fees_usdt": self.exit_fees_usdt,
            "fees_usdt": self.fees_usdt, "realized_pnl": self.realized_pnl, "net_pnl": self.net_pnl,
            "return_pct": self.return_pct, "duration_seconds": self.duration_seconds,
            "unrealized_pnl": unrealized_pnl if not self.closed else None,
            "entry_reason": self.entry_reason, "exit_reason": self.exit_reason,
            "signal_ids": list(self.signal_ids), "trade_ids": list(self.trade_ids),
            "legs": [leg.to_dict() for _, leg in sorted(self.legs.items())],
        }


class RoundTripBuilder:
    """Turns ledger trades, fed one at a time in ledger order, into round trips."""

    def __init__(self):
        self.trips: list[RoundTrip] = []
        self.seen_seq = 0
        self.peak_capital_usdt: dict[str, float] = {}
        self._open: dict[tuple[str, str], RoundTrip] = {}  # (strategy, asset) -> its open round trip
        self._last_signal: dict[str, tuple[str, RoundTrip]] = {}  # strategy -> (signal_id, round trip)

    def add(self, trade: Trade) -> None:
        """Take in the next trade of the ledger."""
        if trade.strategy in SIGNAL_GROUPED_STRATEGIES:
            self._add_to_signal(trade)
        else:
            self._add_to_position(trade)
        self.seen_seq = trade.seq

    def extend(self, trades: Iterable[Trade]) -> "RoundTripBuilder":
        """Take in trades in ledger order; returns self."""
        for trade in trades:
            self.add(trade)
        return self

    def open_trips(self) -> list[RoundTrip]:
        """The round trips not closed yet, oldest first."""
        return [trip for trip in self.trips if not trip.closed]

    def open_assets(self, trip: RoundTrip) -> list[str]:
        """The assets of an open round trip (to look up its positions' unrealized P&L)."""
        return sorted(asset for (strategy, asset), owner in self._open.items() if owner is trip)

    # ----- arbitrage: one round trip per signal ------------------------------------------------
    def _add_to_signal(self, trade: Trade) -> None:
        last = self._last_signal.get(trade.strategy)
        if last is not None and last[0] == trade.signal_id:
            trip = last[1]
            first = next(iter(trip.legs.values()))
            entry = trade.symbol == first.symbol and trade.side == first.entry_side  # more of the first leg
        else:
            trip, entry = self._new_trip(trade), True
            trip.status, trip.closed_ts = "closed", trip.opened_ts
            trip.exit_reason = trade.reason
            self._last_signal[trade.strategy] = (trade.signal_id, trip)
        leg = trip.legs.get(trade.symbol)
        if leg is None:
            leg = trip.legs[trade.symbol] = TripLeg(trade.symbol, trade.side)
        self._book(trip, leg, trade, trade.qty, entry=entry, fee_share=1.0, fee_is_entry=entry,
                   realized=trade.realized_pnl)
        capital = trip.entry_notional_usdt
        if capital > self.peak_capital_usdt.get(trade.strategy, 0.0):
            self.peak_capital_usdt[trade.strategy] = capital

    # ----- position strategies: one round trip per open-to-flat --------------------------------
    def _add_to_position(self, trade: Trade) -> None:
        asset, _ = split_symbol(trade.symbol)
        key = (trade.strategy, asset)
        delta = trade.qty if trade.side == "buy" else -trade.qty
        trip = self._open.get(key)
        if trip is None:
            self._enter(key, self._trip_for_signal(trade), trade, trade.qty, 1.0, 0.0)
        else:
            leg = _leg_for_asset(trip, asset, trade)
            if leg.open_qty * delta > 0:
                self._enter(key, trip, trade, trade.qty, 1.0, trade.realized_pnl)
            else:
                closing = min(trade.qty, abs(leg.open_qty))
                if trade.qty - closing <= max(DUST_QTY, FLAT_FRACTION * leg.peak_qty):
                    closing = trade.qty  # selling a residue with the exit is no flip
                share = closing / trade.qty if trade.qty > 0 else 1.0
                self._book(trip, leg, trade, closing, entry=False, fee_share=share, fee_is_entry=False,
                           realized=trade.realized_pnl)
                if leg.flat:
                    self._finish_leg(key, trip, trade)
                excess = trade.qty - closing
                if excess > DUST_QTY:  # a flip: the rest opens the next round trip
                    self._enter(key, self._trip_for_signal(trade), trade, excess, 1.0 - share, 0.0)
        self._track_capital(trade.strategy)

    def _trip_for_signal(self, trade: Trade) -> RoundTrip:
        """The open round trip this signal already started (a pair's second leg), or a new one."""
        last = self._last_signal.get(trade.strategy)
        if last is not None and last[0] == trade.signal_id and not last[1].closed \
                and trade.symbol not in last[1].legs:
            return last[1]
        trip = self._new_trip(trade)
        self._last_signal[trade.strategy] = (trade.signal_id, trip)
        return trip

    def _enter(self, key, trip: RoundTrip, trade: Trade, qty: float, fee_share: float, realized: float) -> None:
        leg = _leg_for_asset(trip, key[1], trade)
        self._open[key] = trip
        self._book(trip, leg, trade, qty, entry=True, fee_share=fee_share, fee_is_entry=True, realized=realized)

    def _finish_leg(self, key, trip: RoundTrip, trade: Trade) -> None:
        del self._open[key]
        if all(leg.flat for leg in trip.legs.values()):
            trip.status, trip.closed_ts, trip.exit_reason = "closed", trade.ts, trade.reason

    def _new_trip(self, trade: Trade) -> RoundTrip:
        trip = RoundTrip(id=f"R{trade.id}", strategy=trade.strategy, kind=trade.kind,
                         opened_ts=trade.ts, entry_reason=trade.reason)
        self.trips.append(trip)
        return trip

    @staticmethod
    def _book(trip: RoundTrip, leg: TripLeg, trade: Trade, qty: float, entry: bool, fee_share: float,
              fee_is_entry: bool, realized: float) -> None:
        quote_value = qty * trade.price
        usdt_value = quote_value * trade.quote_usdt_rate
        if entry:
            leg.entry_qty += qty
            leg.entry_quote += quote_value
            leg.entry_usdt += usdt_value
        else:
            leg.exit_qty += qty
            leg.exit_quote += quote_value
            leg.exit_usdt += usdt_value
        leg.open_qty += qty if trade.side == "buy" else -qty
        leg.peak_qty = max(leg.peak_qty, abs(leg.open_qty))
        fee = trade_fee_usdt(trade) * fee_share
        if fee_is_entry:
            trip.entry_fees_usdt += fee
        else:
            trip.exit_fees_usdt += fee
        trip.realized_pnl += realized
        trip.exchanges.add(trade.exchange)
        if not trip.signal_ids or trip.signal_ids[-1] != trade.signal_id:
            trip.signal_ids.append(trade.signal_id)
        if not trip.trade_ids or trip.trade_ids[-1] != trade.id:
            trip.trade_ids.append(trade.id)

    def _track_capital(self, strategy: str) -> None:
        """Raise the strategy's peak committed capital: the entry cost of its open round trips."""
        trips = {id(trip): trip for (owner, _), trip in self._open.items() if owner == strategy}
        committed = sum(leg.open_cost_usdt() for trip in trips.values() for leg in trip.legs.values())
        if committed > self.peak_capital_usdt.get(strategy, 0.0):
            self.peak_capital_usdt[strategy] = committed


def _leg_for_asset(trip: RoundTrip, asset: str, trade: Trade) -> TripLeg:
    """The round trip's leg in asset (whichever of its markets opened it), made on first use."""
    leg = trip.legs.get(trade.symbol)
    if leg is None:
        leg = next((leg for leg in trip.legs.values() if split_symbol(leg.symbol)[0] == asset), None)
    if leg is None:
        leg = trip.legs[trade.symbol] = TripLeg(trade.symbol, trade.side)
    return leg


def round_trips(trades: Iterable[Trade]) -> list[RoundTrip]:
    """Every round trip of a ledger (closed and open), in the order they opened."""
    return RoundTripBuilder().extend(trades).trips


def open_unrealized(builder: RoundTripBuilder, trip: RoundTrip,
                    unrealized_by_position: Mapping[tuple[str, str], float]) -> float:
    """An open round trip's unrealized P&L: that of its strategy's positions in its assets."""
    return sum(unrealized_by_position.get((trip.strategy, asset), 0.0) for asset in builder.open_assets(trip))
