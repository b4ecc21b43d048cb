"""Plain value objects shared by the market sources, strategies, executor and portfolio.

Prices are floats in the market's quote asset; quantities are floats in the base asset;
timestamps are float seconds since the Unix epoch (the simulated clock or the exchange's).
"""
from __future__ import annotations

import math
import operator
from dataclasses import MISSING, dataclass, field, fields
from typing import Callable, Literal, Mapping, Protocol

import numpy as np

from bot.timestamps import iso_utc, parse_iso

Side = Literal["buy", "sell"]
PORTFOLIO_QUOTE = "USDT"


def round_step(value: float, step: float) -> float:
    """Round down to a multiple of step (amounts are never rounded up past what was asked)."""
    if step <= 0:
        return value
    # A small epsilon keeps 0.3/0.1 from becoming 2.9999 steps.
    units = math.floor(value / step + 1e-9)
    digits = _STEP_DIGITS.get(step)
    if digits is None:
        decimals = max(0, -int(math.floor(math.log10(step))) + 1) if step < 1 else 0
        digits = decimals + 8
        if len(_STEP_DIGITS) < 10_000:  # a market has one step: a bound that is never reached in use
            _STEP_DIGITS[step] = digits
    return round(units * step, digits)


_STEP_DIGITS: dict[float, int] = {}  # step -> the digits round_step rounds to (a market has one step)


@dataclass(frozen=True, slots=True)
class Market:
    """A tradable market on one exchange, with the fee and precision rules fills obey."""

    exchange: str
    symbol: str
    base: str
    quote: str
    taker_fee: float
    maker_fee: float
    amount_step: float
    price_step: float
    min_amount: float
    min_notional: float


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book for one market at one moment; ts is when the exchange produced it."""

    exchange: str
    symbol: str
    bid: float
    ask: float
    last: float
    bid_size: float
    ask_size: float
    ts: float
    change_24h_pct: float = 0.0
    received: float = 0.0  # when we received it (0: not known apart from ts); ages count from both

    @property
    def mid(self) -> float:
        """Halfway between bid and ask."""
        return (self.bid + self.ask) / 2.0

    @property
    def spread_pct(self) -> float:
        """Ask less bid, in % of the mid (0 when the mid is not positive)."""
        return (self.ask - self.bid) / self.mid * 100.0 if self.mid > 0 else 0.0


@dataclass(frozen=True, slots=True)
class OrderBook:
    """Price levels best first: bids descending, asks ascending, each (price, qty)."""

    exchange: str
    symbol: str
    bids: tuple[tuple[float, float], ...]
    asks: tuple[tuple[float, float], ...]
    ts: float
    received: float = 0.0  # when we received it (0: not known apart from ts); ages count from both

    @property
    def crossed(self) -> bool:
        """True when the best bid reaches the best ask (a broken or stale book)."""
        return bool(self.bids and self.asks and self.bids[0][0] >= self.asks[0][0])


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLCV bar; ts is the bar's open time."""

    ts: float
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class NewsItem:
    """A headline. symbols is the source's own tagging (may be empty); strategies map the rest."""

    id: str
    ts: float
    title: str
    source: str
    symbols: tuple[str, ...] = ()
    url: str = ""


@dataclass(frozen=True, slots=True)
class WhaleEvent:
    """A large on-chain transfer."""

    id: str
    ts: float
    asset: str
    amount: float
    usd_value: float
    from_owner: str
    to_owner: str


