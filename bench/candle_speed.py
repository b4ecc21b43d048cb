"""Candle backtest and download speed (issue 12, point 7 (b) and (c)); the lead wires these into
bench/replay_speed.py, and this file runs alone too.

(b) candle_backtest_speed(): momentum reduced to the textbook EMA crossover (the switches of
    tests/test_textbook_backtest.py: no RSI filter, no volatility exits, a fixed size, latency 0,
    no spread, a 0.1 % fee) on one symbol over `bars` generated 1-minute candles, through the real
    engine (BotEngine on --market candles, ledger and equity log written), next to backtesting.py
    on the same candles and rules in the same run; bars/s of each and the ratio ours / backtesting.py.
    Run twice: at momentum's default periods (strategies.momentum fast/slow, read from its config
    model) and at the textbook test's short ones (5/13: a crossover every ~19 bars). Our cost is per
    fill (quiet bars are skipped in bulk), backtesting.py's per bar, so the ratio falls as turnover
    rises: each run prints both costs. Both sides are timed alike: the whole backtest a user waits
    for (ours from the config to the closed engine, the candle file read and checked; backtesting.py's
    run() from the DataFrame to its results), each after a warm-up run in its process, imports
    excluded. The ratio without those parts (our run_fast against its run() less compute_stats) is
    printed beside it. The engine's peak RSS growth is sampled at two lengths to
    show whether memory is flat in the data length. `our_bars` < bars runs the engine on the first
    our_bars candles only: the figure says so.
(c) download_speed(): run_bot.py download's Downloader with a real ccxt binance against the local
    fake klines server (tests/market/fake_klines.py) at its rate limit: rows/s and requests/s.

Usage: .venv/bin/python bench/candle_speed.py [--bars 1000000] [--our-bars BARS] [--download-bars 50000]
Target (issue 12): ratio >= 1.0 with our_bars = bars, memory flat.
"""
from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.market.candle_store import CandleSeries, candle_path, write_series  # noqa: E402
from tests.candle_files import walk  # noqa: E402
from bot.config_strategies import MomentumConfig  # noqa: E402
from tests.test_textbook_backtest import FAST, FEE, QTY, RSI_PERIOD, SLOW, VOL_PERIOD, textbook_config  # noqa: E402

WARM_BARS = 2_000  # each side's warm-up run (imports, first-call costs) before the timed one
# (fast, slow) of each (b) run: momentum's defaults, then the textbook test's short periods.
DEFAULT_PERIODS = (MomentumConfig.model_fields["fast"].default, MomentumConfig.model_fields["slow"].default)
SHORT_PERIODS = (FAST, SLOW)


def window_of(periods: tuple[int, int]) -> int:
    """The closes each of momentum's decisions reads with these periods (its own warmup_candles)."""
    from bot.strategies.momentum import MomentumStrategy

    params = MomentumConfig(fast=periods[0], slow=periods[1], rsi_period=RSI_PERIOD, volatility_period=VOL_PERIOD)
    return MomentumStrategy(params, ("binance",), ("BTC/USDT",)).warmup_candles


