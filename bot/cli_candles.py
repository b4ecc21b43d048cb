"""run_bot.py download / import, and the start-up checks of a backtest on candles (--market candles).

Exit codes as everywhere: 0 done, 2 bad input (one line naming the argument or file; nothing
written), 1 anything else (a download that failed on the network keeps what it fetched).
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from bot.config import BotConfig, ConfigError, apply_overrides
from bot.config_candles import CandlesConfig
from bot.config_rules import balances_for_symbols, check_exchange_ids
from bot.market.candle_store import (CandleFileError, CandleSeries, candle_path, check_file, clean, discover,
                                     read_series, row_problem, timeframe_ms, write_series)

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
DEFAULT_DIR = CandlesConfig().data_dir


def _parse_time_ms(text: str, option: str) -> int:
    from bot.config_candles import epoch_seconds

    try:
        CandlesConfig(since=text)
        return int(round(epoch_seconds(text) * 1000))
    except Exception:  # noqa: BLE001 - pydantic's or fromisoformat's error, said once below
        raise ConfigError(f"{option}: must be an ISO 8601 date or time such as 2026-01-31 or "
                          f"2026-01-31T12:00:00Z (got {text!r})") from None


# ---- download ----------------------------------------------------------------------------------
def download_parser() -> argparse.ArgumentParser:
    """The arguments of `run_bot.py download`."""
    parser = argparse.ArgumentParser(
        prog="run_bot.py download",
        description="Download OHLCV candles through ccxt's fetch_ohlcv (public data, no keys) into one Parquet "
                    "file per exchange/symbol/timeframe. Paced by ccxt's rate limiter; resumable (only what the "
                    "file lacks is fetched); duplicates dropped, rows put in time order, gaps listed. Interrupted "
                    "(Ctrl+C, network), the file holds every complete bar fetched so far.")
    parser.add_argument("--exchange", required=True, metavar="ID", help="ccxt exchange id, e.g. binance")
    parser.add_argument("--symbols", required=True, nargs="+", metavar="SYMBOL", help="ccxt symbols, e.g. BTC/USDT")
    parser.add_argument("--timeframe", default="1m", help="bar length (default 1m; backtests use 1m)")
    parser.add_argument("--since", required=True, metavar="DATE", help="first bar, ISO date/time (UTC)")
    parser.add_argument("--until", metavar="DATE", help="stop before this time (default: the last closed bar)")
    parser.add_argument("--data", metavar="DIR", help=f"candle dir (candles.data_dir, default {DEFAULT_DIR})")
    parser.add_argument("--config", metavar="FILE", help="config file: market.exchange_options.<id> and "
                                                         "market.live retry settings are used")
    return parser


def download(argv: list[str]) -> int:
    """The 'download' command."""
    from tqdm import tqdm

    from bot.cli import resolve_config
    from bot.market.candle_download import Downloader
    from bot.market.live import make_client
    from bot.market.resilience import MarketError, RetryPolicy

    args = download_parser().parse_args(argv)
    try:
        config = resolve_config(args)
        since_ms = _parse_time_ms(args.since, "--since")
        until_ms = _parse_time_ms(args.until, "--until") if args.until else None
        if until_ms is not None and until_ms <= since_ms:
            raise ConfigError(f"--until: must be after --since (got {args.until} <= {args.since})")
        step_ms = timeframe_ms(args.timeframe) if _looks_like_timeframe(args.timeframe) else None
        client = make_client(args.exchange, config.market.exchange_options.get(args.exchange, {}))
        if args.timeframe not in (client.timeframes or {}) or step_ms is None:
            raise ConfigError(f"--timeframe: {args.exchange} has no timeframe {args.timeframe!r} "
                              f"(it has {', '.join(client.timeframes or {}) or 'none'})")
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    folder = Path(args.data or config.candles.data_dir)
    live = config.market.live
    policy = RetryPolicy(live.retry_attempts, live.backoff_base_seconds, live.backoff_max_seconds,
                         live.rate_limit_backoff_seconds)
    try:
        try:
            client.load_markets()
        except Exception as exc:  # noqa: BLE001 - classified below
            from bot.market.live import translate_error

            raise translate_error(exc, args.exchange, "markets") from exc
        unknown = [s for s in args.symbols if s not in client.markets]
        if unknown:
            print(f"error: --symbols: {args.exchange} has no market {', '.join(unknown)}", file=sys.stderr)
            return EXIT_USAGE
        if until_ms is None:
            until_ms = (int(client.milliseconds()) // step_ms) * step_ms  # the bar still open is left out
        paths = {s: candle_path(folder, args.exchange, s, args.timeframe) for s in args.symbols}
        for symbol, path in paths.items():  # a damaged file already there: refused before any fetch
            if path.exists():
                read_series(path)
        for symbol, path in paths.items():
            total = max(0, (until_ms - since_ms) // step_ms)
            with tqdm(total=total, unit="bar", desc=f"{args.exchange} {symbol}", file=sys.stderr,
                      disable=None, leave=True) as bar:
                downloader = Downloader(client, args.exchange, args.timeframe, step_ms, policy, progress=bar.update)
                result = downloader.download(symbol, path, since_ms, until_ms)
            print(f"{symbol}: {result.fetched} new bars in {result.requests} requests; {result.rows} bars in {path}")
            for line in result.report.lines():
                print(f"  {line}")
    except CandleFileError as exc:
        print(f"error: {exc}; nothing downloaded", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted: every complete bar fetched so far is in the file; run the same command to resume",
              file=sys.stderr)
        return EXIT_ERROR
    except MarketError as exc:
        print(f"error: {exc}; the files hold what was fetched, run the same command to resume", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        from bot.cli import describe_os_error

        print(f"error: {describe_os_error(exc)}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        client.close()
    return EXIT_OK


def _looks_like_timeframe(text: str) -> bool:
    try:
        timeframe_ms(text)
    except ValueError:
        return False
    return True


# ---- import ------------------------------------------------------------------------------------
def import_parser() -> argparse.ArgumentParser:
    """The arguments of `run_bot.py import`."""
    parser = argparse.ArgumentParser(
        prog="run_bot.py import",
        description="Load candles from a CSV file in the common OHLCV layout: a header row, then timestamp, open, "
                    "high, low, close, volume per line (timestamp in ms since the epoch or ISO 8601 UTC). Rows are "
                    "put in time order and duplicates dropped; a malformed line refuses the whole file (exit 2, "
                    "nothing written). Merges into the file already there, the imported rows winning.")
    parser.add_argument("file", metavar="FILE", help="the CSV file")
    parser.add_argument("--exchange", required=True, metavar="ID", help="which exchange the candles are from")
    parser.add_argument("--symbol", required=True, metavar="SYMBOL", help="ccxt symbol, e.g. BTC/USDT")
    parser.add_argument("--timeframe", default="1m", help="bar length (default 1m)")
    parser.add_argument("--data", metavar="DIR", help=f"candle dir (default {DEFAULT_DIR})")
    return parser


def _timestamp_ms(text: str) -> int:
    """ms since the epoch from a number of ms or an ISO 8601 time (UTC when it names no zone)."""
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"timestamp {text!r} is neither ms since the epoch nor an ISO 8601 time") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return int(round(parsed.timestamp() * 1000))
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"timestamp {text!r} is not a time")
    if number < 1e11:
        raise ValueError(f"timestamp {text!r} looks like seconds (before 1973 in ms); the layout wants ms")
    return int(number)


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(ts ms, values) of an OHLCV CSV; CandleFileError naming the file and line of the first bad row."""
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CandleFileError(path, exc.strerror or str(exc)) from None
    ts, values = [], []
    with handle:
        try:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise CandleFileError(path, "empty file")
            names = [h.strip().lower() for h in header]
            start = 1
            if names[:1] != ["timestamp"] and names[:1] not in (["time"], ["date"], ["datetime"], ["ts"]):
                try:  # no header: the first line is data
                    _timestamp_ms(header[0])
                    handle.seek(0)
                    reader, start = csv.reader(handle), 1
                except (ValueError, IndexError):
                    raise CandleFileError(path, f"line 1: header {header} is not timestamp, open, high, low, "
                                                f"close, volume") from None
            else:
                start = 2
            for number, row in enumerate(reader, start):
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) < 6:
                    raise CandleFileError(path, f"line {number}: {len(row)} fields, expected 6 (timestamp, open, "
                                                f"high, low, close, volume)")
                try:
                    stamp = _timestamp_ms(row[0])
                    prices = [float(cell) for cell in row[1:6]]
                except ValueError as exc:
                    raise CandleFileError(path, f"line {number}: {exc}") from None
                problem = row_problem(np.array([stamp]), np.array([prices]))
                if problem is not None:
                    raise CandleFileError(path, f"line {number}: {problem[1]}")
                ts.append(stamp)
                values.append(prices)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CandleFileError(path, f"not a CSV file ({exc})") from None
    if not ts:
        raise CandleFileError(path, "no candles (only a header)")
    return np.array(ts, dtype=np.int64), np.array(values, dtype=np.float64)


