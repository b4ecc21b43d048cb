"""run_bot.py as a user runs it: determinism, verify, crashes, damaged files, bad input, signals."""
import json
import os
import signal
import subprocess
import sys

import pytest
from tests.polling import wait_for
from tests.run_bot_process import ROOT, bot, copy_of, headless


@pytest.fixture(scope="module")
def ran_6000(tmp_path_factory):
    """The data dir of one 6,000-tick headless run (default seed), made once per module (worker)."""
    data = tmp_path_factory.mktemp("ran-6000") / "data"
    result = headless(data, "--max-ticks", 6000)
    assert result.returncode == 0, result.stderr
    return data


@pytest.mark.slow
def test_same_seed_gives_byte_identical_ledgers_and_verify_passes(tmp_path):
    a, b = tmp_path / "A" / "data", tmp_path / "B" / "data"
    for data in (a, b):
        result = headless(data, "--max-ticks", 20000, "--seed", 7)
        assert result.returncode == 0, result.stderr
        assert "momentum" in result.stdout and "win rate" in result.stdout  # the exit summary
    ledger_a = (a / "trades.jsonl").read_bytes()
    assert ledger_a == (b / "trades.jsonl").read_bytes()
    trades = [json.loads(line) for line in ledger_a.splitlines()]
    assert any(t["strategy"] == "momentum" for t in trades)
    for data in (a, b):
        check = bot("verify", "--data-dir", data)
        assert check.returncode == 0, check.stdout + check.stderr
        assert check.stdout.startswith("ledger:") and "OK" in check.stdout


def test_verify_reports_differences_and_exits_nonzero(tmp_path, ran_6000):
    data = copy_of(ran_6000, tmp_path)
    state = json.loads((data / "portfolio_state.json").read_text())
    state["balances"]["kraken"]["USDT"] = 1.0
    (data / "portfolio_state.json").write_text(json.dumps(state))
    check = bot("verify", "--data-dir", data)
    assert check.returncode == 1
    assert "MISMATCH" in check.stdout and "balance kraken USDT" in check.stdout


def test_sigkill_mid_run_then_restart_resumes_and_loses_no_trade(tmp_path):
    data = tmp_path / "data"
    process = subprocess.Popen([sys.executable, "run_bot.py", "--no-dashboard", "--fast", "--max-ticks", "2000000",
                                "--data-dir", data, "--log-dir", tmp_path / "logs"], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ledger = data / "trades.jsonl"
    try:
        wait_for(lambda: ledger.exists() and ledger.read_bytes().count(b"\n") >= 8, 120, "eight trades")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    # The killed bot's lock file is left behind with its PID; the kernel dropped the flock itself.
    assert (data / ".lock").read_text() == f"{process.pid}\n"
    before = ledger.read_bytes()
    complete = before[: before.rfind(b"\n") + 1]  # a line torn by the kill may follow
    restart = headless(data, "--max-ticks", 3000)
    assert restart.returncode == 0, restart.stderr
    after = ledger.read_bytes()
    assert after.startswith(complete), "every trade appended before the kill is still there, unchanged"
    assert bot("verify", "--data-dir", data).returncode == 0
    state = json.loads((data / "portfolio_state.json").read_text())
    last_tick_before = json.loads(complete.splitlines()[-1])["tick"]
    assert state["engine"]["next_tick"] >= last_tick_before + 3000, "the market went on, not from the start"
    assert not list(data.glob(".*.tmp"))


def test_torn_last_ledger_line_is_ignored_with_a_warning(tmp_path, ran_6000):
    data = copy_of(ran_6000, tmp_path)
    ledger = data / "trades.jsonl"
    good = ledger.read_bytes()
    with open(ledger, "ab") as handle:
        handle.write(b'{"id":"T99","seq":')
    result = headless(data, "--max-ticks", 500)
    assert result.returncode == 0, result.stderr
    assert "torn" in result.stderr
    assert ledger.read_bytes().startswith(good)
    assert bot("verify", "--data-dir", data).returncode == 0


def test_corrupt_ledger_line_in_the_middle_exits_2_naming_file_and_line(tmp_path, ran_6000):
    data = copy_of(ran_6000, tmp_path)
    ledger = data / "trades.jsonl"
    lines = ledger.read_text().splitlines(keepends=True)
    assert len(lines) >= 3
    lines[1] = lines[1][:40] + "\n"
    ledger.write_text("".join(lines))
    # .lock is not data: it holds the PID of whoever holds the data dir, this start included.
    before = {p.name: p.read_bytes() for p in data.iterdir() if p.name != ".lock"}
    result = headless(data, "--max-ticks", 100)
    assert result.returncode == 2
    assert f"{ledger}:2" in result.stderr
    assert {p.name: p.read_bytes() for p in data.iterdir() if p.name != ".lock"} == before
    assert bot("verify", "--data-dir", data).returncode == 2


@pytest.mark.parametrize("config_text, message", [
    ("strategies:\n  momentum:\n    fast: 30\n", "strategies.momentum.fast: must be < slow (got 30 >= 26)"),
    ("market:\n  sourse: live\n", "market.sourse: unknown setting"),
    ("market: [1, 2\n", "is not valid YAML"),
])
def test_bad_config_exits_2_with_one_line_naming_the_setting(tmp_path, config_text, message):
    config = tmp_path / "bad.yaml"
    config.write_text(config_text)
    result = bot("--config", config, "--no-dashboard", "--data-dir", tmp_path / "data")
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "data").exists()


