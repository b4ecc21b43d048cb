"""When does each strategy first trade? The measurement behind market.speed's default.

For each seed, runs the default config (what `make run` trades) with --fast semantics and prints
the market time of each enabled strategy's first fill, then the speed (simulated seconds per
wall-clock second) at which the slowest of them acts within the target wall time. Re-run it
whenever the market or a strategy changes, and revisit DEFAULT_SPEED in bot/config.py.

Run: .venv/bin/python bench/first_trades.py [--seeds 1 2 3 42] [--hours 6] [--minutes 10]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import DEFAULT_SPEED, KNOWN_STRATEGIES, parse_config  # noqa: E402
from bot.engine import BotEngine  # noqa: E402


def first_fills(seed: int, hours: float, folder: str, count_misses: bool = False) -> tuple[dict[str, float], list[str]]:
    """Market seconds from the start to each strategy's first fill, or with count_misses its first order that
    reached the market, filled or recorded as a miss (missing: none within `hours`)."""
    config = parse_config({"market": {"seed": seed}, "dashboard": {"enabled": False},
                           "storage": {"data_dir": f"{folder}/data", "log_dir": f"{folder}/logs", "fsync": False}})
    engine = BotEngine(config)
    engine.open()
    enabled = [name for name in KNOWN_STRATEGIES if getattr(config.strategies, name).enabled]
    first: dict[str, float] = {}
    start, misses, seen = None, Path(folder) / "data" / "misses.jsonl", 0
    ticks = int(hours * 3600 / config.market.tick_seconds)
    try:
        for _ in range(ticks):
            before = engine.ledger.count
            snapshot = engine.tick()
            if start is None:
                start = snapshot.ts
            if engine.ledger.count != before:
                for trade in engine.ledger.recent(engine.ledger.count - before):
                    first.setdefault(trade.strategy, snapshot.ts - start)
            if count_misses and misses.exists() and misses.stat().st_size > seen:
                with misses.open(encoding="utf-8") as handle:  # an order that reached the market and missed
                    handle.seek(seen)
                    for line in handle.read().splitlines():
                        first.setdefault(json.loads(line)["strategy"], snapshot.ts - start)
                    seen = handle.tell()
            if len(first) == len(enabled):
                break
    finally:
        engine.close()
    return first, enabled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5, 42])
    parser.add_argument("--hours", type=float, default=6.0, help="market hours to wait for a first trade")
    parser.add_argument("--minutes", type=float, default=10.0, help="wall minutes a newcomer should wait at most")
    parser.add_argument("--fills-only", action="store_true",
                        help="count fills only (default: a first order that reached the market, filled or a recorded miss)")
    args = parser.parse_args()
    what = "fill" if args.fills_only else "order reaching the market (fill or recorded miss)"
    print(f"market time of each strategy's first {what} (default config; {args.hours:g} h searched)")
    header = f"{'seed':>5} " + " ".join(f"{name:>10}" for name in KNOWN_STRATEGIES) + f" {'slowest':>10} {'speed':>7}"
    print(header)
    print("-" * len(header))
    needed = []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as folder:
            first, enabled = first_fills(seed, args.hours, folder, count_misses=not args.fills_only)
        cells = [f"{first[name] / 60:>9.1f}m" if name in first else f"{'none':>10}" for name in KNOWN_STRATEGIES]
        slowest = max((first.get(name, float("inf")) for name in enabled), default=0.0)
        speed = slowest / (args.minutes * 60.0)
        needed.append(speed)
        print(f"{seed:>5} " + " ".join(cells) + f" {slowest / 60:>9.1f}m {speed:>7.1f}")
    print(f"\nspeed for every strategy to act within {args.minutes:g} wall minutes: "
          f"{max(needed):.1f} on the worst seed, {sorted(needed)[len(needed) // 2]:.1f} on the median one; "
          f"market.speed default now {DEFAULT_SPEED:g}")


if __name__ == "__main__":
    main()
