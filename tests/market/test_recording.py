"""--record and --market replay: the files on disk read back independently of the reader, a torn
tail, rotation, gaps, bad recordings refused, replay determinism, config checks.

The recordings are made from a small simulated market (2 exchanges x 2 symbols) by the real
recorder wrapped around the real simulator; the segment files are parsed here with struct, zlib,
zstandard and msgpack directly (the oracle), not with bot/market/recording_format.py.
"""
from __future__ import annotations

import errno
import json
import struct
import zlib
from pathlib import Path

import msgpack
import numpy as np
import pytest
import zstandard

import bot.storage_recording
from bot.config import BotConfig, ConfigError, parse_config
from bot.engine import BotEngine
from bot.market.base import SourceExhausted
from bot.market.recorder import RecordingSource
from bot.market.recording_format import RecordingError, open_recording
from bot.market.replay import ReplayMarket
from bot.market.simulator import SimulatedMarket
from tests.polling import wait_for

SMALL = {"exchanges": ["binance", "kraken"], "symbols": ["BTC/USDT", "ETH/USDT"], "seed": 5}


def small_config(**recording) -> BotConfig:
    return parse_config({"market": SMALL, "recording": {"record": True, **recording}, "dashboard": {"enabled": False}})


def raw_frames(path: Path) -> list[list[dict]]:
    """The oracle: every frame of a segment file as its list of records, parsed by hand; a schema 3 frame's
    records get their quote rows ("q", from the columns) and books blob ("bp", from its chunk) back."""
    schema = json.loads((path.parent / "meta.json").read_text())["schema_version"]
    data = path.read_bytes()
    frames, offset = [], 0
    while offset + 12 <= len(data):
        magic, length, crc = struct.unpack(">4sII", data[offset:offset + 12])
        payload = data[offset + 12:offset + 12 + length]
        if magic != b"RCF1" or len(payload) < length or zlib.crc32(payload) != crc:
            break
        frames.append(_schema3_records(payload) if schema >= 3 else _msgpack_all(
            zstandard.ZstdDecompressor().decompress(payload)))
        offset += 12 + length
    return frames


def _msgpack_all(data: bytes) -> list:
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(data)
    return list(unpacker)


def _schema3_records(payload: bytes) -> list[dict]:
    """light length | zstd(msgpack header, records) | zstd book chunks (format: bot/market/recording_columns.py)."""
    (light_length,) = struct.unpack(">I", payload[:4])
    header, *records = _msgpack_all(zstandard.ZstdDecompressor().decompress(payload[4:4 + light_length]))
    count = header["n"]
    assert count == len(records)
    width = len(header["qn"]) // count
    values = np.frombuffer(header["qv"], dtype="<f8").reshape(count, width, 7)
    chunks, at = [], 4 + light_length
    for size in header["bc"]:
        chunks.append(zstandard.ZstdDecompressor().decompress(payload[at:at + size]) if size else b"")
        at += size
    assert at == len(payload)
    for row, record in enumerate(records):
        quotes = [[i, *values[row, i].tolist()] for i in range(width) if header["qn"][row * width + i]]
        quotes += record.get("q", [])
        if quotes:
            record["q"] = quotes
        if header["bl"][row]:
            chunk, first = divmod(row, header["bt"])
            start = sum(header["bl"][row - first:row])
            record["bp"] = chunks[chunk][start:start + header["bl"][row]]
    return records


def all_records(folder: Path) -> list[dict]:
    return [record for segment in sorted(folder.glob("seg-*.rec")) for frame in raw_frames(segment)
            for record in frame]


def record_sim(tmp_path: Path, ticks: int, config: BotConfig | None = None, keep: bool = True, schema: int = 3):
    """Run the recorder over the simulator for `ticks` snapshots; (recording folder, snapshots seen)."""
    config = config or small_config()
    source = RecordingSource(SimulatedMarket(config.market), config, tmp_path / "data", config.market.tick_seconds,
                             schema_version=schema)
    seen = []
    for _ in range(ticks):
        snapshot = source.next_snapshot()
        if keep:
            books = {key: snapshot.book_reader(*key) for key in source.keys}
            seen.append((snapshot, books, snapshot.history.closes("binance", "BTC/USDT", 700)))
    source.close()
    return source, seen