def test_bad_arguments_exit_2(tmp_path):
    assert bot("--max-ticks", "0", "--no-dashboard").returncode == 2
    assert bot("--market", "paper").returncode == 2
    assert bot("verify", "--data-dir", tmp_path / "nowhere").returncode == 2


def test_help_lists_every_option():
    result = bot("--help")
    assert result.returncode == 0
    for option in ("--config", "--data-dir", "--log-dir", "--host", "--port", "--seed", "--market",
                   "--no-dashboard", "--max-ticks", "--fast", "verify"):
        assert option in result.stdout


def test_sigterm_stops_a_real_time_run_cleanly_with_state_flushed(tmp_path):
    config = tmp_path / "fast-clock.yaml"
    config.write_text("engine:\n  tick_interval_seconds: 0.01\nstorage:\n  fsync: false\n")
    data, logs = tmp_path / "data", tmp_path / "logs"
    process = subprocess.Popen([sys.executable, "run_bot.py", "--config", config, "--no-dashboard",
                                "--data-dir", data, "--log-dir", logs], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state = data / "portfolio_state.json"

    def ticked():
        try:
            return json.loads(state.read_text())["engine"]["next_tick"] > 0
        except (OSError, ValueError, KeyError):
            return False

    try:
        wait_for(ticked, 60, "the scheduler to run ticks")
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "win rate" in out
    events = [json.loads(line)["event"] for line in (logs / "activity.jsonl").read_text().splitlines()]
    assert events[0] == "bot_started" and events[-1] == "bot_stopped"
    assert bot("verify", "--data-dir", data).returncode == 0


def test_progress_bar_on_a_terminal_and_none_in_a_pipe(tmp_path):
    import pty

    main, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "run_bot.py", "--no-dashboard", "--fast", "--max-ticks", "3000",
                                "--data-dir", tmp_path / "data", "--log-dir", tmp_path / "logs"], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the terminal closes when the process exits
            break
        if not chunk:
            break
        output += chunk
    process.wait(timeout=60)
    os.close(main)
    text = output.decode(errors="replace")
    assert process.returncode == 0
    assert "3000/3000 ticks" in text and "100.0%" in text and "ticks/s" in text
    piped = headless(tmp_path / "data2", "--max-ticks", 1000)
    assert "ticks/s" not in piped.stderr


def test_verify_reads_only_a_torn_tail_and_a_stale_state_stay_as_they_were(tmp_path, ran_6000):
    data = copy_of(ran_6000, tmp_path)
    ledger = data / "trades.jsonl"
    lines = ledger.read_bytes().splitlines(keepends=True)
    assert len(lines) >= 2
    state = json.loads((data / "portfolio_state.json").read_text())
    last = json.loads(lines[-1])
    # The state as it was before the last trade's line (a crash between the two writes), then a torn line.
    state["last_seq"] = last["seq"] - 1
    (data / "portfolio_state.json").write_text(json.dumps(state))
    with open(ledger, "ab") as handle:
        handle.write(b'{"id":"T99","seq":')
    before = {p.name: p.read_bytes() for p in data.iterdir() if p.name != ".lock"}
    check = bot("verify", "--data-dir", data)
    assert check.returncode == 1
    trades = sum(1 for line in lines if "entry" not in json.loads(line))  # transfers, borrow fees are not trades
    assert check.stdout.startswith(f"ledger: {trades} trades (last seq {last['seq']}); "
                                   f"state: last seq {last['seq'] - 1}\n")
    assert f"last_seq: ledger {last['seq']} vs state {last['seq'] - 1}" in check.stdout
    assert {p.name: p.read_bytes() for p in data.iterdir() if p.name != ".lock"} == before
