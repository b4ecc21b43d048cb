"""The price chart's data: closed candles since the start, our fills as markers, and the deciding
strategies' indicators as the strategies themselves compute them.

CandleArchive keeps every closed 1-minute candle the market source showed since the engine
started (the source itself keeps only the last few hundred), seeded on the first tick with all
the history the source has. The engine calls note(snapshot) on each tick; it works only when a
candle closed. ChartReader answers GET /api/candles: one page of candles (paged back with
`before`, followed live with `after`), the ledger's fills in that page's minutes, and the
indicator series of momentum (EMA fast/slow, RSI), stat_arb (the pair's spread z-score and its
bands) and news (decayed score, headlines) for that market. The indicator values come from the
strategies' own methods (bot/ may not import bot/strategies; the engine hands us the objects),
so the chart shows what a decision read and derives nothing a second time.
"""
from __future__ import annotations

import bisect
import math
import threading
from collections import deque
from typing import Callable, Literal, Optional

import numpy as np
from pydantic import Field

from bot.models import Candle, Snapshot
from bot.timestamps import iso_utc
from bot.requests import CommandError, QueryModel

CANDLE_SECONDS = 60
MAX_CANDLES_PER_MARKET = 60 * 24 * 14  # two weeks of minutes per market; older ones are dropped
CATCH_UP_CANDLES = 5  # read per market when a candle closes (more only after a gap)
# Bars a fast-forward may owe the archive (defer_closed) before they are taken: far fewer than the
# source keeps (bot/market/candle_window.py holds two weeks of bars back).
DEFER_BARS = 1024
MAX_LIMIT = 1000


class CandlesQuery(QueryModel):
    """GET /api/candles: one market's closed candles, paged back (before) or followed (after)."""

    exchange: str = Field(min_length=1, max_length=40, description="one of the market's exchanges")
    symbol: str = Field(min_length=1, max_length=40, description="one of the traded symbols, such as BTC/USDT")
    timeframe: Literal["1m"] = Field("1m", description="1m (the engine's candles are 1-minute bars)")
    before: Optional[float] = Field(None, ge=0, le=1e11, allow_inf_nan=False,
                                    description="epoch seconds: only candles that open before this time")
    after: Optional[float] = Field(None, ge=0, le=1e11, allow_inf_nan=False,
                                   description="epoch seconds: only candles that open after this time")
    limit: int = Field(300, ge=1, le=MAX_LIMIT, description=f"a whole number from 1 to {MAX_LIMIT}")


