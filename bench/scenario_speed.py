"""What scenarios cost per tick, and how closely a real-time run keeps market.speed.

Prints two tables; asserts nothing. Run: .venv/bin/python bench/scenario_speed.py [--quick]
  1. microseconds per snapshot of the market source alone: the plain simulator, and each scenario
     before it starts (pass-through) and while it plays;
  2. for a few speeds, the market seconds a real-time engine run covered per wall second
     (the default market and strategies, fsync off), measured over a few wall seconds each.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import parse_config  # noqa: E402
from bot.engine import BotEngine  # noqa: E402
from bot.market.sources import build_source  # noqa: E402
from bot.market.scenarios import SCENARIOS  # noqa: E402


def per_snapshot_us(source, first_tick: int, ticks: int) -> float:
    source.seek(first_tick)
    started = time.perf_counter()
    for _ in range(ticks):
        source.next_snapshot()
        source.drain_events()
    return (time.perf_counter() - started) / ticks * 1e6


def overlay_table(ticks: int) -> None:
    print(f"market source alone, us per snapshot ({ticks} snapshots each)")
    print(f"{'scenario':<18} {'before start':>13} {'playing':>9}")
    plain = build_source(parse_config({}))
    print(f"{'(none)':<18} {per_snapshot_us(plain, 100, ticks):>13.1f} {'':>9}")
    for name in SCENARIOS:
        source = build_source(parse_config({"market": {"simulator": {"scenario": name}}}))
        before = per_snapshot_us(source, 100, ticks)
        playing = per_snapshot_us(source, 1800 + 60, ticks)
        print(f"{name:<18} {before:>13.1f} {playing:>9.1f}")


def speed_table(speeds: list[float], seconds: float) -> None:
    print(f"\nreal-time runs of {seconds:g} wall seconds: market seconds per wall second")
    print(f"{'market.speed':>12} {'kept':>8} {'ticks':>7}")
    for speed in speeds:
        with tempfile.TemporaryDirectory() as folder:
            config = parse_config({"market": {"speed": speed}, "dashboard": {"enabled": False},
                                   "storage": {"data_dir": f"{folder}/data", "log_dir": f"{folder}/logs",
                                               "fsync": False}})
            engine = BotEngine(config)
            engine.open()
            engine.run_fast(300)  # the strategies' first ticks (warm-up, first cointegration tests) are slow
            engine.start_realtime()
            time.sleep(1.0)  # a bench, not a test: let the scheduler settle before measuring
            start_ticks, start_wall = engine.ticks_run, time.monotonic()
            time.sleep(seconds)
            ticks, wall = engine.ticks_run - start_ticks, time.monotonic() - start_wall
            engine.close()
        print(f"{speed:>12g} {ticks * config.market.tick_seconds / wall:>8.1f} {ticks:>7}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    overlay_table(1000 if args.quick else 5000)
    speed_table([1, 15, 100, 1000] if args.quick else [1, 15, 60, 200, 1000, 3000], 3.0 if args.quick else 10.0)


if __name__ == "__main__":
    main()
