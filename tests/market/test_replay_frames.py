"""The replay's frame prefetch gives the records the plain reader gives, errors included, through the runner."""
from __future__ import annotations

import shutil
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import msgpack
import pytest

from bot.market.recording_format import HEADER, MAGIC, RecordingError, iter_records, open_recording
from bot.market.replay import ReplayMarket
from bot.market.replay_frames import FramePrefetcher
from tests.market.test_recording import all_records, record_sim, small_config


class CountingRunner:
    """A runner like the engine's: submit(fn, *args) -> future; counts what it ran."""

    def __init__(self):
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.submitted = 0

    def submit(self, fn, *args):
        self.submitted += 1
        return self.pool.submit(fn, *args)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """One recording for the module: small frames and segments, so several frames in several segments."""
    config = small_config(segment_max_bytes=65_536, frame_max_bytes=8_192, history_candles=5)
    source, _ = record_sim(tmp_path_factory.mktemp("recorded"), 300, config, keep=False)
    return source.folder


def test_prefetched_records_are_the_files_records_in_order_through_the_runner(recording):
    folder = recording
    info = open_recording(folder)
    assert len(info.segments) >= 2
    frames = sum(segment.frames for segment in info.segments)
    runner = CountingRunner()
    prefetcher = FramePrefetcher(info.segments, runner)
    got = list(prefetcher.records())
    plain = [record for segment in info.segments for record in iter_records(segment)]
    assert got == plain
    # The oracle read independently from the files (lists, not tuples: compared through msgpack).
    assert [msgpack.unpackb(msgpack.packb(r), raw=False, strict_map_key=False) for r in got] == all_records(folder)
    assert runner.submitted == frames  # every frame was decompressed by the runner
    runner.pool.shutdown()


def test_a_frame_that_does_not_decompress_fails_where_the_plain_reader_fails(recording, tmp_path):
    folder = Path(shutil.copytree(recording, tmp_path / "damaged"))
    first = sorted(folder.glob("seg-*.rec"))[0]
    data = bytearray(first.read_bytes())
    _magic, length, _crc = HEADER.unpack_from(data, 0)
    second = HEADER.size + length  # the second frame: a checked CRC around bytes that are not zstd
    _magic, length2, _crc = HEADER.unpack_from(data, second)
    garbage = bytes(length2)
    data[second:second + HEADER.size + length2] = HEADER.pack(MAGIC, length2, zlib.crc32(garbage)) + garbage
    first.write_bytes(bytes(data))
    info = open_recording(folder)

    def read(records):
        seen = []
        with pytest.raises(RecordingError) as caught:
            for record in records:
                seen.append(record)
        return seen, str(caught.value)

    plain = read(record for record in iter_records(info.segments[0]))
    prefetched = read(FramePrefetcher(info.segments).records())
    assert prefetched == plain
    assert f"frame at byte {second} does not decompress" in plain[1]


def test_a_replay_closes_its_own_frame_worker(recording):
    market = ReplayMarket(recording)
    market.next_snapshot()
    worker = market._frames._own
    assert worker is not None
    market.close()
    assert market._frames._own is None and worker._shutdown
