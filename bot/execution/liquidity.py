"""LiquidityMemory: what our fills take from a book stays taken, and refills over time.

The model (README, "The execution model"). Every fill records what it took at each level of
the book it walked: (price, qty) pieces with the fill's time, per (exchange, symbol, side of
the book). A book of that market read later, at its own time t, is shown less what is still
missing of each piece: qty * 2 ** (-(t - fill_ts) / refill_half_life_seconds), and nothing has
refilled when the book is not newer than the fill (a live book not refreshed since our fill,
or the same tick's book read again). A piece is taken out of the level at its own price, and
where the book no longer has that price (it moved), out of the nearest levels at prices not
beyond it, towards the best: a buy's piece at 100.5 comes out of asks at 100.5 or below. So on
a book that stays put, a level never gives more than it offered plus what refilled since
(tests/execution/test_liquidity_properties.py), and no level is used twice within a tick.

Pieces are recorded the moment a leg fills and rolled back when its signal is refused in the
end. The memory is a function of the fills and the clock only: rebuild() replays the
ledger's recent trades after a restart. Pieces older than CUTOFF_HALF_LIVES half-lives are
ignored on reading and then dropped, so when pruning runs never changes an answer.
"""
from __future__ import annotations

import math
from bisect import bisect_right
from typing import Callable, Iterable

from bot.config_execution import LiquidityConfig
from bot.models import OrderBook, Trade

# A piece this many half-lives old has refilled to within 2**-20 (one part in a million): it is gone.
CUTOFF_HALF_LIVES = 20.0
# A level whose remaining quantity is below this share of what it showed is gone.
DUST = 1e-12

BookReader = Callable[[str, str], "OrderBook | None"]


class _Piece:
    """What one fill took at one level: price, quantity, time."""

    __slots__ = ("price", "qty", "ts")

    def __init__(self, price: float, qty: float, ts: float):
        self.price, self.qty, self.ts = price, qty, ts


