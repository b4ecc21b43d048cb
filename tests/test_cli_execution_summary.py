"""The exit summary's execution lines: hand-computed figures, and run_bot.py's real output."""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bot.cli import execution_table
from bot.execution.quality_feed import QualityFeed

ROOT = Path(__file__).resolve().parents[1]


def write_lines(path: Path, records) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")


def ledger_line(seq, strategy, signal_id, side, price, decision_mid, kind="entry", **extra) -> dict:
    return {"id": f"T{seq:08d}", "seq": seq, "ts": "2026-01-01T00:00:00.000Z", "tick": seq, "strategy": strategy,
            "signal_id": signal_id, "kind": kind, "exchange": "binance", "symbol": "BTC/USDT", "side": side,
            "qty": 0.5, "price": price, "fee": 0.0, "fee_asset": "USDT", "quote_usdt_rate": 1.0,
            "realized_pnl": 0.0, "status": "filled", "reason": "r", "decision_mid": decision_mid, **extra}


def a_miss(strategy, signal_id, reason_key="price_moved") -> dict:
    return {"ts": "2026-01-01T00:00:00.000Z", "tick": 9, "decision_ts": "2026-01-01T00:00:00.000Z",
            "strategy": strategy, "signal_id": signal_id, "kind": "entry",
            "legs": [{"exchange": "binance", "symbol": "BTC/USDT", "side": "buy", "qty": 0.5}],
            "reason_key": reason_key, "reason": "moved", "latency_ms": 90.0}


class FeedFacade:
    """The one facade question execution_table asks, answered from files by a real QualityFeed."""

    def __init__(self, data_dir):
        self.feed = QualityFeed(data_dir)

    def execution_quality(self):
        self.feed.sync()
        return {"strategies": self.feed.report()}


def row_of(table: str, name: str) -> list[str]:
    return next(line for line in table.splitlines() if line.startswith(name)).split()


def test_the_lines_carry_hand_computed_figures(tmp_path):
    write_lines(tmp_path / "trades.jsonl", [
        ledger_line(1, "momentum", "m1", "buy", 100.2, 100.0),     # +20 bps, 0.5 * 0.2 = 0.10 USDT
        ledger_line(2, "momentum", "m2", "sell", 99.6, 100.0),     # +40 bps, 0.5 * 0.4 = 0.20 USDT
        ledger_line(3, "stat_arb", "s1", "buy", 50.0, 50.0, kind="margin_call"),
        {"id": "E1", "seq": 4, "entry": "transfer_out", "strategy": "momentum", "exchange": "binance",
         "fee_usdt": 1.25},
        {"id": "E2", "seq": 5, "entry": "borrow_fee", "strategy": "stat_arb", "exchange": "binance",
         "fee_usdt": 0.75},
    ])
    write_lines(tmp_path / "misses.jsonl", [a_miss("momentum", "m3"), a_miss("momentum", "m4", "timeout")])
    table = execution_table(FeedFacade(tmp_path))
    assert table.splitlines()[0].split()[:3] == ["execution", "fills", "misses"]
    # fills, misses, fill % (2 of 4 signals), slip mean (30), p95 (20 + 0.95 * 20 = 39), latency $,
    # transfer $, borrow $, margin calls
    assert row_of(table, "momentum")[1:] == ["2", "2", "50.0", "30.00", "39.00", "0.30", "1.25", "0.00", "0"]
    assert row_of(table, "stat_arb")[1:] == ["1", "0", "100.0", "0.00", "0.00", "0.00", "0.00", "0.75", "1"]


@pytest.mark.slow
def test_run_bot_prints_them_at_exit_per_strategy_from_the_data_dir(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    # data/misses.jsonl is the executor's (helper "fill"); until it writes one, the test does.
    write_lines(data / "misses.jsonl", [a_miss("arbitrage", "gone-1"), a_miss("arbitrage", "gone-2", "no_book")])
    result = subprocess.run([sys.executable, "run_bot.py", "--no-dashboard", "--fast", "--max-ticks", "3000",
                             "--seed", "11", "--data-dir", data, "--log-dir", tmp_path / "logs"],
                            cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    table = result.stdout[result.stdout.index("\nexecution"):]
    lines = [json.loads(line) for line in (data / "trades.jsonl").read_text().splitlines()]
    lines = [line for line in lines if "entry" not in line]  # transfer and borrow fee lines are not fills
    fills = Counter(line["strategy"] for line in lines)
    signals = {name: len({line["signal_id"] for line in lines if line["strategy"] == name}) for name in fills}
    # The misses file as written: the two above and the run's own, read back without bot code.
    miss_lines = [json.loads(line) for line in (data / "misses.jsonl").read_text().splitlines()]
    for name in ("arbitrage", "momentum", "news", "stat_arb"):
        row = row_of(table, name)
        misses = sum(m["strategy"] == name for m in miss_lines)
        assert row[1:3] == [str(fills.get(name, 0)), str(misses)], name
        missed_signals = {m["signal_id"] for m in miss_lines if m["strategy"] == name} - {
            line["signal_id"] for line in lines if line["strategy"] == name}
        reached = signals.get(name, 0) + len(missed_signals)
        assert row[3] == (f"{signals.get(name, 0) / reached * 100:.1f}" if reached else "-"), name
