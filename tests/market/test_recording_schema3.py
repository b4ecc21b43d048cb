"""Schema 3 recordings (books kept apart, quotes as columns) and the replay's look-ahead (light_block, skip).

Oracles: the schema 2 recording of the same simulator run, parsed by hand (tests/market/test_recording.py
raw_frames reads both layouts with struct, zlib, zstandard, msgpack and numpy); the snapshots a plain
replay gives, tick by tick, for the look-ahead.
"""
from __future__ import annotations

import dataclasses
import math

import pytest

from bot.config import parse_config
from bot.market.base import SourceExhausted
from bot.market.recorder import RecordingSource
from bot.market.recording_columns import LazyBookBlob
from bot.market.replay import ReplayMarket
from bot.market.simulator import SimulatedMarket
from tests.market.test_recording import all_records

BUSY = {"exchanges": ["binance", "kraken"], "symbols": ["BTC/USDT", "ETH/USDT"], "seed": 5,
        "simulator": {"news_per_hour": 600.0, "whales_per_hour": 600.0}}


def busy_config(**recording):
    """Small frames (several per segment), news and whales every few ticks, a short candle history."""
    return parse_config({"market": BUSY, "dashboard": {"enabled": False},
                         "recording": {"record": True, "frame_max_bytes": 6000, "history_candles": 30, **recording}})


class _Jumpy(SimulatedMarket):
    """A simulator whose clock jumps an hour at tick 100 and whose tick numbers skip 5 from tick 150: two gaps."""

    def next_snapshot(self):
        snapshot = super().next_snapshot()
        tick, ts = snapshot.tick, snapshot.ts
        return dataclasses.replace(snapshot, tick=tick + 5 * (tick >= 150), ts=ts + 3600.0 * (tick >= 100))


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """The same 200-tick simulator run recorded as schema 2 and as schema 3, and the snapshots it gave."""
    out = {}
    for schema in (2, 3):
        config = busy_config()
        source = RecordingSource(_Jumpy(config.market), config, tmp_path_factory.mktemp(f"s{schema}"), 1.0,
                                 schema_version=schema)
        seen = []
        for _ in range(200):
            snapshot = source.next_snapshot()
            seen.append((snapshot, {key: snapshot.book_reader(*key) for key in source.keys}, None))
        source.close()
        out[schema] = (source.folder, seen)
    return out


def _by_market(record: dict) -> dict:
    record = dict(record)
    if "q" in record:
        record["q"] = {row[0]: list(row[1:]) for row in record["q"]}
    return record


def test_a_schema_3_recording_holds_exactly_what_schema_2_holds(recordings):
    two, three = all_records(recordings[2][0]), all_records(recordings[3][0])
    assert len(two) == len(three) == 200
    assert [_by_market(r) for r in three] == [_by_market(r) for r in two]
    assert any("n" in r for r in three) and any("w" in r for r in three) and any("nc" in r for r in three)


def test_books_are_decoded_only_when_read_and_are_the_stored_books(recordings):
    folder, seen = recordings[3]
    replay = ReplayMarket(folder)
    try:
        for number, (snapshot, books, _closes) in enumerate(seen):
            again = replay.next_snapshot()
            blobs = [blob for blob, _position in replay._books.values()]
            assert blobs and all(isinstance(blob, LazyBookBlob) for blob in blobs)
            if number % 7:
                continue  # most ticks read no book: no chunk of theirs is ever decompressed
            assert all(blob.books is None for blob in blobs)
            assert {key: again.book_reader(*key) for key in books} == books
    finally:
        replay.close()


def replay_gaps(folder) -> list[dict]:
    replay = ReplayMarket(folder)
    try:
        replay.skip(len(replay.light_block(1000)))
        return replay.gaps
    finally:
        replay.close()


def _step_all(folder):
    """(snapshot, the events drained after it, gaps reported so far) of every tick of a plain replay."""
    replay, out = ReplayMarket(folder), []
    try:
        while True:
            snapshot = replay.next_snapshot()
            out.append((snapshot, replay.drain_events(), len(replay.gaps)))
    except SourceExhausted:
        return out
    finally:
        replay.close()


