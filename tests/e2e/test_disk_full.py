"""The disk fills up under a real run_bot.py (headless and with the dashboard), then space returns.

Two ways to fill it: for real, a 200 KiB tmpfs mounted as the data dir and filled with a
filler file (root only: the mount is made here and undone in teardown), and, for everyone,
ENOSPC injected at the storage layer (tests/e2e/full_disk_run_bot.py). Either way, while the
disk is full trading pauses with the reason, the process stays up and /api/health answers 503
degraded; when space returns trading resumes by itself; at the end `run_bot.py verify` passes
and trades.jsonl, read here line by line, holds seq 1..N with no number reused.
"""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import FAST_CONFIG, REPO_ROOT, BotProcess, free_port, merge

pytestmark = pytest.mark.e2e

WRAPPER = Path(__file__).with_name("full_disk_run_bot.py")
REASON = "storage: No space left on device"


class RealTmpfs:
    """A 200 KiB tmpfs as the data dir; fill() writes a filler file until ENOSPC."""

    def __init__(self, data_dir: Path):
        if os.geteuid() != 0:
            pytest.skip("a real full disk needs root to mount a tmpfs (the injected-ENOSPC variant runs instead)")
        data_dir.mkdir(parents=True)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(data_dir)],
                                 capture_output=True, text=True)
        if mounted.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
        self.data_dir = data_dir
        self.filler = data_dir / "filler"

    def command(self) -> list[str]:
        return [sys.executable, "run_bot.py"]

    def fill(self) -> None:
        with open(self.filler, "wb", buffering=0) as handle:
            try:
                while True:
                    handle.write(b"\0" * 4096)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
            try:
                while True:  # the last partial page too
                    handle.write(b"\0")
            except OSError as exc:
                assert exc.errno == errno.ENOSPC

    def free(self) -> None:
        self.filler.unlink()

    def teardown(self) -> None:
        subprocess.run(["umount", "-l", str(self.data_dir)], capture_output=True)


class InjectedFull:
    """ENOSPC from bot.storage's writes under the data dir while a flag file exists."""

    def __init__(self, data_dir: Path):
        data_dir.mkdir(parents=True)
        self.data_dir = data_dir
        self.flag = data_dir.parent / "disk-is-full"

    def command(self) -> list[str]:
        return [sys.executable, str(WRAPPER), str(self.flag), str(self.data_dir)]

    def fill(self) -> None:
        self.flag.write_text("full")

    def free(self) -> None:
        self.flag.unlink()

    def teardown(self) -> None:
        pass


@pytest.fixture(params=["tmpfs", "injected"])
def disk(request, tmp_path):
    kind = RealTmpfs if request.param == "tmpfs" else InjectedFull
    made = kind(tmp_path / "data")
    yield made
    made.teardown()


def launch(disk, tmp_path: Path, dashboard: bool) -> BotProcess:
    log_dir = tmp_path / "logs"  # outside the full disk, so the activity records can be read
    log_dir.mkdir()
    settings = merge(FAST_CONFIG, {"storage": {"data_dir": str(disk.data_dir), "log_dir": str(log_dir)}})
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    port = free_port()
    arguments = ["--config", str(config_path), "--port", str(port)] + ([] if dashboard else ["--no-dashboard"])
    stdout_path, stderr_path = tmp_path / "bot.stdout.txt", tmp_path / "bot.stderr.txt"
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="1")
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        process = subprocess.Popen([*disk.command(), *arguments], cwd=REPO_ROOT, stdout=out, stderr=err,
                                   stdin=subprocess.DEVNULL, env=env)
    return BotProcess(process, f"http://127.0.0.1:{port}", port, disk.data_dir, log_dir, config_path,
                      stdout_path, stderr_path)


def ledger_lines(data_dir: Path) -> list[bytes]:
    path = data_dir / "trades.jsonl"
    return path.read_bytes().splitlines() if path.exists() else []


def activity(bot: BotProcess) -> list[dict]:
    path = bot.log_dir / "activity.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.endswith(b"}")]


def health(bot: BotProcess) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(bot.base_url + "/api/health", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize("dashboard", [False, True], ids=["headless", "dashboard"])
def test_disk_full_pauses_trading_and_space_coming_back_resumes_it(disk, tmp_path, dashboard):
    bot = launch(disk, tmp_path, dashboard)
    try:
        if dashboard:
            bot.wait_until(lambda: health(bot)[0] == 200, timeout=90, what="/api/health ok")
        bot.wait_until(lambda: len(ledger_lines(disk.data_dir)) >= 5, timeout=120, what="five trades")
        before_fault = len(ledger_lines(disk.data_dir))
        disk.fill()
        pause = bot.wait_until(lambda: next((e for e in activity(bot) if e["event"] == "bot_paused"), None),
                               timeout=60, what="the storage pause")
        assert pause["reason"] == REASON
        errors = [e for e in activity(bot) if e["event"] == "errors" and e.get("kind") == "storage"]
        assert errors and errors[0]["message"].endswith("No space left on device")
        at_pause = ledger_lines(disk.data_dir)
        if dashboard:
            code, body = health(bot)
            assert code == 503 and body["status"] == "degraded" and body["paused_by"] == "storage"
            assert any(r.startswith("storage failing: ") for r in body["reasons"])
            assert body["pause_reason"] == REASON
            # The market goes on (ticks), trading does not.
            tick = body["tick"]
            bot.wait_until(lambda: health(bot)[1]["tick"] >= tick + 40, timeout=60, what="40 more ticks while paused")
            code, body = health(bot)
            trades_at_pause = sum(1 for line in at_pause if "entry" not in json.loads(line))  # not transfers
            assert code == 503 and body["trades"] == trades_at_pause
            assert bot.get_json("/api/status")["paused_by"] == "storage"
        assert bot.process.poll() is None, "the bot stays up on a full disk"
        assert ledger_lines(disk.data_dir) == at_pause, "paused: no trade written"
        disk.free()
        bot.wait_until(lambda: any(e["event"] == "storage_recovered" for e in activity(bot)), timeout=60,
                       what="the storage probe to succeed")
        resumed = [e for e in activity(bot) if e["event"] == "bot_resumed"]
        assert resumed, "trading resumed by itself"
        if dashboard:
            bot.wait_until(lambda: health(bot)[0] == 200, timeout=30, what="/api/health ok again")
        bot.wait_until(lambda: len(ledger_lines(disk.data_dir)) >= len(at_pause) + 5, timeout=120,
                       what="five more trades after the fault")
        code = bot.stop()
        assert code == 0, bot.output()
    finally:
        if bot.process.poll() is None:
            bot.process.kill()
            bot.process.wait(timeout=10)
    lines = ledger_lines(disk.data_dir)
    assert lines[: len(at_pause)] == at_pause, "every trade written before the fault is unchanged"
    trades = [json.loads(line) for line in lines]
    assert [t["seq"] for t in trades] == list(range(1, len(trades) + 1)), "seq 1..N: none reused, none skipped"
    assert len({t["id"] for t in trades}) == len(trades)
    check = subprocess.run([sys.executable, "run_bot.py", "verify", "--data-dir", str(disk.data_dir)], cwd=REPO_ROOT,
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    print(f"\n[{'dashboard' if dashboard else 'headless'}] trades before the fault {before_fault}, at the pause "
          f"{len(at_pause)}, at the end {len(trades)}; first storage error {errors[0]['message']!r}; verify: "
          f"{check.stdout.strip().splitlines()[-1]}")