def test_the_files_hold_every_snapshot_and_the_replay_gives_them_back(tmp_path):
    source, seen = record_sim(tmp_path, 150, small_config(frame_max_bytes=4096))
    folder = source.folder
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["schema_version"] == 3 and meta["source_kind"] == "simulated"
    assert meta["versions"]["bot"] and meta["versions"]["python"] and "ccxt" in meta["versions"]
    assert meta["config"]["market"]["seed"] == 5
    records = all_records(folder)
    assert [r["t"] for r in records] == [s.tick for s, _, _ in seen]
    assert len(raw_frames(folder / "seg-000001.rec")) > 3  # frame_max_bytes closed several frames
    keys = [tuple(k) for k in meta["keys"]]
    # Read by hand: the quotes each record holds are the snapshot's, field by field.
    quotes, order = {}, None
    for record, (snapshot, books, _closes) in zip(records, seen):
        for row in record.get("q", ()):
            quotes[keys[row[0]]] = row[1:]
        order = record.get("o", order)
        assert [keys[i] for i in order] == list(snapshot.quotes)
        for key, q in snapshot.quotes.items():
            assert quotes[key] == [q.bid, q.ask, q.last, q.bid_size, q.ask_size, q.ts, q.change_24h_pct]
        if "bk" in record:
            blobs = msgpack.unpackb(record["bp"])
            for i, (bids, asks, ts) in zip(record["bk"], blobs):
                assert [tuple(level) for level in bids] == list(books[keys[i]].bids) and ts == books[keys[i]].ts
    assert records[0]["k"] == 1 and len([c for c in records[0]["c"] if keys[c[0]] == ("binance", "BTC/USDT")]) >= 600
    # The replay gives back the same snapshots: ticks, times, quotes in order, books, candles, news.
    replay = ReplayMarket(folder)
    for snapshot, books, closes in seen:
        again = replay.next_snapshot()
        assert (again.tick, again.ts, again.new_candle, again.stale) == (snapshot.tick, snapshot.ts,
                                                                         snapshot.new_candle, snapshot.stale)
        assert list(again.quotes.items()) == list(snapshot.quotes.items())
        assert dict(again.markets) == dict(snapshot.markets)
        assert {key: again.book_reader(*key) for key in books} == books
        assert again.news == snapshot.news and again.whales == snapshot.whales
        assert again.history.closes("binance", "BTC/USDT", 700).tolist() == closes.tolist()
    with pytest.raises(SourceExhausted):
        replay.next_snapshot()
    assert "simulated market" in replay.description and "2026-01-01T00:00:00.000Z" in replay.description


def test_a_torn_tail_is_skipped_with_a_warning_and_damage_in_the_middle_is_refused(tmp_path):
    source, _ = record_sim(tmp_path, 120, small_config(frame_max_bytes=4096), keep=False)
    segment = source.folder / "seg-000001.rec"
    frames = raw_frames(segment)
    whole = segment.read_bytes()
    segment.write_bytes(whole[:-7])  # a crash in the middle of the last frame
    info = open_recording(source.folder)
    assert len(info.warnings) == 1 and "torn" in info.warnings[0] and str(segment) in info.warnings[0]
    replay = ReplayMarket(info)
    ticks = []
    try:
        while True:
            ticks.append(replay.next_snapshot().tick)
    except SourceExhausted:
        pass
    assert ticks == [r["t"] for frame in frames[:-1] for r in frame]  # every whole frame, nothing of the torn one
    damaged = bytearray(whole)
    damaged[20] ^= 0xFF  # inside the first frame's payload: its checksum fails with frames after it
    segment.write_bytes(bytes(damaged))
    with pytest.raises(RecordingError, match=r"seg-000001.rec: frame at byte 0 fails its checksum"):
        open_recording(source.folder)


