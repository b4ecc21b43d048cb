"""Inject a failing disk at the storage layer: every atomic document write raises an OSError.

bot.storage.atomic_write_json is imported by name into the modules that write documents, so
the fault is installed on bot.storage and on every loaded module holding that same function.
"""
from __future__ import annotations

import errno
import sys

import bot.storage

NO_SPACE = "No space left on device"


def refuse_writes(monkeypatch) -> list[str]:
    """Make every atomic_write_json raise ENOSPC until monkeypatch is undone; returns the paths tried."""
    real = bot.storage.atomic_write_json
    attempts: list[str] = []

    def full_disk(path, document, fsync=True):
        attempts.append(str(path))
        raise OSError(errno.ENOSPC, NO_SPACE)

    for module in list(sys.modules.values()):
        if getattr(module, "atomic_write_json", None) is real:
            monkeypatch.setattr(module, "atomic_write_json", full_disk)
    return attempts
