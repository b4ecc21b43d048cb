"""Public trades in recordings (schema version 2): what resting orders fill from, recorded and replayed.

Recording (live sources: the simulator's prints are not recorded, too costly to read per tick
for every market): TradeCapture reads, at every captured tick, the new prints of each market whose source
has a trade feed (MarketSource.has_trade_feed_for) and keeps its own bounded tape of them. The
recorder answers recent_trades() and has_trade_feed_for() from that tape, not from the live
source: what the engine saw at a tick is exactly what the recording holds for it (a print that
lands in the middle of a tick is seen, and recorded, with the next one).

Records (see bot/market/recording_codec.py for the rest):
  tr   prints added at this tick: [i, timestamp ms, price, amount, side, id], oldest first
  trr  the tapes start over (keyframes: "tr" then holds every tape whole, so a segment stands alone)
  tf   the markets (numbers) with a trade feed at this tick (keyframes, and when it changed)

Replay: ReplayTrades applies those fields and answers the same reads. A version 1 recording has
none of them: no trade feed, as before (resting orders there wait, marked stale).
"""
from __future__ import annotations

from collections import deque

TRADES_KEPT = 2_000  # prints kept per market when the source does not say (market.live.streams.trades_kept)


def print_key(trade: dict) -> tuple:
    """What makes a public print the same one: its id, or without one its time, price and size."""
    if trade.get("id") is not None:
        return ("id", str(trade["id"]))
    return ("at", int(trade["timestamp"]), float(trade["price"]), float(trade["amount"]))


def _row(i: int, trade: dict) -> tuple:
    return (i, int(trade["timestamp"]), float(trade["price"]), float(trade["amount"]), trade.get("side"),
            None if trade.get("id") is None else str(trade["id"]))


def _trade(row) -> dict:
    return {"id": row[5], "timestamp": row[1], "price": row[2], "amount": row[3], "side": row[4]}


class TradeTapes:
    """Bounded per-market tapes of prints, oldest first, and which markets have a trade feed."""

    def __init__(self, keys: tuple[tuple[str, str], ...], kept: int):
        self.keys = tuple(keys)
        self.kept = kept
        self.tapes: dict[tuple[str, str], deque] = {}
        self.fed: frozenset = frozenset()

    def add(self, key: tuple[str, str], trades) -> None:
        """Append prints (already new and in order) to a market's tape."""
        tape = self.tapes.get(key)
        if tape is None:
            tape = self.tapes[key] = deque(maxlen=self.kept)
        tape.extend(trades)

    def recent(self, exchange: str, symbol: str, since_ms: int | None = None) -> list[dict]:
        """A market's prints, oldest first, at or after since_ms (MarketSource.recent_trades)."""
        tape = list(self.tapes.get((exchange, symbol), ()))
        return tape if since_ms is None else [t for t in tape if t["timestamp"] >= since_ms]

    def has_feed(self, exchange: str, symbol: str) -> bool:
        """Whether the market had a trade feed at this tick."""
        return (exchange, symbol) in self.fed


class TradeCapture(TradeTapes):
    """The recorder's side: new prints of each fed market, read from the live source once per tick."""

    def __init__(self, inner, keys: tuple[tuple[str, str], ...], kept: int):
        super().__init__(keys, kept)
        self.inner = inner
        self.index = {key: i for i, key in enumerate(self.keys)}
        self._seen: dict[tuple[str, str], tuple[int, set]] = {}  # key -> (newest ms, print keys at that ms)

    def capture(self) -> tuple[list, list | None]:
        """(rows of the prints new since the last tick, the fed markets' numbers when they changed else None)."""
        if not self.inner.has_trade_feed:
            fed = frozenset()
        else:
            fed = frozenset(key for key in self.keys if self.inner.has_trade_feed_for(*key))
        changed = sorted(self.index[key] for key in fed) if fed != self.fed else None
        self.fed = fed
        rows = []
        for key in self.keys:
            if key not in fed:
                continue
            newest, at_newest = self._seen.get(key, (None, set()))
            fresh = [t for t in self.inner.recent_trades(*key, 0 if newest is None else newest)
                     if newest is None or t["timestamp"] > newest or print_key(t) not in at_newest]
            if not fresh:
                continue
            fresh = [_trade(_row(0, t)) for t in fresh]  # plain values, as the replay will hold them
            last_ms = fresh[-1]["timestamp"]
            keys_at_last = {print_key(t) for t in fresh if t["timestamp"] == last_ms}
            if last_ms == newest:
                keys_at_last |= at_newest
            self._seen[key] = (last_ms, keys_at_last)
            self.add(key, fresh)
            i = self.index[key]
            rows.extend(_row(i, t) for t in fresh)
        return rows, changed


def encode_trades(record: dict, keyframe: bool, rows: list, fed: list | None, tapes: TradeTapes | None) -> None:
    """Put a captured tick's trade fields into its record (the encoder's copy of the tapes for keyframes)."""
    if tapes is None:
        return
    for row in rows:
        tapes.add(tapes.keys[row[0]], (row,))
    if fed is not None:
        tapes.fed = frozenset(fed)
    if keyframe:
        record["trr"] = 1
        record["tf"] = sorted(tapes.fed)
        whole = [row for tape in tapes.tapes.values() for row in tape]
        if whole:
            record["tr"] = whole
        return
    if rows:
        record["tr"] = rows
    if fed is not None:
        record["tf"] = fed


class ReplayTrades(TradeTapes):
    """The replay's side: the recorded tapes and trade feeds, tick by tick. The tapes hold the
    recorded rows as they are; a read turns them into prints (most ticks of a replay read none)."""

    def apply(self, record: dict) -> None:
        """Apply a record's tr / trr / tf fields."""
        if "trr" in record:
            self.tapes = {}
        tapes, keys = self.tapes, self.keys
        for row in record.get("tr", ()):
            tape = tapes.get(keys[row[0]])
            if tape is None:
                tape = tapes[keys[row[0]]] = deque(maxlen=self.kept)
            tape.append(row)
        if "tf" in record:
            self.fed = frozenset(self.keys[i] for i in record["tf"])

    def recent(self, exchange: str, symbol: str, since_ms: int | None = None) -> list[dict]:
        """A market's prints, oldest first, at or after since_ms (MarketSource.recent_trades)."""
        rows = self.tapes.get((exchange, symbol), ())
        return [_trade(row) for row in rows if since_ms is None or row[1] >= since_ms]
