"""Idle-connection benchmark: does /api/health still answer while one address holds thousands
of idle sockets to the real server (run_bot.py, eventlet)?

Starts run_bot.py on a free port with a temp data dir, then measures GET /api/health from
another loopback address (127.0.0.2), each request on a new connection, p50/max over
--requests requests: first with no other connection, then with --idle idle TCP sockets open
from 127.0.0.1 (connected, never sending a byte). It also reports how many of the idle sockets
the server refused at once (over its per-address cap) and how long it took to close the ones
it held (its idle timeout). Traffic goes only to 127.0.0.x, bounded in count and time.

Usage: .venv/bin/python bench/idle_connections.py [--idle 4200] [--requests 20]
Target: every request answered, max latency < 1 s with the idle sockets open.
"""
from __future__ import annotations

import argparse
import resource
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
CLIENT_ADDRESS = "127.0.0.2"
IDLE_ADDRESS = "127.0.0.1"
MAX_IDLE = 20_000
START_SECONDS = 90.0
REQUEST_TIMEOUT_SECONDS = 10.0
CLOSE_WAIT_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def raise_open_file_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def health_once(port: int) -> tuple[float, int | None]:
    """(seconds, HTTP status or None on a failure) for one GET /api/health on a new connection."""
    started = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=REQUEST_TIMEOUT_SECONDS,
                                      source_address=(CLIENT_ADDRESS, 0)) as connection:
            connection.sendall(f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                               f"Connection: close\r\n\r\n".encode())
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
        status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else None
    except (OSError, ValueError, IndexError):
        status = None
    return time.perf_counter() - started, status


def measure(port: int, count: int) -> dict:
    results = [health_once(port) for _ in range(count)]
    seconds = [s for s, status in results if status == 200]  # a refused connect fails fast: not a latency
    return {"answered": len(seconds), "count": count,
            "p50_ms": statistics.median(seconds) * 1000 if seconds else None,
            "max_ms": max(seconds) * 1000 if seconds else None}


def open_idle(port: int, count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        idle = socket.socket()
        idle.settimeout(REQUEST_TIMEOUT_SECONDS)
        idle.bind((IDLE_ADDRESS, 0))
        idle.connect(("127.0.0.1", port))
        sockets.append(idle)
    return sockets


def wait_for_closes(sockets: list[socket.socket], seconds: float) -> list[float]:
    """Seconds after which the server closed each socket (EOF or reset); missing ones stayed open."""
    started = time.monotonic()
    selector = selectors.DefaultSelector()
    for idle in sockets:
        idle.setblocking(False)
        selector.register(idle, selectors.EVENT_READ)
    closed_after = []
    open_count = len(sockets)
    while open_count and time.monotonic() - started < seconds:
        for key, _ in selector.select(timeout=0.5):
            try:
                data = key.fileobj.recv(65536)
            except OSError:
                data = b""
            if not data:
                selector.unregister(key.fileobj)
                closed_after.append(time.monotonic() - started)
                open_count -= 1
    selector.close()
    return closed_after


def start_bot(directory: Path, port: int) -> subprocess.Popen:
    config = {"engine": {"tick_interval_seconds": 0.5},
              "storage": {"data_dir": str(directory / "data"), "log_dir": str(directory / "logs"),
                          "fsync": False}}
    config_path = directory / "config.yaml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    output = open(directory / "output.txt", "wb")
    process = subprocess.Popen([sys.executable, "run_bot.py", "--config", str(config_path), "--port", str(port)],
                               cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"run_bot.py exited with {process.returncode}; see {directory / 'output.txt'}")
        if health_once(port)[1] == 200:
            return process
        time.sleep(0.2)
    process.kill()
    raise SystemExit("run_bot.py did not answer /api/health in time")


def report(label: str, figures: dict) -> None:
    def shown(value):
        return "      -" if value is None else f"{value:7.1f}"

    print(f"{label:<28} answered {figures['answered']}/{figures['count']}  "
          f"p50 {shown(figures['p50_ms'])} ms  max {shown(figures['max_ms'])} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=int, default=4200, help=f"idle sockets from {IDLE_ADDRESS} (max {MAX_IDLE})")
    parser.add_argument("--requests", type=int, default=20, help="health requests per measurement")
    args = parser.parse_args()
    idle_count = max(0, min(args.idle, MAX_IDLE))
    raise_open_file_limit(idle_count + 1024)
    with tempfile.TemporaryDirectory(prefix="idle-bench-") as directory:
        port = free_port()
        process = start_bot(Path(directory), port)
        sockets: list[socket.socket] = []
        try:
            measure(port, 3)  # warm-up: the first requests pay for imports and caches
            report("no idle sockets", measure(port, args.requests))
            started = time.perf_counter()
            sockets = open_idle(port, idle_count)
            print(f"opened {len(sockets)} idle sockets from {IDLE_ADDRESS} in {time.perf_counter() - started:.1f}s")
            report(f"with {len(sockets)} idle sockets", measure(port, args.requests))
            closed = wait_for_closes(sockets, CLOSE_WAIT_SECONDS)
            refused = [s for s in closed if s < 1.0]
            held = sorted(s for s in closed if s >= 1.0)
            print(f"closed by the server: {len(refused)} at once (refused), "
                  f"{len(held)} later (idle timeout, last {held[-1] if held else 0:.1f}s after the watch began), "
                  f"{len(sockets) - len(closed)} still open after {CLOSE_WAIT_SECONDS:.0f}s")
            report("after the idle sockets", measure(port, args.requests))
        finally:
            for idle in sockets:
                idle.close()
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        print(f"run_bot.py exited with {process.returncode}")


if __name__ == "__main__":
    main()
