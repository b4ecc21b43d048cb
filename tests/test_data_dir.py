"""run_bot.py and its data dir: one process at a time, and start-up storage errors in one line.

A second bot, or `verify`, while a bot runs is refused (exit 2, one line naming the data dir
and the PID holding it) and changes nothing; a bot killed with SIGKILL never blocks the next
start; a read-only, full, uncreatable or forbidden data dir gives one line naming the path
and the cause (exit 2), no traceback.
"""
import json
import os
import signal
import subprocess
import sys

import pytest

from tests.polling import wait_for
from tests.run_bot_process import ROOT, bot, copy_of, headless

IS_ROOT = os.geteuid() == 0


@pytest.fixture(scope="module")
def ran_3000(tmp_path_factory):
    """The data dir of one 3,000-tick headless run (default seed), made once per module (worker)."""
    data = tmp_path_factory.mktemp("ran-3000") / "data"
    result = headless(data, "--max-ticks", 3000)
    assert result.returncode == 0, result.stderr
    return data


def start_long_run(tmp_path):
    data = tmp_path / "data"
    process = subprocess.Popen([sys.executable, "run_bot.py", "--no-dashboard", "--fast", "--max-ticks", "2000000",
                                "--data-dir", data, "--log-dir", tmp_path / "logs"], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ledger = data / "trades.jsonl"
    wait_for(lambda: ledger.exists() and ledger.read_bytes().count(b"\n") >= 8, 120, "eight trades")
    return process, data


def one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got:\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return lines[0]


def test_a_second_bot_and_verify_are_refused_while_one_runs_and_change_nothing(tmp_path):
    process, data = start_long_run(tmp_path)
    try:
        process.send_signal(signal.SIGSTOP)  # frozen mid-run, lock held: its files cannot change under us
        before = {p.name: p.read_bytes() for p in data.iterdir()}
        second = headless(data, "--max-ticks", 1000)
        assert second.returncode == 2
        line = one_line_error(second)
        assert line == (f"error: data dir {data} is in use by another bot (PID {process.pid} holds {data / '.lock'}); "
                        "stop it first or choose another --data-dir")
        check = bot("verify", "--data-dir", data)
        assert check.returncode == 2 and one_line_error(check) == line
        assert {p.name: p.read_bytes() for p in data.iterdir()} == before, "byte for byte untouched"
        process.send_signal(signal.SIGCONT)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
            process.wait(timeout=30)
    lines = (data / "trades.jsonl").read_bytes().splitlines()
    assert lines[: len(before["trades.jsonl"].splitlines())] == before["trades.jsonl"].splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, len(lines) + 1))
    check = bot("verify", "--data-dir", data)
    assert check.returncode == 0, check.stdout + check.stderr


def test_after_a_sigkill_the_stale_lock_blocks_neither_a_restart_nor_verify(tmp_path):
    process, data = start_long_run(tmp_path)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert (data / ".lock").read_text() == f"{process.pid}\n", "the killed bot's PID is still in the file"
    complete = (data / "trades.jsonl").read_bytes()
    complete = complete[: complete.rfind(b"\n") + 1]
    restart = headless(data, "--max-ticks", 2000)
    assert restart.returncode == 0, restart.stderr
    assert (data / "trades.jsonl").read_bytes().startswith(complete)
    assert bot("verify", "--data-dir", data).returncode == 0


def test_a_data_dir_that_cannot_be_created_is_one_line_exit_2(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = headless(blocker / "data", "--max-ticks", 10)
    assert result.returncode == 2
    line = one_line_error(result)
    assert line.startswith(f"error: {blocker / 'data'}: cannot use it as the data dir: ") or \
        line.startswith(f"error: {blocker}"), line
    assert "Not a directory" in line


def test_a_read_only_data_dir_is_one_line_exit_2_and_verify_still_reads_it(tmp_path, ran_3000):
    data = copy_of(ran_3000, tmp_path)
    if IS_ROOT:  # root writes through chmod: make the file system itself read-only
        subprocess.run(["mount", "--bind", str(data), str(data)], check=True)
        try:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(data)], check=True)
            result = headless(data, "--max-ticks", 10)
            check = bot("verify", "--data-dir", data)
        finally:
            subprocess.run(["umount", "-l", str(data)], check=True)
        cause = "Read-only file system"
    else:
        data.chmod(0o555)
        try:
            result = headless(data, "--max-ticks", 10)
            check = bot("verify", "--data-dir", data)
        finally:
            data.chmod(0o755)
        cause = "Permission denied"
    assert result.returncode == 2
    assert one_line_error(result) == f"error: {data}: cannot use it as the data dir: {cause}"
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_forbidden_data_dir_is_one_line_exit_2(tmp_path, ran_3000):
    data = copy_of(ran_3000, tmp_path)
    if IS_ROOT:  # root passes any chmod, not an immutable folder
        subprocess.run(["chattr", "+i", str(data)], check=True)
        try:
            result = headless(data, "--max-ticks", 10)
        finally:
            subprocess.run(["chattr", "-i", str(data)], check=True)
        expected = f"error: {data}: cannot use it as the data dir: Operation not permitted"
    else:
        (data / "trades.jsonl").chmod(0o000)
        try:
            result = headless(data, "--max-ticks", 10)
        finally:
            (data / "trades.jsonl").chmod(0o644)
        expected = f"error: {data / 'trades.jsonl'}: Permission denied"
    assert result.returncode == 2
    assert one_line_error(result) == expected


@pytest.mark.skipif(not IS_ROOT, reason="a full disk at start needs root to mount a tmpfs "
                                        "(tests/e2e/test_disk_full.py injects ENOSPC instead)")
def test_a_full_data_dir_at_start_is_one_line_exit_2(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(data)], check=True)
    try:
        with open(data / "filler", "wb", buffering=0) as handle:
            try:
                while True:
                    handle.write(b"\0" * 1024)
            except OSError:
                pass
        result = headless(data, "--max-ticks", 10)
    finally:
        subprocess.run(["umount", "-l", str(data)], check=True)
    assert result.returncode == 2
    assert one_line_error(result) == \
        f"error: {data / 'portfolio_state.json'}: cannot replace the file: No space left on device"