class CandleArchive:
    """Every closed 1-minute candle seen since the start, per (exchange, symbol), oldest first.

    A fast-forwarded stretch's candles (take_closed) are kept as arrays, owed, and made Candles
    only when the archive is read (window, candles): a long backtest that nobody charts makes
    only the last max_per_market of them. Every read gives exactly what note() on each tick
    would hold. Writers and readers hold the engine's lock, as for everything the engine owns.
    """

    def __init__(self, max_per_market: int = MAX_CANDLES_PER_MARKET):
        self.max_per_market = max_per_market
        self._candles: dict[tuple[str, str], list[Candle]] = {}
        self._starts: dict[tuple[str, str], list[float]] = {}
        self._owed: dict[tuple[str, str], _Owed] = {}  # taken, not yet made Candles, per market
        self.gaps = 0  # times a market skipped minutes the source no longer had
        # defer_closed's bars not taken yet: per market at least how many closed, and the latest snapshot.
        self._deferred: dict[tuple[str, str], int] = {}
        self._deferred_snapshot: Snapshot | None = None

    def note(self, snapshot: Snapshot) -> None:
        """Take the candles that closed with this snapshot (all the history on the first call)."""
        if self._deferred_snapshot is not None:
            self.settle()
        if self._candles and not snapshot.new_candle:
            return
        for key in snapshot.markets:
            newest = self._newest(key)
            count = self.max_per_market if newest is None else CATCH_UP_CANDLES
            fresh = _read_candles(snapshot, key, count)
            if newest is not None and fresh and fresh[0].ts > newest + CANDLE_SECONDS:
                fresh = _read_candles(snapshot, key, self.max_per_market)  # a long tick: fetch what is left
                if fresh and fresh[0].ts > newest + CANDLE_SECONDS:
                    self.gaps += 1
            owed = self._owed.get(key)
            if owed is None:
                self._add(key, fresh)
            else:
                starts = [candle.ts for candle in fresh]
                keep = owed.fresh(starts)
                if keep:
                    self._owe(key, owed, [fresh[i] for i in keep], starts[keep[-1]])

    def defer_closed(self, snapshot: Snapshot, closed: dict[tuple[str, str], int]) -> None:
        """take_closed(snapshot, key, closed[key]) for each of the snapshot's markets, later: at the next
        read (note, window, candles), at settle() or once a market owes DEFER_BARS. The counts add up
        and the bars are read from the source then, a few more than owed (those already held are
        skipped), so a source one tick further on gives the same candles. For a fast-forward's
        stretches (bot/fast_forward.py), each of which would otherwise read a few bars."""
        deferred = self._deferred
        most = 0
        for key in snapshot.markets:
            count = deferred[key] = deferred.get(key, 0) + closed.get(key, 0)
            most = count if count > most else most
        self._deferred_snapshot = snapshot
        if most >= DEFER_BARS:
            self.settle()

    def settle(self) -> None:
        """Take the bars defer_closed owes."""
        snapshot, deferred = self._deferred_snapshot, self._deferred
        if snapshot is None:
            return
        self._deferred_snapshot, self._deferred = None, {}
        for key, count in deferred.items():
            self.take_closed(snapshot, key, count + CATCH_UP_CANDLES)

    def take_closed(self, snapshot: Snapshot, key: tuple[str, str], closed: int) -> None:
        """At a fast-forwarded stretch's last snapshot: what note() on each of its ticks would have taken
        for key, `closed` being at least the bars of key that closed in it (the newest `closed` are read,
        those already held skipped)."""
        newest = self._newest(key)
        if newest is not None and closed <= 0:
            return
        count = self.max_per_market if newest is None else min(self.max_per_market, closed)
        reader = getattr(snapshot.history, "candle_arrays", None)
        if reader is None or newest is None or self.max_per_market <= 0:
            self._put(key, _read_candles(snapshot, key, count))
            return
        try:
            starts, rows = reader(key[0], key[1], count)
        except (LookupError, ValueError):
            return
        owed = self._owed.get(key) or _Owed(newest)
        listed = starts.tolist()
        keep = owed.fresh(listed)
        if keep:
            if len(keep) != len(listed) - keep[0]:  # not a tail of them: pick them out
                starts, rows = starts[keep], rows[keep]
            elif keep[0]:
                starts, rows = starts[keep[0]:], rows[keep[0]:]
            self._owe(key, owed, (starts, rows), float(listed[keep[-1]]))

    def _newest(self, key: tuple[str, str]) -> float | None:
        """The open time of the newest candle held or owed (None when none)."""
        owed = self._owed.get(key)
        if owed is not None:
            return owed.newest
        starts = self._starts.get(key)
        return starts[-1] if starts else None

    def _put(self, key: tuple[str, str], fresh: list[Candle]) -> None:
        owed = self._owed.get(key)
        if owed is None:
            self._add(key, fresh)
            return
        keep = owed.fresh([candle.ts for candle in fresh])
        if keep:
            self._owe(key, owed, [fresh[i] for i in keep], fresh[keep[-1]].ts)

    def _owe(self, key: tuple[str, str], owed: "_Owed", chunk, newest: float) -> None:
        """Keep a chunk (Candles, or (starts, rows) arrays) all newer than everything before it;
        what the cap would drop anyway is dropped now (memory stays bounded)."""
        self._owed[key] = owed
        self._candles.setdefault(key, [])
        self._starts.setdefault(key, [])
        owed.chunks.append(chunk)
        owed.count += _size(chunk)
        owed.newest = newest
        cap = self.max_per_market
        while len(owed.chunks) > 1 and owed.count - _size(owed.chunks[0]) >= cap:
            owed.count -= _size(owed.chunks.popleft())
        if owed.count >= cap:  # every candle held would be dropped
            self._candles[key].clear()
            self._starts[key].clear()

    def _settle(self, key: tuple[str, str]) -> None:
        """Make the owed candles of key Candles, in order, as _add would have taken them."""
        owed = self._owed.pop(key, None)
        if owed is None:
            return
        for chunk in owed.chunks:
            if isinstance(chunk, tuple):
                starts, rows = chunk
                chunk = [Candle(ts, *row) for ts, row in zip(starts.tolist(), rows.tolist())]
            self._add(key, chunk)

    def _add(self, key: tuple[str, str], fresh: list[Candle]) -> None:
        candles = self._candles.setdefault(key, [])
        starts = self._starts.setdefault(key, [])
        last = starts[-1] if starts else -math.inf
        for candle in fresh:
            if candle.ts > last:
                candles.append(candle)
                starts.append(candle.ts)
                last = candle.ts
        extra = len(candles) - self.max_per_market
        if extra > 0:
            del candles[:extra]
            del starts[:extra]

    def window(self, key: tuple[str, str], before: float | None, after: float | None,
               limit: int) -> tuple[int, int]:
        """Indices [lo, hi) of the page: the newest `limit` before `before`, or the oldest after `after`."""
        self.settle()
        if key in self._owed:
            self._settle(key)
        starts = self._starts.get(key, [])
        if after is not None:
            lo = bisect.bisect_right(starts, after)
            return lo, min(len(starts), lo + limit)
        hi = len(starts) if before is None else bisect.bisect_left(starts, before)
        return max(0, hi - limit), hi

    def candles(self, key: tuple[str, str]) -> list[Candle]:
        """The market's candles, oldest first (the archive's own list: do not modify)."""
        self.settle()
        if key in self._owed:
            self._settle(key)
        return self._candles.get(key, [])


