"""The recording format: what --record writes and --market replay reads.

A recording is a folder: meta.json (schema_version, what was recorded, the config and versions it
was made with), index.json (each segment's tick and time range, gaps), and segments
seg-000001.rec, seg-000002.rec... A segment is a run of frames; a frame is

    b"RCF1" | payload length (uint32, big-endian) | CRC-32 of the payload (uint32) | payload

and its payload (schema 1, 2) is one zstd frame holding msgpack records back to back, one per tick;
schema 3 splits it into a light part and the books (bot/market/recording_columns.py). The first
record of every segment is a keyframe (the whole state: quotes, books, markets, candle history),
so a segment can be read, or deleted by rotation, on its own; the others hold what changed.

A crash can tear the last frame of the last segment: readers skip it with a warning. A bad frame
anywhere else is damage, and the recording is refused naming the file and byte offset.
"""
from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import zstandard

# 2 added public trades (bot/market/recording_trades.py); 3 keeps books apart (bot/market/recording_columns.py)
SCHEMA_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)  # a version 1 recording replays without trades
FORMAT_NAME = "paper-bot-recording"
MAGIC = b"RCF1"
HEADER = struct.Struct(">4sII")
SEGMENT_GLOB = "seg-*.rec"
META_FILE, INDEX_FILE = "meta.json", "index.json"


class RecordingError(Exception):
    """A recording cannot be replayed; the message names the file and the problem in one line."""


def segment_name(number: int) -> str:
    """The file name of segment `number` (1-based), sorting in recording order."""
    return f"seg-{number:06d}.rec"


def encode_frame(records: bytes, compressor: zstandard.ZstdCompressor) -> bytes:
    """One schema 1 or 2 frame from concatenated msgpack records."""
    return frame_of(compressor.compress(records))


def frame_of(payload: bytes) -> bytes:
    """A frame around a payload: magic, length, CRC-32."""
    return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


@dataclass(frozen=True)
class Segment:
    """One segment file and how many of its bytes hold whole, checked frames."""

    path: Path
    frames: int
    good_bytes: int


@dataclass
class RecordingInfo:
    """A checked recording: its meta document, segments in order, and warnings from the check."""

    path: Path
    meta: dict
    segments: list[Segment]
    index: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _scan(path: Path, last: bool) -> tuple[Segment, str | None]:
    """Check every frame's header and CRC, reading one frame at a time; (segment, torn-tail warning)."""
    frames, offset = 0, 0
    size = path.stat().st_size
    with open(path, "rb") as handle:
        while offset < size:
            header = handle.read(HEADER.size)
            problem = None
            if len(header) < HEADER.size:
                problem = f"torn frame header at byte {offset}"
            else:
                magic, length, crc = HEADER.unpack(header)
                if magic != MAGIC:
                    problem = f"no frame starts at byte {offset} (damaged)"
                else:
                    payload = handle.read(length)
                    if len(payload) < length:
                        problem = f"torn frame at byte {offset} ({len(payload)} of {length} bytes)"
                    elif zlib.crc32(payload) != crc:
                        problem = f"frame at byte {offset} fails its checksum (damaged)"
            if problem is not None:
                tail_only = last and (problem.startswith("torn") or handle.tell() >= size)
                if not tail_only:
                    raise RecordingError(f"{path}: {problem}")
                if _whole_frame_after(handle, offset + 1):
                    raise RecordingError(f"{path}: {problem}, with whole frames after it (damaged in the middle)")
                return Segment(path, frames, offset), f"{path}: {problem}: the torn tail is skipped"
            frames += 1
            offset += HEADER.size + length
    return Segment(path, frames, offset), None


def _whole_frame_after(handle, start: int) -> bool:
    """True when a whole, checked frame starts somewhere after `start`: then the bad frame is damage, not a
    torn tail (a damaged length field can make a frame in the middle look torn)."""
    handle.seek(start)
    rest = handle.read()
    at = rest.find(MAGIC)
    while at >= 0:
        if at + HEADER.size <= len(rest):
            _magic, length, crc = HEADER.unpack_from(rest, at)
            payload = rest[at + HEADER.size:at + HEADER.size + length]
            if len(payload) == length and zlib.crc32(payload) == crc:
                return True
        at = rest.find(MAGIC, at + 1)
    return False


def open_recording(path: str | Path) -> RecordingInfo:
    """Check a recording before anything is written: folder, meta.json, schema version, every frame.

    Raises RecordingError naming the file and the problem (missing, empty, another schema
    version, damaged); a torn tail of the last segment is only a warning.
    """
    folder = Path(path)
    if not folder.exists():
        raise RecordingError(f"{folder}: no such recording")
    if not folder.is_dir():
        raise RecordingError(f"{folder}: not a recording folder (expected {META_FILE} and {SEGMENT_GLOB} inside)")
    meta_path = folder / META_FILE
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordingError(f"{meta_path}: missing (not a recording, or an empty one)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordingError(f"{meta_path}: unreadable ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise RecordingError(f"{meta_path}: not a recording's meta.json (format is not {FORMAT_NAME!r})")
    if meta.get("schema_version") not in READABLE_VERSIONS:
        raise RecordingError(f"{meta_path}: schema_version {meta.get('schema_version')!r} is not supported "
                             f"(this bot reads {', '.join(map(str, READABLE_VERSIONS))})")
    files = sorted(folder.glob(SEGMENT_GLOB))
    info = RecordingInfo(folder, meta, [])
    for number, segment_path in enumerate(files):
        try:
            segment, warning = _scan(segment_path, last=number == len(files) - 1)
        except OSError as exc:
            raise RecordingError(f"{segment_path}: unreadable ({exc.strerror or exc})") from None
        if warning:
            info.warnings.append(warning)
        if segment.frames:
            info.segments.append(segment)
    if not info.segments:
        raise RecordingError(f"{folder}: empty recording (no recorded snapshots in {SEGMENT_GLOB})")
    try:
        index = json.loads((folder / INDEX_FILE).read_text(encoding="utf-8"))
        info.index = index if isinstance(index, dict) else {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        info.index = {}  # written at every frame; a crash may leave it behind the segments, which are the truth
    return info


def iter_frames(segment: Segment) -> Iterator[bytes]:
    """The decompressed payloads of a schema 1 or 2 segment's checked frames, one at a time."""
    decompressor = zstandard.ZstdDecompressor()
    with open(segment.path, "rb") as handle:
        offset = 0
        while offset < segment.good_bytes:
            _magic, length, _crc = HEADER.unpack(handle.read(HEADER.size))
            payload = handle.read(length)
            try:
                yield decompressor.decompress(payload)
            except zstandard.ZstdError as exc:
                raise RecordingError(f"{segment.path}: frame at byte {offset} does not decompress ({exc})") from None
            offset += HEADER.size + length
