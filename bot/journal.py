"""TradeJournal: the trader's notes on trades (data/trade_journal.json).

Every change is validated completely before the file is touched, then the whole document is
replaced atomically through bot.storage, so a refused change leaves the file byte-identical.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

from bot.models import iso_utc
from bot.storage import SCHEMA_VERSION, atomic_write_json, read_json

JOURNAL_FILE = "trade_journal.json"
MAX_TEXT_CHARS = 2000
MAX_QUERY_CHARS = 200
TEXT_FIELDS = ("entry_reason", "exit_reason", "lessons_learned")
# field: (lowest, highest) for the integer scores
SCORE_FIELDS = {"confidence_level": (1, 10), "rating": (1, 5)}
WRITABLE_FIELDS = ("trade_id",) + TEXT_FIELDS + tuple(SCORE_FIELDS)
READ_ONLY_FIELDS = ("id", "strategy", "symbol", "created_at", "updated_at")
# trade_id -> the trade as a dict (at least strategy and symbol), or None when there is none
TradeLookup = Callable[[str], dict | None]


class JournalError(ValueError):
    """A journal change was refused; field names the offending field (or None)."""

    def __init__(self, message: str, field: str | None = None, status: int = 400):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status


class TradeJournal:
    """Journal entries, newest last in the file, kept in memory and written atomically."""

    def __init__(self, data_dir: str | Path, fsync: bool = True):
        self.path = Path(data_dir) / JOURNAL_FILE
        self.fsync = fsync
        self._lock = threading.Lock()
        document = read_json(self.path)  # CorruptFileError propagates: never overwrite unread notes
        self._entries: list[dict] = list(document.get("entries", [])) if document else []
        self._next_number = 1 + max((_number(e.get("id")) for e in self._entries), default=0)

    def entries(self, trade_id: str | None = None, strategy: str | None = None, query: str | None = None) -> list[dict]:
        """Entries matching every given filter, newest first; query searches the text fields."""
        needle = query.casefold() if query else None
        with self._lock:
            found = []
            for entry in reversed(self._entries):
                if trade_id is not None and entry.get("trade_id") != trade_id:
                    continue
                if strategy is not None and entry.get("strategy") != strategy:
                    continue
                if needle and not any(needle in (entry.get(f) or "").casefold() for f in TEXT_FIELDS):
                    continue
                found.append(dict(entry))
            return found

    def get(self, entry_id: str) -> dict | None:
        with self._lock:
            entry = self._find(entry_id)
            return dict(entry) if entry is not None else None

    def add(self, fields: dict, lookup: TradeLookup) -> dict:
        """Validate and record a new entry; returns it (with id and timestamps)."""
        clean = validate(fields, lookup, partial=False)
        now = iso_utc(time.time())
        with self._lock:
            entry = {"id": f"J{self._next_number:06d}", **clean, "created_at": now, "updated_at": now}
            self._save(self._entries + [entry])
            self._entries.append(entry)
            self._next_number += 1
            return dict(entry)

    def update(self, entry_id: str, fields: dict, lookup: TradeLookup) -> dict:
        """Validate and apply a partial change to an entry; returns the entry as it now is."""
        clean = validate(fields, lookup, partial=True)
        with self._lock:
            current = self._find(entry_id)
            if current is None:
                raise JournalError(f"no journal entry with id {entry_id!r}", "id", status=404)
            changed = {**current, **clean, "updated_at": iso_utc(time.time())}
            if "trade_id" in clean and clean["trade_id"] is None:
                changed["strategy"] = changed["symbol"] = None
            _require_content(changed)
            entries = [changed if e is current else e for e in self._entries]
            self._save(entries)
            self._entries = entries
            return dict(changed)

    def _find(self, entry_id: str) -> dict | None:
        for entry in self._entries:
            if entry.get("id") == entry_id:
                return entry
        return None

    def _save(self, entries: list[dict]) -> None:
        atomic_write_json(self.path, {"schema_version": SCHEMA_VERSION, "entries": entries}, fsync=self.fsync)


def validate(fields: object, lookup: TradeLookup, partial: bool) -> dict:
    """The writable fields of an entry, checked; raises JournalError naming the first bad field.

    A new entry gets every writable field (missing ones as null) plus strategy and symbol
    copied from its trade; a partial change carries only the fields it names.
    """
    if not isinstance(fields, dict):
        raise JournalError("the body must be a JSON object", None)
    for name in fields:
        if name in READ_ONLY_FIELDS:
            raise JournalError(f"{name} is set by the server and cannot be written", name)
        if name not in WRITABLE_FIELDS:
            raise JournalError(f"unknown field {name!r}; allowed: {', '.join(WRITABLE_FIELDS)}", name)
    clean: dict = {} if partial else {name: None for name in WRITABLE_FIELDS}
    for name in TEXT_FIELDS:
        if name in fields:
            value = fields[name]
            if value is not None and not isinstance(value, str):
                raise JournalError(f"{name} must be text or null", name)
            if value is not None and len(value) > MAX_TEXT_CHARS:
                raise JournalError(f"{name} must be at most {MAX_TEXT_CHARS} characters (got {len(value)})", name)
            clean[name] = value
    for name, (low, high) in SCORE_FIELDS.items():
        if name in fields:
            value = fields[name]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise JournalError(f"{name} must be a whole number from {low} to {high}, or null", name)
            if value is not None and not low <= value <= high:
                raise JournalError(f"{name} must be from {low} to {high} (got {value})", name)
            clean[name] = value
    if "trade_id" in fields or not partial:
        trade_id = fields.get("trade_id")
        if trade_id is None:
            clean.update(trade_id=None, strategy=None, symbol=None)
        else:
            if not isinstance(trade_id, str) or not trade_id or len(trade_id) > 64:
                raise JournalError("trade_id must be a trade id such as T00000042, or null for a general note",
                                   "trade_id")
            trade = lookup(trade_id)
            if trade is None:
                raise JournalError(f"no trade with id {trade_id!r} in the ledger", "trade_id")
            clean.update(trade_id=trade_id, strategy=trade.get("strategy"), symbol=trade.get("symbol"))
    if not partial:
        _require_content(clean)
    return clean


def _require_content(entry: dict) -> None:
    if not any((entry.get(f) or "").strip() for f in TEXT_FIELDS) and entry.get("rating") is None \
            and entry.get("confidence_level") is None:
        raise JournalError("an entry needs some text (entry_reason, exit_reason or lessons_learned) or a score",
                           "entry_reason")


def _number(entry_id: object) -> int:
    if isinstance(entry_id, str) and entry_id[:1] == "J" and entry_id[1:].isdigit():
        return int(entry_id[1:])
    return 0
