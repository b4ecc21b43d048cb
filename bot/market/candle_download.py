"""Downloading OHLCV history through a ccxt client into the candle store (run_bot.py download).

The client comes from bot/market/live.make_client (the one module that imports ccxt); here only
its methods are called. ccxt's own rate limiter (enableRateLimit, the exchange's rateLimit)
paces the requests; temporary failures (network, 5xx, 429) are retried with backoff through
bot/market/resilience.call_with_retry, longer after a rate-limit answer.

Resumable: with a file already there, only the span before its first bar and after its last
are fetched. The file is rewritten whole (temp + rename) every CHECKPOINT_SECONDS and at the
end, and also when the download stops on an error or Ctrl+C, so what is on disk is always a
complete, checked file that the next run continues from.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from bot.market.candle_store import CandleSeries, CleanReport, clean, read_series, write_series
from bot.market.live import translate_error
from bot.market.resilience import RetryPolicy, call_with_retry

log = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 10.0  # wall seconds between rewrites of the file during a long download
PAGE_LIMIT = 1000  # bars asked for per request (exchanges cap it: binance 1000, kraken 720)


@dataclass
class DownloadResult:
    """What one symbol's download did."""

    path: Path
    fetched: int = 0  # bars received (before duplicates were dropped)
    requests: int = 0
    rows: int = 0  # bars in the file now
    report: CleanReport = field(default_factory=CleanReport)


def spans_missing(existing: CandleSeries | None, since_ms: int, until_ms: int, step_ms: int) -> list[tuple[int, int]]:
    """[start, end) spans of bar open times to fetch: all of it, or what lies outside the file."""
    if existing is None or len(existing) == 0:
        return [(since_ms, until_ms)] if since_ms < until_ms else []
    first, last = int(existing.ts[0]), int(existing.ts[-1])
    spans = []
    if since_ms < first:
        spans.append((since_ms, min(first, until_ms)))
    if last + step_ms < until_ms:
        spans.append((max(last + step_ms, since_ms), until_ms))
    return [(a, b) for a, b in spans if a < b]


class Downloader:
    """Fetches one exchange's bars page by page into files; the client is a ccxt exchange object."""

    def __init__(self, client, exchange: str, timeframe: str, step_ms: int, policy: RetryPolicy,
                 progress: Callable[[int], None] | None = None, sleep: Callable[[float], object] = time.sleep):
        self.client, self.exchange, self.timeframe, self.step_ms = client, exchange, timeframe, step_ms
        self.policy, self.progress, self.sleep = policy, progress, sleep

    def _page(self, symbol: str, since_ms: int, result: DownloadResult) -> list:
        def attempt():
            result.requests += 1
            try:
                return self.client.fetch_ohlcv(symbol, self.timeframe, since=since_ms, limit=PAGE_LIMIT)
            except Exception as exc:  # noqa: BLE001 - every ccxt error, classified by translate_error
                raise translate_error(exc, self.exchange, f"OHLCV {symbol}", symbol) from exc

        def on_retry(exc, retry, delay):
            log.warning("%s; retry %d in %.1fs", exc, retry, delay)

        return call_with_retry(attempt, self.policy, sleep=self.sleep, on_retry=on_retry)

    def download(self, symbol: str, path: Path, since_ms: int, until_ms: int) -> DownloadResult:
        """Fill path with the bars of [since_ms, until_ms) it lacks; the file is complete whatever happens."""
        existing = read_series(path) if path.exists() else None
        result = DownloadResult(path)
        parts_ts = [existing.ts] if existing is not None else []
        parts_values = [existing.values] if existing is not None else []
        written_parts = len(parts_ts)
        last_write = time.monotonic()

        def save() -> None:
            nonlocal written_parts, last_write
            ts, values, report = clean(np.concatenate(parts_ts), np.concatenate(parts_values), self.step_ms)
            write_series(path, CandleSeries(self.exchange, symbol, self.timeframe, ts, values))
            result.rows, result.report, written_parts, last_write = len(ts), report, len(parts_ts), time.monotonic()

        try:
            for start, end in spans_missing(existing, since_ms, until_ms, self.step_ms):
                cursor = start
                while cursor < end:
                    rows = self._page(symbol, cursor, result)
                    page = np.asarray([r[:6] for r in rows], dtype=np.float64).reshape(-1, 6) if rows else None
                    if page is None or page.shape[0] == 0:
                        break  # the exchange has nothing from here on
                    ts = page[:, 0].astype(np.int64)
                    keep = (ts >= cursor) & (ts < end)
                    result.fetched += int(keep.sum())
                    if keep.any():
                        parts_ts.append(ts[keep])
                        parts_values.append(page[keep, 1:6])
                    if self.progress is not None:
                        self.progress(int(keep.sum()))
                    newest = int(ts.max())
                    if newest < cursor:
                        break  # an answer older than asked: nothing new is coming
                    cursor = newest + self.step_ms
                    if time.monotonic() - last_write >= CHECKPOINT_SECONDS:
                        save()
        finally:
            # On success, an error or Ctrl+C alike: what arrived is kept, as one complete file.
            if len(parts_ts) > written_parts or (parts_ts and not path.exists()):
                save()
            elif existing is not None and result.rows == 0:
                result.rows = len(existing)
        return result
