"""Engine throughput: ticks/s in --fast with persistence on, per-strategy cost, trade persistence, memory.

Prints tables; asserts nothing. Run: .venv/bin/python bench/engine_throughput.py [--quick]
  1. ticks/s for the default market and larger ones (more symbols, more exchanges), all
     strategies as configured, fsync on (the default);
  2. each strategy's cost per tick (microseconds) in each of those markets;
  3. the cost of persisting one trade (ledger append + state replace) at growing ledger sizes;
  4. RSS after 20,000 ticks and after 200,000 ticks of one run.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402

from bot.config import parse_config  # noqa: E402
from bot.engine import BotEngine  # noqa: E402
from bot.accounting.ledger import TradeLedger  # noqa: E402
from bot.models import Trade  # noqa: E402
from bot.accounting.portfolio import PortfolioTracker  # noqa: E402
from bot.storage import atomic_write_json  # noqa: E402

EXTRA_EXCHANGES = ["okx", "bybit", "kucoin", "gate", "bitstamp", "bitfinex", "htx", "mexc"]
EXTRA_BASES = ["DOGE", "AVAX", "DOT", "LINK", "LTC", "BCH", "UNI", "ATOM", "NEAR", "APT", "ARB", "OP", "FIL", "ETC"]


def market_config(exchanges: int, usdt_symbols: int) -> dict:
    default = parse_config({}).market
    exchange_ids = (default.exchanges + EXTRA_EXCHANGES)[:exchanges]
    bases = ["BTC", "ETH", "SOL", "XRP", "ADA"] + EXTRA_BASES
    symbols = [f"{b}/USDT" for b in bases[:usdt_symbols]] + ["ETH/BTC"]
    return {"exchanges": exchange_ids, "symbols": symbols}


def make_engine(folder: str, market: dict | None = None) -> BotEngine:
    data = {"storage": {"data_dir": f"{folder}/data", "log_dir": f"{folder}/logs"}, "dashboard": {"enabled": False}}
    if market:
        data["market"] = market
    config = parse_config(data)
    engine = BotEngine(config)
    engine.open()
    return engine


def time_strategies(engine: BotEngine) -> dict[str, list[float]]:
    """Wrap each strategy's on_snapshot to accumulate its own time."""
    totals: dict[str, list[float]] = {}
    for name, strategy in engine.manager.strategies.items():
        original = strategy.on_snapshot
        cell = totals.setdefault(name, [0.0, 0])

        def timed(snapshot, view, _original=original, _cell=cell):
            start = time.perf_counter()
            try:
                return _original(snapshot, view)
            finally:
                _cell[0] += time.perf_counter() - start
                _cell[1] += 1

        strategy.on_snapshot = timed
    return totals


