"""The candle store: one Parquet file per exchange, symbol and timeframe (pyarrow), and its checks.

Layout: <dir>/<exchange>/<BASE>-<QUOTE>_<timeframe>.parquet, columns ts (int64, the bar's open
time in ms since the epoch, strictly increasing), open, high, low, close, volume (float64).
The file's key-value metadata names schema_version, exchange, symbol and timeframe, so a file
moved or renamed still says what it holds. Files are written whole through
bot/storage.atomic_write_with (temp file + rename): a reader sees the old file or the new one.

read_series() refuses, with one line naming the file and the problem (CandleFileError), a file
that is missing, empty, of another schema, damaged (a page checksum fails, or pyarrow cannot
decode it) or whose rows do
not hold (time not increasing, a high below the open, a price not above zero...).
CandleReader reads a file in batches of rows with the same checks, holding one batch at a time
(a backtest's memory does not grow with the file: bot/market/candle_source.py); check_file()
runs it over a whole file.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.storage import atomic_write_with

CANDLE_SCHEMA_VERSION = 1
PRICE_COLUMNS = ("open", "high", "low", "close", "volume")
COLUMNS = ("ts",) + PRICE_COLUMNS
_UNITS_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_TIMEFRAME = re.compile(r"^([1-9][0-9]*)([mhdw])$")
# Rows CandleReader decodes at a time. A candle backtest's window reads a batch at a time, each read
# copying the history it keeps (two weeks of bars): 8,192 took 2 % more instructions (40,000 bars).
BATCH_ROWS = 32_768
ROW_GROUP_ROWS = 65_536  # rows per Parquet row group written (a reader starting mid-file skips whole groups)
READ_BUFFER_BYTES = 1 << 20  # pages are read through a buffer this size, not a whole column chunk at once


class CandleFileError(Exception):
    """A candle file that cannot be used; str() is one line naming the file and the problem."""

    def __init__(self, path: str | Path, problem: str):
        self.path, self.problem = Path(path), problem
        super().__init__(f"{path}: {problem}")


def timeframe_ms(timeframe: str) -> int:
    """Milliseconds per bar of a ccxt timeframe such as 1m, 5m, 1h, 1d (ValueError for others)."""
    match = _TIMEFRAME.match(timeframe)
    if match is None:
        raise ValueError(f"unknown timeframe {timeframe!r} (like 1m, 5m, 1h, 1d)")
    return int(match.group(1)) * _UNITS_MS[match.group(2)]


def candle_path(folder: str | Path, exchange: str, symbol: str, timeframe: str) -> Path:
    """Where the candles of one exchange/symbol/timeframe live under folder."""
    base, _, quote = symbol.partition("/")
    return Path(folder) / exchange / f"{base}-{quote}_{timeframe}.parquet"


@dataclass
class CandleSeries:
    """The candles of one market, oldest first: ts in ms (int64) and float64 OHLCV columns."""

    exchange: str
    symbol: str
    timeframe: str
    ts: np.ndarray
    values: np.ndarray  # shape (n, 5): open, high, low, close, volume

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def column(self, name: str) -> np.ndarray:
        """One of open, high, low, close, volume."""
        return self.values[:, PRICE_COLUMNS.index(name)]


@dataclass
class CleanReport:
    """What clean() changed or found: duplicates dropped, rows put back in order, gaps left."""

    duplicates: int = 0
    reordered: int = 0
    gaps: list[tuple[int, int, int]] = field(default_factory=list)  # (last ms before, first ms after, bars missing)

    def lines(self) -> list[str]:
        """Plain sentences for the user, empty when there is nothing to say."""
        from bot.timestamps import iso_utc

        out = []
        if self.duplicates:
            out.append(f"{self.duplicates} duplicate candle(s) dropped (the later copy kept)")
        if self.reordered:
            out.append(f"{self.reordered} candle(s) out of order put back in time order")
        for before, after, missing in self.gaps[:10]:
            out.append(f"gap: {missing} candle(s) missing between {iso_utc(before / 1000)} and {iso_utc(after / 1000)}")
        if len(self.gaps) > 10:
            out.append(f"... and {len(self.gaps) - 10} more gap(s)")
        return out


def clean(ts: np.ndarray, values: np.ndarray, step_ms: int) -> tuple[np.ndarray, np.ndarray, CleanReport]:
    """Rows sorted by time with duplicates dropped (the last copy of a time wins) and gaps listed."""
    ts = np.asarray(ts, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64).reshape(-1, len(PRICE_COLUMNS))
    report = CleanReport()
    if ts.size > 1:
        report.reordered = int(np.count_nonzero(np.diff(ts) < 0))
    order = np.argsort(ts, kind="stable")
    ts, values = ts[order], values[order]
    if ts.size:
        # The last copy of each time: reverse, take first occurrences, reverse back.
        reversed_ts = ts[::-1]
        _, first = np.unique(reversed_ts, return_index=True)
        keep = np.sort(ts.size - 1 - first)
        report.duplicates = int(ts.size - keep.size)
        ts, values = ts[keep], values[keep]
    if ts.size > 1:
        steps = np.diff(ts)
        for i in np.flatnonzero(steps > step_ms):
            report.gaps.append((int(ts[i]), int(ts[i + 1]), int(steps[i] // step_ms) - 1))
    return ts, values, report


def row_problem(ts: np.ndarray, values: np.ndarray) -> tuple[int, str] | None:
    """The first row that does not hold (index, what is wrong), or None when every row holds."""
    finite = np.isfinite(values).all(axis=1)
    o, h, lo, c, v = values.T
    bad_price = ~finite | (o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0) | (v < 0)
    bad_range = (h < np.maximum(o, c)) | (lo > np.minimum(o, c)) | (lo > h)
    bad = bad_price | bad_range
    if ts.size > 1:
        bad_time = np.concatenate([[False], np.diff(ts) <= 0])
        bad = bad | bad_time
    else:
        bad_time = np.zeros(ts.shape, dtype=bool)
    rows = np.flatnonzero(bad)
    if rows.size == 0:
        return None
    i = int(rows[0])
    if bad_time[i]:
        return i, f"time {int(ts[i])} ms is not after the row before ({int(ts[i - 1])} ms)"
    if not finite[i]:
        return i, "a price or the volume is not a number"
    if bad_price[i]:
        return i, "prices must be above 0 and the volume at least 0"
    return i, (f"high {h[i]:g} / low {lo[i]:g} do not enclose open {o[i]:g} and close {c[i]:g}")


def write_series(path: str | Path, series: CandleSeries, fsync: bool = True) -> None:
    """Write the whole file in one step (temp + rename through bot/storage.py)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = [pa.array(series.ts, type=pa.int64())] + [pa.array(np.ascontiguousarray(series.values[:, i]),
                                                                  type=pa.float64()) for i in range(5)]
    metadata = {"schema_version": str(CANDLE_SCHEMA_VERSION), "exchange": series.exchange,
                "symbol": series.symbol, "timeframe": series.timeframe}
    table = pa.table(arrays, names=list(COLUMNS)).replace_schema_metadata(metadata)
    # Page checksums: a file damaged after it was written is found on read, not read as prices.
    atomic_write_with(path, lambda temp: pq.write_table(table, temp, compression="zstd", write_page_checksum=True,
                                                        row_group_size=ROW_GROUP_ROWS), fsync=fsync)


