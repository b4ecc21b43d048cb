"""Analytics and chart endpoints agree with the ledger file and the state file."""
from __future__ import annotations

import pytest

from tests.dashboard.conftest import force_trade, ledger_lines, state_file

METRIC_KEYS = {"sharpe", "sortino", "max_drawdown_pct", "profit_factor", "win_rate", "avg_win", "avg_loss",
               "trades", "net_pnl"}


def fee_usdt(t: dict) -> float:
    quote = t["symbol"].split("/")[1]
    return t["fee"] * (t["quote_usdt_rate"] if t["fee_asset"] == quote else 1.0)


def closing_nets(lines, strategy):
    return [t["realized_pnl"] - fee_usdt(t) for t in lines if t["strategy"] == strategy and t["realized_pnl"]]


def test_analytics_shape_and_numbers(client, engine):
    body = client.get("/api/analytics").get_json()
    lines = ledger_lines(engine)
    performance = {r["strategy"]: r for r in client.get("/api/strategies/performance").get_json()["strategies"]}
    assert METRIC_KEYS <= set(body["overall"])
    checked = 0
    for name, metrics in body["strategies"].items():
        assert METRIC_KEYS <= set(metrics), name
        assert metrics["trades"] == sum(1 for t in lines if t["strategy"] == name)
        assert metrics["net_pnl"] == pytest.approx(performance[name]["net_pnl"])
        nets = closing_nets(lines, name)
        if not nets:
            assert metrics["win_rate"] is None
            continue
        checked += 1
        wins = [n for n in nets if n > 0]
        losses = [n for n in nets if n <= 0]
        assert metrics["win_rate"] == pytest.approx(len(wins) / len(nets))
        assert metrics["win_rate"] == pytest.approx(performance[name]["win_rate"])
        assert metrics["avg_win"] == (pytest.approx(sum(wins) / len(wins)) if wins else None)
        assert metrics["avg_loss"] == (pytest.approx(sum(losses) / len(losses)) if losses else None)
        if wins and losses:
            assert metrics["profit_factor"] == pytest.approx(sum(wins) / -sum(losses))
            assert metrics["profit_factor"] == pytest.approx(performance[name]["profit_factor"])
    assert checked, "the template run should close some trades"
    all_nets = [n for name in body["strategies"] for n in closing_nets(lines, name)]
    assert body["overall"]["trades"] == len(lines)
    assert body["overall"]["win_rate"] == pytest.approx(sum(1 for n in all_nets if n > 0) / len(all_nets))
    assert body["overall"]["net_pnl"] == pytest.approx(sum(r["net_pnl"] for r in performance.values()))
    assert body["overall"]["max_drawdown_pct"] >= 0
    assert isinstance(body["overall"]["sharpe"], float)


def test_analytics_follow_new_fills(client, engine):
    before = client.get("/api/analytics").get_json()["strategies"]["momentum"]["trades"]
    force_trade(engine, side="buy")
    force_trade(engine, side="sell")
    after = client.get("/api/analytics").get_json()["strategies"]["momentum"]
    assert after["trades"] == before + 2


def test_distribution_counts_every_closing_trade(client, engine):
    body = client.get("/api/chart/distribution").get_json()["strategies"]
    lines = ledger_lines(engine)
    assert body
    for name, histogram in body.items():
        nets = closing_nets(lines, name)
        assert histogram["wins"] == sum(1 for n in nets if n > 0)
        assert histogram["losses"] == sum(1 for n in nets if n <= 0)
        assert sum(histogram["counts"]) == len(nets)
        if nets:
            assert len(histogram["bins"]) == len(histogram["counts"]) + 1
            assert histogram["bins"][0] <= min(nets) and histogram["bins"][-1] >= max(nets)


def test_cumulative_ends_at_the_ledger_totals(client, engine):
    with engine.lock:
        engine.data_flow.write_state()
    body = client.get("/api/chart/cumulative").get_json()
    lines = [t for t in ledger_lines(engine) if t["strategy"] == "momentum"]
    series = body["strategies"]["momentum"]
    # one point per trade, then "now" with the open positions: the line ends at net_pnl
    assert len(series) == len(lines) + 1
    assert series[-2][0] == lines[-1]["ts"]
    assert series[-2][1] == pytest.approx(sum(t["realized_pnl"] - fee_usdt(t) for t in lines))
    performance = client.get("/api/strategies/performance").get_json()["strategies"]
    net = next(row["net_pnl"] for row in performance if row["strategy"] == "momentum")
    assert series[-1][1] == pytest.approx(net)
    assert series[-1][0] == client.get("/api/status").get_json()["market_time"]
    saved = state_file(engine)["equity_history"]
    assert len(body["equity"]) == len(saved)
    assert body["equity"][-1][1] == pytest.approx(saved[-1][1])


def test_cumulative_is_downsampled(client, engine):
    for i in range(100):
        force_trade(engine, side="buy" if i % 2 == 0 else "sell", qty=0.0001)
    body = client.get("/api/chart/cumulative").get_json()
    assert len(body["strategies"]["momentum"]) <= 2000 and len(body["equity"]) <= 2000
    small = engine.facade.cumulative_pnl(max_points=50)
    series = small["strategies"]["momentum"]
    assert len(series) == 50 + 1  # downsampled trade points, then "now"
    assert series[0] == body["strategies"]["momentum"][0]
    assert series[-2] == body["strategies"]["momentum"][-2]
    assert series[-2][0] == ledger_lines(engine)[-1]["ts"]
