"""bench/execution_realism.py: its table against the two data dirs read separately; unknown keys named."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from bot.config import KNOWN_STRATEGIES, parse_config

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("execution_realism", ROOT / "bench" / "execution_realism.py")
bench = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(bench)


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def oracle(data_dir: Path) -> dict[str, dict[str, str]]:
    """Per strategy, the table's cells computed from the data dir's files without bot code."""
    lines = read_lines(data_dir / "trades.jsonl")
    trades = [t for t in lines if "entry" not in t]
    costs = {}  # transfer and borrow fees per strategy, from the entry lines
    for line in lines:
        if "entry" in line and line["entry"] in ("transfer_out", "borrow_fee"):
            costs[line["strategy"]] = costs.get(line["strategy"], 0.0) + line["fee_usdt"]
    misses = read_lines(data_dir / "misses.jsonl")
    state = json.loads((data_dir / "portfolio_state.json").read_text())
    marks = state["marks"]
    figures = {}
    # Every strategy runs on the default config, so each has a block, traded or not.
    for name in sorted({t["strategy"] for t in trades} | set(state["strategies"]) | set(KNOWN_STRATEGIES)):
        mine = [t for t in trades if t["strategy"] == name]
        by_signal: dict[str, list[dict]] = {}
        for trade in mine:
            by_signal.setdefault(trade["signal_id"], []).append(trade)
        last, repeats = {}, 0
        for legs in by_signal.values():
            key = (legs[0]["kind"], frozenset((t["exchange"], t["symbol"], t["side"]) for t in legs))
            repeats += key in last and legs[0]["tick"] - last[key] <= 1
            last[key] = legs[0]["tick"]
        stats = state["strategies"].get(name, {"realized_pnl": 0.0, "fees_usdt": 0.0})
        unrealized = sum(p["qty"] * marks[p["asset"]] - p["cost"] for p in state["positions"] if p["strategy"] == name)
        missed = {m["signal_id"] for m in misses if m["strategy"] == name} - set(by_signal)
        figures[name] = {"signals (reached the market)": str(len(by_signal) + len(missed)), "fills": str(len(mine)),
                         "misses": str(sum(m["strategy"] == name for m in misses)),
                         "repeat fills in one gap episode": str(repeats),
                         "net P&L USDT": f"{stats['realized_pnl'] - stats['fees_usdt'] - costs.get(name, 0.0) + unrealized:.2f}"}
    return figures


def parse_table(text: str) -> dict[str, dict[str, tuple[str, str]]]:
    """{strategy: {figure label: (off cell, on cell)}} from the printed comparison."""
    table: dict[str, dict[str, tuple[str, str]]] = {}
    current = None
    body = text[text.index("realism off     realism on"):].splitlines()[1:]
    for line in body:
        if line and not line.startswith(" "):
            current = table.setdefault(line.strip(), {})
        elif line.strip():
            *label, off, on = line.split()
            current[" ".join(label)] = (off, on)
    return table


def test_the_table_matches_both_data_dirs(tmp_path, capsys):
    assert bench.main(["--ticks", "2000", "--keep", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    table = parse_table(out)
    assert "skipped" not in out  # every realism setting exists
    expected = {label: oracle(tmp_path / label.replace(" ", "-") / "data") for label in bench.LABELS}
    assert any(rows["fills"] != "0" for rows in expected["realism on"].values())
    assert set(table) == set(expected["realism off"]) | set(expected["realism on"])
    for name, rows in table.items():
        for column, label in enumerate(bench.LABELS):
            for figure, cell in expected[label].get(name, {}).items():
                assert rows[figure][column] == cell, (name, label, figure)


def test_an_unknown_override_key_is_named_and_nothing_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(bench.REALISM_OFF, "transfers.teleport.enabled", False)
    assert bench.main(["--ticks", "2000", "--keep", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "transfers.teleport.enabled (no 'transfers.teleport')" in err and "--skip-unknown" in err
    assert not (tmp_path / "realism-off").exists() and not (tmp_path / "realism-on").exists()


def test_unknown_keys_finds_the_first_missing_part():
    config = parse_config({})
    keys = {"execution.max_slippage_pct": 1.0, "execution.nope": 1, "nothing.at.all": 1, "market.seed.deeper": 2}
    assert bench.unknown_keys(config, keys) == ["execution.nope", "nothing.at.all (no 'nothing')",
                                                "market.seed.deeper"]


def test_a_value_the_config_refuses_is_named(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(bench, "REALISM_OFF", {"execution.max_slippage_pct": -1.0})
    assert bench.main(["--ticks", "10", "--keep", str(tmp_path)]) == 2
    assert "execution.max_slippage_pct" in capsys.readouterr().err


@pytest.mark.parametrize("ticks", ["0", "-5"])
def test_ticks_below_one_are_refused(ticks, capsys):
    assert bench.main(["--ticks", ticks]) == 2
    assert "--ticks" in capsys.readouterr().err