class LiquidityMemory:
    """Our recent takes per (exchange, symbol) and book side, and the books net of them."""

    def __init__(self, config: LiquidityConfig):
        self.enabled = config.enabled
        self.half_life_seconds = config.refill_half_life_seconds
        self._rate = math.log(2.0) / self.half_life_seconds
        self._cutoff_seconds = CUTOFF_HALF_LIVES * self.half_life_seconds
        # (exchange, symbol) -> {"asks": [pieces sorted best first], "bids": [...]}
        self._markets: dict[tuple[str, str], dict[str, list[_Piece]]] = {}
        self._newest = -math.inf
        self._pruned_at = -math.inf

    def __bool__(self) -> bool:
        return bool(self._markets)

    # ----- recording ------------------------------------------------------------------------
    def record(self, exchange: str, symbol: str, side: str, taken: Iterable[tuple[float, float]],
               ts: float) -> "Take | None":
        """Remember what a fill took ((price, qty) per level) at ts; the handle is for rollback()."""
        if not self.enabled:
            return None
        book_side = "asks" if side == "buy" else "bids"
        pieces = self._markets.setdefault((exchange, symbol), {}).setdefault(book_side, [])
        made = tuple(_Piece(price, qty, ts) for price, qty in taken if qty > 0)
        pieces.extend(made)
        # Best first: lowest ask, highest bid (a stable sort: equal prices keep their order).
        pieces.sort(key=(lambda p: p.price) if book_side == "asks" else (lambda p: -p.price))
        self._newest = max(self._newest, ts)
        return Take((exchange, symbol), book_side, made)

    def rollback(self, takes: Iterable["Take | None"]) -> None:
        """Forget takes recorded for a signal that was refused after all (handles from record())."""
        for take in takes:
            if take is None:
                continue
            sides = self._markets.get(take.market)
            if not sides or take.book_side not in sides:
                continue
            gone = {id(piece) for piece in take.pieces}
            kept = [piece for piece in sides[take.book_side] if id(piece) not in gone]
            if kept:
                sides[take.book_side] = kept
            else:
                del sides[take.book_side]
                if not sides:
                    del self._markets[take.market]

    def remember(self, trade: Trade) -> None:
        """Record a fill from the ledger (a trade written before levels_taken existed: one piece at its price)."""
        taken = trade.levels_taken if trade.levels_taken is not None else ((trade.price, trade.qty),)
        self.record(trade.exchange, trade.symbol, trade.side, taken, trade.ts)

    def rebuild(self, trades: Iterable[Trade]) -> int:
        """Replay the ledger's fills (oldest first) after a restart; returns how many were read."""
        count = 0
        for trade in trades:
            self.remember(trade)
            self.prune(trade.ts)
            count += 1
        return count

    def prune(self, now: float) -> None:
        """Drop pieces that have refilled completely by now (no answer changes)."""
        if not self._markets or now - self._pruned_at < self.half_life_seconds:
            return
        self._pruned_at = now
        horizon = now - self._cutoff_seconds
        for key in list(self._markets):
            sides = self._markets[key]
            for book_side in list(sides):
                kept = [piece for piece in sides[book_side] if piece.ts >= horizon]
                if kept:
                    sides[book_side] = kept
                else:
                    del sides[book_side]
            if not sides:
                del self._markets[key]

    # ----- reading --------------------------------------------------------------------------
    def outstanding(self, piece_ts: float, qty: float, book_ts: float) -> float:
        """What is still missing at book_ts of a take of qty at piece_ts."""
        age = book_ts - piece_ts
        if age <= 0:
            return qty
        if age > self._cutoff_seconds:
            return 0.0
        return qty * math.exp(-self._rate * age)

    def adjust(self, book: OrderBook | None) -> OrderBook | None:
        """The book less what our takes still hold of it (the same object when nothing is missing)."""
        if book is None or not self._markets:
            return book
        sides = self._markets.get((book.exchange, book.symbol))
        if not sides:
            return book
        bids = self._net(book.bids, sides.get("bids"), book.ts, False)
        asks = self._net(book.asks, sides.get("asks"), book.ts, True)
        if bids is book.bids and asks is book.asks:
            return book
        return OrderBook(book.exchange, book.symbol, bids, asks, book.ts)

    def _net(self, levels: tuple, pieces: list[_Piece] | None, ts: float, is_ask: bool) -> tuple:
        if not pieces or not levels:
            return levels
        left = [size for _, size in levels]
        keys = [price for price, _ in levels] if is_ask else [-price for price, _ in levels]
        changed = False
        for piece in pieces:
            missing = self.outstanding(piece.ts, piece.qty, ts)
            if missing <= 0:
                continue
            # The deepest level at a price not beyond the piece's (keys ascend: asks, or bids negated).
            j = bisect_right(keys, piece.price if is_ask else -piece.price) - 1
            while missing > 0 and j >= 0:
                take = min(left[j], missing)
                if take > 0:
                    left[j] -= take
                    missing -= take
                    changed = True
                j -= 1
        if not changed:
            return levels
        return tuple((price, size) for (price, shown), size in zip(levels, left) if size > shown * DUST)


class Take:
    """The pieces one fill recorded on one book side (what rollback() forgets)."""

    __slots__ = ("market", "book_side", "pieces")

    def __init__(self, market: tuple[str, str], book_side: str, pieces: tuple[_Piece, ...]):
        self.market, self.book_side, self.pieces = market, book_side, pieces


class LiquidityView:
    """A snapshot's book reader that shows every book net of our takes (raw: the source's reader)."""

    __slots__ = ("raw", "memory")

    def __init__(self, raw: BookReader, memory: LiquidityMemory):
        self.raw, self.memory = raw, memory

    def __call__(self, exchange: str, symbol: str) -> OrderBook | None:
        book = self.raw(exchange, symbol)
        if book is None or not self.memory:
            return book
        return self.memory.adjust(book)


def raw_reader(reader: BookReader) -> BookReader:
    """The source's own book reader behind a LiquidityView (the reader itself otherwise)."""
    return reader.raw if isinstance(reader, LiquidityView) else reader
