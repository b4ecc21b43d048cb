"""The one place that writes state files: atomic JSON documents and append-only JSONL logs.

Documents are replaced atomically (temp file, fsync, rename, fsync of the folder) so a crash
leaves either the old or the new version. Logs are appended one line per record and flushed,
so a crash loses at most the line being written, which readers then recognise as torn.
Reading the files back is bot/storage_reading.py (no writes there).
"""
from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from bot.storage_reading import JsonlContents

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


class StorageError(OSError):
    """Writing a state file failed (disk full, read-only, I/O error); the file is as it was before.

    An OSError subclass, so callers that catch OSError still do; `cause` is the system's words
    ("No space left on device") and str() names the file and what was being done.
    """

    def __init__(self, path: str | Path, action: str, cause: BaseException | str):
        code = getattr(cause, "errno", None)
        reason = getattr(cause, "strerror", None) or str(cause) or type(cause).__name__
        super().__init__(code, reason, str(path))
        self.path = Path(path)
        self.action = action
        self.cause = reason

    def __str__(self) -> str:
        return f"{self.path}: cannot {self.action}: {self.cause}"


class DataDirInUse(Exception):
    """Another process holds the data dir's lock; the message names the dir and that PID."""

    def __init__(self, data_dir: Path, pid: int | None):
        self.data_dir = Path(data_dir)
        self.pid = pid
        holder = f"PID {pid}" if pid is not None else "a process whose PID it has not written yet"
        super().__init__(f"data dir {self.data_dir} is in use by another bot ({holder} holds "
                         f"{self.data_dir / LOCK_FILE}); stop it first or choose another --data-dir")


LOCK_FILE = ".lock"


# What json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False) builds on every call, made once.
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def dumps(obj: Any) -> str:
    """Compact, key-ordered-as-given JSON; floats keep their exact repr."""
    return _COMPACT.encode(obj)


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


