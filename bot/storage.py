"""The one place that writes state files: atomic JSON documents and append-only JSONL logs.

Documents are replaced atomically (temp file, fsync, rename, fsync of the folder) so a crash
leaves either the old or the new version. Logs are appended one line per record and flushed,
so a crash loses at most the line being written, which readers then recognise as torn.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


class CorruptFileError(Exception):
    """A state file cannot be read; the message names the file and, for logs, the line."""

    def __init__(self, path: Path, message: str, line: int | None = None):
        self.path = Path(path)
        self.line = line
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")


def dumps(obj: Any) -> str:
    """Compact, key-ordered-as-given JSON; floats keep their exact repr."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_json(path: str | Path, document: dict, fsync: bool = True) -> None:
    """Replace path with document in one step; readers see the old or the new file, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, ensure_ascii=False, indent=1, allow_nan=False)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.write("\n")
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        try:
            os.unlink(temp_name)
        except OSError:
            pass
        raise
    if fsync:
        _fsync_dir(path.parent)


def set_aside(path: str | Path, suffix: str = ".corrupt") -> Path:
    """Move an unreadable document out of the way (kept, never deleted); returns where it went."""
    path = Path(path)
    aside = path.with_name(path.name + suffix)
    number = 1
    while aside.exists():
        number += 1
        aside = path.with_name(f"{path.name}{suffix}.{number}")
    path.replace(aside)
    return aside


def remove_stale_temp_files(folder: str | Path) -> int:
    """Delete temp files an interrupted atomic write left behind; returns how many."""
    removed = 0
    for temp in Path(folder).glob(".*.tmp"):
        try:
            temp.unlink()
            removed += 1
        except OSError:
            pass
    return removed


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


def repair_torn_tail(path: str | Path, contents: JsonlContents) -> None:
    """Make a JSONL file end cleanly after a torn append, keeping the torn bytes aside."""
    path = Path(path)
    if contents.torn_tail is None:
        return
    if contents.torn_tail == "":
        with open(path, "ab") as handle:
            handle.write(b"\n")
        return
    aside = path.with_name(path.name + ".torn")
    with open(aside, "a", encoding="utf-8") as handle:
        handle.write(contents.torn_tail + "\n")
    with open(path, "r+b") as handle:
        handle.truncate(contents.valid_bytes)
    log.warning("%s: dropped a torn last line (kept in %s)", path, aside)


class JsonlWriter:
    """Appends records to a JSONL file, one line each, flushed (and fsynced if asked)."""

    def __init__(self, path: str | Path, fsync: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self._handle = open(self.path, "a", encoding="utf-8")

    def append(self, record: dict) -> None:
        self.append_many((record,))

    def append_many(self, records) -> None:
        """Write the records as one block so a crash tears at most the last line."""
        block = "".join(dumps(r) + "\n" for r in records)
        if not block:
            return
        self._handle.write(block)
        self._handle.flush()
        if self.fsync:
            os.fsync(self._handle.fileno())

    def flush(self) -> None:
        self._handle.flush()

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.flush()
            self._handle.close()


def iter_jsonl(path: str | Path) -> Iterator[dict]:
    """Stream the complete records of a JSONL file without loading it whole (skips a torn tail)."""
    path = Path(path)
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return
    with handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                try:
                    yield json.loads(raw)
                except ValueError:
                    pass
                return
            if raw.strip():
                yield json.loads(raw)
