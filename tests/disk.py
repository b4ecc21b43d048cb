"""A full disk at the storage layer, for tests that cannot mount a small tmpfs (not root).

FullDisk replaces bot.storage's `os` module: os.write lets `room` more bytes land (a short
write when a call does not fit, as a nearly full disk does) and then raises ENOSPC, until
`free()` gives the space back. `only(path)` narrows the fault to some files (e.g. the data dir,
not the logs). Everything else is the real os module.
"""
from __future__ import annotations

import errno
import os as real_os


class FullDisk:
    """Install with monkeypatch.setattr(bot.storage, "os", FullDisk(room))."""

    def __init__(self, room: int = 0, only=None):
        self.room = room
        self.full = True
        self.refused = 0
        self.only = only

    def __getattr__(self, name):
        return getattr(real_os, name)

    def free(self) -> None:
        self.full = False

    def fill(self, room: int = 0) -> None:
        self.full, self.room = True, room

    def write(self, fd, data):
        if not self.full or (self.only is not None and not self.only(real_os.readlink(f"/proc/self/fd/{fd}"))):
            return real_os.write(fd, data)
        if self.room <= 0:
            self.refused += 1
            raise OSError(errno.ENOSPC, "No space left on device")
        part = bytes(data[: self.room])
        written = real_os.write(fd, part)
        self.room -= written
        return written
