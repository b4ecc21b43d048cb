"""Dashboard load benchmark: the real server (run_bot.py, eventlet) with a 100,000-trade ledger.

Measures, and prints:
- Socket.IO fan-out: N clients (default 500) connected over websockets; whether every client
  receives every broadcast, and the delay from the server's emit ("sent_at" in each *_update
  payload) to receipt, p50/p99/max;
- the server's CPU while it broadcasts (psutil on the subprocess);
- API latency of GET /api/portfolio and /api/trades?limit=100 at 50 requests/s, under that load.

Usage: .venv/bin/python bench/dashboard_load.py [--clients 500] [--trades 100000]
Targets: every broadcast received by all clients with p99 delay < 1 s; API p99 < 20 ms.
"""
from __future__ import annotations

import dataclasses
import argparse
import asyncio
import multiprocessing
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bot.config import parse_config  # noqa: E402
from bot.data_flow import STATE_FILE  # noqa: E402
from bot.accounting.ledger import TRADES_FILE  # noqa: E402
from bot.models import Trade  # noqa: E402
from bot.timestamps import iso_utc, parse_iso  # noqa: E402
from bot.accounting.portfolio import PortfolioTracker  # noqa: E402
from bot.storage import SCHEMA_VERSION, JsonlWriter, atomic_write_json  # noqa: E402

DICT_EVENTS = ("portfolio_update", "market_update", "alerts_update")
LIST_EVENTS = ("trades_update", "strategies_update")
PRICES = {"BTC/USDT": 60000.0, "ETH/USDT": 3000.0, "SOL/USDT": 150.0}
NOTIONAL_USDT = 50.0


