"""TradeLedger: the append-only record of every fill (data/trades.jsonl), the truth of the books."""
from __future__ import annotations

import logging
from collections import deque
from pathlib import Path
from typing import Iterator

from bot.models import OPTIONAL_TRADE_FIELDS, Trade
from bot.storage import CorruptFileError, JsonlWriter, iter_jsonl, read_jsonl, repair_torn_tail

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


class TradeLedger:
    """Appends trades, answers recent-trade queries from memory and full queries from disk.

    Only the newest `recent_size` trades stay in memory, so memory does not grow with the
    ledger; everything else streams from the file.
    """

    def __init__(self, data_dir: str | Path, fsync: bool = True, recent_size: int = 1000):
        self.path = Path(data_dir) / TRADES_FILE
        self.fsync = fsync
        self._recent: deque[Trade] = deque(maxlen=recent_size)
        self.count = 0
        self.last_seq = 0
        self.last_tick = -1
        self._writer: JsonlWriter | None = None

    def load(self, repair: bool = True) -> list[Trade]:
        """Read and check the whole ledger; return every trade in order.

        A torn last line is ignored with a warning and, if repair, set aside so the next append
        starts clean. Raises CorruptFileError (file and line) for damage anywhere but the last
        line, before anything is modified.
        """
        contents = read_jsonl(self.path)
        trades = []
        for index, record in enumerate(contents.records, start=1):
            trade = trade_from_record(record, self.path, index)
            if trade.seq != index:
                raise CorruptFileError(self.path, f"sequence number {trade.seq} where {index} was expected", index)
            trades.append(trade)
        if contents.torn_tail:
            log.warning("%s: the last line was torn by a crash mid-append; ignoring it", self.path)
        if repair:
            repair_torn_tail(self.path, contents)
        self._recent.clear()
        self._recent.extend(trades[-self._recent.maxlen :])
        self.count = len(trades)
        self.last_seq = trades[-1].seq if trades else 0
        self.last_tick = trades[-1].tick if trades else -1
        return trades

    def append(self, trades: list[Trade]) -> None:
        """Write trades to the end of the ledger, written through before returning.

        All or nothing: on StorageError the file is as it was and count, last_seq and the
        recent trades are unchanged, so the next trade takes the same (never written) seq.
        """
        if not trades:
            return
        expected = self.last_seq + 1
        if trades[0].seq != expected or any(b.seq != a.seq + 1 for a, b in zip(trades, trades[1:])):
            raise ValueError(f"trades must continue the ledger at seq {expected} without gaps "
                             f"(got {[t.seq for t in trades]})")
        if self._writer is None:
            self._writer = JsonlWriter(self.path, fsync=self.fsync)
        self._writer.append_many(trade.to_dict() for trade in trades)
        self._recent.extend(trades)
        self.count += len(trades)
        self.last_seq = trades[-1].seq
        self.last_tick = trades[-1].tick

    @property
    def held(self) -> int:
        """How many of the newest trades are kept in memory."""
        return len(self._recent)

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
            yield trade_from_record(record, self.path)

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
