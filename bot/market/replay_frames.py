"""A recording's records with the next frame decompressed ahead, off the replay's thread.

Decompressing a frame (zstd, about 70 ticks of books at depth) is the largest single cost of a
replayed tick. zstd releases the GIL while it works, so the frame after the one being replayed is
decompressed by a worker (`submit`: the engine's background runner, else one lazily made worker
thread) while the engine runs the current frame's ticks. One frame is in flight at a time, so
memory stays flat. The records, their order and every error (the same RecordingError, raised
where the plain reader, recording_format.iter_records, raises it) are exactly those of reading
the segments in order: only when the decompression happens moves.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator

import msgpack
import zstandard

from bot.market.recording_format import HEADER, RecordingError, Segment


def _raw_frames(segments: list[Segment]) -> Iterator[tuple[Segment, int, bytes]]:
    """(segment, byte offset, compressed payload) of every checked frame, in recording order."""
    for segment in segments:
        with open(segment.path, "rb") as handle:
            offset = 0
            while offset < segment.good_bytes:
                _magic, length, _crc = HEADER.unpack(handle.read(HEADER.size))
                yield segment, offset, handle.read(length)
                offset += HEADER.size + length


def _decompress(segment: Segment, offset: int, payload: bytes) -> bytes:
    try:
        return zstandard.ZstdDecompressor().decompress(payload)
    except zstandard.ZstdError as exc:
        raise RecordingError(f"{segment.path}: frame at byte {offset} does not decompress ({exc})") from None


def _records(segment: Segment, payload: bytes) -> Iterator[dict]:
    unpacker = msgpack.Unpacker(use_list=False, raw=False, strict_map_key=False)
    unpacker.feed(payload)
    try:
        yield from unpacker
    except (msgpack.UnpackException, ValueError) as exc:
        raise RecordingError(f"{segment.path}: a record does not decode ({exc})") from None


class FramePrefetcher:
    """Reads a recording's records in order, decompressing one frame ahead through `submit`."""

    def __init__(self, segments: list[Segment], runner=None):
        self.segments = list(segments)
        self._runner = runner
        self._own: ThreadPoolExecutor | None = None

    def _submit(self, fn: Callable, *args):
        if self._runner is not None:
            return self._runner.submit(fn, *args)
        if self._own is None:
            self._own = ThreadPoolExecutor(max_workers=1, thread_name_prefix="replay-frames")
        return self._own.submit(fn, *args)

    def records(self) -> Iterator[dict]:
        """Every record of the segments, in order (tuples for arrays, as iter_records gives them)."""
        frames = _raw_frames(self.segments)
        try:
            item = next(frames, None)
            pending = (item, self._submit(_decompress, *item)) if item is not None else None
            while pending is not None:
                (segment, _offset, _payload), future = pending
                payload = future.result()
                failed = None
                try:
                    item = next(frames, None)
                except OSError as exc:  # raised after this frame's records, where the plain reader raises it
                    item, failed = None, exc
                pending = (item, self._submit(_decompress, *item)) if item is not None else None
                yield from _records(segment, payload)
                if failed is not None:
                    raise failed
        finally:
            frames.close()

    def close(self) -> None:
        """Stop the worker this made (a runner passed in belongs to the caller)."""
        if self._own is not None:
            self._own.shutdown(wait=True, cancel_futures=True)
            self._own = None