def _write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is out (a nearly full disk accepts a short write first)."""
    written = os.write(fd, data)
    if written == len(data):  # the usual case: all of it at once
        return
    view = memoryview(data)[written:]
    while view:
        written = os.write(fd, view)
        view = view[written:]


def atomic_write_json(path: str | Path, document: dict, fsync: bool = True) -> None:
    """Replace path with document in one step; readers see the old or the new file, never half.

    Raises StorageError (the old file untouched, no temp file left) when the disk refuses.
    """
    # Encoding first: a document that cannot be written (a lone surrogate) fails before any file is made.
    data = (json.dumps(document, ensure_ascii=False, indent=1, allow_nan=False) + "\n").encode("utf-8")
    _atomic_write_bytes(Path(path), data, fsync)


def atomic_write_text(path: str | Path, text: str, fsync: bool = True, mode: int | None = 0o644) -> None:
    """Replace path with text (UTF-8) in one step, as atomic_write_json does, readable by others
    (mode): a report meant to be shared (None: private, as atomic_write_json's files)."""
    _atomic_write_bytes(Path(path), text.encode("utf-8"), fsync, mode)


def _atomic_write_bytes(path: Path, data: bytes, fsync: bool, mode: int | None = None) -> None:
    def fill(fd: int, _temp: Path) -> None:
        if mode is not None:
            os.fchmod(fd, mode)
        _write_all(fd, data)

    _replace_via_temp(path, fill, fsync)


def atomic_write_with(path: str | Path, write: Callable[[Path], None], fsync: bool = True) -> None:
    """Replace path with what write(temp_path) writes there (a library's own writer: Parquet),
    in one step as atomic_write_json does: the old file or the complete new one, never half.

    Raises StorageError (the old file untouched, no temp file left) when the disk refuses.
    """
    _replace_via_temp(Path(path), lambda _fd, temp: write(temp), fsync)


def _replace_via_temp(path: Path, fill: Callable[[int, Path], None], fsync: bool) -> None:
    """The one atomic replace: fill(fd, temp_path) writes a temp file beside path, which is
    fsynced, renamed over path, and its directory fsynced; on failure no temp file is left."""
    temp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            fill(fd, Path(temp_name))
            if fsync:
                os.fsync(fd)  # the same file, whoever wrote it: its own fd or a library by path
        finally:
            os.close(fd)
        os.replace(temp_name, path)
        temp_name = None
    except OSError as exc:
        raise StorageError(path, "replace the file", exc) from exc
    finally:
        if temp_name is not None:
            try:
                os.unlink(temp_name)
            except OSError:
                pass
    if fsync:
        _fsync_dir(path.parent)


def probe_write(folder: str | Path, size: int = 4096) -> None:
    """Write, fsync and delete a small file in folder; StorageError if the disk refuses."""
    folder = Path(folder)
    try:
        fd, name = tempfile.mkstemp(prefix=".probe.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise StorageError(folder, "write a probe file", exc) from exc
    try:
        _write_all(fd, b"\0" * size)
        os.fsync(fd)
    except OSError as exc:
        raise StorageError(folder, "write a probe file", exc) from exc
    finally:
        os.close(fd)
        try:
            os.unlink(name)
        except OSError:
            pass


def prepare_dir(folder: str | Path, what: str) -> Path:
    """Create folder if needed and check a file can be made in it; StorageError naming it if not
    (the system's own cause: read-only file system, permission denied, not a directory...)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".probe.", suffix=".tmp", dir=folder)
        os.close(fd)
    except OSError as exc:
        raise StorageError(folder, f"use it as the {what}", exc) from exc
    try:
        os.unlink(name)
    except OSError:
        pass  # already gone (a starting bot clears stale temp files) or left for the next start to clear
    return folder


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
    """Appends records to a JSONL file, one line each, written through (and fsynced if asked).

    A failed append leaves the file exactly as it was: it is cut back to the last complete
    record and the handle reopened, so no unwritten byte survives to be flushed later.
    """

    def __init__(self, path: str | Path, fsync: bool = False):
        self.path = Path(path)
        self.fsync = fsync
        self._fd: int | None = None
        self._good_offset = 0
        self._needs_cut = False
        self._open()

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Unbuffered (os.write on an O_APPEND descriptor): nothing is held back in Python.
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self._good_offset = os.fstat(self._fd).st_size
        except OSError as exc:
            raise StorageError(self.path, "open the file for appending", exc) from exc

    def append(self, record: dict) -> None:
        """Append one record (see append_many)."""
        self.append_many((record,))

    def append_many(self, records) -> None:
        """Write the records as one block: all of it lands, or the file is left as it was and
        StorageError is raised."""
        self.append_encoded([dumps(r) for r in records])

    def append_encoded(self, lines) -> None:
        """append_many for records already encoded, each exactly as dumps gives it (no newline)."""
        if type(lines) is not list and type(lines) is not tuple:
            lines = list(lines)
        if not lines:
            return
        data = ((lines[0] + "\n") if len(lines) == 1 else ("\n".join(lines) + "\n")).encode("utf-8")
        if self._fd is None:
            self._open()
        if self._needs_cut:
            self._cut_back()
        try:
            _write_all(self._fd, data)
            if self.fsync:
                os.fsync(self._fd)
        except OSError as exc:
            self._needs_cut = True
            self._cut_back(quiet=True)
            raise StorageError(self.path, "append", exc) from exc
        self._good_offset += len(data)

    def _cut_back(self, quiet: bool = False) -> None:
        """Truncate to the last good offset and reopen; a failure keeps _needs_cut for next time."""
        try:
            os.ftruncate(self._fd, self._good_offset)
            os.close(self._fd)
            self._fd = None
            self._open()
            self._needs_cut = False
        except OSError as exc:
            log.error("%s: could not cut a failed append back to %d bytes: %s", self.path, self._good_offset, exc)
            if not quiet:
                raise StorageError(self.path, "cut back a failed append", exc) from exc

    def flush(self) -> None:
        """Nothing to flush: every append is written through (kept for callers)."""

    def close(self) -> None:
        """Close the file (safe to call twice)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


class DataDirLock:
    """An exclusive flock on data/.lock: one process owns a data dir at a time.

    The kernel drops the lock when the holder dies (kill -9 included), so a stale lock never
    blocks a restart. The holder's PID is written into the file for the refusal message.
    """

    def __init__(self, data_dir: str | Path):
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """True while this process holds the lock."""
        return self._fd is not None

    def acquire(self, required: bool = True) -> None:
        """Take the lock or raise DataDirInUse; StorageError if the lock file cannot be made.

        With required=False a data dir where no lock file can exist (read-only) is read unlocked:
        no bot can be writing there either.
        """
        if self._fd is not None:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if required or exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise StorageError(self.path, "create the data dir's lock file", exc) from exc
            try:
                fd = os.open(self.path, os.O_RDONLY)  # flock works on a read-only descriptor too
            except OSError:
                return  # no lock file can exist here, so no bot can hold one
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            pid = _read_pid(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise DataDirInUse(self.data_dir, pid) from None
            raise StorageError(self.path, "lock the data dir", exc) from exc
        self._fd = fd
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:
            # The lock holds without it; only the refusal message of a second bot loses the PID.
            log.info("%s: could not write our PID into the lock file: %s", self.path, exc)

    def release(self) -> None:
        """Let the data dir go (closing the descriptor drops the flock)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
