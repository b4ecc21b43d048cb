"""The tail of the bot's logs, read backwards from the end of the file: never the whole file.

Two sources: logs/activity.jsonl (one JSON event a line) and logs/bot.log (the text log,
"<date> <time>,<ms> LEVEL logger: message", a traceback's lines belonging to the record above
them). A page is read from a byte offset `before` (None: the end of the file) backwards, block
by block, until `limit` matching records are found or MAX_SCAN_BYTES were read; the answer
carries the offset to ask from for the next older page (None at the start of the file). Only
the current file is read: bot.log's rotated backups (bot.log.1, ...) are older history.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

BLOCK_BYTES = 64 * 1024
MAX_SCAN_BYTES = 4 * 1024 * 1024  # per page: a filter matching nothing still answers quickly
MAX_LINE_CHARS = 4000
LEVELS = ("debug", "info", "warning", "error", "critical")
SOURCES = ("activity", "bot")
# activity events that are not "info"; a "books" event carries its own level
ACTIVITY_EVENT_LEVELS = {"errors": "error", "kill_switch": "critical", "order_missed": "warning",
                         "alert_triggered": "warning"}
TEXT_RECORD = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:,\d+)?) ([A-Z]+) ([\w.\-]+): (.*)$")


@dataclass(frozen=True, slots=True)
class LogPage:
    """Records newest first, and where the next older page starts (None: nothing older)."""

    records: list[dict]
    older_before: int | None
    scanned_bytes: int


def lines_backwards(path: Path, before: int | None) -> Iterator[tuple[int, str]]:
    """(offset of the line's first byte, line text) from `before` (or the end) back to the start."""
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        end = size if before is None else max(0, min(before, size))
        tail = b""
        position = end
        while position > 0:
            start = max(0, position - BLOCK_BYTES)
            handle.seek(start)
            block = handle.read(position - start) + tail
            position = start
            pieces = block.split(b"\n")
            tail = pieces[0]  # may be the end of a line that starts in an earlier block
            offset = position + len(tail) + 1
            found = []
            for piece in pieces[1:]:
                found.append((offset, piece))
                offset += len(piece) + 1
            for line_offset, piece in reversed(found):
                if piece:
                    yield line_offset, piece.decode("utf-8", "replace")[:MAX_LINE_CHARS]
        if tail:
            yield 0, tail.decode("utf-8", "replace")[:MAX_LINE_CHARS]


def activity_record(line: str) -> dict:
    """One activity line as a record: ts, level, event, strategy, message and the line's fields."""
    try:
        fields = json.loads(line)
    except ValueError:
        return {"ts": None, "level": "warning", "event": "unreadable", "strategy": None,
                "message": f"an activity line that is not JSON: {line[:200]}", "fields": {}}
    if not isinstance(fields, dict):
        fields = {"value": fields}
    event = str(fields.get("event", ""))
    level = str(fields.get("level") or ACTIVITY_EVENT_LEVELS.get(event, "info")).lower()
    rest = {k: v for k, v in fields.items() if k not in ("ts", "event", "level", "strategy", "message")}
    message = fields.get("message")
    if message is None:
        message = " ".join(f"{k}={v}" for k, v in rest.items())
    return {"ts": fields.get("ts"), "level": level if level in LEVELS else "info", "event": event,
            "strategy": fields.get("strategy"), "message": str(message), "fields": rest}


def text_records(lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, dict]]:
    """bot.log records, newest first, each with the continuation lines (a traceback) below it."""
    continuation: list[str] = []
    for offset, line in lines:
        match = TEXT_RECORD.match(line)
        if match is None:
            continuation.append(line)
            continue
        stamp, level, logger, message = match.groups()
        detail = "\n".join(reversed(continuation))
        continuation = []
        level = level.lower() if level.lower() in LEVELS else "info"
        # ts: the server's local wall clock (logging's asctime), so no "Z"
        yield offset, {"ts": stamp.replace(",", ".").replace(" ", "T"), "level": level,
                       "logger": logger, "strategy": _strategy_of(logger, message), "message": message,
                       "detail": detail}
    if continuation:  # lines above the first record (the file starts mid-record after a cut)
        yield 0, {"ts": None, "level": "info", "logger": "", "strategy": None,
                  "message": "\n".join(reversed(continuation)), "detail": ""}


def _strategy_of(logger: str, message: str) -> str | None:
    parts = logger.split(".")
    if len(parts) >= 3 and parts[1] == "strategies":
        return parts[2]
    match = re.search(r"strateg(?:y|ies)[ =:'\"]+([a-z_]+)", message)
    return match.group(1) if match else None


def read_page(path: Path, source: str, before: int | None = None, limit: int = 100, level: str | None = None,
              strategy: str | None = None, text: str | None = None) -> LogPage:
    """The newest `limit` records of the file before byte `before` matching every filter.

    level keeps that level and the more severe ones; strategy keeps records naming it; text is a
    case-insensitive substring of the message. A missing file is an empty page.
    """
    if not path.is_file():
        return LogPage([], None, 0)
    floor = LEVELS.index(level) if level else 0
    needle = text.casefold() if text else None
    end = path.stat().st_size if before is None else min(before, path.stat().st_size)
    lines = lines_backwards(path, end)
    pairs = text_records(lines) if source == "bot" else ((o, activity_record(line)) for o, line in lines)
    records: list[dict] = []
    last_offset = end
    for offset, record in pairs:
        last_offset = offset
        if _matches(record, floor, strategy, needle):
            records.append(record)
            if len(records) >= limit:
                break
        if end - offset >= MAX_SCAN_BYTES:
            break
    return LogPage(records, last_offset if last_offset > 0 else None, end - last_offset)


def _matches(record: dict, floor: int, strategy: str | None, needle: str | None) -> bool:
    if LEVELS.index(record["level"]) < floor:
        return False
    if strategy is not None and record.get("strategy") != strategy:
        return False
    return needle is None or needle in record["message"].casefold() or needle in record.get("detail", "").casefold()
