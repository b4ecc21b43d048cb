"""The complete equity history: data/equity.jsonl, one line per equity sample, append-only.

Each line: {"schema_version": 1, "ts": ISO 8601, "equity", "trading_equity", "holdings_pnl",
"strategies": {name: cumulative net P&L marked to market}} (USDT). schema_version is on every
line so any part of the file reads on its own. Trading equity is equity less the starting
inventory's price moves (holdings_pnl); a strategy's figure is its realized P&L less its fees
(trade, transfer and borrow fees) plus the unrealized P&L of its open positions. The file is bounded only by disk; readers
stream it (read_equity) off the tick path. Samples are flushed, not fsynced: they are a view
of the books, and the ledger, which is fsynced, stays the truth.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.timestamps import iso_utc, parse_iso
from bot.storage import JsonlWriter, dumps
from bot.storage_reading import CorruptFileError, iter_jsonl

log = logging.getLogger(__name__)

EQUITY_FILE = "equity.jsonl"
EQUITY_SCHEMA_VERSION = 1
REQUIRED = ("ts", "equity", "trading_equity", "strategies")


def equity_record(portfolio) -> dict:
    """The PortfolioTracker's latest equity sample, with its decomposition at the current marks."""
    ts, equity = portfolio.equity_history[-1]  # the sample just taken
    holdings = portfolio.holdings_pnl()
    strategies = {name: stats.net_pnl(portfolio.unrealized_pnl(name)) for name, stats in sorted(portfolio.stats.items())}
    return {"schema_version": EQUITY_SCHEMA_VERSION, "ts": iso_utc(ts), "equity": equity,
            "trading_equity": equity - holdings, "holdings_pnl": holdings, "strategies": strategies}


_LAYOUT = ("schema_version", "ts", "equity", "trading_equity", "holdings_pnl", "strategies")
_PLAIN_TS = frozenset("0123456789-:.TZ")  # what iso_utc writes: nothing JSON escapes
_NAME_TEXT: dict[str, str] = {}  # strategy name -> its JSON string
_repr = float.__repr__  # how json writes a float


def name_text(name: str) -> str:
    """A strategy name as JSON writes it (kept: the same few names recur on every line)."""
    text = _NAME_TEXT.get(name)
    if text is None:
        text = _NAME_TEXT[name] = dumps(name)
    return text


def equity_line(record: dict) -> str:
    """dumps(record) for an equity sample: formatted directly (the same text) when it has equity_record's
    layout with plain finite floats, else by dumps itself (which also refuses what it refuses)."""
    values = (record.get("equity"), record.get("trading_equity"), record.get("holdings_pnl"))
    strategies, ts, version = record.get("strategies"), record.get("ts"), record.get("schema_version")
    if (tuple(record) != _LAYOUT or type(version) is not int or type(ts) is not str or not _PLAIN_TS.issuperset(ts)
            or type(strategies) is not dict):
        return dumps(record)
    parts = []
    for value in (*values, *strategies.values()):
        if type(value) is not float or value - value != 0.0:  # not a float, or nan / inf
            return dumps(record)
    for name, value in strategies.items():
        if type(name) is not str:
            return dumps(record)
        parts.append(f"{name_text(name)}:{_repr(value)}")
    return _line(version, ts, *values, parts)


def _line(version: int, ts: str, equity: float, trading: float, holdings: float, parts: list[str]) -> str:
    """The text of an equity sample from checked parts: finite floats, a plain ts, each strategy's "name":value."""
    return (f'{{"schema_version":{version!r},"ts":"{ts}","equity":{_repr(equity)},'
            f'"trading_equity":{_repr(trading)},"holdings_pnl":{_repr(holdings)},'
            f'"strategies":{{{",".join(parts)}}}}}')


def equity_text(portfolio) -> str:
    """equity_line(equity_record(portfolio)): formatted from the figures, without the record, when each is a
    finite float (the tick's sample; anything else goes the record's way, and is refused there as there)."""
    ts, equity = portfolio.equity_history[-1]
    holdings = portfolio.holdings_pnl()
    trading = equity - holdings
    parts = []
    for name, stats in sorted(portfolio.stats.items()):
        value = stats.net_pnl(portfolio.unrealized_pnl(name))
        if type(value) is not float or value - value != 0.0 or type(name) is not str:
            return equity_line(equity_record(portfolio))
        parts.append(f"{name_text(name)}:{_repr(value)}")
    for value in (equity, trading, holdings):
        if type(value) is not float or value - value != 0.0:  # not a float, or nan / inf
            return equity_line(equity_record(portfolio))
    return _line(EQUITY_SCHEMA_VERSION, iso_utc(ts), equity, trading, holdings, parts)


