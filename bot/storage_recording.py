"""Recording segments on disk: part of the storage layer (bot/storage.py), the one place that
writes under data/.

A segment is a sequence of frames, each written whole with one os.write loop and cut back to
the last complete frame when the disk refuses, so no half frame is left for a later write to
follow (a crash can still tear the last one; readers skip a torn tail with a warning).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from bot.storage import StorageError, _write_all, atomic_write_json

log = logging.getLogger(__name__)


class SegmentAppender:
    """Appends whole frames to one segment file; a failed append leaves the file as it was."""

    def __init__(self, path: str | Path, fsync: bool = False):
        self.path = Path(path)
        self.fsync = fsync
        self._fd: int | None = None
        self.size = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self.size = os.fstat(self._fd).st_size
        except OSError as exc:
            raise StorageError(self.path, "open the recording segment", exc) from exc

    def append(self, frame: bytes) -> None:
        """Write one frame: all of it lands, or the file is cut back and StorageError raised."""
        try:
            _write_all(self._fd, frame)
            if self.fsync:
                os.fsync(self._fd)
        except OSError as exc:
            try:
                os.ftruncate(self._fd, self.size)
            except OSError as cut:
                log.error("%s: could not cut a failed frame back to %d bytes: %s", self.path, self.size, cut)
            raise StorageError(self.path, "append a recording frame", exc) from exc
        self.size += len(frame)

    def close(self) -> None:
        """Close the file (safe to call twice)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def write_recording_document(path: str | Path, document: dict, fsync: bool = False) -> None:
    """The recording's meta.json or index.json, replaced atomically (StorageError when refused)."""
    atomic_write_json(path, document, fsync=fsync)


def delete_segment(path: str | Path) -> None:
    """Remove a rotated-out segment (StorageError when the disk refuses)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StorageError(path, "delete an old recording segment", exc) from exc