class _Owed:
    """A market's candles taken but not yet made Candles: chunks oldest first, how many, the newest open time."""

    __slots__ = ("chunks", "count", "newest")

    def __init__(self, newest: float):
        self.chunks: deque = deque()
        self.count = 0
        self.newest = newest

    def fresh(self, starts: list[float]) -> list[int]:
        """Indices of the starts _add would take after everything held and owed (each newer than the last taken)."""
        keep, last = [], self.newest
        for i, ts in enumerate(starts):
            if ts > last:
                keep.append(i)
                last = ts
        return keep


def _size(chunk) -> int:
    return len(chunk[0]) if isinstance(chunk, tuple) else len(chunk)


def _read_candles(snapshot: Snapshot, key: tuple[str, str], count: int) -> list[Candle]:
    try:
        return list(snapshot.history.candles(key[0], key[1], count))
    except (LookupError, ValueError):
        return []


class ChartReader:
    """Answers the chart's questions from the engine: candles, markers and indicators of one market."""

    def __init__(self, engine, cooperate: Callable[[], None] | None = None):
        self.engine = engine
        self.cooperate = cooperate
        self._fills_seq = 0  # the ledger's fills up to this seq are in _fills_by_market
        self._fills_by_market: dict[tuple[str, str], list] = {}
        self._fills_lock = threading.Lock()  # two requests must not both add the same fills
        self._momentum_cache: dict[tuple[str, str], tuple[float | None, dict[int, tuple]]] = {}

    def page(self, query: CandlesQuery) -> dict:
        """One page of the chart for query's market; CommandError (400/404) for a bad request."""
        engine = self.engine
        key = (query.exchange, query.symbol)
        if query.before is not None and query.after is not None:
            raise CommandError("before and after cannot be used together (before pages back, after follows)",
                               "after")
        if query.exchange not in engine.source.exchanges:
            raise CommandError(f"exchange must be one of {', '.join(engine.source.exchanges)}", "exchange",
                               status=404)
        if query.symbol not in engine.source.symbols:
            raise CommandError(f"symbol must be one of the traded symbols: {', '.join(engine.source.symbols)}",
                               "symbol", status=404)
        self._catch_up_fills()
        with engine.lock:
            snapshot = engine.last_snapshot
            market = snapshot.markets.get(key) if snapshot is not None else None
            if snapshot is not None and market is None:
                raise CommandError(f"{query.symbol} is not listed on {query.exchange}", "symbol", status=404)
            archive = engine.candle_archive
            lo, hi = archive.window(key, query.before, query.after, query.limit)
            candles = archive.candles(key)[lo:hi]
            first_ts = archive.candles(key)[0].ts if archive.candles(key) else None
            indicators = self._indicators(key, lo, hi) if candles else {}
            closes = np.array([c.close for c in archive.candles(key)[:hi]], dtype=float)
            fills = self._fills_between(key, candles)
        if "momentum" in indicators:  # the costly part, outside the engine lock and cached
            indicators["momentum"].update(self._momentum_series(key, closes, lo, first_ts))
        return {
            "exchange": query.exchange, "symbol": query.symbol, "timeframe": query.timeframe,
            "price_step": market.price_step if market else None,
            "amount_step": market.amount_step if market else None,
            "candles": [{"time": int(c.ts), "open": c.open, "high": c.high, "low": c.low, "close": c.close,
                         "volume": c.volume} for c in candles],
            "has_more": lo > 0, "first_time": int(first_ts) if first_ts is not None else None,
            "markers": [_marker(trade) for trade in fills],
            "indicators": indicators,
            "as_of": iso_utc(snapshot.ts) if snapshot is not None else None,
        }

    # ----- fills ------------------------------------------------------------------------------
    def _catch_up_fills(self) -> None:
        ledger = self.engine.ledger
        with self._fills_lock:
            with self.engine.lock:
                seq, last = self._fills_seq, ledger.last_seq
                trades = ledger.since(seq, last)
                if ledger.held and ledger.first_held_seq <= seq + 1:
                    trades = list(trades)  # from memory: taken under the lock
            for number, trade in enumerate(trades, start=1):
                self._fills_by_market.setdefault((trade.exchange, trade.symbol), []).append(trade)
                if self.cooperate is not None and number % 2000 == 0:
                    self.cooperate()
            self._fills_seq = max(seq, last)

    def _fills_between(self, key: tuple[str, str], candles: list[Candle]) -> list:
        if not candles:
            return []
        start, end = candles[0].ts, candles[-1].ts + CANDLE_SECONDS
        return [t for t in self._fills_by_market.get(key, ()) if start <= t.ts < end]

    # ----- indicators (the strategies' own computations) --------------------------------------
    def _indicators(self, key: tuple[str, str], lo: int, hi: int) -> dict:
        manager = self.engine.manager
        strategies = manager.strategies if manager is not None else {}
        archive = self.engine.candle_archive
        candles = archive.candles(key)
        times = [int(c.ts) for c in candles[lo:hi]]
        found = {}
        momentum = strategies.get("momentum")
        if momentum is not None and key[1] in momentum.symbol_by_asset.values():
            p = momentum.params
            found["momentum"] = {"times": times, "fast": p.fast, "slow": p.slow, "rsi_period": p.rsi_period,
                                 "rsi_overbought": p.rsi_overbought, "window": momentum.warmup_candles,
                                 "enabled": bool(manager.enabled.get("momentum"))}
        stat_arb = strategies.get("stat_arb")
        if stat_arb is not None:
            pair = self._spread(stat_arb, key, lo, hi)
            if pair is not None:
                found["stat_arb"] = {"times": times, "enabled": bool(manager.enabled.get("stat_arb")), **pair}
        news = strategies.get("news")
        if news is not None and key[1] in news.symbol_by_asset.values():
            # The score at each candle's close: what the minute check after it saw.
            scored = news.score_series(key[1], [t + CANDLE_SECONDS for t in times])
            headlines = [{**h, "time": int(h["ts"] // CANDLE_SECONDS * CANDLE_SECONDS), "ts": iso_utc(h["ts"])}
                         for h in scored.pop("headlines") if times and times[0] <= h["ts"] < times[-1] + CANDLE_SECONDS]
            found["news"] = {"times": times, "enabled": bool(manager.enabled.get("news")), **scored,
                             "headlines": headlines}
        return found

    def _momentum_series(self, key: tuple[str, str], closes: np.ndarray, lo: int, first_ts: float | None) -> dict:
        """Momentum's EMAs and RSI for candles lo.. of closes, each computed once per closed candle.

        A closed candle and the strategy's parameters never change, so a value, once computed,
        is kept (per market, by candle index from the archive's first candle, first_ts, read with
        closes under the engine lock: the archive is not read here, outside it) for the next pages.
        """
        momentum = self.engine.manager.strategies["momentum"]
        cache = self._momentum_cache.get(key)
        if cache is None or cache[0] != first_ts:  # new market, or the archive dropped its oldest
            cache = self._momentum_cache[key] = (first_ts, {})
        known = cache[1]
        missing = [i for i in range(lo, closes.shape[0]) if i not in known]
        if missing:
            computed = momentum.indicator_series(closes[:missing[-1] + 1], missing[0])
            for offset, values in enumerate(zip(computed["ema_fast"], computed["ema_slow"], computed["rsi"])):
                known[missing[0] + offset] = values
        rows = [known[i] for i in range(lo, closes.shape[0])]
        return {"ema_fast": [r[0] for r in rows], "ema_slow": [r[1] for r in rows], "rsi": [r[2] for r in rows]}

    def _spread(self, stat_arb, key: tuple[str, str], lo: int, hi: int) -> dict | None:
        """The pair's z per candle of this page, when key's symbol is in a tested pair (on its exchange)."""
        probe = stat_arb.spread_series(key[1], np.empty(0), np.empty(0), 0)
        if probe is None or probe["exchange"] != key[0]:
            return None
        archive = self.engine.candle_archive
        times = [c.ts for c in archive.candles(key)[lo:hi]]
        y_by_ts = {c.ts: c.close for c in archive.candles((key[0], probe["y"]))}
        x_by_ts = {c.ts: c.close for c in archive.candles((key[0], probe["x"]))}
        # Aligned on the minutes both legs have, up to this page's last candle.
        shared = sorted(ts for ts in y_by_ts.keys() & x_by_ts.keys() if ts <= times[-1])
        index = {ts: i for i, ts in enumerate(shared)}
        y = np.array([y_by_ts[ts] for ts in shared], dtype=float)
        x = np.array([x_by_ts[ts] for ts in shared], dtype=float)
        start = min((index[ts] for ts in times if ts in index), default=len(shared))
        result = stat_arb.spread_series(key[1], y, x, start)
        by_ts = dict(zip(shared[start:], result["z"]))
        result["z"] = [by_ts.get(ts) for ts in times]
        return result


def _marker(trade) -> dict:
    """One fill as the chart shows it: at its candle, with what the tooltip says."""
    return {"id": trade.id, "time": int(trade.ts // CANDLE_SECONDS * CANDLE_SECONDS), "ts": iso_utc(trade.ts),
            "strategy": trade.strategy, "kind": trade.kind, "side": trade.side, "qty": trade.qty,
            "price": trade.price, "fee": trade.fee, "fee_asset": trade.fee_asset,
            "realized_pnl": trade.realized_pnl, "reason": trade.reason, "signal_id": trade.signal_id}
