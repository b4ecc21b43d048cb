"""A replay's look ahead (bot/fast_forward.py) and its bulk seek, from records not yet applied.

lookahead_of turns the records the replay will apply next into a Lookahead: each tick's time,
whether it closes a candle, each quoted market's bid and ask (as next_snapshot's quotes would
have them: the markets of the current order, nan for one without a quote) and its closes with
how many had closed by each tick. It stops before the first record that carries anything a
strategy's screen does not see or the engine acts on by itself: news, whale events, source
events, health, markets, the quote order, stale markets, a candle reset, a keyframe, or a gap
(missing ticks, a time jump, a gap mark). Those ticks are stepped.

apply_many applies a run of records as applying them one by one (without gap reports, as seek
always did) leaves the replay: quotes by their last row, books, stale set, markets, candles
(one merge per market: (old + a + b)[-kept:] is ((old + a)[-kept:] + b)[-kept:]), health,
events and the trades tape in order.
"""
from __future__ import annotations

import math

import numpy as np

from bot.market.recording_codec import BookBlob, market_of
from bot.market.simulator import _fast_constructor
from bot.models import Lookahead, MarketAhead, Quote

_new_quote = _fast_constructor(
    Quote, ("exchange", "symbol", "bid", "ask", "last", "bid_size", "ask_size", "ts", "change_24h_pct"))

# A record with any of these is a tick a screen cannot judge: it is stepped.
MAYBE_FIELDS = ("n", "w", "e", "h", "g", "m", "o", "s", "cr", "k")


def _ends_stretch(record: dict, previous: tuple[int, float] | None, max_jump: float) -> bool:
    """True when the record is a maybe (MAYBE_FIELDS) or follows a gap."""
    for field in MAYBE_FIELDS:
        if field in record:
            return True
    if previous is None:
        return True
    return record["t"] != previous[0] + 1 or record["ts"] - previous[1] > max_jump


def _quote_tables(replay, stretch: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Each tick's bid and ask of every market (columns: the market numbers), nan where never quoted."""
    keys = len(replay.keys)
    n = len(stretch)
    every = tuple(range(keys))
    if n and all(len(record.get("q", ())) == keys and tuple(row[0] for row in record["q"]) == every
                 for record in stretch):  # the usual record: a row for every market, in market order
        return (np.array([[row[1] for row in record["q"]] for record in stretch], dtype=float),
                np.array([[row[2] for row in record["q"]] for record in stretch], dtype=float))
    nan = math.nan
    bids, asks = [nan] * keys, [nan] * keys
    for i, quote in replay._quotes.items():
        bids[i], asks[i] = quote.bid, quote.ask
    bid_rows, ask_rows = [], []
    for record in stretch:
        for row in record.get("q", ()):
            bids[row[0]], asks[row[0]] = row[1], row[2]
        bid_rows.append(list(bids))
        ask_rows.append(list(asks))
    return (np.array(bid_rows, dtype=float).reshape(n, keys), np.array(ask_rows, dtype=float).reshape(n, keys))


def lookahead_of(replay, records: list[dict]) -> Lookahead:
    """The Lookahead of `records` (the replay's next ones, unapplied), cut before the first maybe."""
    keys, order = replay.keys, replay._order
    max_jump = replay.settings.gap_ticks * replay.tick_seconds
    stretch = []
    previous = replay._previous
    for record in records:
        if _ends_stretch(record, previous, max_jump):
            break
        previous = (record["t"], record["ts"])
        stretch.append(record)
    n = len(stretch)
    added: dict[int, list[float]] = {}  # per market: the closes added, in order
    changes: dict[int, list[tuple[int, int]]] = {}  # per market: (tick index, closes added by then)
    for j, record in enumerate(stretch):
        if "c" in record:
            touched = set()
            for row in record["c"]:
                added.setdefault(row[0], []).append(row[5])
                touched.add(row[0])
            for i in touched:
                changes.setdefault(i, []).append((j, len(added[i])))
    bid_table, ask_table = _quote_tables(replay, stretch)
    markets = {}
    for i in order:
        key = keys[i]
        series = replay._series.get(key)
        old = series.closes if series is not None else np.empty(0)
        new = added.get(i)
        closes = old if not new else np.concatenate((old, np.asarray(new, dtype=float)))
        closed = np.full(n, old.shape[0], dtype=np.int64)
        for index, count in changes.get(i, ()):
            closed[index:] = old.shape[0] + count
        markets[key] = MarketAhead(bid_table[:, i], closed, closes, ask_table[:, i])
    start = stretch[0]["t"] if stretch else 0
    return Lookahead(int(start), np.array([r["ts"] for r in stretch], dtype=float),
                     np.array(["nc" in r for r in stretch], dtype=bool), markets,
                     traded=replay._markets, no_news=True)


def apply_many(replay, records: list[dict]) -> None:
    """Apply `records` in order in bulk, leaving the replay as applying each (report=False) would.

    Quotes and books are taken from the end backwards (the last row or book of a market wins, a
    keyframe clears what came before it, a record's removals "bx" follow its books "bk"), so a
    long stretch costs one Quote and one book entry per market; the rest goes forwards."""
    if not records:
        return
    keys = replay.keys
    candle_rows: list = []
    reset = False
    for record in records:  # the rare fields, in order
        if "k" in record:
            replay._quotes, replay._books = {}, {}
        if "o" in record:
            replay._order = record["o"]
        if "s" in record:
            replay._stale = frozenset(keys[i] for i in record["s"]) if record["s"] else frozenset()
        if "m" in record:
            replay._markets = {keys[row[0]]: market_of(keys[row[0]], row) for row in record["m"]}
            replay._history = None
        if "c" in record:
            if "cr" in record:
                candle_rows, reset = [], True
            candle_rows.extend(record["c"])
        if "h" in record:
            replay._health = record["h"]
        for event in record.get("e", ()):
            replay._events.append(dict(event))
        if "tf" in record or "tr" in record:
            replay._trades.apply(record)
    if candle_rows or reset:
        replay._add_candles(candle_rows, reset)
    everything = len(keys)
    rows: dict[int, tuple] = {}
    books: dict[int, tuple | None] = {}  # None: removed
    for record in reversed(records):
        if len(rows) < everything:
            for row in reversed(record.get("q", ())):
                if row[0] not in rows:
                    rows[row[0]] = row
        if len(books) < everything:
            for i in record.get("bx", ()):
                if i not in books:
                    books[i] = None
            if "bk" in record:
                blob = None
                listed = record["bk"]
                for position in range(len(listed) - 1, -1, -1):
                    i = listed[position]
                    if i not in books:
                        if blob is None:
                            blob = BookBlob(record["bp"])
                        books[i] = (blob, position)
        if "k" in record or (len(rows) == everything and len(books) == everything):
            break  # nothing before a keyframe survives it (the keyframe's own rows were taken above)
    quotes = replay._quotes
    for i, row in rows.items():
        key = keys[i]
        quotes[i] = _new_quote(key[0], key[1], row[1], row[2], row[3], row[4], row[5], row[6], row[7])
    for i, where in books.items():
        if where is None:
            replay._books.pop(keys[i], None)
        else:
            replay._books[keys[i]] = where
    last = records[-1]
    replay._previous = (last["t"], last["ts"])