class CandleHistory:
    """Read access to closed 1-minute candles per (exchange, symbol), oldest first."""

    def closes(self, exchange: str, symbol: str, count: int) -> np.ndarray:  # pragma: no cover
        """The last count closing prices, oldest first."""
        raise NotImplementedError

    def candles(self, exchange: str, symbol: str, count: int) -> list[Candle]:  # pragma: no cover
        """The last count candles, oldest first."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a strategy may look at for one tick.

    quotes holds every fresh market; order books are fetched lazily through order_book()
    because most ticks need none. new_candle is True on the tick a 1-minute bar closed.
    """

    tick: int
    ts: float
    exchanges: tuple[str, ...]
    symbols: tuple[str, ...]
    quotes: Mapping[tuple[str, str], Quote]
    markets: Mapping[tuple[str, str], Market]
    history: CandleHistory
    book_reader: Callable[[str, str], OrderBook | None]
    news: tuple[NewsItem, ...] = ()
    whales: tuple[WhaleEvent, ...] = ()
    new_candle: bool = False
    stale: frozenset = field(default_factory=frozenset)

    def order_book(self, exchange: str, symbol: str) -> OrderBook | None:
        """The book for a market at this tick, or None when it is not available or stale."""
        if (exchange, symbol) in self.stale:
            return None
        return self.book_reader(exchange, symbol)

    def with_book_reader(self, book_reader: Callable[[str, str], OrderBook | None]) -> "Snapshot":
        """This snapshot read through another book reader (a copy; this one is unchanged). Cheap: once a tick."""
        copy = object.__new__(Snapshot)
        for slot in _SNAPSHOT_SLOTS:
            slot.__set__(copy, slot.__get__(self))
        _SNAPSHOT_BOOK_READER.__set__(copy, book_reader)
        return copy

    def usdt_rate(self, exchange: str, asset: str) -> float | None:
        """Value of one unit of asset in USDT at this tick (mid price), or None if unknown."""
        if asset == PORTFOLIO_QUOTE:
            return 1.0
        quote = self.quotes.get((exchange, f"{asset}/{PORTFOLIO_QUOTE}"))
        if quote is None:
            for (ex, sym), q in self.quotes.items():
                if sym == f"{asset}/{PORTFOLIO_QUOTE}":
                    return q.mid
            return None
        return quote.mid


# The slot descriptors of Snapshot: with_book_reader copies through them (a frozen __init__ is slow).
_SNAPSHOT_SLOTS = tuple(Snapshot.__dict__[name] for name in Snapshot.__slots__)
_SNAPSHOT_BOOK_READER = Snapshot.__dict__["book_reader"]


@dataclass(frozen=True, slots=True)
class Leg:
    """One order of a signal: take liquidity for qty base units on one market.

    limit_price makes it an IOC limit order: it fills only at prices not worse than this
    (None: a market order, bounded by the slippage cap from the best price on arrival).
    """

    exchange: str
    symbol: str
    side: Side
    qty: float
    expected_price: float
    limit_price: float | None = None


@dataclass(frozen=True, slots=True)
class Signal:
    """What a strategy proposes. Multi-leg signals fill all legs or none.

    expected_profit_usdt / expected_profit_pct are the strategy's own estimate net of fees
    (arbitrage fills them; directional strategies leave them None). reason is the human
    sentence that goes to the journal and the dashboard. closes_position marks exits, which
    the risk limits never block.
    """

    strategy: str
    kind: str
    legs: tuple[Leg, ...]
    reason: str
    expected_profit_usdt: float | None = None
    expected_profit_pct: float | None = None
    confidence: float = 0.5
    closes_position: bool = False
    id: str = ""

    def as_sent(self, strategy: str, signal_id: str) -> "Signal":
        """This signal with the strategy's name and its id set (what the manager sends; this one is
        unchanged): dataclasses.replace(self, strategy=..., id=...), copied through the slots."""
        copy = object.__new__(Signal)
        for slot in _SIGNAL_SLOTS:
            slot.__set__(copy, slot.__get__(self))
        _SIGNAL_STRATEGY.__set__(copy, strategy)
        _SIGNAL_ID.__set__(copy, signal_id)
        return copy


_SIGNAL_SLOTS = tuple(Signal.__dict__[name] for name in Signal.__slots__)
_SIGNAL_STRATEGY, _SIGNAL_ID = Signal.__dict__["strategy"], Signal.__dict__["id"]


