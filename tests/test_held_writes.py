"""A fast run writes equity samples and activity lines a block at a time (EquityLog.hold,
ActivityLog.hold): the same bytes as writing each at once, none on disk early, none lost at a
checkpoint, at the run's end or at close, and a refused block still waits (equity) or is counted
(activity). The files are read back separately from what wrote them."""
from __future__ import annotations

import json

import pytest

from bot import engine as engine_module
from bot.accounting.equity_log import EQUITY_FILE, EquityLog
from bot.notify.activity import ACTIVITY_FILE, ActivityLog
from tests.candle_files import candle_engine, write_walk
from tests.test_textbook_backtest import textbook_config

LINE = '{"schema_version":1,"ts":"2026-01-01T00:0%d:00.000Z","equity":1.5,"trading_equity":1.5,' \
       '"holdings_pnl":0.0,"strategies":{}}'


@pytest.fixture(scope="module")
def candles(tmp_path_factory):
    folder = tmp_path_factory.mktemp("held-candles")
    write_walk(folder, "binance", "BTC/USDT", bars=2500, seed=21)
    return folder


def on_disk(path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def test_held_samples_reach_the_disk_only_in_blocks_and_at_flush_and_close(tmp_path):
    log = EquityLog(tmp_path)
    log.hold = 3
    log.append_lines([LINE % 0])
    log.append_lines([LINE % 1])
    assert on_disk(tmp_path / EQUITY_FILE) == [] and log.held == 2 and log.written == 0
    log.append_lines([LINE % 2])  # the third: the block goes
    assert on_disk(tmp_path / EQUITY_FILE) == [LINE % k for k in range(3)] and log.held == 0
    log.append_lines([LINE % 3])
    log.flush()
    assert on_disk(tmp_path / EQUITY_FILE)[-1] == LINE % 3
    log.append_lines([LINE % 4])
    log.close()
    assert on_disk(tmp_path / EQUITY_FILE) == [LINE % k for k in range(5)] and log.written == 5


def test_a_refused_block_waits_and_goes_with_the_next_flush(tmp_path, monkeypatch):
    log = EquityLog(tmp_path)
    log.hold = 2
    log.append_lines([LINE % 0])
    log.flush()  # opens the file
    writer = log._writer
    real = writer.append_encoded

    def refuse(lines):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "append_encoded", refuse)
    log.append_lines([LINE % 1])
    with pytest.raises(OSError):
        log.append_lines([LINE % 2])
    assert log.held == 2 and log.failures == 1 and on_disk(tmp_path / EQUITY_FILE) == [LINE % 0]
    monkeypatch.setattr(writer, "append_encoded", real)
    log.close()
    assert on_disk(tmp_path / EQUITY_FILE) == [LINE % k for k in range(3)]


def test_held_activity_lines_are_written_in_order_and_a_bad_one_costs_only_itself(tmp_path):
    log = ActivityLog(tmp_path)
    log.hold = 4
    log.record("one", n=1)
    log.trades_executed("momentum", "m-1", "momentum_entry", ["T1"], "filled", "bad \ud800")  # no UTF-8 for it
    log.record("two", n=2)
    assert on_disk(tmp_path / ACTIVITY_FILE) == []
    log.record("three", n=3)  # the fourth: the block goes, less the line that cannot be encoded
    events = [json.loads(line)["event"] for line in on_disk(tmp_path / ACTIVITY_FILE)]
    assert events == ["one", "two", "three"] and log.write_errors == 1
    log.record("four", n=4)
    log.close()
    assert [json.loads(line)["event"] for line in on_disk(tmp_path / ACTIVITY_FILE)][-1] == "four"


def _engine(candles, root, fast_forward=True):
    return candle_engine(textbook_config(candles), root, fast_forward)


def test_a_fast_run_leaves_nothing_held_and_writes_what_stepping_writes(candles, tmp_path):
    fast = _engine(candles, tmp_path / "fast")
    fast.run_fast(None)
    assert fast.equity_log.held == 0 and fast.equity_log.hold == 0 and fast.activity.hold == 0
    samples = len(fast.portfolio.equity_history)
    # Before close: what the run wrote is on disk, every sample and every fill's activity line.
    assert len(on_disk(tmp_path / "fast" / "data" / EQUITY_FILE)) >= min(samples, 1)
    fills = [json.loads(line) for line in on_disk(tmp_path / "fast" / "logs" / ACTIVITY_FILE)
             if '"trades_executed"' in line]
    assert sum(len(r["trades"]) for r in fills) == fast.ledger.count > 50
    fast.close()
    stepped = _engine(candles, tmp_path / "stepped", fast_forward=False)
    stepped.run_fast(None)
    stepped.close()
    assert (tmp_path / "fast" / "data" / EQUITY_FILE).read_bytes() == \
        (tmp_path / "stepped" / "data" / EQUITY_FILE).read_bytes()


def test_each_checkpoint_of_a_fast_run_has_every_sample_and_line_on_disk(candles, tmp_path, monkeypatch):
    """The state file written mid-run (every STATE_WRITE_SECONDS: here on every call) comes after the
    samples and activity lines held so far, all on disk."""
    monkeypatch.setattr(engine_module, "STATE_WRITE_SECONDS", 0.0)
    engine = _engine(candles, tmp_path)
    checked = []
    write_state = engine.data_flow.write_state

    def check_then_write():
        if len(checked) < 40 or len(checked) % 50 == 0:
            equity = on_disk(tmp_path / "data" / EQUITY_FILE)
            activity = on_disk(tmp_path / "logs" / ACTIVITY_FILE)
            fills = sum(len(json.loads(line)["trades"]) for line in activity if '"trades_executed"' in line)
            assert engine.equity_log.held == 0 and len(equity) == engine.equity_log.written
            assert fills == engine.ledger.count, "every fill's activity line is on disk"
        checked.append(1)
        write_state()

    engine.data_flow.write_state = check_then_write
    engine.run_fast(None)
    engine.close()
    assert len(checked) > 100 and engine.ledger.count > 50
