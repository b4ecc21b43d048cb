"""TradeLedger: the append-only record of every fill (data/trades.jsonl), the truth of the books.

Besides trades the file holds non-trade entries (transfers between exchanges, borrow fees):
lines with an "entry" key, read as LedgerEntry, numbered in the same seq sequence. The trade
readers (recent, since, iter_all) yield Trades only; load() and iter_entries() yield both.
"""
from __future__ import annotations

import logging
from collections import deque
from pathlib import Path
from typing import Iterator

from bot.models import OPTIONAL_TRADE_FIELDS, Trade
from bot.ledger_entries import LedgerEntry
from bot.accounting.entry_checks import EntryChecker, entry_from_record
from bot.accounting.trade_lines import trade_line
from bot.storage import JsonlWriter, dumps, repair_torn_tail
from bot.storage_reading import CorruptFileError, iter_jsonl, read_jsonl

log = logging.getLogger(__name__)

TRADES_FILE = "trades.jsonl"
REQUIRED_FIELDS = tuple(name for name in Trade.__slots__ if name not in OPTIONAL_TRADE_FIELDS)


def trade_from_record(record: dict, path: Path | None = None, line: int | None = None) -> Trade:
    """Turn one ledger line into a Trade, naming the missing field if there is one."""
    missing = [name for name in REQUIRED_FIELDS if name not in record]
    if missing:
        raise CorruptFileError(path or Path(TRADES_FILE), f"trade record lacks field(s) {', '.join(missing)}", line)
    try:
        return Trade.from_dict({name: record[name] for name in Trade.__slots__ if name in record})
    except (TypeError, ValueError) as exc:
        raise CorruptFileError(path or Path(TRADES_FILE), f"trade record has an unreadable ts ({exc})", line) from None


def record_from_line(record: dict, path: Path | None = None, line: int | None = None) -> Trade | LedgerEntry:
    """A ledger line as a Trade, or as a LedgerEntry when it carries an "entry" key."""
    if isinstance(record, dict) and "entry" in record:
        return entry_from_record(record, path or Path(TRADES_FILE), line)
    return trade_from_record(record, path, line)


