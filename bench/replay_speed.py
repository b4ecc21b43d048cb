"""Replay speed: (a) recording-replay ticks/s on the default market with all strategies, and memory.

Prints figures; asserts nothing. Run: .venv/bin/python bench/replay_speed.py [--ticks N] [--profile]
  a. a simulator run of N ticks (default 3 exchanges x 6 symbols, all strategies) is recorded
     with --record, then replayed with --market replay --fast in the same process: ticks/s of the
     replay alone (open excluded), next to the simulator run's own ticks/s;
  memory: peak RSS of a replay subprocess of the recording, and of one 5x longer (flat = the
     recording is streamed, not loaded whole).
The candle backtest (b) and download (c) figures come from bench/candle_speed.py, run after (a).
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from bot.config import parse_config  # noqa: E402
from bot.engine import BotEngine  # noqa: E402


def _config(folder: Path, **extra) -> dict:
    return {"storage": {"data_dir": str(folder / "data"), "log_dir": str(folder / "logs")},
            "dashboard": {"enabled": False}, "market": {"seed": 11}, **extra}


def record(folder: Path, ticks: int) -> tuple[Path, float]:
    """A recorded simulator run of `ticks` ticks; (the recording's folder, the run's ticks/s)."""
    engine = BotEngine(parse_config(_config(folder, recording={"record": True})))
    engine.open()
    start = time.perf_counter()
    engine.run_fast(ticks)
    elapsed = time.perf_counter() - start
    engine.close()
    return engine.source.folder, ticks / elapsed


def simulate(folder: Path, ticks: int) -> tuple[float, float]:
    """The same simulator run without recording: (ticks/s, ticks per CPU second), for the ratio."""
    engine = BotEngine(parse_config(_config(folder)))
    engine.open()
    start, cpu = time.perf_counter(), time.process_time()
    engine.run_fast(ticks)
    rates = ticks / (time.perf_counter() - start), ticks / (time.process_time() - cpu)
    engine.close()
    return rates


def replay(folder: Path, recording: Path, profile: bool = False, fast_forward: bool = True
           ) -> tuple[int, float, int, float]:
    """Replay a recording to its end; (ticks, ticks/s, trades, ticks per CPU second of this process).
    The share of ticks skipped in bulk (bot/fast_forward.py) is left in replay.skipped."""
    config = parse_config({**_config(folder), "market": {"source": "replay"}, "recording": {"path": str(recording)},
                           "replay": {"fast_forward": fast_forward}})
    engine = BotEngine(config)
    engine.open()
    profiler = cProfile.Profile() if profile else None
    start, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    engine.run_fast(None)
    if profiler:
        profiler.disable()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    trades = engine.ledger.count
    replay.skipped = engine.fast_forward.skipped if engine.fast_forward is not None else 0
    engine.close()
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return engine.ticks_run, engine.ticks_run / elapsed, trades, engine.ticks_run / cpu


def peak_rss_mib(recording: Path, folder: Path) -> float:
    """Peak RSS of a replay subprocess (run_bot.py --market replay --fast), in MiB."""
    code = ("import sys, runpy; sys.argv = ['run_bot.py'] + sys.argv[1:]; "
            "sys.path.insert(0, %r)\n"
            "try:\n    runpy.run_path(%r, run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            # VmHWM: this process's own peak (ru_maxrss would carry the bench's peak across fork+exec).
            "print('RSS_KIB', next(int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM:')))"
            ) % (str(ROOT), str(ROOT / "run_bot.py"))
    folder.mkdir(parents=True, exist_ok=True)
    out = subprocess.run([sys.executable, "-c", code, "--no-dashboard", "--fast", "--recording", str(recording),
                          "--data-dir", str(folder / "data"), "--log-dir", str(folder / "logs")],
                         capture_output=True, text=True, cwd=folder, check=False)
    line = [x for x in out.stdout.splitlines() if x.startswith("RSS_KIB")]
    if not line:
        raise RuntimeError(out.stderr[-2000:])
    return int(line[0].split()[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true", help="cProfile the replay and print the top costs")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-RSS runs")
    parser.add_argument("--stepped", action="store_true", help="also replay stepping every tick (no fast-forward)")
    parser.add_argument("--no-candles", action="store_true", help="skip (b) and (c) (bench/candle_speed.py)")
    parser.add_argument("--candle-bars", type=int, default=1_000_000,
                        help="candles our engine runs in (b) (default all); backtesting.py runs 1,000,000")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        recording, sim_rate = record(tmp / "recorded", args.ticks)
        size = sum(f.stat().st_size for f in recording.iterdir())
        plain_rate, plain_cpu = simulate(tmp / "simulated", args.ticks)
        ticks, rate, trades, cpu_rate = replay(tmp / "replayed", recording, profile=args.profile)
        print("(a) recording replay, default market (3 exchanges x 6 symbols), all strategies, seed 11")
        print(f"    simulator run, recording on: {args.ticks:,} ticks at {sim_rate:,.0f} ticks/s; recording "
              f"{size / 1e6:.1f} MB ({size / args.ticks / 1e3:.1f} kB/tick)")
        print(f"    simulator run, no recording: {plain_rate:,.0f} ticks/s ({plain_cpu:,.0f} per CPU second)")
        print(f"    replay --fast: {ticks:,} ticks at {rate:,.0f} ticks/s ({cpu_rate:,.0f} per CPU second), "
              f"{trades} trades; {rate / plain_rate:.2f}x the simulator run  (goal >= 20,000 ticks/s); "
              f"{replay.skipped / max(ticks, 1):.1%} of the ticks skipped in bulk")
        if args.stepped:
            _, step_rate, step_trades, step_cpu = replay(tmp / "stepped", recording, fast_forward=False)
            print(f"    replay --fast, every tick stepped (replay.fast_forward: false): {step_rate:,.0f} ticks/s "
                  f"({step_cpu:,.0f} per CPU second), {step_trades} trades")
        if not args.no_memory:
            long_recording, _ = record(tmp / "recorded-long", args.ticks * 5)
            short_rss = peak_rss_mib(recording, tmp / "rss-short")
            long_rss = peak_rss_mib(long_recording, tmp / "rss-long")
            print(f"    peak RSS of a replay: {short_rss:,.0f} MiB for {args.ticks:,} ticks, "
                  f"{long_rss:,.0f} MiB for {args.ticks * 5:,} ticks")
    if args.no_candles:
        return
    # (b) and (c) in the same run: the candle backtest next to backtesting.py, and the download.
    sys.path.insert(0, str(ROOT / "bench"))
    import candle_speed

    candle_speed.main(["--our-bars", str(args.candle_bars)])


if __name__ == "__main__":
    main()
