"""kill -9 at random moments loses nothing: no ledger line, no acknowledged journal or alert write.

Each kill is real (SIGKILL to a run_bot.py subprocess), each restart runs on the same data dir,
and what must survive is read back from the files on disk (the ledger) or from the restarted
bot's API (writes that were answered 201 before the kill).
"""
from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO_ROOT, start_bot
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

FAST_KILLS = 20
WRITE_KILLS = 5


def _ledger_lines(path: Path) -> list[bytes]:
    data = path.read_bytes() if path.exists() else b""
    return data[: data.rfind(b"\n") + 1].splitlines(keepends=True)


def test_twenty_kills_at_random_points_of_a_fast_run_lose_no_trade(tmp_path):
    rng = random.Random(20261201)
    data, logs = tmp_path / "data", tmp_path / "logs"
    ledger = data / "trades.jsonl"
    kept: list[bytes] = []
    for round_number in range(FAST_KILLS):
        process = subprocess.Popen(
            [sys.executable, "run_bot.py", "--no-dashboard", "--fast", "--max-ticks", "5000000",
             "--data-dir", str(data), "--log-dir", str(logs)],
            cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        target = len(kept) + rng.randint(1, 12)
        try:
            wait_for(lambda: process.poll() is not None or len(_ledger_lines(ledger)) >= target, 120,
                     f"round {round_number}: {target} trades")
            assert process.poll() is None, process.stderr.read().decode(errors="replace")
            # A random moment after the target count, so kills land inside appends and state writes too.
            time.sleep(rng.uniform(0.0, 0.05))
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            process.stderr.close()
        lines = _ledger_lines(ledger)
        assert lines[: len(kept)] == kept, f"round {round_number}: a trade recorded before a kill changed or vanished"
        kept = lines
    final = subprocess.run([sys.executable, "run_bot.py", "--no-dashboard", "--fast", "--max-ticks", "200",
                            "--data-dir", str(data), "--log-dir", str(logs)],
                           cwd=REPO_ROOT, capture_output=True, text=True, timeout=180)
    assert final.returncode == 0, final.stderr
    lines = _ledger_lines(ledger)
    assert lines[: len(kept)] == kept
    seqs = [json.loads(line)["seq"] for line in lines]
    assert seqs == list(range(1, len(seqs) + 1)), "sequence numbers 1..N, none reused or skipped"
    assert len({json.loads(line)["id"] for line in lines}) == len(lines)
    check = subprocess.run([sys.executable, "run_bot.py", "verify", "--data-dir", str(data)],
                           cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr


class Writer(threading.Thread):
    """Posts journal notes and alert rules back to back; remembers every one answered 201."""

    def __init__(self, base_url: str, round_number: int):
        super().__init__(daemon=True)
        self.base_url = base_url
        self.round_number = round_number
        self.notes: list[str] = []
        self.rules: list[str] = []
        self.stop = threading.Event()
        page = urllib.request.urlopen(base_url + "/", timeout=10).read().decode("utf-8")
        self.token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)

    def _post(self, path: str, body: dict) -> dict | None:
        request = urllib.request.Request(self.base_url + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json", "X-CSRF-Token": self.token})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read()) if response.status == 201 else None
        except (urllib.error.URLError, OSError, ValueError):
            return None  # the kill came mid-request: not acknowledged, so not owed

    def run(self) -> None:
        number = 0
        while not self.stop.is_set():
            number += 1
            text = f"round {self.round_number} note {number}"
            answer = self._post("/api/journal/entry", {"trade_id": None, "entry_reason": text,
                                                       "confidence_level": 5, "rating": 3})
            if answer is not None:
                self.notes.append(answer["entry"]["id"])
            answer = self._post("/api/alerts", {"symbol": "BTC/USDT", "condition": "above", "price": 10_000_000 + number,
                                                "note": text})
            if answer is not None:
                self.rules.append(answer["rule"]["id"])


def test_five_kills_during_api_writes_lose_no_acknowledged_write(tmp_path):
    rng = random.Random(5)
    owed_notes: set[str] = set()
    owed_rules: set[str] = set()
    for round_number in range(WRITE_KILLS + 1):
        bot = start_bot(tmp_path)
        try:
            entries = {e["id"] for e in bot.get_json("/api/journal/entries")["entries"]}
            rules = {r["id"] for r in bot.get_json("/api/alerts")["rules"]}
            assert owed_notes <= entries, f"journal entries acknowledged before kill {round_number} are gone"
            assert owed_rules <= rules, f"alert rules acknowledged before kill {round_number} are gone"
            if round_number == WRITE_KILLS:
                break
            writer = Writer(bot.base_url, round_number)
            writer.start()
            wanted = rng.randint(5, 30)
            bot.wait_until(lambda: len(writer.notes) + len(writer.rules) >= wanted, 60, what=f"{wanted} writes")
            time.sleep(rng.uniform(0.0, 0.05))  # a random moment, often mid-request
            bot.process.send_signal(signal.SIGKILL)
            bot.process.wait(timeout=30)
            writer.stop.set()
            writer.join(timeout=30)
            owed_notes |= set(writer.notes)
            owed_rules |= set(writer.rules)
        finally:
            if bot.process.poll() is None:
                bot.stop()
    assert len(owed_notes) + len(owed_rules) >= WRITE_KILLS * 5
    assert bot.stop() == 0
