"""recording: the recorder (--record) and the replay source (--market replay --recording DIR)."""
from __future__ import annotations

from pydantic import Field

from bot.config_base import ConfigModel

MIB = 1024 * 1024


class RecordingConfig(ConfigModel):
    """recording: what --record writes under data/recordings/, and which recording a replay reads."""

    record: bool = False  # --record: append every snapshot the engine sees to data/recordings/<start>/
    path: str | None = None  # --recording DIR: the recording --market replay feeds through the engine
    # A segment is closed and a new one started once it reaches this size.
    segment_max_bytes: int = Field(64 * MIB, ge=64 * 1024, le=4096 * MIB)
    # The oldest segments are deleted once the recording's segments together pass this (0: no limit).
    max_total_bytes: int = Field(4096 * MIB, ge=0)
    # Snapshots waiting for the background writer; a full queue drops ticks and marks a gap.
    queue_max_ticks: int = Field(2_000, ge=10, le=1_000_000)
    # Raw record bytes that close a frame early (frames are the unit a crash can tear).
    frame_max_bytes: int = Field(1 * MIB, ge=1024, le=256 * MIB)
    # Wall seconds (at most) between compressed frames: a crash loses at most this much of the recording.
    flush_seconds: float = Field(1.0, gt=0, le=60)
    # Closed candles per market stored at the start of each segment (the strategies' warm-up).
    history_candles: int = Field(1_500, ge=1, le=100_000)
    # zstd level of the frames (1 fastest .. 19 smallest).
    compression_level: int = Field(3, ge=1, le=19)
    # Replay: a jump in market time longer than this many ticks between two records is a gap.
    gap_ticks: int = Field(10, ge=2, le=1_000_000)
