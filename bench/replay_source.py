"""Replay source cost: what reading a recording costs per tick, without the engine, schema 2 next to schema 3.

Prints figures; asserts nothing. Run: .venv/bin/python bench/replay_source.py [--ticks N] [--recording DIR]
  The default simulated market (3 exchanges x 6 symbols, seed 11) is recorded for N ticks twice in one
  run, as schema 2 and as schema 3 (the same snapshots), then each recording is read back:
  - stepped: next_snapshot() for every tick, no book read (what a stepped replay tick costs the source);
  - look-ahead (docs/LOOKAHEAD_API.md): light_block(1000) then skip() over the whole recording, per tick;
  and the recording's size per tick. CPU time of the process (the frame worker thread included), best of 3.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from bot.config import parse_config  # noqa: E402
from bot.market.base import SourceExhausted  # noqa: E402
from bot.market.recorder import RecordingSource  # noqa: E402
from bot.market.replay import ReplayMarket  # noqa: E402
from bot.market.simulator import SimulatedMarket  # noqa: E402


def record(folder: Path, ticks: int) -> dict[int, Path]:
    """The same simulator run recorded as schema 2 and schema 3: {schema: folder}."""
    config = parse_config({"market": {"seed": 11}, "recording": {"record": True}, "dashboard": {"enabled": False}})
    sources = {schema: RecordingSource(SimulatedMarket(config.market), config, folder / str(schema), 1.0,
                                       schema_version=schema) for schema in (2, 3)}
    for source in sources.values():
        source.wait_when_full = True
    for _ in range(ticks):
        for source in sources.values():
            source.next_snapshot()
    for source in sources.values():
        source.close()
    return {schema: source.folder for schema, source in sources.items()}


def stepped(folder: Path) -> float:
    """CPU microseconds per next_snapshot(), best of 3."""
    best = float("inf")
    for _ in range(3):
        replay, ticks = ReplayMarket(folder), 0
        start = time.process_time()
        try:
            while True:
                replay.next_snapshot()
                ticks += 1
        except SourceExhausted:
            pass
        best = min(best, (time.process_time() - start) / ticks * 1e6)
        replay.close()
    return best


def lookahead(folder: Path, block: int = 1000) -> float:
    """CPU microseconds per tick of light_block(block) then skip() over the whole recording, best of 3."""
    best = float("inf")
    for _ in range(3):
        replay, ticks = ReplayMarket(folder), 0
        start = time.process_time()
        while True:
            rows = len(replay.light_block(block))
            if not rows:
                break
            replay.skip(rows)
            ticks += rows
        best = min(best, (time.process_time() - start) / ticks * 1e6)
        replay.close()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=10_000)
    parser.add_argument("--recording", help="read this recording instead (any schema)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folders = {"given": Path(args.recording)} if args.recording else record(Path(tmp), args.ticks)
        print("replay source, default market (3 exchanges x 6 symbols), seed 11; CPU us per tick, best of 3")
        for name, folder in folders.items():
            size = sum(f.stat().st_size for f in folder.iterdir())
            replay = ReplayMarket(folder)
            ticks = replay.last_tick - replay.first_tick + 1
            replay.close()
            print(f"  schema {name}: {size / ticks / 1e3:.2f} kB/tick; stepped {stepped(folder):.1f} us/tick "
                  f"(no book read); look-ahead light_block(1000)+skip {lookahead(folder):.1f} us/tick")


if __name__ == "__main__":
    main()