def throughput(label: str, market: dict | None, ticks: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(folder, market)
        totals = time_strategies(engine)
        engine.run_fast(200)  # first-use setup out of the measurement
        for cell in totals.values():
            cell[0], cell[1] = 0.0, 0
        trades_before = engine.ledger.count
        start = time.perf_counter()
        engine.run_fast(ticks)
        elapsed = time.perf_counter() - start
        trades = engine.ledger.count - trades_before
        n_ex, n_sym = len(engine.source.exchanges), len(engine.source.symbols)
        engine.close()
    per_strategy = {name: (cell[0] / cell[1] * 1e6 if cell[1] else 0.0) for name, cell in totals.items()}
    return {"label": label, "exchanges": n_ex, "symbols": n_sym, "ticks": ticks, "seconds": elapsed,
            "ticks_per_s": ticks / elapsed, "us_per_tick": elapsed / ticks * 1e6, "trades": trades,
            "strategies": per_strategy}


def sample_trade(seq: int) -> Trade:
    return Trade(f"T{seq:08d}", seq, 1_767_225_600.0, seq, "momentum", f"momentum-{seq}-1", "momentum_entry",
                 "binance", "BTC/USDT", "buy" if seq % 2 else "sell", 0.001, 60_000.0 + seq % 100, 0.06, "USDT", 1.0,
                 0.0, "filled", "bench")


def persistence_cost(sizes: list[int], repeats: int = 200) -> list[dict]:
    """Time one trade's append + state replace (fsync on) with ledgers of growing size."""
    rows = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "trades.jsonl"
            with open(path, "w") as handle:
                line = sample_trade(1).to_dict()
                import json

                for seq in range(1, size + 1):
                    line["seq"], line["id"] = seq, f"T{seq:08d}"
                    handle.write(json.dumps(line, separators=(",", ":")) + "\n")
            ledger = TradeLedger(folder, fsync=True)
            ledger.last_seq = size
            tracker = PortfolioTracker({"binance": {"USDT": 1e9, "BTC": 1e3}})
            append_times, state_times = [], []
            for i in range(repeats):
                trade = sample_trade(size + i + 1)
                start = time.perf_counter()
                ledger.append([trade])
                middle = time.perf_counter()
                tracker.apply(trade)
                atomic_write_json(Path(folder) / "portfolio_state.json", tracker.to_state(), fsync=True)
                end = time.perf_counter()
                append_times.append(middle - start)
                state_times.append(end - middle)
            ledger.close()
        append_times.sort()
        state_times.sort()
        rows.append({"ledger_size": size, "append_median_us": append_times[len(append_times) // 2] * 1e6,
                     "state_median_us": state_times[len(state_times) // 2] * 1e6})
    return rows


def memory_growth(first: int, total: int) -> tuple[float, float, int]:
    process = psutil.Process(os.getpid())
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(folder)
        engine.run_fast(first)
        rss_first = process.memory_info().rss / 2**20
        engine.run_fast(total - first)
        rss_total = process.memory_info().rss / 2**20
        trades = engine.ledger.count
        engine.close()
    return rss_first, rss_total, trades


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer ticks (a smoke run, figures less stable)")
    parser.add_argument("--memory-only", nargs=2, type=int, metavar=("FIRST", "TOTAL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_only:
        rss_first, rss_total, trades = memory_growth(*args.memory_only)
        print(f"{rss_first} {rss_total} {trades}")
        return
    ticks = 5_000 if args.quick else 30_000
    markets = [
        ("default", None),
        ("5 ex x 6 sym", market_config(5, 5)),
        ("3 ex x 20 sym", market_config(3, 19)),
        ("10 ex x 6 sym", market_config(10, 5)),
        ("10 ex x 20 sym", market_config(10, 19)),
    ]
    print(f"Engine throughput, --fast, fsync on, all configured strategies; {ticks:,} ticks each\n")
    results = [throughput(label, market, ticks) for label, market in markets]
    names = sorted({name for r in results for name in r["strategies"]})
    header = f"{'market':<16}{'markets':>8}{'ticks/s':>10}{'us/tick':>9}{'trades':>8}" + "".join(f"{n + ' us':>14}" for n in names)
    print(header)
    print("-" * len(header))
    for r in results:
        cells = "".join(f"{r['strategies'].get(n, 0.0):>14.2f}" for n in names)
        print(f"{r['label']:<16}{r['exchanges'] * r['symbols']:>8}{r['ticks_per_s']:>10,.0f}{r['us_per_tick']:>9.1f}"
              f"{r['trades']:>8}{cells}")
    base = results[0]
    print("\nPer-strategy cost per market (us per tick / exchanges x symbols), relative to the default market:")
    for name in names:
        ratios = []
        for r in results[1:]:
            size_ratio = (r["exchanges"] * r["symbols"]) / (base["exchanges"] * base["symbols"])
            cost_ratio = r["strategies"].get(name, 0.0) / max(base["strategies"].get(name, 0.0), 1e-9)
            ratios.append(f"{r['label']}: cost x{cost_ratio:.1f} for size x{size_ratio:.1f}")
        print(f"  {name}: " + "; ".join(ratios))

    print("\nPersisting one trade (fsync on): ledger append and state replace, median of 200")
    print(f"{'ledger size':>12}{'append us':>12}{'state us':>12}")
    for row in persistence_cost([1_000, 10_000, 100_000] if not args.quick else [1_000, 10_000]):
        print(f"{row['ledger_size']:>12,}{row['append_median_us']:>12.1f}{row['state_median_us']:>12.1f}")

    first, total = (2_000, 20_000) if args.quick else (20_000, 200_000)
    # A fresh process: the runs above leave this one's memory high and noisy.
    import subprocess

    answer = subprocess.run([sys.executable, __file__, "--memory-only", str(first), str(total)],
                            capture_output=True, text=True, check=True).stdout.split()
    rss_first, rss_total, trades = float(answer[0]), float(answer[1]), int(answer[2])
    print(f"\nRSS after {first:,} ticks: {rss_first:.1f} MiB; after {total:,} ticks: {rss_total:.1f} MiB "
          f"(+{rss_total - rss_first:.1f} MiB, {trades} trades)")


if __name__ == "__main__":
    main()
