"""Reading state files back: JSON documents and JSONL logs, a torn last line recognised.

Nothing here writes. bot/storage.py is the one place that writes state files, and it repairs a
torn tail that read_jsonl reports (repair_torn_tail); CorruptFileError names the file, and the
line for logs, of anything that cannot be read.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator


class CorruptFileError(Exception):
    """A state file cannot be read; the message names the file and, for logs, the line."""

    def __init__(self, path: Path, message: str, line: int | None = None):
        self.path = Path(path)
        self.line = line
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")


def read_json(path: str | Path) -> dict | None:
    """Read a JSON document; None if it does not exist; CorruptFileError if unreadable."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptFileError(path, f"cannot read: {exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorruptFileError(path, f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(document, dict):
        raise CorruptFileError(path, "expected a JSON object at the top level")
    return document


@dataclass(frozen=True, slots=True)
class JsonlContents:
    """What read_jsonl found: the records, and a torn final fragment if there was one."""

    records: list[dict]
    torn_tail: str | None
    valid_bytes: int


def read_jsonl(path: str | Path) -> JsonlContents:
    """Read every record of a JSONL file.

    A last line that does not parse is a torn append (the process died mid-write): it is
    reported, not raised. A bad line anywhere else raises CorruptFileError naming the line.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return JsonlContents([], None, 0)
    records: list[dict] = []
    position = 0
    line_number = 0
    length = len(data)
    while position < length:
        end = data.find(b"\n", position)
        last = end == -1
        line = data[position:] if last else data[position:end]
        line_number += 1
        next_position = length if last else end + 1
        if line.strip():
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("not an object")
            except (ValueError, UnicodeDecodeError) as exc:
                if next_position >= length and (last or not data[next_position:].strip()):
                    # Only the final line may be torn; anything after it would make it corrupt.
                    return JsonlContents(records, line.decode("utf-8", "replace"), position)
                raise CorruptFileError(path, f"line is not a valid JSON record ({exc})", line_number) from None
            if last:
                # A complete record without its newline: keep it, but the next append must
                # start on a fresh line.
                records.append(record)
                return JsonlContents(records, "", length)
            records.append(record)
        position = next_position
    return JsonlContents(records, None, length)


def iter_jsonl(path: str | Path) -> Iterator[dict]:
    """Stream the complete records of a JSONL file without loading it whole (skips a torn tail).

    A complete line that is not JSON raises CorruptFileError naming the file and the line.
    """
    path = Path(path)
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                try:
                    yield json.loads(raw)
                except ValueError:
                    pass
                return
            if raw.strip():
                try:
                    record = json.loads(raw)
                except ValueError as exc:
                    raise CorruptFileError(path, f"not valid JSON ({exc})", number) from None
                yield record