def window_ema(closes: np.ndarray, period: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(value, previous) of momentum's windowed EMA at every bar, vectorised: the EMA over the last
    `window` closes seeded with the mean of the first `period` is a fixed linear filter of the closes."""
    alpha, keep = 2.0 / (period + 1), 1.0 - 2.0 / (period + 1)
    n = closes.size

    def filtered(length: int) -> np.ndarray:
        # End value of an EMA over closes[end-length+1 .. end] (seeded with the mean of its first period).
        steps = length - period
        weights = np.concatenate([alpha * keep ** np.arange(steps), np.full(period, keep ** steps / period)])
        out = np.full(n, np.nan)
        out[length - 1:] = np.convolve(closes, weights, mode="valid")
        return out

    value = filtered(window)
    previous = np.full(n, np.nan)
    previous[1:] = filtered(window - 1)[:-1]  # the same window less its last close
    return value, previous


def backtesting_py_run(ts: np.ndarray, values: np.ndarray, periods: tuple[int, int] = SHORT_PERIODS
                       ) -> tuple[float, int, float | None]:
    """(seconds, closed trades, seconds of its compute_stats or None) of backtesting.py on the textbook
    rules: its whole run() (the DataFrame, the indicators, the loop and its results: the trades and
    equity curve come out of compute_stats with the ratios), what a user of it waits for. Its modules
    are imported, and a short run made, before the clock starts (ours gets the same: engine_run)."""
    import pandas as pd
    import backtesting.backtesting as engine_module
    from backtesting import Backtest, Strategy

    stats_seconds = []
    compute_stats = getattr(engine_module, "compute_stats", None)

    def timed_stats(*args, **kwargs):
        started = time.perf_counter()
        try:
            return compute_stats(*args, **kwargs)
        finally:
            stats_seconds.append(time.perf_counter() - started)

    def run(ts, values):
        started = time.perf_counter()
        frame = pd.DataFrame(values, columns=["Open", "High", "Low", "Close", "Volume"],
                             index=pd.to_datetime(ts, unit="ms", utc=True))
        closes = values[:, 3]
        window = window_of(periods)
        fast, fast_prev = window_ema(closes, periods[0], window)
        slow, slow_prev = window_ema(closes, periods[1], window)

        class EmaCross(Strategy):
            def init(self):
                self.fast, self.slow = self.I(lambda: fast), self.I(lambda: slow)
                self.fast_prev, self.slow_prev = self.I(lambda: fast_prev), self.I(lambda: slow_prev)

            def next(self):
                if not self.position:
                    if self.fast_prev[-1] <= self.slow_prev[-1] and self.fast[-1] > self.slow[-1]:
                        self.buy(size=QTY)
                elif self.fast[-1] < self.slow[-1]:
                    self.position.close()

        stats = Backtest(frame, EmaCross, cash=1_000_000, commission=FEE, finalize_trades=False).run()
        return time.perf_counter() - started, len(stats._trades)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (prices above its cash, a trade open at the end: both expected here)
        run(ts[:WARM_BARS], values[:WARM_BARS])
        if compute_stats is not None:
            engine_module.compute_stats = timed_stats
        try:
            seconds, trades = run(ts, values)
        finally:
            if compute_stats is not None:
                engine_module.compute_stats = compute_stats
    return seconds, trades, (stats_seconds[-1] if stats_seconds else None)


def _peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM, which exec starts afresh (ru_maxrss carries the parent's peak
    across fork+exec on Linux, so a child started from the bench read the bench's peak, growth +0.0)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def engine_run_subprocess(folder: Path, bars: int, periods: tuple[int, int] = SHORT_PERIODS) -> dict:
    """engine_run in a fresh interpreter (so its peak RSS is its own): seconds, trades, peak and growth MB."""
    import json
    import subprocess

    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--engine-run", str(folder), str(bars),
                           "--periods", str(periods[0]), str(periods[1])],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def engine_run(folder: Path, bars: int, periods: tuple[int, int] = SHORT_PERIODS) -> dict:
    """Our backtest of the first `bars` candles of folder, timed like backtesting.py's (backtesting_py_run):
    the whole of it, from the config to the closed engine (config checks, the candle file read and
    checked, the run writing ledger and equity log, the close), after a short warm-up backtest in this
    process imports every module it uses. Returns the seconds of all that and of run_fast alone, the
    fills and the peak RSS growth over the timed backtest (MB)."""
    from bot.cli_candles import prepare_backtest
    from bot.config import parse_config
    from bot.engine import BotEngine

    def backtest(bars: int, name: str) -> tuple[float, float, int]:
        started = time.perf_counter()
        config = textbook_config(folder / "candles")
        config["market"]["source"] = "candles"
        config["strategies"]["momentum"].update(fast=periods[0], slow=periods[1])
        config["storage"] = {"data_dir": str(folder / f"run-{name}"), "log_dir": str(folder / f"logs-{name}"),
                             "fsync": False}
        config["engine"] = {"equity_sample_seconds": 60.0}
        config["candles"]["until"] = _iso((folder / "start_ms").read_text(), bars)
        config, _ = prepare_backtest(parse_config(config))
        engine = BotEngine(config)
        engine.open()
        running = time.perf_counter()
        engine.run_fast(None)
        ran = time.perf_counter() - running
        trades = engine.ledger.count
        engine.close()
        return time.perf_counter() - started, ran, trades

    backtest(WARM_BARS, f"warm-{bars}")
    rss = _peak_rss_mb()
    seconds, run_seconds, trades = backtest(bars, str(bars))
    return {"seconds": seconds, "run_seconds": run_seconds, "trades": trades, "growth_mb": _peak_rss_mb() - rss}


def _iso(start_ms: str, bars: int) -> str:
    from bot.timestamps import iso_utc

    return iso_utc((int(start_ms) + bars * 60_000) / 1000)


def candle_backtest_speed(bars: int = 1_000_000, our_bars: int | None = None,
                          periods: tuple[int, int] = SHORT_PERIODS) -> dict:
    """(b): bars/s of our engine and of backtesting.py on the same candles and rules, and the ratio."""
    our_bars = min(our_bars or bars, bars)
    folder = Path(tempfile.mkdtemp(prefix="candle-speed-"))
    try:
        ts, values = walk(bars, seed=8, price=100.0)
        write_series(candle_path(folder / "candles", "binance", "BTC/USDT", "1m"),
                     CandleSeries("binance", "BTC/USDT", "1m", ts, values), fsync=False)
        (folder / "start_ms").write_text(str(int(ts[0])))
        theirs_seconds, theirs_trades, theirs_stats = backtesting_py_run(ts, values, periods)
        small = max(1000, our_bars // 4)
        short = engine_run_subprocess(folder, small, periods)
        full = engine_run_subprocess(folder, our_bars, periods)
        seconds, trades = full["seconds"], full["trades"]
        rss_small, rss_big = (short["peak_mb"], short["growth_mb"]), (full["peak_mb"], full["growth_mb"])
        ours = our_bars / seconds
        theirs = bars / theirs_seconds
        theirs_loop = theirs_seconds - theirs_stats if theirs_stats is not None else None
        return {"bars": bars, "our_bars": our_bars, "ours_bars_per_s": ours, "ours_trades": trades,
                "ours_seconds": seconds, "ours_run_seconds": full["run_seconds"], "theirs_seconds": theirs_seconds,
                "theirs_stats_seconds": theirs_stats,
                "core_ratio": (our_bars / full["run_seconds"]) / (bars / theirs_loop) if theirs_loop else None,
                "ours_us_per_fill": seconds / max(trades, 1) * 1e6, "theirs_us_per_bar": theirs_seconds / bars * 1e6,
                "backtesting_py_bars_per_s": theirs, "backtesting_py_trades": theirs_trades,
                "ratio": ours / theirs, "rss_growth_mb": {small: rss_small, our_bars: rss_big}}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def download_speed(bars: int = 50_000, rate_limit_ms: int = 20) -> dict:
    """(c): rows/s of a download with a real ccxt binance against the local fake klines server."""
    from bot.market.candle_download import Downloader
    from bot.market.live import make_client
    from bot.market.resilience import RetryPolicy
    from tests.market.fake_klines import START_MS, FakeKlines

    folder = Path(tempfile.mkdtemp(prefix="download-speed-"))
    try:
        with FakeKlines(bars=bars, symbols=("BTC/USDT",)) as fake:
            client = make_client("binance", fake.exchange_options(rate_limit_ms))
            client.load_markets()
            downloader = Downloader(client, "binance", "1m", 60_000, RetryPolicy(3, 0.05, 0.5, 0.5))
            started = time.perf_counter()
            result = downloader.download("BTC/USDT", candle_path(folder, "binance", "BTC/USDT", "1m"), START_MS,
                                         START_MS + bars * 60_000)
            seconds = time.perf_counter() - started
            client.close()
        return {"rows": result.rows, "requests": result.requests, "seconds": seconds, "rows_per_s": result.rows / seconds,
                "requests_per_s": result.requests / seconds, "rate_limit_ms": rate_limit_ms}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Print (b) and (c)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--our-bars", type=int, default=None, help="candles our engine runs (default: all)")
    parser.add_argument("--download-bars", type=int, default=50_000)
    parser.add_argument("--skip-download", action="store_true")
    parser.add_argument("--engine-run", nargs=2, metavar=("FOLDER", "BARS"), help=argparse.SUPPRESS)
    parser.add_argument("--periods", nargs=2, type=int, default=SHORT_PERIODS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.engine_run:  # the child of engine_run_subprocess
        import json

        result = engine_run(Path(args.engine_run[0]), int(args.engine_run[1]), tuple(args.periods))
        print(json.dumps({**result, "peak_mb": _peak_rss_mb()}))
        return 0
    for label, periods in (("momentum's default periods", DEFAULT_PERIODS),
                           ("the textbook test's short periods", SHORT_PERIODS)):
        b = candle_backtest_speed(args.bars, args.our_bars, periods)
        print(f"(b) candle backtest, momentum on 1 symbol, EMA {periods[0]}/{periods[1]} ({label}): ours "
              f"{b['ours_bars_per_s']:,.0f} bars/s over {b['our_bars']:,} bars ({b['ours_trades']} fills); backtesting.py "
              f"{b['backtesting_py_bars_per_s']:,.0f} bars/s over {b['bars']:,} bars ({b['backtesting_py_trades']} trades); "
              f"ratio {b['ratio']:.3f} (target >= 1.0)")
        same = b["our_bars"] < b["bars"] or b["ours_trades"] in (2 * b["backtesting_py_trades"], 2 * b["backtesting_py_trades"] + 1)
        print(f"    cost: ours {b['ours_us_per_fill']:.0f} us per fill all in (a fill every "
              f"{b['our_bars'] / max(b['ours_trades'], 1):.1f} bars); backtesting.py {b['theirs_us_per_bar']:.2f} us per bar; "
              + ("trade counts agree (fills = 2 x trades, + 1 open at the end; the trade-for-trade match is tests/test_textbook_backtest.py's)" if same else
                 "TRADE COUNTS DISAGREE: the two sides did not run the same rules"))
        core = (f"; without those parts, our run_fast alone ({b['ours_run_seconds']:.2f} s) against its run() less "
                f"compute_stats: ratio {b['core_ratio']:.3f}" if b["core_ratio"] is not None else "")
        stats = (f", of which compute_stats (its trades, equity curve and ratios) {b['theirs_stats_seconds']:.2f} s"
                 if b["theirs_stats_seconds"] is not None else "")
        print(f"    timed alike: ours {b['ours_seconds']:.2f} s from the config to the closed engine (of which run_fast "
              f"{b['ours_run_seconds']:.2f} s), backtesting.py {b['theirs_seconds']:.2f} s for its run(){stats}{core}")
        print("    engine peak RSS (growth over the run) by bars run, one process each: "
              + ", ".join(f"{k:,}: {v[0]:.1f} MB ({v[1]:+.1f} MB)" for k, v in b["rss_growth_mb"].items()))
    print("    ours: BotEngine --market candles, fast-forward on, ledger + equity log written, storage.fsync off")
    if args.skip_download:
        return 0
    c = download_speed(args.download_bars)
    print(f"(c) download against the fake exchange (rateLimit {c['rate_limit_ms']} ms): {c['rows']:,} rows in "
          f"{c['requests']} requests, {c['seconds']:.2f} s: {c['rows_per_s']:,.0f} rows/s, {c['requests_per_s']:.1f} req/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
