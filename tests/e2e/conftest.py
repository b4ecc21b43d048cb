"""End-to-end fixtures: run_bot.py as a real subprocess on a free port, with its own data dir.

`start_bot(tmp_dir, ...)` starts one and waits (with a deadline, no fixed sleeps) until
GET /api/health answers; `BotProcess.stop()` sends SIGTERM and returns the exit code.
`bot_server` is a module-scoped running bot tuned to trade often, stopped at the end with
an assertion that it exited 0.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 30.0

# Trades often: 10 simulated seconds per tick (a 1-minute candle every 6 ticks), 20 ticks a
# second, a fast momentum crossover without cooldown, and a broadcast twice a second.
FAST_CONFIG = {
    "market": {"tick_seconds": 10.0, "simulator": {"news_per_hour": 600.0, "whales_per_hour": 60.0}},
    "strategies": {"momentum": {"fast": 3, "slow": 8, "cooldown_seconds": 0.0, "max_open_positions": 20}},
    "engine": {"tick_interval_seconds": 0.05},
    "dashboard": {"broadcast_seconds": 0.5},
    "storage": {"fsync": False},
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def merge(base: dict, extra: dict) -> dict:
    """A deep merge of two config dicts (extra wins)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


@dataclass
class BotProcess:
    """A running run_bot.py: its URL, directories and process."""

    process: subprocess.Popen
    base_url: str
    port: int
    data_dir: Path
    log_dir: Path
    config_path: Path
    stdout_path: Path
    stderr_path: Path
    exit_code: int | None = field(default=None)

    def get_json(self, path: str, timeout: float = 10.0):
        with urllib.request.urlopen(self.base_url + path, timeout=timeout) as response:
            return json.loads(response.read().decode("utf-8"))

    def get_text(self, path: str, timeout: float = 30.0) -> str:
        with urllib.request.urlopen(self.base_url + path, timeout=timeout) as response:
            return response.read().decode("utf-8")

    def output(self) -> str:
        out = self.stdout_path.read_text(encoding="utf-8", errors="replace") if self.stdout_path.exists() else ""
        err = self.stderr_path.read_text(encoding="utf-8", errors="replace") if self.stderr_path.exists() else ""
        return f"--- stdout ---\n{out[-4000:]}\n--- stderr ---\n{err[-12000:]}"

    def wait_until(self, predicate, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
        """Poll predicate() until it returns something truthy; fail with the bot's output."""
        deadline = time.monotonic() + timeout
        last_error = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the bot exited with {self.process.returncode} while waiting for {what}\n{self.output()}")
            try:
                result = predicate()
                if result:
                    return result
            except (urllib.error.URLError, OSError, ValueError) as exc:
                last_error = exc
            time.sleep(interval)
        pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_error})\n{self.output()}")

    def stop(self) -> int:
        """SIGTERM, wait for the exit, return its code (kills and fails after a deadline)."""
        if self.exit_code is not None:
            return self.exit_code
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                # SIGABRT makes faulthandler (PYTHONFAULTHANDLER=1) print every thread's stack.
                self.process.send_signal(signal.SIGABRT)
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=10)
                pytest.fail(f"the bot did not stop within {STOP_TIMEOUT_SECONDS:.0f}s of SIGTERM\n{self.output()}")
        self.exit_code = self.process.returncode
        return self.exit_code


def start_bot(tmp_dir: Path, config: dict | None = None, extra_args: tuple[str, ...] = (),
              seed_trades: list[dict] | None = None) -> BotProcess:
    """Start run_bot.py with FAST_CONFIG merged with config; wait for /api/health.

    seed_trades are written to data/trades.jsonl before the start (a ledger to resume from).
    """
    tmp_dir = Path(tmp_dir)
    data_dir, log_dir = tmp_dir / "data", tmp_dir / "logs"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    if seed_trades:
        with open(data_dir / "trades.jsonl", "w", encoding="utf-8") as handle:
            for trade in seed_trades:
                handle.write(json.dumps(trade) + "\n")
    settings = merge(FAST_CONFIG, config or {})
    settings = merge(settings, {"storage": {"data_dir": str(data_dir), "log_dir": str(log_dir)}})
    config_path = tmp_dir / "config.yaml"
    config_path.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    port = free_port()
    stdout_path, stderr_path = tmp_dir / "bot.stdout.txt", tmp_dir / "bot.stderr.txt"
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="1")
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        process = subprocess.Popen(
            [sys.executable, "run_bot.py", "--config", str(config_path), "--port", str(port), *extra_args],
            cwd=REPO_ROOT, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
    bot = BotProcess(process, f"http://127.0.0.1:{port}", port, data_dir, log_dir, config_path,
                     stdout_path, stderr_path)
    try:
        bot.wait_until(lambda: bot.get_json("/api/health", timeout=2.0).get("status") == "ok",
                       timeout=START_TIMEOUT_SECONDS, interval=0.2, what="GET /api/health")
    except BaseException:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        raise
    return bot


@pytest.fixture(scope="module")
def bot_server(tmp_path_factory):
    """A running bot for the whole module; at the end SIGTERM must end it with exit code 0."""
    bot = start_bot(tmp_path_factory.mktemp("bot"))
    try:
        yield bot
    finally:
        code = bot.stop()
    assert code == 0, f"run_bot.py exited with {code} after SIGTERM\n{bot.output()}"