@pytest.mark.parametrize("schema", [2, 3])
def test_light_block_says_what_the_snapshots_ahead_hold(recordings, schema):
    folder = recordings[schema][0]
    plain = _step_all(folder)
    replay = ReplayMarket(folder)
    try:
        assert [g["before_tick"] for g in replay_gaps(folder)] == [100, 155]
        for start in (0, 1, 37, 99, 100, 149, 150, 199):
            replay.skip(start - (200 - len(replay.light_block(1000))))
            block = replay.light_block(60)
            assert len(replay.light_block(60)) == len(block) == min(60, 200 - start)
            assert block.keys == replay.keys
            for row in range(len(block)):
                snapshot, drained, gaps = plain[start + row]
                assert (int(block.tick[row]), float(block.ts[row])) == (snapshot.tick, snapshot.ts)
                assert bool(block.gap[row]) == (gaps > (plain[start + row - 1][2] if start + row else 0))
                assert bool(block.events[row] or block.gap[row]) == bool(drained)
                for k, key in enumerate(block.keys):
                    quote = snapshot.quotes.get(key)
                    got = (float(block.bid[row, k]), float(block.ask[row, k]))
                    assert got == (quote.bid, quote.ask) if quote else all(math.isnan(v) for v in got)
                assert bool(block.new_candle[row]) == snapshot.new_candle
                assert bool(block.news[row]) == bool(snapshot.news) and bool(block.whales[row]) == bool(snapshot.whales)
                for k, key in enumerate(block.keys):
                    added = block.candles[(block.candle_row == row) & (block.candle_key == k)]
                    if len(added):
                        last = snapshot.history.candles(*key, len(added))
                        assert added.tolist() == [[c.ts, c.open, c.high, c.low, c.close, c.volume] for c in last]
            assert block.news.any() and block.whales.any() and block.new_candle.any() or len(block) < 60
            assert block.gap.sum() == plain[start + len(block) - 1][2] - (plain[start - 1][2] if start else 0)
        replay.skip(1)
        assert len(replay.light_block(5)) == 0
        with pytest.raises(SourceExhausted):
            replay.next_snapshot()
    finally:
        replay.close()


@pytest.mark.parametrize("schema", [2, 3])
def test_skipping_ahead_ends_exactly_where_stepping_does(recordings, schema):
    folder = recordings[schema][0]
    plain = _step_all(folder)
    replay = ReplayMarket(folder)
    events, at = [], 0
    try:
        with pytest.raises(ValueError, match="only 200 snapshots are left"):
            replay.skip(201)
        for count in (0, 3, 1, 40, 2, 61, 1, 30, 0):
            replay.skip(count)
            events.extend(replay.drain_events())
            at += count
            snapshot = replay.next_snapshot()
            expected, expected_events, gaps = plain[at]
            assert snapshot.tick == expected.tick and list(snapshot.quotes.items()) == list(expected.quotes.items())
            assert dict(snapshot.markets) == dict(expected.markets) and snapshot.stale == expected.stale
            assert {key: snapshot.book_reader(*key) for key in replay.keys} == \
                {key: expected.book_reader(*key) for key in replay.keys}
            for key in replay.keys:
                assert snapshot.history.candles(*key, 40) == expected.history.candles(*key, 40)
                assert snapshot.history.closes(*key, 40).tolist() == expected.history.closes(*key, 40).tolist()
            assert snapshot.news == expected.news and snapshot.whales == expected.whales
            assert len(replay.gaps) == gaps
            events.extend(replay.drain_events())
            at += 1
        assert events == [e for _s, drained, _g in plain[:at] for e in drained]
    finally:
        replay.close()


class _IntPrices(SimulatedMarket):
    """A simulator whose binance BTC/USDT bid is an int: not a float64 column value, kept in its record."""

    def next_snapshot(self):
        snapshot = super().next_snapshot()
        quotes = dict(snapshot.quotes)
        quotes[("binance", "BTC/USDT")] = dataclasses.replace(quotes[("binance", "BTC/USDT")],
                                                              bid=int(quotes[("binance", "BTC/USDT")].bid))
        return dataclasses.replace(snapshot, quotes=quotes)


def test_a_quote_value_that_is_not_a_float_replays_as_recorded(tmp_path):
    config = busy_config()
    source = RecordingSource(_IntPrices(config.market), config, tmp_path / "data", 1.0)
    seen = [dict(source.next_snapshot().quotes) for _ in range(40)]
    source.close()
    replay = ReplayMarket(source.folder)
    try:
        replay.skip(5)
        block = replay.light_block(40)
        for number, quotes in enumerate(seen[5:]):
            again = replay.next_snapshot().quotes
            assert list(again.items()) == list(quotes.items())
            bid = again[("binance", "BTC/USDT")].bid
            assert type(bid) is int and block.bid[number, replay.keys.index(("binance", "BTC/USDT"))] == bid
    finally:
        replay.close()