@dataclass(frozen=True, slots=True)
class Fill:
    """What the paper executor did for one leg. quote_usdt_rate values the quote asset."""

    exchange: str
    symbol: str
    side: Side
    qty: float
    price: float
    fee: float
    fee_asset: str
    quote_usdt_rate: float
    requested_qty: float
    levels_used: int
    slippage_pct: float
    # (price, qty) taken at each level of the book, best first; the book's ts; the share (%) of
    # the visible depth within the slippage cap the fill took.
    levels_taken: tuple[tuple[float, float], ...] = ()
    book_ts: float | None = None
    liquidity_taken_pct: float | None = None

    @property
    def notional(self) -> float:
        """Quantity times price, in the quote asset."""
        return self.qty * self.price

    @property
    def partial(self) -> bool:
        """True when less than the requested quantity filled."""
        return self.qty < self.requested_qty - 1e-12


@dataclass(frozen=True, slots=True)
class Trade:
    """A fill as recorded in the ledger (one line of trades.jsonl).

    ts is float epoch seconds (market clock, whole milliseconds) inside the process; the ledger
    line and every payload that leaves the process carry it as ISO 8601 UTC (to_dict / from_dict).
    The fill-quality fields at the end are None in ledgers written before they existed
    (OPTIONAL_TRADE_FIELDS); decision_ts travels as ISO 8601 like ts.
    """

    id: str
    seq: int
    ts: float
    tick: int
    strategy: str
    signal_id: str
    kind: str
    exchange: str
    symbol: str
    side: Side
    qty: float
    price: float
    fee: float
    fee_asset: str
    quote_usdt_rate: float
    realized_pnl: float
    status: str
    reason: str
    decision_ts: float | None = None  # the snapshot the signal was decided on
    decision_mid: float | None = None  # this leg's market mid in that snapshot
    latency_ms: float | None = None  # time of the book filled against minus decision_ts
    liquidity_taken_pct: float | None = None  # share of the visible depth within the slippage cap taken
    levels_taken: tuple[tuple[float, float], ...] | None = None  # (price, qty) per level; "qty@price ..." in files

    def to_dict(self) -> dict:
        """Every field by name, as one line of trades.jsonl holds it (ts and decision_ts as ISO 8601)."""
        fields = dict(zip(_TRADE_FIELDS, _trade_values(self)))
        fields["ts"] = iso_utc(self.ts)
        if self.decision_ts is not None:
            fields["decision_ts"] = iso_utc(self.decision_ts)
        if self.levels_taken is not None:
            fields["levels_taken"] = format_levels(self.levels_taken)
        return fields

    @classmethod
    def from_dict(cls, fields: dict) -> "Trade":
        """A Trade from a ledger line's fields (times as ISO 8601, or already epoch seconds)."""
        out = {**fields, "ts": _epoch(fields["ts"])}
        if fields.get("decision_ts") is not None:
            out["decision_ts"] = _epoch(fields["decision_ts"])
        if fields.get("levels_taken") is not None:
            out["levels_taken"] = parse_levels(fields["levels_taken"])
        return cls(**out)


_TRADE_FIELDS = Trade.__slots__
_trade_values = operator.attrgetter(*_TRADE_FIELDS)  # every field's value, in order, in one call (to_dict)

# Trade fields a ledger line may lack (written before they existed): they read as None.
OPTIONAL_TRADE_FIELDS = ("decision_ts", "decision_mid", "latency_ms", "liquidity_taken_pct", "levels_taken")


def _epoch(value) -> float:
    return parse_iso(value) if isinstance(value, str) else float(value)


def format_levels(levels: tuple[tuple[float, float], ...]) -> str:
    """Book levels taken as the ledger line writes them: "qty@price qty@price", best first, exact floats."""
    if len(levels) == 1:  # a candle book's one level: the same text without the join
        (price, qty), = levels
        return f"{qty!r}@{price!r}"
    return " ".join(f"{qty!r}@{price!r}" for price, qty in levels)


def parse_levels(text: str) -> tuple[tuple[float, float], ...]:
    """The (price, qty) levels of a format_levels() text (ValueError when it is not one)."""
    levels = []
    for part in text.split():
        qty, at, price = part.partition("@")
        if not at:
            raise ValueError(f"levels_taken: {part!r} is not qty@price")
        levels.append((float(price), float(qty)))
    return tuple(levels)