def import_(argv: list[str]) -> int:
    """The 'import' command."""
    args = import_parser().parse_args(argv)
    try:
        step_ms = timeframe_ms(args.timeframe)
        base, sep, quote = args.symbol.partition("/")
        if not (sep and base and quote):
            raise ValueError(f"--symbol: a ccxt symbol like BTC/USDT (got {args.symbol!r})")
        check_exchange_ids([args.exchange])
        ts, values = read_csv(Path(args.file))
        target = candle_path(Path(args.data or DEFAULT_DIR), args.exchange, args.symbol, args.timeframe)
        if target.exists():
            existing = read_series(target)
            ts, values = np.concatenate([existing.ts, ts]), np.concatenate([existing.values, values])
        ts, values, report = clean(ts, values, step_ms)
        write_series(target, CandleSeries(args.exchange, args.symbol, args.timeframe, ts, values))
    except (ValueError, CandleFileError) as exc:
        print(f"error: {exc}; nothing written", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        from bot.cli import describe_os_error

        print(f"error: {describe_os_error(exc)}", file=sys.stderr)
        return EXIT_ERROR
    print(f"imported {args.file}: {len(ts)} bars in {target}")
    for line in report.lines():
        print(f"  {line}")
    return EXIT_OK


# ---- a backtest's start -----------------------------------------------------------------------
def prepare_backtest(config: BotConfig) -> tuple[BotConfig, list[str]]:
    """For --market candles: every candle file read and checked (CandleFileError names a bad one),
    market.exchanges/symbols set from the files, and the strategies candles cannot feed switched
    off, each with a warning that says why."""
    folder = Path(config.candles.data_dir)
    files = discover(folder, "1m")
    for _exchange, _symbol, path in files:
        check_file(path)  # the whole file: damage in the middle is found before anything is written
    exchanges = list(dict.fromkeys(f[0] for f in files))
    symbols = list(dict.fromkeys(f[1] for f in files))
    warnings = []
    off = {}
    if config.strategies.arbitrage.enabled:
        off["strategies.arbitrage.enabled"] = False
        warnings.append("arbitrage is refused in a candle backtest (switched off): cross-exchange and triangular arbitrage need real "
                        "order books seen at the same moment, and a candle gives one price per minute per market "
                        "(any gap between candle prices would be an artefact, not an opportunity)")
    if config.strategies.news.enabled and not config.candles.news_file:
        off["strategies.news.enabled"] = False
        warnings.append("news is off in this candle backtest: no headlines were given (candles.news_file: a JSONL "
                        "file of {ts, title, source, symbols})")
    if config.strategies.stat_arb.enabled:
        per_exchange = {ex: [s for e, s, _ in files if e == ex and s.endswith("/USDT")] for ex in exchanges}
        if max(len(v) for v in per_exchange.values()) < 2:
            off["strategies.stat_arb.enabled"] = False
            warnings.append("stat_arb is off in this candle backtest: it trades pairs, and no exchange has candles "
                            "of two USDT symbols")
    pairs = [p for p in config.strategies.stat_arb.pairs if all(s in symbols for s in p)]
    overrides = {"market.exchanges": exchanges, "market.symbols": symbols, "strategies.stat_arb.pairs": pairs, **off}
    for name in ("momentum", "news", "stat_arb"):
        if getattr(config.strategies, name).exchange not in (None, *exchanges):
            raise ConfigError(f"strategies.{name}.exchange: no candles for {getattr(config.strategies, name).exchange!r} "
                              f"in {folder} (there are: {', '.join(exchanges)})")
    # The balances follow the markets the files hold (a coin nothing prices could not be valued).
    overrides["portfolio.starting_balances"] = balances_for_symbols(config.portfolio.starting_balances, symbols)
    return apply_overrides(config, overrides), warnings