def _metadata(path: Path) -> dict[str, str]:
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except FileNotFoundError:
        raise CandleFileError(path, "no such file") from None
    except Exception as exc:  # noqa: BLE001 - pyarrow's many errors for a file that is not Parquet
        raise CandleFileError(path, f"not a readable Parquet candle file ({' '.join(str(exc).split())[:200]})") from None
    raw = schema.metadata or {}
    meta = {k.decode(): v.decode() for k, v in raw.items() if k in (b"schema_version", b"exchange", b"symbol",
                                                                      b"timeframe")}
    version = meta.get("schema_version")
    if version != str(CANDLE_SCHEMA_VERSION):
        raise CandleFileError(path, f"candle schema version {version or '(none)'}, this bot reads version "
                                    f"{CANDLE_SCHEMA_VERSION} (written by another tool or version?)")
    if tuple(schema.names) != COLUMNS:
        raise CandleFileError(path, f"columns {list(schema.names)}, expected {list(COLUMNS)}")
    for name in ("exchange", "symbol", "timeframe"):
        if not meta.get(name):
            raise CandleFileError(path, f"the file does not say its {name}")
    return meta


def describe(path: str | Path) -> tuple[str, str, str]:
    """(exchange, symbol, timeframe) a candle file says it holds (its metadata only; cheap)."""
    meta = _metadata(Path(path))
    return meta["exchange"], meta["symbol"], meta["timeframe"]


