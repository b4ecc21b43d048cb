"""GET /api/execution against the files on disk read separately; bad queries are 400s naming the field."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.dashboard.conftest import force_trade, ledger_lines


def write_misses(engine, records) -> None:
    # data/misses.jsonl is the executor's (helper "fill"); until it writes one, the test does.
    with open(Path(engine.data_dir) / "misses.jsonl", "a", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")


def a_miss(signal_id, reason_key, exchange="kraken", strategy="arbitrage") -> dict:
    return {"ts": "2026-01-01T00:00:00.000Z", "tick": 1, "decision_ts": "2026-01-01T00:00:00.000Z",
            "strategy": strategy, "signal_id": signal_id, "kind": "cross_exchange",
            "legs": [{"exchange": exchange, "symbol": "BTC/USDT", "side": "buy", "qty": 0.01}],
            "reason_key": reason_key, "reason": "gone on arrival", "latency_ms": 120.0}


def oracle_repeats(lines: list[dict], strategy: str) -> tuple[int, float]:
    """Signals filling the market set that filled on this or the previous tick, and their realized P&L."""
    signals: dict[str, list[dict]] = {}
    for line in lines:
        if line["strategy"] == strategy and "entry" not in line:
            signals.setdefault(line["signal_id"], []).append(line)
    last_tick, count, pnl = {}, 0, 0.0
    for legs in signals.values():  # dicts keep the ledger's order
        key = (legs[0]["kind"], frozenset((leg["exchange"], leg["symbol"], leg["side"]) for leg in legs))
        tick = legs[0]["tick"]
        if key in last_tick and tick - last_tick[key] <= 1:
            count += 1
            pnl += sum(leg["realized_pnl"] for leg in legs)
        last_tick[key] = tick
    return count, pnl


def test_fills_signals_misses_and_repeats_per_strategy_match_the_files(client, engine):
    write_misses(engine, [a_miss("arbitrage-missed-1", "price_moved"), a_miss("arbitrage-missed-1", "liquidity_taken"),
                          a_miss("arbitrage-missed-2", "no_book", exchange="binance")])
    body = client.get("/api/execution").get_json()
    lines = ledger_lines(engine)
    fills = Counter(line["strategy"] for line in lines)
    signals = {name: len({line["signal_id"] for line in lines if line["strategy"] == name}) for name in fills}
    # Misses read back from the file (the run's own and the three above), signals counted once.
    miss_lines = [json.loads(line) for line in (Path(engine.data_dir) / "misses.jsonl").read_text().splitlines()]
    rows = {row["strategy"]: row for row in body["strategies"]}
    assert set(rows) == set(engine.manager.strategies)
    for name, row in rows.items():
        assert row["fills"] == fills.get(name, 0), name
        filled_ids = {line["signal_id"] for line in lines if line["strategy"] == name}
        missed = len({m["signal_id"] for m in miss_lines if m["strategy"] == name} - filled_ids)
        assert row["signals"] == signals.get(name, 0) + missed, name
        if row["signals"]:
            assert row["fill_ratio"] == pytest.approx(signals.get(name, 0) / (signals.get(name, 0) + missed)), name
        assert sum(r["fills"] for r in row["exchanges"]) == fills[name]
        # Slippage against the decision mid, recomputed from the ledger lines (bps, positive = cost).
        costs = [(1 if line["side"] == "buy" else -1) * (line["price"] / line["decision_mid"] - 1) * 1e4
                 for line in lines if line["strategy"] == name and line.get("decision_mid")]
        if costs:
            assert row["slippage_bps"]["mean"] == pytest.approx(sum(costs) / len(costs)), name
        else:
            assert row["slippage_bps"]["mean"] is None, name
    arbitrage = rows["arbitrage"]
    wanted = Counter(m["reason_key"] for m in miss_lines if m["strategy"] == "arbitrage")
    assert arbitrage["misses"] == dict(wanted) and wanted["no_book"] >= 1 and wanted["liquidity_taken"] >= 1
    repeats, repeat_pnl = oracle_repeats(lines, "arbitrage")
    assert repeats > 0, "the default market repeats arbitrage fills on open gaps"
    assert arbitrage["repeat_fills"] == repeats
    assert arbitrage["repeat_realized_pnl"] == pytest.approx(repeat_pnl)
    realized = sum(line["realized_pnl"] for line in lines if line["strategy"] == "arbitrage")
    assert arbitrage["repeat_pnl_share"] == pytest.approx(repeat_pnl / realized)


def test_one_strategy_and_a_new_fill_shows_at_once(client, engine):
    before = client.get("/api/execution", query_string={"strategy": "momentum"}).get_json()["strategies"]
    assert [row["strategy"] for row in before] == ["momentum"]
    force_trade(engine, strategy="momentum", exchange="kraken")
    with engine.lock:
        engine.version += 1  # what the tick that made the fill does
    (after,) = client.get("/api/execution?strategy=momentum").get_json()["strategies"]
    assert after["fills"] == before[0]["fills"] + 1
    assert after["signals"] == before[0]["signals"] + 1


@pytest.mark.parametrize("query, field", [
    ({"strategy": "martingale"}, "strategy"),
    ({"strategy": "x" * 65}, "strategy"),
    ({"exchange": "binance"}, "exchange"),
])
def test_bad_queries_are_400_naming_the_field(client, query, field):
    answer = client.get("/api/execution", query_string=query)
    assert answer.status_code == 400
    body = answer.get_json()
    assert body["field"] == field
    assert field in body["error"] or "martingale" in body["error"]
