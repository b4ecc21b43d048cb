"""The activity log (logs/activity.jsonl) and the text log (logs/bot.log, rotated)."""
from __future__ import annotations

import logging
import logging.handlers
import time
from pathlib import Path

from bot.models import iso_utc
from bot.storage import JsonlWriter

ACTIVITY_FILE = "activity.jsonl"
TEXT_LOG_FILE = "bot.log"


class ActivityLog:
    """One JSON line per bot event: bot_started, bot_stopped, opportunities_found,
    trades_executed, errors, and the engine's other state changes."""

    def __init__(self, log_dir: str | Path):
        self.path = Path(log_dir) / ACTIVITY_FILE
        self._writer = JsonlWriter(self.path, fsync=False)

    def record(self, event: str, **fields) -> dict:
        entry = {"ts": iso_utc(time.time()), "event": event, **fields}
        self._writer.append(entry)
        return entry

    def close(self) -> None:
        self._writer.close()


def setup_text_log(log_dir: str | Path, max_bytes: int, backups: int, console_level: int = logging.WARNING) -> None:
    """Send the 'bot' and 'dashboard' loggers to logs/bot.log (rotated) and warnings to stderr."""
    path = Path(log_dir) / TEXT_LOG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_bot_handler", False):
            root.removeHandler(handler)
            handler.close()
    file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    file_handler.setLevel(logging.INFO)
    file_handler._bot_handler = True
    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    console.setLevel(console_level)
    console._bot_handler = True
    root.addHandler(file_handler)
    root.addHandler(console)
    root.setLevel(logging.INFO)