# ----- the data dir -----------------------------------------------------------------------
def synthesize_data_dir(config, count: int, seed: int = 7) -> None:
    """Write `count` ledger lines (closed round trips at random-walk prices) and the matching
    portfolio_state.json, as the bot would have left them."""
    data_dir = Path(config.storage.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    exchanges = list(config.market.exchanges)
    starting = {ex: dict(config.portfolio.starting_balances) for ex in exchanges}
    tracker = PortfolioTracker(starting, config.storage.equity_history_points, config.engine.equity_sample_seconds)
    t0 = parse_iso(config.market.start_time)
    prices = dict(PRICES)
    from bot.market.simulator import SimulatedMarket
    from bot.strategies.registry import build_strategies

    source = SimulatedMarket(config.market)
    # Only strategies the bot runs, so every row of its exit summary has its counters.
    strategies = sorted(s.name for s in build_strategies(config, source.exchanges, source.symbols)[0])
    writer = JsonlWriter(data_dir / TRADES_FILE, fsync=False)
    batch = []
    seq = 0
    tick = 0
    while seq < count:
        tick += rng.randint(1, 3)
        symbol = rng.choice(list(prices))
        prices[symbol] *= 1.0 + rng.gauss(0.0, 0.002)
        price = round(prices[symbol], 2)
        exchange = rng.choice(exchanges)
        strategy = rng.choice(strategies)
        qty = round(NOTIONAL_USDT / price, 5)
        exit_price = round(price * (1.0 + rng.gauss(0.0005, 0.004)), 2)
        signal_id = f"{strategy}-{tick}-1"
        for side, fill_price, kind in (("buy", price, "entry"), ("sell", exit_price, "exit")):
            if seq >= count:
                break
            seq += 1
            fee = qty * fill_price * 0.001
            draft = Trade(id=f"T{seq:08d}", seq=seq, ts=t0 + tick * config.market.tick_seconds, tick=tick,
                          strategy=strategy, signal_id=signal_id, kind=f"{strategy}_{kind}", exchange=exchange,
                          symbol=symbol, side=side, qty=qty, price=fill_price, fee=fee, fee_asset="USDT",
                          quote_usdt_rate=1.0, realized_pnl=0.0, status="filled",
                          reason=f"synthetic {kind} for the load benchmark")
            realized = tracker.realized_for([draft])[0]
            trade = dataclasses.replace(draft, realized_pnl=realized)
            tracker.apply(trade)
            batch.append(trade.to_dict())
            if len(batch) >= 5000:
                writer.append_many(batch)
                batch = []
    writer.append_many(batch)
    writer.close()
    state = {"schema_version": SCHEMA_VERSION, "last_updated": iso_utc(time.time()), **tracker.to_state(),
             "engine": {"state": "running", "pause_reason": "", "kill_switch": None, "next_tick": tick + 1,
                        "market_source": "simulated", "enabled": {}}}
    atomic_write_json(data_dir / STATE_FILE, state, fsync=False)


# ----- the clients (in worker processes) --------------------------------------------------
def client_worker(url: str, clients: int, connected_queue, stop_event, result_queue, index: int) -> None:
    result_queue.put(asyncio.run(_client_main(url, clients, connected_queue, stop_event, index)))


async def _client_main(url, clients, connected_queue, stop_event, index):
    import socketio

    records = [{"dict": {e: [] for e in DICT_EVENTS}, "list": {e: [] for e in LIST_EVENTS}, "trade_executed": 0}
               for _ in range(clients)]
    sessions = []
    gate = asyncio.Semaphore(25)
    failures = 0

    def handler_for(record):
        async def handler(event, data):
            now = time.time()
            if event in record["dict"] and isinstance(data, dict):
                record["dict"][event].append((data.get("broadcast_seq"), data.get("sent_at"), now))
            elif event in record["list"]:
                record["list"][event].append(now)
            elif event == "trade_executed":
                record["trade_executed"] += 1
        return handler

    async def connect(record):
        nonlocal failures
        client = socketio.AsyncClient(reconnection=False)
        client.on("*", handler_for(record))
        async with gate:
            for attempt in range(5):
                try:
                    await client.connect(url, transports=["websocket"], wait_timeout=30)
                    sessions.append(client)
                    return
                except Exception:  # noqa: BLE001 - retry, then count
                    await asyncio.sleep(0.2 * (attempt + 1))
        failures += 1

    await asyncio.gather(*(connect(r) for r in records))
    connected_queue.put((index, len(sessions), failures))
    while not stop_event.is_set():
        await asyncio.sleep(0.1)
    await asyncio.gather(*(c.disconnect() for c in sessions), return_exceptions=True)
    return records


# ----- measuring --------------------------------------------------------------------------
def percentile(values, fraction):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def api_load(base: str, rate: float, seconds: float) -> dict[str, list[float]]:
    """Requests at `rate` per second in total, alternating the two endpoints; latencies in ms."""
    paths = ["/api/portfolio", "/api/trades?limit=100"]
    latencies: dict[str, list[float]] = {p: [] for p in paths}
    errors = []

    def run(path):
        session = requests.Session()
        interval = len(paths) / rate
        next_at = time.perf_counter()
        end = next_at + seconds
        while next_at < end:
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            started = time.perf_counter()
            response = session.get(base + path, timeout=10)
            latencies[path].append((time.perf_counter() - started) * 1000.0)
            if response.status_code != 200:
                errors.append(response.status_code)
            next_at += interval

    threads = [threading.Thread(target=run, args=(p,)) for p in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        print(f"  API errors: {len(errors)} ({sorted(set(errors))})")
    return latencies


def wait_for_health(base: str, process: subprocess.Popen, timeout: float = 180.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode} before answering")
        try:
            response = requests.get(base + "/api/health", timeout=2)
            if response.status_code == 200:
                return response.json()
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not answer /api/health in time")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--trades", type=int, default=100_000)
    parser.add_argument("--procs", type=int, default=2, help="client processes")
    parser.add_argument("--broadcast-seconds", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement window")
    parser.add_argument("--api-rate", type=float, default=50.0)
    parser.add_argument("--api-seconds", type=float, default=10.0)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument("--nice", type=int, default=None, metavar="N",
                        help="run the server and the clients at this niceness (e.g. -10 as root on a busy "
                             "machine, so the figures measure the dashboard rather than its neighbours)")
    args = parser.parse_args()
    raise_file_limit()
    if args.nice is not None:
        psutil.Process().nice(args.nice)  # the API load generator too

    root = Path(tempfile.mkdtemp(prefix="dashboard-load-"))
    raw = {"storage": {"data_dir": str(root / "data"), "log_dir": str(root / "logs"), "fsync": False},
           "dashboard": {"broadcast_seconds": args.broadcast_seconds}}
    config = parse_config(raw)
    started = time.perf_counter()
    synthesize_data_dir(config, args.trades)
    ledger_mb = (root / "data" / TRADES_FILE).stat().st_size / 1e6
    print(f"ledger: {args.trades} trades ({ledger_mb:.1f} MB) written in {time.perf_counter() - started:.1f}s")
    (root / "config.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    output = open(root / "server.txt", "wb")
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "run_bot.py", "--config", str(root / "config.yaml"), "--port", str(port)],
                              cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT)
    if args.nice is not None:
        psutil.Process(server.pid).nice(args.nice)
    try:
        health = wait_for_health(base, server)
        print(f"server up in {time.perf_counter() - started:.1f}s: {health['trades']} trades in the ledger")
        return measure(args, base, server)
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                code = server.wait(60)
                print(f"server stopped with exit code {code}")
            except subprocess.TimeoutExpired:
                server.kill()
                print("server did not stop within 60s; killed")
        output.close()
        if args.keep:
            print(f"kept {root}")
        else:
            import shutil

            shutil.rmtree(root, ignore_errors=True)


def measure(args, base: str, server: subprocess.Popen) -> int:
    context = multiprocessing.get_context("spawn")
    connected_queue, result_queue = context.Queue(), context.Queue()
    stop_event = context.Event()
    shares = [args.clients // args.procs + (1 if i < args.clients % args.procs else 0) for i in range(args.procs)]
    workers = [context.Process(target=client_worker, args=(base, n, connected_queue, stop_event, result_queue, i))
               for i, n in enumerate(shares)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
        if args.nice is not None:
            psutil.Process(worker.pid).nice(args.nice)
    connected = failed = 0
    for _ in workers:
        _, ok, bad = connected_queue.get(timeout=300)
        connected += ok
        failed += bad
    print(f"clients: {connected} connected ({failed} failed) in {time.perf_counter() - started:.1f}s")

    process = psutil.Process(server.pid)
    time.sleep(args.broadcast_seconds * 2)  # let the greetings settle
    metrics_before = broadcast_metrics(base)
    window_start = time.time()
    cpu_before = process.cpu_times()
    wall_before = time.perf_counter()
    latencies = api_load(base, args.api_rate, min(args.api_seconds, args.seconds))
    remaining = args.seconds - (time.perf_counter() - wall_before)
    if remaining > 0:
        time.sleep(remaining)
    cpu_after = process.cpu_times()
    wall = time.perf_counter() - wall_before
    window_end = time.time()
    metrics_after = broadcast_metrics(base)
    load = os.getloadavg()[0]
    time.sleep(args.broadcast_seconds + 1.0)  # the last broadcasts in the window arrive
    stop_event.set()
    records = []
    for _ in workers:
        records.extend(result_queue.get(timeout=120))
    for worker in workers:
        worker.join(30)

    cpu = (cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system) / wall * 100.0
    report(records, window_start, window_end, cpu, latencies, args)
    rounds = metrics_after[1] - metrics_before[1]
    if rounds:
        print(f"server time to send one broadcast round (5 events) to every client: "
              f"{(metrics_after[0] - metrics_before[0]) / rounds * 1000:.1f} ms on average over {rounds:.0f} rounds")
    print(f"machine: {os.cpu_count()} CPUs, 1-minute load average {load:.1f} at the end of the window "
          f"(the server, {args.procs} client processes and anything else running)")
    return 0


def broadcast_metrics(base: str) -> tuple[float, float]:
    """(sum, count) of dashboard_broadcast_duration_seconds from /metrics."""
    values = {}
    for line in requests.get(base + "/metrics", timeout=10).text.splitlines():
        for name in ("dashboard_broadcast_duration_seconds_sum", "dashboard_broadcast_duration_seconds_count"):
            if line.startswith(name + " "):
                values[name] = float(line.split()[1])
    return (values.get("dashboard_broadcast_duration_seconds_sum", 0.0),
            values.get("dashboard_broadcast_duration_seconds_count", 0.0))


def report(records, window_start, window_end, cpu, latencies, args) -> None:
    if not records:
        print("no Socket.IO clients: API latency alone")
    else:
        report_broadcasts(records, window_start, window_end, args)
    print(f"server CPU while broadcasting and serving the API: {cpu:.0f}% of one core")
    report_api(latencies)


def report_broadcasts(records, window_start, window_end, args) -> None:
    expected: dict[str, set] = {e: set() for e in DICT_EVENTS}
    for record in records:
        for event in DICT_EVENTS:
            expected[event] |= {seq for seq, sent_at, _ in record["dict"][event]
                                if seq and window_start <= sent_at <= window_end}
    broadcasts = len(expected["portfolio_update"])
    print(f"broadcasts in the {window_end - window_start:.0f}s window: {broadcasts} "
          f"(every {args.broadcast_seconds:g}s), {len(records)} clients")
    delays = []
    for event in DICT_EVENTS:
        missing = 0
        complete = 0
        for record in records:
            got = {seq for seq, _, _ in record["dict"][event]}
            lost = len(expected[event] - got)
            missing += lost
            complete += lost == 0
            delays.extend(now - sent_at for seq, sent_at, now in record["dict"][event] if seq in expected[event])
        print(f"  {event:<17} clients with every broadcast: {complete}/{len(records)}; missed deliveries: {missing}")
    for event in LIST_EVENTS:
        counts = [sum(1 for now in record["list"][event] if window_start <= now <= window_end + 1.0)
                  for record in records]
        print(f"  {event:<17} received per client: min {min(counts)} max {max(counts)}")
    fills = sum(r["trade_executed"] for r in records)
    print(f"  trade_executed    received in total: {fills}")
    ms = [d * 1000.0 for d in delays]
    print(f"delivery delay (emit -> receipt, {len(ms)} deliveries): p50 {percentile(ms, 0.5):.1f} ms, "
          f"p99 {percentile(ms, 0.99):.1f} ms, max {max(ms) if ms else float('nan'):.1f} ms")


def report_api(latencies) -> None:
    for path, values in latencies.items():
        print(f"API {path:<24} {len(values)} requests: p50 {percentile(values, 0.5):.1f} ms, "
              f"p99 {percentile(values, 0.99):.1f} ms, max {max(values):.1f} ms")


if __name__ == "__main__":
    sys.exit(main())
