"""The strategies' counters (opportunities, executed, rejected) go on across a restart, like the
ledger's trade count beside them, instead of starting again from 0."""
from __future__ import annotations

import json
from pathlib import Path

from bot.engine import BotEngine
from tests.dashboard.conftest import make_config


def _counts(rows) -> dict:
    return {r["strategy"]: (r["opportunities"], r["executed"], r["rejected_total"], r["rejected"]) for r in rows}


def test_counters_survive_a_restart(engine, tmp_path):
    engine.run_fast(300)
    before = _counts(engine.facade.strategy_performance())
    assert sum(c[0] for c in before.values()) > 0, "the run found no opportunity to count"
    engine.close()
    # What the state file holds, read on its own, is what was counted.
    saved = json.loads((Path(engine.data_dir) / "portfolio_state.json").read_text(encoding="utf-8"))
    assert {name: c["opportunities"] for name, c in saved["engine"]["counters"].items()} == \
        {name: c[0] for name, c in before.items()}
    again = BotEngine(make_config(tmp_path))
    again.open()
    try:
        assert _counts(again.facade.strategy_performance()) == before
        again.run_fast(50)
        after = _counts(again.facade.strategy_performance())
        assert all(after[name][0] >= before[name][0] for name in before)
    finally:
        again.close()


def test_a_malformed_counter_is_ignored(engine, tmp_path):
    engine.run_fast(50)
    engine.close()
    path = Path(engine.data_dir) / "portfolio_state.json"
    state = json.loads(path.read_text(encoding="utf-8"))
    state["engine"]["counters"]["momentum"] = {"opportunities": -3, "executed": "7", "rejected": {"x": True}}
    path.write_text(json.dumps(state), encoding="utf-8")
    again = BotEngine(make_config(tmp_path))
    again.open()
    try:
        row = next(r for r in again.facade.strategy_performance() if r["strategy"] == "momentum")
        assert (row["opportunities"], row["executed"], row["rejected"]) == (0, 0, {})
    finally:
        again.close()