def read_series(path: str | Path) -> CandleSeries:
    """Read and check a whole candle file; CandleFileError naming the file and the problem."""
    import pyarrow.parquet as pq

    path = Path(path)
    meta = _metadata(path)
    try:
        table = pq.read_table(path, page_checksum_verification=True)
        ts = table.column("ts").to_numpy()
        values = np.column_stack([table.column(name).to_numpy() for name in PRICE_COLUMNS]).astype(np.float64)
    except Exception as exc:  # noqa: BLE001 - a damaged page or column: pyarrow says which
        raise CandleFileError(path, f"damaged ({' '.join(str(exc).split())[:200]})") from None
    if ts.size == 0:
        raise CandleFileError(path, "empty (no candles)")
    problem = row_problem(ts.astype(np.int64), values)
    if problem is not None:
        raise CandleFileError(path, f"row {problem[0] + 1}: {problem[1]}")
    return CandleSeries(meta["exchange"], meta["symbol"], meta["timeframe"], ts.astype(np.int64), values)


def _damaged(path: Path, exc: Exception) -> CandleFileError:
    return CandleFileError(path, f"damaged ({' '.join(str(exc).split())[:200]})")


class CandleReader:
    """One candle file read forward in batches of rows, each checked as read_series checks the whole
    file (CandleFileError naming the file and row): memory is one batch, whatever the file's length."""

    def __init__(self, path: str | Path):
        import pyarrow.parquet as pq

        self.path = Path(path)
        meta = _metadata(self.path)
        self.exchange, self.symbol, self.timeframe = meta["exchange"], meta["symbol"], meta["timeframe"]
        try:
            self._file = pq.ParquetFile(self.path, buffer_size=READ_BUFFER_BYTES, page_checksum_verification=True)
            groups = [self._file.metadata.row_group(i).num_rows for i in range(self._file.metadata.num_row_groups)]
        except Exception as exc:  # noqa: BLE001 - a footer pyarrow cannot decode
            raise _damaged(self.path, exc) from None
        self._groups = groups
        self.rows = int(sum(groups))
        if self.rows == 0:
            raise CandleFileError(self.path, "empty (no candles)")

    def batches(self, start_row: int = 0, batch_rows: int = BATCH_ROWS):
        """(index of the first row, ts int64, values (n, 5) float64) per batch from start_row on, oldest first.

        Rows before start_row are skipped (whole row groups unread); the rows read are checked."""
        group, first = 0, 0
        while group < len(self._groups) and first + self._groups[group] <= start_row:
            first += self._groups[group]
            group += 1
        if group == len(self._groups):
            return
        last_ts = None
        try:
            batches = self._file.iter_batches(batch_size=batch_rows, row_groups=range(group, len(self._groups)),
                                              columns=list(COLUMNS), use_threads=False)
        except Exception as exc:  # noqa: BLE001 - pyarrow's errors for a damaged file
            raise _damaged(self.path, exc) from None
        while True:
            try:
                batch = next(batches, None)
                if batch is None:
                    return
                ts = batch.column(0).to_numpy().astype(np.int64)
                values = np.column_stack([batch.column(i).to_numpy() for i in range(1, 6)]).astype(np.float64)
            except Exception as exc:  # noqa: BLE001 - a damaged page or column: pyarrow says which
                raise _damaged(self.path, exc) from None
            self._check(first, ts, values, last_ts)
            last_ts = int(ts[-1]) if ts.size else last_ts
            skip = min(ts.size, max(0, start_row - first))
            if skip < ts.size:
                yield first + skip, ts[skip:], values[skip:]
            first += ts.size

    def _check(self, first: int, ts: np.ndarray, values: np.ndarray, last_ts: int | None) -> None:
        if ts.size and last_ts is not None and ts[0] <= last_ts:
            raise CandleFileError(self.path, f"row {first + 1}: time {int(ts[0])} ms is not after the row before "
                                             f"({last_ts} ms)")
        problem = row_problem(ts, values)
        if problem is not None:
            raise CandleFileError(self.path, f"row {first + problem[0] + 1}: {problem[1]}")


def check_file(path: str | Path) -> int:
    """Read and check a whole candle file batch by batch (as read_series, without holding it); its rows."""
    reader = CandleReader(path)
    for _ in reader.batches():
        pass
    return reader.rows


def discover(folder: str | Path, timeframe: str) -> list[tuple[str, str, Path]]:
    """Every candle file of a timeframe under folder: (exchange, symbol, path), sorted by name.

    CandleFileError when the folder is missing or holds none.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CandleFileError(folder, "no such directory (download or import candles first: run_bot.py download --help)")
    found = []
    for path in sorted(folder.glob("*/*.parquet")):
        exchange, symbol, frame = describe(path)
        if frame == timeframe:
            found.append((exchange, symbol, path))
    if not found:
        raise CandleFileError(folder, f"no {timeframe} candle files (<exchange>/<BASE>-<QUOTE>_{timeframe}.parquet)")
    return found