class EquityLog:
    """Appends equity samples to data/equity.jsonl; a sample the disk refuses waits and is retried.

    A failed append raises (the engine's guard counts it, and a StorageError pauses trading)
    and keeps the sample, and the ones after it, in order, until a later append gets them all
    on disk: a full disk delays samples, it does not lose them (up to PENDING_LIMIT of them).

    hold > 0 (a fast run: bot/fast_forward.py) keeps up to that many samples in memory and writes
    them in one append when there are that many, at flush() (the engine's periodic state write, the
    end of the run) and at close(): the same bytes in fewer writes. A crash loses at most the held
    samples, which a resumed run samples again.
    """

    PENDING_LIMIT = 100_000

    def __init__(self, data_dir: str | Path, fsync: bool = False):
        self.path = Path(data_dir) / EQUITY_FILE
        self.fsync = fsync
        self.written = 0
        self.failures = 0
        self.dropped = 0
        self.last_error = ""
        self.hold = 0  # samples kept before a write (0: every append writes)
        self._pending: list[str] = []  # lines held or refused by the disk (and the ones after them), oldest first
        self._writer: JsonlWriter | None = None

    def append(self, portfolio) -> None:
        """Write the portfolio's current sample (and any still waiting); raises OSError when refused."""
        self.append_lines([equity_text(portfolio)])

    def append_records(self, records: list[dict]) -> None:
        """Write samples made elsewhere, in order, as append does (ValueError, nothing kept, for one dumps refuses)."""
        self.append_lines([equity_line(record) for record in records])

    def append_lines(self, lines: list[str]) -> None:
        """Write samples already encoded as equity_line encodes them (a fast-forwarded stretch's,
        bot/fast_samples.py), in order, after any still waiting; raises OSError when refused."""
        pending = self._pending
        pending.extend(lines)
        if len(pending) < self.hold:
            return
        extra = len(pending) - self.PENDING_LIMIT
        if extra > 0:  # the oldest waiting samples go first
            del pending[:extra]
            self.dropped += extra
        self.flush()

    @property
    def held(self) -> int:
        """Samples not on disk yet (held, or refused by the disk)."""
        return len(self._pending)

    def flush(self) -> None:
        """Write every sample still waiting, in one append; raises OSError when refused (they wait on)."""
        pending = self._pending
        if not pending:
            return
        try:
            if self._writer is None:
                self._writer = JsonlWriter(self.path, fsync=self.fsync)
            self._writer.append_encoded(("\n".join(pending),))  # one line of lines: the same bytes
        except OSError as exc:  # StorageError from the writer; the guard pauses trading on it
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            raise
        self.written += len(pending)
        pending.clear()

    def close(self) -> None:
        """Write what is held and close the file (appending again reopens it); raises OSError, the file
        closed, when the disk refuses the held samples."""
        try:
            self.flush()
        finally:
            if self._writer is not None:
                self._writer.close()
                self._writer = None


@dataclass(slots=True)
class EquitySeries:
    """The equity history as arrays: times (epoch seconds), equity, trading equity, per strategy."""

    times: np.ndarray
    equity: np.ndarray
    trading_equity: np.ndarray
    strategies: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.times)


def read_equity(path: str | Path) -> EquitySeries:
    """Stream data/equity.jsonl into arrays (a strategy is 0 before its first sample).

    Raises CorruptFileError (file and line) for a record that lacks a field or has another
    schema_version; a torn last line is skipped.
    """
    path = Path(path)
    times, equity, trading = [], [], []
    columns: dict[str, list[float]] = {}
    for line, record in enumerate(iter_jsonl(path), start=1):
        missing = [name for name in REQUIRED if name not in record]
        if missing or record.get("schema_version") != EQUITY_SCHEMA_VERSION:
            why = f"lacks {', '.join(missing)}" if missing else f"schema_version {record.get('schema_version')!r}"
            raise CorruptFileError(path, f"equity sample {why}", line)
        index = len(times)
        times.append(parse_iso(record["ts"]))
        equity.append(float(record["equity"]))
        trading.append(float(record["trading_equity"]))
        for name, value in record["strategies"].items():
            column = columns.setdefault(name, [0.0] * index)
            column.append(float(value))
        for column in columns.values():
            if len(column) == index:  # a strategy missing from this line keeps its last figure
                column.append(column[-1] if column else 0.0)
    return EquitySeries(np.asarray(times), np.asarray(equity), np.asarray(trading),
                        {name: np.asarray(values) for name, values in sorted(columns.items())})
