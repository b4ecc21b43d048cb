"""TradeJournal: the trader's notes on trades (data/trade_journal.json).

Requests are checked by bot/requests.py (shape) and bot/commands.py (the trade exists) before
they get here. Every change builds the new list of entries, replaces the whole document
atomically through bot.storage, and only then becomes the list in memory, so a refused or
failed change leaves both the file and memory as they were.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

from bot.timestamps import iso_utc
from bot.requests import JOURNAL_TEXT_FIELDS, CommandError
from bot.storage import SCHEMA_VERSION, atomic_write_json
from bot.storage_reading import read_json

JOURNAL_FILE = "trade_journal.json"


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
                if needle and not any(needle in (entry.get(f) or "").casefold() for f in JOURNAL_TEXT_FIELDS):
                    continue
                found.append(dict(entry))
            return found

    def get(self, entry_id: str) -> dict | None:
        """A copy of the entry with this id, or None."""
        with self._lock:
            entry = self._find(entry_id)
            return dict(entry) if entry is not None else None

    def add(self, fields: dict) -> dict:
        """Record a new entry from checked fields (trade_id, strategy, symbol, texts, scores)."""
        require_content(fields)
        now = iso_utc(time.time())
        with self._lock:
            entry = {"id": f"J{self._next_number:06d}", **fields, "created_at": now, "updated_at": now}
            self._save(self._entries + [entry])
            self._entries.append(entry)
            self._next_number += 1
            return dict(entry)

    def update(self, entry_id: str, changes: dict) -> dict:
        """Apply a partial change of checked fields to an entry; returns the entry as it now is."""
        with self._lock:
            current = self._find(entry_id)
            if current is None:
                raise CommandError(f"no journal entry with id {entry_id!r}", "id", status=404)
            changed = {**current, **changes, "updated_at": iso_utc(time.time())}
            require_content(changed)
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


def require_content(entry: dict) -> None:
    """An entry needs some text or a score; raises CommandError naming entry_reason otherwise."""
    if not any((entry.get(f) or "").strip() for f in JOURNAL_TEXT_FIELDS) and entry.get("rating") is None \
            and entry.get("confidence_level") is None:
        raise CommandError("an entry needs some text (entry_reason, exit_reason or lessons_learned) or a score",
                           "entry_reason")


def _number(entry_id: object) -> int:
    if isinstance(entry_id, str) and entry_id[:1] == "J" and entry_id[1:].isdigit():
        return int(entry_id[1:])
    return 0