class TradeLedger:
    """Appends trades, answers recent-trade queries from memory and full queries from disk.

    Only the newest `recent_size` trades stay in memory, so memory does not grow with the
    ledger; everything else streams from the file.
    """

    def __init__(self, data_dir: str | Path, fsync: bool = True, recent_size: int = 1000):
        self.path = Path(data_dir) / TRADES_FILE
        self.fsync = fsync
        self._recent: deque[Trade] = deque(maxlen=recent_size)
        self._recent_entries: deque[LedgerEntry] = deque(maxlen=recent_size)
        self.count = 0  # trades only (what "trades in the ledger" means everywhere)
        self.entries_count = 0  # non-trade entries
        self.last_seq = 0
        self.last_tick = -1
        self._writer: JsonlWriter | None = None

    def load(self, repair: bool = True) -> list[Trade | LedgerEntry]:
        """Read and check the whole ledger; return every line (trades and entries) in order.

        A torn last line is ignored with a warning and, if repair, set aside so the next append
        starts clean. Raises CorruptFileError (file and line) for damage anywhere but the last
        line, before anything is modified: a bad seq, a missing field, an entry that does not
        add up (entry_checks.py: a transfer_in without its transfer_out, amounts that differ...).
        """
        contents = read_jsonl(self.path)
        records: list[Trade | LedgerEntry] = []
        checker = EntryChecker(self.path)
        trades = 0
        for index, line in enumerate(contents.records, start=1):
            record = record_from_line(line, self.path, index)
            if record.seq != index:
                raise CorruptFileError(self.path, f"sequence number {record.seq} where {index} was expected", index)
            if isinstance(record, LedgerEntry):
                checker.check(record, index)
            else:
                trades += 1
            records.append(record)
        if contents.torn_tail:
            log.warning("%s: the last line was torn by a crash mid-append; ignoring it", self.path)
        if repair:
            repair_torn_tail(self.path, contents)
        self._recent.clear()
        self._recent_entries.clear()
        for record in records:
            (self._recent_entries if isinstance(record, LedgerEntry) else self._recent).append(record)
        self.count = trades
        self.entries_count = len(records) - trades
        self.last_seq = records[-1].seq if records else 0
        self.last_tick = records[-1].tick if records else -1
        return records

    def append(self, records: list[Trade | LedgerEntry]) -> None:
        """Write trades and entries to the end of the ledger, written through before returning.

        All or nothing: on StorageError the file is as it was and count, last_seq and the
        recent trades are unchanged, so the next line takes the same (never written) seq.
        """
        if not records:
            return
        expected = self.last_seq + 1
        if records[0].seq != expected or (len(records) > 1 and
                                          any(b.seq != a.seq + 1 for a, b in zip(records, records[1:]))):
            raise ValueError(f"ledger lines must continue the ledger at seq {expected} without gaps "
                             f"(got {[r.seq for r in records]})")
        if self._writer is None:
            self._writer = JsonlWriter(self.path, fsync=self.fsync)
        last = records[-1]
        if len(records) == 1 and type(last) is Trade:  # one fill, the usual append: the same steps, unrolled
            self._writer.append_encoded((trade_line(last),))
            self._recent.append(last)
            self.count += 1
        else:
            # A trade's line from its fields (trade_lines.py: the same text as dumps(to_dict())).
            self._writer.append_encoded([trade_line(record) if type(record) is Trade else dumps(record.to_dict())
                                         for record in records])
            trades = 0
            for record in records:
                if isinstance(record, LedgerEntry):
                    self._recent_entries.append(record)
                else:
                    self._recent.append(record)
                    trades += 1
            self.count += trades
            self.entries_count += len(records) - trades
        self.last_seq = last.seq
        if last.tick > self.last_tick:
            self.last_tick = last.tick

    @property
    def held(self) -> int:
        """How many of the newest trades are kept in memory."""
        return len(self._recent)

    @property
    def first_held_seq(self) -> int:
        """The seq of the oldest trade held in memory (last_seq + 1 when none is)."""
        return self._recent[0].seq if self._recent else self.last_seq + 1

    def recent_entries(self, limit: int = 100, kinds: tuple[str, ...] | None = None) -> list[LedgerEntry]:
        """The newest non-trade entries (of the given kinds) held in memory, newest first."""
        result = []
        for entry in reversed(self._recent_entries):
            if kinds is None or entry.entry in kinds:
                result.append(entry)
                if len(result) >= limit:
                    break
        return result

    def next_seq(self) -> int:
        """The sequence number the next appended trade must carry."""
        return self.last_seq + 1

    def recent(self, limit: int = 10, strategy: str | None = None) -> list[Trade]:
        """The newest trades, newest first (from memory)."""
        result = []
        for trade in reversed(self._recent):
            if strategy is None or trade.strategy == strategy:
                result.append(trade)
                if len(result) >= limit:
                    break
        return result

    def iter_all(self) -> Iterator[Trade]:
        """Every trade on disk, oldest first, streamed (appends are flushed as they are written)."""
        for record in iter_jsonl(self.path):
            if "entry" not in record:
                yield trade_from_record(record, self.path)

    def iter_entries(self) -> Iterator[Trade | LedgerEntry]:
        """Every line on disk, trades and non-trade entries alike, in ledger order, streamed."""
        for record in iter_jsonl(self.path):
            yield record_from_line(record, self.path)

    def iter_non_trades(self, kinds: tuple[str, ...] | None = None) -> Iterator[LedgerEntry]:
        """The non-trade entries on disk (of the given kinds), oldest first, streamed."""
        for record in iter_jsonl(self.path):
            if "entry" in record and (kinds is None or record.get("entry") in kinds):
                yield entry_from_record(record, self.path)

    def close(self) -> None:
        """Close the file (appends reopen it)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    # ----- catch-up: the one iterator every reader of "trades after seq" uses -------------
    def since(self, seq: int, upto: int | None = None) -> Iterator[Trade]:
        """The trades with seq < trade.seq <= upto (default: the last appended), oldest first.

        From memory when the newest trades held cover the gap (the list is taken at once, so
        call it under the lock that guards appends); otherwise streamed from the file, which
        the caller may iterate outside that lock (appends are flushed before they are counted).
        """
        upto = self.last_seq if upto is None else upto
        if upto <= seq:
            return iter(())
        recent = self._recent
        if recent and recent[0].seq <= seq + 1:
            found = []
            for trade in reversed(recent):
                if trade.seq <= seq:
                    break
                if trade.seq <= upto:
                    found.append(trade)
            found.reverse()
            return iter(found)
        return self._stream(seq, upto)

    def _stream(self, seq: int, upto: int) -> Iterator[Trade]:
        for trade in self.iter_all():
            if trade.seq > upto:
                return
            if trade.seq > seq:
                yield trade
