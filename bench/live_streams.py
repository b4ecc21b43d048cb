"""Live streams benchmark against the local fake binance stream exchange (tests/market/fake_stream_exchange.py).

Part 1 (in process, the fake in a child process so this process's CPU is the bot side only):
a LiveMarket on one streaming exchange; snapshots are taken at --snapshot-hz. Prints
- updates/s processed (frames ccxt.pro handled, counted by the stream) and books/s delivered;
- latency from frame to snapshot: the frame's exchange stamp E (ms, the fake's clock = ours)
  to the first snapshot that holds that book, p50/p99; and frame to hand-over (receive time);
- CPU of this process per 1,000 updates/s (process CPU seconds per wall second, scaled).

Part 2 (--cadence): the real run_bot.py with its dashboard (eventlet) on three streaming
exchanges (binance, binanceus, binanceusdm, each on its own fake); prints ticks/s against the
configured cadence, /api/health latency p50/p99 and the gaps between Socket.IO market_update
broadcasts p50/p99, then the same with streams off (REST polling) for comparison.

Usage: .venv/bin/python bench/live_streams.py [--seconds 20] [--symbols 4] [--step 0.01] [--cadence]
Loaded machine figures are noisy; quote them as such.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SYMBOL_POOL = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT")


def _serve(symbols, step, seed, ports, stop):
    from tests.market.fake_stream_exchange import FakeBinanceStream

    fake = FakeBinanceStream(symbols, step_seconds=step, seed=seed).start()
    ports.put(fake.port)
    stop.wait()
    fake.stop()


class FakeProcess:
    """A FakeBinanceStream in a child process (its CPU is not ours)."""

    def __init__(self, symbols, step, seed=3):
        ctx = multiprocessing.get_context("spawn")
        self.ports, self.stop_event = ctx.Queue(), ctx.Event()
        self.process = ctx.Process(target=_serve, args=(tuple(symbols), step, seed, self.ports, self.stop_event),
                                   daemon=True)
        self.process.start()
        self.port = self.ports.get(timeout=60)

    def options(self, exchange="binance"):
        from tests.market.fake_stream_exchange import FakeBinanceStream

        fake = FakeBinanceStream.__new__(FakeBinanceStream)
        fake.port = self.port
        return FakeBinanceStream.stream_options(fake, exchange)

    def stop(self):
        self.stop_event.set()
        self.process.join(10)


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def part_one(seconds: float, n_symbols: int, step: float, hz: float) -> None:
    from bot.config import LiveConfig, MarketConfig
    from bot.market.live_source import LiveMarket

    symbols = SYMBOL_POOL[:n_symbols]
    fake = FakeProcess(symbols, step)
    try:
        config = MarketConfig(source="live", exchanges=["binance"], symbols=list(symbols),
                              exchange_options={"binance": fake.options()},
                              live=LiveConfig(poll_seconds=1.0, candle_backfill=30))
        market = LiveMarket(config)
        try:
            stream = market._streams["binance"]  # noqa: SLF001 - a benchmark reads the counters
            deadline = time.time() + 2.0
            while time.time() < deadline:  # warm up
                market.next_snapshot()
                time.sleep(1 / hz)
            seen: dict[str, float] = {}
            to_snapshot, to_handover = [], []
            messages0, cpu0, wall0 = stream.stats.messages, time.process_time(), time.time()
            books = 0
            while time.time() < wall0 + seconds:
                snapshot = market.next_snapshot()
                now = time.time()
                for symbol in symbols:
                    book = snapshot.order_book("binance", symbol)
                    if book is None or seen.get(symbol) == book.ts:
                        continue
                    seen[symbol] = book.ts
                    books += 1
                    to_snapshot.append((now - book.ts) * 1000)
                    to_handover.append((book.received - book.ts) * 1000)
                time.sleep(max(0.0, 1 / hz - (time.time() - now)))
            wall, cpu = time.time() - wall0, time.process_time() - cpu0
            updates = (stream.stats.messages - messages0) / wall
        finally:
            market.close()
    finally:
        fake.stop()
    print(f"part 1: {n_symbols} symbols, a step every {step * 1000:g} ms (4 streams per symbol), "
          f"snapshots at {hz:g} Hz, {wall:.1f} s (loaded machine)")
    print(f"  updates processed:        {updates:,.0f} /s   (books seen changed in snapshots: {books / wall:,.0f} /s)")
    print(f"  frame -> snapshot:        p50 {pct(to_snapshot, .5):.1f} ms   p99 {pct(to_snapshot, .99):.1f} ms   "
          f"(E stamp has 1 ms resolution; includes up to {1000 / hz:.0f} ms of snapshot sampling)")
    print(f"  frame -> hand-over:       p50 {pct(to_handover, .5):.1f} ms   p99 {pct(to_handover, .99):.1f} ms")
    print(f"  CPU (this process):       {cpu / wall * 100:.0f} % of a core = "
          f"{cpu / wall * 100 / max(updates / 1000, 1e-9):.0f} % of a core per 1,000 updates/s")


def _run_bot(tmp: Path, options: dict, streams: bool, seconds: float) -> dict:
    import requests
    import socketio
    import yaml

    exchanges = list(options)
    config = {
        "market": {"source": "live", "exchanges": exchanges, "symbols": ["BTC/USDT", "ETH/USDT"],
                   "exchange_options": options, "max_quote_age_seconds": 3.0,
                   "live": {"poll_seconds": 0.5, "candle_backfill": 60, "streams": {"enabled": streams}}},
        "portfolio": {"starting_balances": {"USDT": 10_000.0, "BTC": 0.05, "ETH": 1.0}},
        "engine": {"tick_interval_seconds": 0.2},
        "dashboard": {"broadcast_seconds": 0.5},
        "storage": {"data_dir": str(tmp / "data"), "log_dir": str(tmp / "logs"), "fsync": False},
    }
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    out = open(tmp / "bot.out", "wb")
    process = subprocess.Popen([sys.executable, "run_bot.py", "--config", str(path), "--port", str(port),
                                "--market", "live"], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 90
        while True:
            try:
                status = requests.get(base + "/api/status", timeout=2).json()
                if status["tick"] is not None and all(h["state"] == "live" for h in status["health"].values()):
                    break
            except (requests.RequestException, ValueError):
                pass
            if time.time() > deadline or process.poll() is not None:
                raise RuntimeError(f"the bot did not come up; see {tmp / 'bot.out'}")
            time.sleep(0.2)
        gaps, last = [], [None]
        lock = threading.Lock()

        def on_market(_data):
            with lock:
                now = time.time()
                if last[0] is not None:
                    gaps.append((now - last[0]) * 1000)
                last[0] = now

        client = socketio.Client(reconnection=False)
        client.on("market_update", on_market)
        client.connect(base, transports=["websocket"], wait_timeout=10)
        tick0, t0 = requests.get(base + "/api/status", timeout=5).json()["tick"], time.time()
        health_ms = []
        while time.time() < t0 + seconds:
            started = time.perf_counter()
            requests.get(base + "/api/health", timeout=5)
            health_ms.append((time.perf_counter() - started) * 1000)
            time.sleep(0.05)
        status = requests.get(base + "/api/status", timeout=5).json()
        ticks = (status["tick"] - tick0) / (time.time() - t0)
        client.disconnect()
        feeds = {ex: h.get("feed") for ex, h in status["health"].items()}
        rates = {ex: h.get("messages_per_second") for ex, h in status["health"].items()}
        return {"ticks": ticks, "health": health_ms, "gaps": gaps, "feeds": feeds, "rates": rates}
    finally:
        process.terminate()
        process.wait(30)
        out.close()


def part_two(seconds: float) -> None:
    exchanges = ("binance", "binanceus", "binanceusdm")
    fakes = {ex: FakeProcess(("BTC/USDT", "ETH/USDT"), 0.05, seed=i + 1) for i, ex in enumerate(exchanges)}
    try:
        options = {ex: fakes[ex].options(ex) for ex in exchanges}
        for streams in (True, False):
            with tempfile.TemporaryDirectory() as tmp:
                r = _run_bot(Path(tmp), options, streams, seconds)
            label = "3 exchanges streaming" if streams else "3 exchanges on REST polling (streams off)"
            print(f"part 2: run_bot.py + dashboard (eventlet), {label}, {seconds:g} s (loaded machine)")
            print(f"  feeds: {r['feeds']}  messages/s: {r['rates']}")
            print(f"  tick cadence:            {r['ticks']:.2f} ticks/s (configured 5.00: engine.tick_interval_seconds 0.2)")
            print(f"  GET /api/health:         p50 {pct(r['health'], .5):.1f} ms   p99 {pct(r['health'], .99):.1f} ms   "
                  f"({len(r['health'])} requests)")
            print(f"  market_update gaps:      p50 {pct(r['gaps'], .5):.0f} ms   p99 {pct(r['gaps'], .99):.0f} ms   "
                  f"(configured 500; {len(r['gaps'])} gaps)")
    finally:
        for fake in fakes.values():
            fake.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--symbols", type=int, default=4, choices=range(1, len(SYMBOL_POOL) + 1))
    parser.add_argument("--step", type=float, default=0.01, help="seconds between the fake's updates per symbol")
    parser.add_argument("--snapshot-hz", type=float, default=200.0)
    parser.add_argument("--cadence", action="store_true", help="also part 2 (run_bot.py, 3 exchanges)")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    part_one(args.seconds, args.symbols, args.step, args.snapshot_hz)
    if args.cadence:
        part_two(args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
