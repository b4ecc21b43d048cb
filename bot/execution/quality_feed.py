"""QualityFeed: data/trades.jsonl and data/misses.jsonl followed by byte offset into one ExecutionQuality.

Each sync reads only the complete lines appended since the last one, up to the sizes the caller
took under the engine lock (appends are whole batches written under that lock, so those sizes
fall between signals). Reading streams line by line: memory does not grow with the files. A file
that shrank (set aside, replaced) is read again from the start. A line that does not parse is
logged, counted and skipped; the ledger's own checks (start-up, verify) own its integrity.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Callable

from bot.execution.quality import EntryView, ExecutionQuality, FillView, MissView

log = logging.getLogger(__name__)

TRADES_FILE = "trades.jsonl"
MISSES_FILE = "misses.jsonl"
COOPERATE_EVERY = 2000


def file_size(path: Path) -> int:
    """The file's size in bytes, 0 when it does not exist."""
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


class QualityFeed:
    """One data dir's fill-quality figures, brought up to date by sync()."""

    def __init__(self, data_dir: str | Path):
        self.trades_path = Path(data_dir) / TRADES_FILE
        self.misses_path = Path(data_dir) / MISSES_FILE
        self.quality = ExecutionQuality()
        self.offsets = {"trades": 0, "misses": 0}
        self.skipped_lines = 0
        self._lock = threading.Lock()

    def sizes(self) -> tuple[int, int]:
        """The two files' sizes now (take them under the engine lock to stop at a whole tick)."""
        return file_size(self.trades_path), file_size(self.misses_path)

    def sync(self, sizes: tuple[int, int] | None = None, cooperate: Callable[[], None] | None = None) -> None:
        """Take in every complete line below sizes (default: the files' sizes now)."""
        trades_upto, misses_upto = sizes if sizes is not None else self.sizes()
        with self._lock:
            if trades_upto < self.offsets["trades"] or misses_upto < self.offsets["misses"]:
                log.warning("%s: a followed file shrank; reading both from the start", self.trades_path.parent)
                self.quality = ExecutionQuality()
                self.offsets = {"trades": 0, "misses": 0}
            self._follow("trades", self.trades_path, trades_upto, self._ledger_line, cooperate)
            self._follow("misses", self.misses_path, misses_upto, self._miss_line, cooperate)

    def report(self, strategy: str | None = None, include: tuple[str, ...] = ()) -> list[dict]:
        """ExecutionQuality.report of what has been synced."""
        with self._lock:
            return self.quality.report(strategy, include)

    def _ledger_line(self, record: dict) -> None:
        if "entry" in record:
            self.quality.add_entry(EntryView.from_record(record))
        else:
            self.quality.add_fill(FillView.from_record(record))

    def _miss_line(self, record: dict) -> None:
        self.quality.add_miss(MissView.from_record(record))

    def _follow(self, name: str, path: Path, upto: int, take: Callable[[dict], None], cooperate) -> None:
        offset = self.offsets[name]
        if upto <= offset:
            return
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            return
        with handle:
            handle.seek(offset)
            for number, raw in enumerate(handle, start=1):
                if not raw.endswith(b"\n") or offset + len(raw) > upto:
                    break  # a line still being written, or past the caller's boundary
                offset += len(raw)
                if raw.strip():
                    self._take(path, raw, take)
                if cooperate is not None and number % COOPERATE_EVERY == 0:
                    cooperate()
        self.offsets[name] = offset

    def _take(self, path: Path, raw: bytes, take: Callable[[dict], None]) -> None:
        try:
            take(json.loads(raw))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self.skipped_lines += 1
            if self.skipped_lines == 1 or self.skipped_lines % 100 == 0:
                log.warning("%s: skipped an unreadable line (%s: %s); %d skipped so far", path,
                            type(exc).__name__, exc, self.skipped_lines)
