"""The activity log (logs/activity.jsonl) and the text log (logs/bot.log, rotated)."""
from __future__ import annotations

import logging
import logging.handlers
import time
from json.encoder import encode_basestring  # json's own text for a str (ensure_ascii off)
from pathlib import Path

from bot.timestamps import iso_utc
from bot.storage import JsonlWriter, StorageError, dumps

log = logging.getLogger(__name__)

ACTIVITY_FILE = "activity.jsonl"
_TRADES_EXECUTED = ('{"ts":%s,"event":"trades_executed","strategy":%s,"signal_id":%s,"kind":%s,"trades":[%s],'
                    '"status":%s,"reason":%s}')
TEXT_LOG_FILE = "bot.log"


_SECOND: tuple[int, str] = (-1, "")  # the last whole second wall_clock_iso formatted, and its "YYYY-MM-DDTHH:MM:SS"


def wall_clock_iso(now: float) -> str:
    """iso_utc(now), the same text, for wall-clock times: the whole second is formatted once and
    reused for every record within it (datetime's own microsecond rounding, half even, is kept)."""
    global _SECOND
    if not 0 <= now < 253402300800:
        return iso_utc(now)
    second = int(now)
    micros = round((now - second) * 1e6)
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    cached = _SECOND
    if cached[0] != second:
        cached = _SECOND = (second, iso_utc(second)[:-5])  # one tuple: a thread sees both halves or neither
    return "%s.%03dZ" % (cached[1], micros // 1000)


class ActivityLog:
    """One JSON line per bot event: bot_started, bot_stopped, opportunities_found,
    trades_executed, errors, and the engine's other state changes."""

    def __init__(self, log_dir: str | Path):
        self.path = Path(log_dir) / ACTIVITY_FILE
        self._writer = JsonlWriter(self.path, fsync=False)
        self.write_errors = 0
        # hold > 0 (a fast run: bot/fast_forward.py): up to that many lines kept and written in one append
        # when there are that many, at flush() (the engine's periodic state write, the run's end) and at close.
        self.hold = 0
        self._held: list[str] = []

    def record(self, event: str, **fields) -> dict:
        """Append one event; a full or failing disk is logged and counted, never raised (the
        activity log is a record of what happened, not the truth the bot runs on)."""
        entry = {"ts": wall_clock_iso(time.time()), "event": event, **fields}
        try:
            line = dumps(entry)
        except ValueError as exc:  # a field JSON cannot hold (NaN); a lone surrogate fails in the append
            self._failed(exc, event)
            return entry
        self._append((line,), event)
        return entry

    def _failed(self, exc: BaseException, event: str) -> None:
        self.write_errors += 1
        if self.write_errors == 1 or self.write_errors % 100 == 0:
            log.error("activity log: %s (%d records lost so far; this one was %s)", exc, self.write_errors, event)

    def trades_executed(self, strategy: str, signal_id: str, kind: str, trade_ids: list[str], status: str,
                        reason: str) -> None:
        """record("trades_executed", strategy=..., signal_id=..., kind=..., trades=trade_ids, status=..., reason=...),
        the same line formatted from one template (the data flow's record of every fill)."""
        line = None
        if type(trade_ids) is list:
            try:
                line = _TRADES_EXECUTED % (
                    encode_basestring(wall_clock_iso(time.time())), encode_basestring(strategy),
                    encode_basestring(signal_id), encode_basestring(kind), ",".join(map(encode_basestring, trade_ids)),
                    encode_basestring(status), encode_basestring(reason))
            except TypeError:  # a field that is not a str: json's own way below
                pass
        if line is None:
            self.record("trades_executed", strategy=strategy, signal_id=signal_id, kind=kind, trades=trade_ids,
                        status=status, reason=reason)
            return
        self._append((line,), "trades_executed")

    def _append(self, lines, event: str) -> None:
        if self.hold:
            held = self._held
            held.extend(lines)
            if len(held) < self.hold:
                return
            self.flush()
            return
        self._write(lines, event)

    def _write(self, lines, event: str) -> None:
        try:
            self._writer.append_encoded(lines)
        except ValueError as exc:  # a lone surrogate (no UTF-8 for it): the block's other lines still go
            if len(lines) == 1:
                self._failed(exc, event)
            else:
                for line in lines:
                    self._write((line,), event)
        except StorageError as exc:
            self.write_errors += len(lines) - 1  # every line of the block is lost
            self._failed(exc, event)

    def flush(self) -> None:
        """Write the held lines (a failure is logged and counted, as for any record)."""
        held = self._held
        if held:
            lines = list(held)
            held.clear()
            self._write(lines, f"one of {len(lines)} held records")

    def close(self) -> None:
        """Write what is held and close the file."""
        self.flush()
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
    # APScheduler's executor logs two INFO lines per job run (every tick in real time): they would
    # bury bot.log (and the dashboard's log panel) in "Running job ..." lines; its warnings stay.
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