def test_segments_rotate_and_the_oldest_are_deleted_past_the_size_limit(tmp_path):
    config = small_config(frame_max_bytes=2048, segment_max_bytes=64 * 1024, max_total_bytes=160 * 1024)
    source, _ = record_sim(tmp_path, 700, config, keep=False)
    index = json.loads((source.folder / "index.json").read_text())
    on_disk = sorted(p.name for p in source.folder.glob("seg-*.rec"))
    assert index["deleted"], "nothing was rotated out"
    assert [s["file"] for s in index["segments"]] == on_disk and "seg-000001.rec" not in on_disk
    assert sum((source.folder / name).stat().st_size for name in on_disk) <= 160 * 1024 + 64 * 1024
    for name in on_disk:  # every segment starts whole, so it can be read once the ones before it are gone
        assert raw_frames(source.folder / name)[0][0].get("k") == 1
    replay = ReplayMarket(source.folder)
    first = replay.next_snapshot()
    assert first.tick == index["segments"][0]["first_tick"] and len(first.quotes) == 4
    assert replay.last_tick == 699


def test_a_failing_disk_is_a_reported_gap_the_run_goes_on_and_replay_never_bridges_it(tmp_path, monkeypatch):
    config = small_config(frame_max_bytes=1024, flush_seconds=0.05)
    source = RecordingSource(SimulatedMarket(config.market), config, tmp_path / "data", 1.0)
    real = bot.storage_recording._write_all
    failing = {"on": False}

    def disk(fd, data):
        if failing["on"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(bot.storage_recording, "_write_all", disk)
    for _ in range(40):
        source.next_snapshot()
    wait_for(lambda: source.writer.records == 40, what="the first 40 ticks on disk")
    failing["on"] = True
    for _ in range(40):
        source.next_snapshot()
    notices = wait_for(lambda: [e for e in source.drain_events() if "No space left" in e["message"]],
                       what="the disk failure reported")
    assert notices[0]["kind"] == "market_warning"
    failing["on"] = False
    for _ in range(40):
        source.next_snapshot()
    source.close()
    assert source.status()["failed_writes"] >= 1
    index = json.loads((source.folder / "index.json").read_text())
    assert index["gaps"] and "No space left" in index["gaps"][0]["reason"]
    replay = ReplayMarket(source.folder)
    ticks, events = [], []
    try:
        while True:
            ticks.append(replay.next_snapshot().tick)
            events.extend(replay.drain_events())
    except SourceExhausted:
        pass
    missing = sorted(set(range(120)) - set(ticks))
    assert missing and ticks == sorted(ticks) and 0 in ticks and 119 in ticks
    assert missing == list(range(missing[0], missing[-1] + 1))  # one gap, nothing filled in
    gaps = [e for e in events if "gap in the recording" in e["message"]]
    assert len(gaps) == 1 and "No space left" in gaps[0]["message"]
    assert "1 gap (not bridged)" in replay.description


def test_a_time_jump_in_the_recording_is_a_gap(tmp_path):
    source, _ = record_sim(tmp_path, 60, keep=False, schema=2)  # rewritten by hand below, in the schema 2 layout
    segment = source.folder / "seg-000001.rec"
    records = all_records(source.folder)
    records[30]["ts"] += 3600  # the market clock jumps an hour between two recorded ticks
    for record in records[31:]:
        record["ts"] += 3600
    payload = b"".join(msgpack.packb(r) for r in records)
    compressed = zstandard.ZstdCompressor().compress(payload)
    segment.write_bytes(struct.pack(">4sII", b"RCF1", len(compressed), zlib.crc32(compressed)) + compressed)
    replay = ReplayMarket(source.folder)
    events = []
    for _ in range(60):
        replay.next_snapshot()
        events.extend(replay.drain_events())
    assert [e["message"] for e in events if "gap" in e["message"]] == [
        "replay: gap in the recording between 2026-01-01T00:00:29.000Z and 2026-01-01T01:00:30.000Z "
        "(tick 29 -> 30; market time jumps 3601.0s (more than 10 ticks)); nothing is invented for it"]


def _run_bot(argv, capsys):
    import run_bot

    code = run_bot.main(argv)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("problem", ["missing", "empty", "schema", "damaged"])
def test_a_bad_recording_is_refused_in_one_line_and_nothing_is_written(tmp_path, capsys, problem):
    folder = tmp_path / "rec"
    if problem != "missing":
        source, _ = record_sim(tmp_path / "made", 60, small_config(frame_max_bytes=2048), keep=False)
        folder = source.folder
    if problem == "empty":
        for segment in folder.glob("seg-*.rec"):
            segment.write_bytes(b"")
    elif problem == "schema":
        meta = json.loads((folder / "meta.json").read_text())
        meta["schema_version"] = 99
        (folder / "meta.json").write_text(json.dumps(meta))
    elif problem == "damaged":
        segment = folder / "seg-000001.rec"
        data = bytearray(segment.read_bytes())
        data[5] ^= 0x40  # the first frame's length: the frames after it no longer line up
        segment.write_bytes(bytes(data))
    code, err = _run_bot(["--no-dashboard", "--fast", "--recording", str(folder),
                          "--data-dir", str(tmp_path / "d"), "--log-dir", str(tmp_path / "l")], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: --recording: ")
    expected = {"missing": f"{folder}: no such recording", "empty": "empty recording",
                "schema": "schema_version 99 is not supported", "damaged": "seg-000001.rec"}[problem]
    assert expected in lines[0]
    assert not (tmp_path / "d").exists() and not (tmp_path / "l").exists()


def test_recording_settings_and_arguments_are_checked(tmp_path, capsys):
    with pytest.raises(ConfigError, match="recording.segment_max_bytes"):
        parse_config({"recording": {"segment_max_bytes": 10}})
    with pytest.raises(ConfigError, match="recording.queue_max_ticks"):
        parse_config({"recording": {"queue_max_ticks": 0}})
    with pytest.raises(ConfigError, match="recording.nope"):
        parse_config({"recording": {"nope": 1}})
    code, err = _run_bot(["--no-dashboard", "--market", "replay", "--data-dir", str(tmp_path / "d")], capsys)
    assert code == 2 and "recording.path: --market replay needs a recording" in err
    code, err = _run_bot(["--no-dashboard", "--market", "live", "--recording", str(tmp_path)], capsys)
    assert code == 2 and "--recording: only with --market replay" in err
    assert not (tmp_path / "d").exists()


def _engine_run(folder: Path, config: dict, ticks: int | None) -> BotEngine:
    engine = BotEngine(parse_config({**config, "storage": {"data_dir": str(folder / "data"),
                                                           "log_dir": str(folder / "logs")}}))
    engine.open()
    engine.run_fast(ticks)
    engine.close()
    return engine


def test_replay_is_deterministic_and_reproduces_the_recorded_simulator_run(tmp_path):
    settings = {"market": {"seed": 11}, "dashboard": {"enabled": False}}
    recorded = _engine_run(tmp_path / "sim", {**settings, "recording": {"record": True}}, 1500)
    folder = recorded.source.folder
    replay = {**settings, "market": {"source": "replay", "seed": 11}, "recording": {"path": str(folder)}}
    first = _engine_run(tmp_path / "r1", replay, None)
    second = _engine_run(tmp_path / "r2", replay, None)
    assert first.ticks_run == second.ticks_run == 1500
    sim_trades = (tmp_path / "sim" / "data" / "trades.jsonl").read_bytes()
    assert sim_trades.count(b"\n") >= 2, "the recorded run made too few trades to compare"
    for name in ("trades.jsonl", "misses.jsonl"):
        one, two = (tmp_path / "r1" / "data" / name), (tmp_path / "r2" / "data" / name)
        assert one.exists() == two.exists()
        if one.exists():
            assert one.read_bytes() == two.read_bytes()
    # Market impact is off by default, so the replayed simulator run is the recorded one, trade for trade.
    assert (tmp_path / "r1" / "data" / "trades.jsonl").read_bytes() == sim_trades
    assert first.facade.clock()["applies"] is True
    assert json.loads((tmp_path / "r1" / "data" / "portfolio_state.json").read_text())["engine"]["market_source"] == "replay"


def test_a_writer_that_falls_behind_drops_ticks_and_marks_the_gap(tmp_path, monkeypatch):
    import threading

    config = small_config(queue_max_ticks=10, frame_max_bytes=1024, flush_seconds=0.05)
    source = RecordingSource(SimulatedMarket(config.market), config, tmp_path / "data", 1.0)
    real, release = bot.storage_recording._write_all, threading.Event()

    def slow_disk(fd, data):
        release.wait(30)  # the disk stalls until the test lets it go
        real(fd, data)

    monkeypatch.setattr(bot.storage_recording, "_write_all", slow_disk)
    for _ in range(60):  # the tick path never waits: the queue fills and later ticks are dropped
        source.next_snapshot()
    assert source.dropped_ticks > 0
    assert any("queue is full" in e["message"] for e in source.drain_events())
    release.set()
    wait_for(lambda: source._queue.empty(), what="the writer catching up")
    for _ in range(5):
        source.next_snapshot()
    source.close()
    replay = ReplayMarket(source.folder)
    ticks, events = [], []
    try:
        while True:
            ticks.append(replay.next_snapshot().tick)
            events.extend(replay.drain_events())
    except SourceExhausted:
        pass
    assert len(ticks) == 65 - source.dropped_ticks and ticks[-1] == 64
    gaps = [e["message"] for e in events if "gap in the recording" in e["message"]]
    # One gap per run of dropped ticks (the writer may take a tick between two drops): each named, none filled in.
    assert gaps and all("queue is full" in gap for gap in gaps)
    assert ticks == sorted(set(ticks)) and len(gaps) == sum(1 for a, b in zip(ticks, ticks[1:]) if b != a + 1)


def test_a_fast_run_waits_for_a_slow_writer_and_records_every_tick(tmp_path, monkeypatch):
    import threading

    config = small_config(queue_max_ticks=10, frame_max_bytes=1024, flush_seconds=0.05)
    source = RecordingSource(SimulatedMarket(config.market), config, tmp_path / "data", 1.0)
    source.wait_when_full = True  # what BotEngine.run_fast sets
    real, writes = bot.storage_recording._write_all, []

    def slow_disk(fd, data):
        writes.append(threading.Event().wait(0.01))  # a disk slower than the ticks
        real(fd, data)

    monkeypatch.setattr(bot.storage_recording, "_write_all", slow_disk)
    for _ in range(120):
        source.next_snapshot()
    source.close()
    assert source.dropped_ticks == 0 and writes
    replay = ReplayMarket(source.folder)
    ticks, events = [], []
    try:
        while True:
            ticks.append(replay.next_snapshot().tick)
            events.extend(replay.drain_events())
    except SourceExhausted:
        pass
    assert ticks == list(range(120))
    assert not [e for e in events if "gap" in e["message"]]


def test_a_fast_engine_run_sets_the_recorder_to_wait(tmp_path):
    from bot.config import parse_config
    from bot.engine import BotEngine

    engine = BotEngine(parse_config({"storage": {"data_dir": str(tmp_path / "d"), "log_dir": str(tmp_path / "l")},
                                     "dashboard": {"enabled": False}, "recording": {"record": True}}))
    engine.open()
    try:
        assert engine.source.wait_when_full is False  # real time: a full queue drops, the tick never waits
        engine.run_fast(3)
        assert engine.source.wait_when_full is True
    finally:
        engine.close()


def test_seek_resumes_a_replay_at_a_tick_with_the_state_of_the_ticks_before(tmp_path):
    source, seen = record_sim(tmp_path, 90, small_config(frame_max_bytes=2048))
    replay = ReplayMarket(source.folder)
    replay.seek(61)  # a restarted replay goes on from its data dir's next tick
    for snapshot, books, closes in seen[61:]:
        again = replay.next_snapshot()
        assert again.tick == snapshot.tick and list(again.quotes.items()) == list(snapshot.quotes.items())
        assert {key: again.book_reader(*key) for key in books} == books
        assert again.history.closes("binance", "BTC/USDT", 700).tolist() == closes.tolist()
    assert not [e for e in replay.drain_events() if "gap" in e["message"]]
