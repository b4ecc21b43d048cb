"""CandleArchive: every closed candle since the start, caught up when candles close, gaps counted."""
from __future__ import annotations

from types import SimpleNamespace

from bot.chart_data import CATCH_UP_CANDLES, CandleArchive
from bot.models import Candle, CandleHistory

KEY = ("binance", "BTC/USDT")


class KeptHistory(CandleHistory):
    """A source that keeps only its last `keep` candles of minutes [0, end)."""

    def __init__(self, keep: int):
        self.keep, self.end = keep, 0

    def candles(self, exchange, symbol, count):
        first = max(0, self.end - min(count, self.keep))
        return [Candle(60.0 * m, m, m + 1, m - 1, m + 0.5, 1.0) for m in range(first, self.end)]


def snap(history, new_candle=True):
    return SimpleNamespace(markets={KEY: None}, history=history, new_candle=new_candle)


def minutes(archive):
    return [int(c.ts // 60) for c in archive.candles(KEY)]


def test_seeds_with_all_the_source_has_then_keeps_what_the_source_forgets():
    history, archive = KeptHistory(keep=50), CandleArchive()
    history.end = 120
    archive.note(snap(history))
    assert minutes(archive) == list(range(70, 120))
    for _ in range(100):  # a candle a tick; the source forgets, the archive does not
        history.end += 1
        archive.note(snap(history))
        archive.note(snap(history, new_candle=False))  # no new candle: nothing read
    assert minutes(archive) == list(range(70, 220)) and archive.gaps == 0


def test_a_jump_beyond_the_catch_up_is_read_in_full_and_a_lost_stretch_is_counted():
    history, archive = KeptHistory(keep=40), CandleArchive()
    history.end = 10
    archive.note(snap(history))
    history.end += CATCH_UP_CANDLES + 20  # a long tick: more candles closed than the catch-up reads
    archive.note(snap(history))
    assert minutes(archive) == list(range(0, history.end)) and archive.gaps == 0
    history.end += 100  # the source kept only 40 of them
    archive.note(snap(history))
    assert archive.gaps == 1 and minutes(archive)[-40:] == list(range(history.end - 40, history.end))


def test_the_oldest_are_dropped_beyond_the_cap_and_pages_are_found_by_time():
    history, archive = KeptHistory(keep=1000), CandleArchive(max_per_market=30)
    history.end = 100
    archive.note(snap(history))
    assert minutes(archive) == list(range(70, 100))
    assert archive.window(KEY, before=None, after=None, limit=10) == (20, 30)
    assert archive.window(KEY, before=60.0 * 80, after=None, limit=5) == (5, 10)
    assert archive.window(KEY, before=None, after=60.0 * 95, limit=10) == (26, 30)
    history.end += 3
    archive.note(snap(history))
    assert minutes(archive) == list(range(73, 103))
    assert archive.window(KEY, before=60.0 * 80, after=None, limit=5) == (2, 7)
