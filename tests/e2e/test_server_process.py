"""The real server: run_bot.py (eventlet) as a subprocess, driven over HTTP and Socket.IO.

No browser here: a python-socketio client receives the broadcasts, then SIGTERM must stop
the bot cleanly (exit 0) with a data dir that `run_bot.py verify` accepts.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import socketio

from tests.e2e.conftest import start_bot

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
STOP_SECONDS = 30.0


def wait_until(condition, timeout: float, what: str, process: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(f"run_bot.py exited with {process.returncode} while waiting for {what}")
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def health(base: str):
    try:
        response = requests.get(base + "/api/health", timeout=2)
    except requests.RequestException:
        return None
    return response.json() if response.status_code == 200 else None


@pytest.fixture
def bot(tmp_path):
    """The bot on the shared e2e harness's start (a port lost to another process is retried)."""
    running = start_bot(tmp_path, {"storage": {"fsync": False}})
    try:
        yield running.process, running.base_url, running
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait(10)


def test_broadcasts_then_clean_stop(bot):
    process, base, running = bot
    first = health(base)
    assert first["status"] == "ok" and first["state"] == "running" and first["market_source"] == "simulated"

    received: dict[str, list] = {}
    lock = threading.Lock()

    def record(event, data):
        with lock:
            received.setdefault(event, []).append((time.time(), data))

    def count(event):
        with lock:
            return len(received.get(event, []))

    client = socketio.Client(reconnection=False)
    client.on("*", record)
    client.connect(base, transports=["websocket"], wait_timeout=10)
    try:
        # The greeting: every update and the status at once, then the periodic broadcasts.
        wait_until(lambda: count("portfolio_update") >= 4, 20, "three broadcasts after the greeting", process)
        with lock:
            events = set(received)
            portfolio = [data for _, data in received["portfolio_update"]]
            trades = received["trades_update"][-1][1]
        assert {"portfolio_update", "trades_update", "strategies_update", "alerts_update", "market_update",
                "bot_status"} <= events
        assert portfolio[0]["broadcast_seq"] == 0
        seqs = [p["broadcast_seq"] for p in portfolio[1:]]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # none missed
        assert isinstance(trades["trades"], list) and len(trades["trades"]) <= 10
        assert portfolio[-1]["equity"] > 0 and portfolio[-1]["as_of"] is not None
        # HTTP answers beside the websocket.
        api_trades = requests.get(base + "/api/trades?limit=10", timeout=5).json()
        assert api_trades["total"] >= len(api_trades["trades"])
        assert "bot_ticks_total" in requests.get(base + "/metrics", timeout=5).text
        # Several candles in: stat_arb's cointegration round ran in a real OS thread (eventlet's
        # pool) and was applied; any failure there would be a counted strategy error.
        wait_until(lambda: requests.get(base + "/api/status", timeout=5).json()["tick"] >= 30, 30, "30 ticks")
        performance = requests.get(base + "/api/strategies/performance", timeout=5).json()["strategies"]
        assert {row["strategy"]: row["errors"] for row in performance} == \
            {"arbitrage": 0, "momentum": 0, "news": 0, "stat_arb": 0}

        process.send_signal(signal.SIGTERM)  # with the client still connected
        assert process.wait(STOP_SECONDS) == 0, running.output()
    finally:
        client.disconnect()

    verify = subprocess.run([sys.executable, "run_bot.py", "verify", "--data-dir", str(running.data_dir)],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "OK" in verify.stdout
