"""Misses: orders that reached the market and did not fill, one line each in data/misses.jsonl.

A line: {"ts", "tick", "decision_ts", "strategy", "signal_id", "kind", "legs": [{"exchange",
"symbol", "side", "qty"}], "reason_key", "reason", "latency_ms"}; times are ISO 8601 UTC (ts is
the market time the miss became known, decision_ts that of the snapshot the signal was decided
on), reason_key one of MISS_REASONS, latency_ms the longest decision-to-book time of its legs
(null when no book was met: timeouts and cancellations). Written through bot/storage.JsonlWriter.
"""
from __future__ import annotations

from pathlib import Path

from bot.execution.executor import MISS_REASONS
from bot.models import Signal
from bot.timestamps import iso_utc
from bot.storage import JsonlWriter

MISSES_FILE = "misses.jsonl"


def miss_record(signal: Signal, tick: int, ts: float, decision_ts: float, reason_key: str, reason: str,
                latency_ms: float | None) -> dict:
    """The misses.jsonl line for one signal that did not fill."""
    if reason_key not in MISS_REASONS:
        raise ValueError(f"reason_key must be one of {', '.join(MISS_REASONS)} (got {reason_key!r})")
    return {"ts": iso_utc(ts), "tick": tick, "decision_ts": iso_utc(decision_ts), "strategy": signal.strategy,
            "signal_id": signal.id, "kind": signal.kind,
            "legs": [{"exchange": leg.exchange, "symbol": leg.symbol, "side": leg.side, "qty": leg.qty}
                     for leg in signal.legs],
            "reason_key": reason_key, "reason": reason, "latency_ms": latency_ms}


class MissLog:
    """Appends miss records to data/misses.jsonl (opened on the first miss)."""

    def __init__(self, data_dir: str | Path):
        self.path = Path(data_dir) / MISSES_FILE
        self._writer: JsonlWriter | None = None
        self.count = 0

    def append(self, record: dict) -> None:
        """Write one miss (StorageError when the disk refuses; the file is then as it was)."""
        if self._writer is None:
            self._writer = JsonlWriter(self.path, fsync=False)
        self._writer.append(record)
        self.count += 1

    def close(self) -> None:
        """Close the file (a later append reopens it)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
