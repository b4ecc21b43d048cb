"""The replay's frame prefetch gives the records the plain reader gives, errors included, through the runner."""
from __future__ import annotations

import shutil
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import msgpack
import pytest

from bot.market.recording_format import HEADER, MAGIC, RecordingError, open_recording
from bot.market.replay import ReplayMarket
from bot.market.replay_frames import FramePrefetcher, iter_records
from tests.market.test_recording import all_records, record_sim, small_config


class CountingRunner:
    """A runner like the engine's: submit(fn, *args) -> future; counts what it ran."""

    def __init__(self):
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.submitted = 0

    def submit(self, fn, *args):
        self.submitted += 1
        return self.pool.submit(fn, *args)


@pytest.fixture(scope="module", params=[2, 3])
def recording(tmp_path_factory, request):
    """One recording per schema: small frames and segments, so several frames in several segments."""
    config = small_config(segment_max_bytes=65_536, frame_max_bytes=8_192, history_candles=5)
    source, _ = record_sim(tmp_path_factory.mktemp("recorded"), 300, config, keep=False, schema=request.param)
    return source.folder


def _light(records: list[dict], schema: int) -> list[dict]:
    """Schema 3 keeps quote rows and books blobs in columns and chunks: the records without them."""
    return records if schema < 3 else [{k: v for k, v in r.items() if k not in ("q", "bp")} for r in records]


def test_prefetched_records_are_the_files_records_in_order_through_the_runner(recording):
    folder = recording
    info = open_recording(folder)
    assert len(info.segments) >= 2
    frames = sum(segment.frames for segment in info.segments)
    runner = CountingRunner()
    schema = info.meta["schema_version"]
    prefetcher = FramePrefetcher(info.segments, runner, schema)
    got = list(prefetcher.records())
    plain = [record for segment in info.segments for record in iter_records(segment, schema)]
    assert got == plain
    # The oracle read independently from the files (lists, not tuples: compared through msgpack).
    assert [msgpack.unpackb(msgpack.packb(r), raw=False, strict_map_key=False) for r in got] == _light(
        all_records(folder), schema)
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

    schema = info.meta["schema_version"]
    plain = read(record for record in iter_records(info.segments[0], schema))
    prefetched = read(FramePrefetcher(info.segments, schema=schema).records())
    assert prefetched == plain and plain[0]
    assert f"frame at byte {second} does not decompress" in plain[1]


def test_a_replay_closes_its_own_frame_worker(recording):
    market = ReplayMarket(recording)
    market.next_snapshot()
    worker = market._frames._own
    assert worker is not None
    market.close()
    assert market._frames._own is None and worker._shutdown