def trade_fee_usdt(trade: Trade) -> float:
    """A trade's fee in USDT: a fee in the market's quote asset at the trade's quote rate,
    any other fee asset taken as USDT. The one valuation the books, analytics and alerts use."""
    _, quote = split_symbol(trade.symbol)
    return trade.fee * (trade.quote_usdt_rate if trade.fee_asset == quote else 1.0)


# The two views below are what a strategy reads of the portfolio. They live with the models
# (not in bot/strategies) so the portfolio can build them without importing a strategy module.
@dataclass(frozen=True, slots=True)
class PositionView:
    """A strategy's holding of one asset, aggregated over exchanges, valued in USDT."""

    asset: str
    qty: float
    avg_cost: float
    by_exchange: Mapping[str, float]
    opened_ts: float


class PortfolioView(Protocol):
    """What a strategy may read of the portfolio; it cannot change anything through it."""

    def position(self, asset: str) -> PositionView | None:
        """This strategy's position in asset, or None when flat."""

    def positions(self) -> list[PositionView]:
        """This strategy's open positions."""

    def balance(self, exchange: str, asset: str) -> float:
        """What this strategy may spend of asset on exchange: the wallet, less what other
        strategies' open positions hold there (USDT is shared; holdings are reserved)."""

    def equity(self) -> float:
        """Total portfolio equity in USDT at the current marks."""


_SPLITS: dict[str, tuple[str, str]] = {}  # symbol -> (base, quote): the same few recur on every tick
_SPLITS_KEPT = 4096


def split_symbol(symbol: str) -> tuple[str, str]:
    """'ETH/BTC' -> ('ETH', 'BTC') (kept per symbol; a symbol that is not BASE/QUOTE is refused every time)."""
    parts = _SPLITS.get(symbol) if type(symbol) is str else None
    if parts is None:
        base, _, quote = symbol.partition("/")
        if not base or not quote:
            raise ValueError(f"not a ccxt symbol: {symbol!r}")
        parts = (base, quote)
        if type(symbol) is str and len(_SPLITS) < _SPLITS_KEPT:
            _SPLITS[symbol] = parts
    return parts


def fast_constructor(cls, names: tuple[str, ...]):
    """Positional constructor for a frozen slots dataclass that sets the slots directly.

    Same object as cls(...) at about half the cost (a frozen __init__ calls object.__setattr__
    per field), for hot paths (a simulated or replayed tick's quotes, a fill's trade draft).
    Fields after `names` take their plain defaults. Falls back to keywords if the fields change
    otherwise.
    """
    every = fields(cls)
    rest = every[len(names):]
    if tuple(f.name for f in every[:len(names)]) != names or any(f.default is MISSING for f in rest):
        return lambda *values: cls(**dict(zip(names, values)))
    setters = [cls.__dict__[f.name].__set__ for f in every]
    args = ", ".join(f"a{i}" for i in range(len(names)))
    body = "".join(f"    s{i}(o, a{i})\n" for i in range(len(names)))
    body += "".join(f"    s{len(names) + j}(o, d{j})\n" for j in range(len(rest)))
    scope = {f"s{i}": s for i, s in enumerate(setters)} | {"new": object.__new__, "cls": cls}
    scope |= {f"d{j}": f.default for j, f in enumerate(rest)}
    exec(f"def make({args}):\n    o = new(cls)\n{body}    return o\n", scope)  # noqa: S102
    return scope["make"]


# The hot sources' constructors (a simulated, replayed or candle tick makes one snapshot and a quote per market),
# and the stale set of a snapshot with every market fresh.
NOTHING_STALE: frozenset = frozenset()
new_quote = fast_constructor(
    Quote, ("exchange", "symbol", "bid", "ask", "last", "bid_size", "ask_size", "ts", "change_24h_pct"))
new_snapshot = fast_constructor(
    Snapshot, ("tick", "ts", "exchanges", "symbols", "quotes", "markets", "history", "book_reader",
               "news", "whales", "new_candle", "stale"))
