"""Analytics and chart endpoints against the files on disk: round-trip figures against the
independent oracle over trades.jsonl, risk figures against empyrical on data/equity.jsonl."""
from __future__ import annotations

import json
from pathlib import Path

import empyrical
import numpy as np
import pandas as pd
import pytest

from bot.timestamps import parse_iso
from tests.dashboard.conftest import all_ledger_lines, force_trade, ledger_lines
from tests.roundtrip_oracle import oracle_figures, oracle_holdings_pnl, oracle_round_trips

METRIC_KEYS = {"sharpe", "sortino", "calmar", "volatility_pct", "max_drawdown_pct", "max_drawdown_duration_seconds",
               "period", "periods", "needs_periods", "profit_factor", "win_rate", "avg_win", "avg_loss",
               "expectancy", "best", "worst", "avg_duration_seconds", "round_trips", "trades", "net_pnl"}


def equity_lines(engine) -> list[dict]:
    path = Path(engine.data_dir) / "equity.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def empyrical_on(lines: list[dict], values, period: str, annualization: float) -> dict:
    """The risk figures computed here: a pandas resample of the file's samples, then empyrical."""
    index = pd.to_datetime([parse_iso(line["ts"]) for line in lines], unit="s", utc=True)
    series = pd.Series(values, index=index)
    levels = pd.concat([series.iloc[:1], series.resample(period).last().ffill()])
    returns = levels.pct_change().dropna().to_numpy()
    return {"periods": len(returns),
            "sharpe": empyrical.sharpe_ratio(returns, annualization=annualization),
            "sortino": empyrical.sortino_ratio(returns, annualization=annualization),
            "max_drawdown_pct": -empyrical.max_drawdown(returns) * 100.0,
            "volatility_pct": empyrical.annual_volatility(returns, annualization=annualization) * 100.0,
            "calmar": empyrical.calmar_ratio(returns, annualization=annualization)}


def test_trade_figures_are_per_round_trip_and_equal_the_oracle(client, engine):
    body = client.get("/api/analytics").get_json()
    lines = ledger_lines(engine)
    oracle = oracle_round_trips(lines)
    performance = {r["strategy"]: r for r in client.get("/api/strategies/performance").get_json()["strategies"]}
    assert METRIC_KEYS <= set(body["overall"]) and body["period"] == "1h"
    checked = 0
    for name, metrics in body["strategies"].items():
        assert METRIC_KEYS <= set(metrics), name
        assert metrics["trades"] == sum(1 for t in lines if t["strategy"] == name)
        assert metrics["net_pnl"] == pytest.approx(performance[name]["net_pnl"])
        expected = oracle_figures(oracle.get(name, []))
        assert metrics["round_trips"] == expected["round_trips"] == performance[name]["round_trips"], name
        assert metrics["wins"] == expected["wins"] == performance[name]["wins"]
        if expected["win_rate"] is None:
            assert metrics["win_rate"] is None and performance[name]["win_rate"] is None
            continue
        checked += 1
        assert metrics["win_rate"] == pytest.approx(expected["win_rate"]) == performance[name]["win_rate"]
        if expected["profit_factor"] is None:
            assert metrics["profit_factor"] is None
        else:
            assert metrics["profit_factor"] == pytest.approx(expected["profit_factor"], rel=1e-9)
            assert performance[name]["profit_factor"] == metrics["profit_factor"]
        if expected["net"] < 0:
            assert metrics["profit_factor"] < 1, name
    assert checked, "the template run should close some round trips"
    assert body["overall"]["trades"] == len(lines)
    assert body["overall"]["net_pnl"] == pytest.approx(sum(r["net_pnl"] for r in performance.values()))
    assert body["overall"]["round_trips"] == sum(oracle_figures(t)["round_trips"] for t in oracle.values())


def test_risk_figures_equal_empyrical_on_the_complete_equity_file(client, engine):
    engine.facade.performance.period = 600.0  # 30,000 ticks are 8 hours: too few hourly periods
    body = client.get("/api/analytics").get_json()
    lines = equity_lines(engine)
    assert len(lines) >= 500  # every sample of the template run plus this engine's, none dropped
    overall = body["overall"]
    assert overall["period"] == "10m"
    annualization = 6 * 24 * 365
    for figures, values in ((overall, [line["equity"] for line in lines]),
                            (overall["trading"], [line["trading_equity"] for line in lines])):
        expected = empyrical_on(lines, values, "10min", annualization)
        assert figures["periods"] == expected["periods"] >= 30 and figures["needs_periods"] == 0
        for key in ("sharpe", "sortino", "max_drawdown_pct", "volatility_pct", "calmar"):
            assert figures[key] == pytest.approx(expected[key], rel=1e-9, abs=1e-12), key
    momentum = body["strategies"]["momentum"]
    base = momentum["capital_base"]
    assert base > 0
    values = np.array([line["strategies"].get("momentum", 0.0) for line in lines]) + base
    expected = empyrical_on(lines, values, "10min", annualization)
    assert momentum["sharpe"] == pytest.approx(expected["sharpe"], rel=1e-9)
    assert momentum["max_drawdown_pct"] == pytest.approx(expected["max_drawdown_pct"], rel=1e-9)


def test_too_few_periods_show_no_ratio_but_what_they_need(client, engine):
    body = client.get("/api/analytics").get_json()
    overall = body["overall"]
    lines = equity_lines(engine)
    expected = empyrical_on(lines, [line["equity"] for line in lines], "1h", 24 * 365)["periods"]
    assert overall["periods"] == expected < 30
    assert overall["sharpe"] is None and overall["sortino"] is None
    assert overall["needs_periods"] == 30 - expected


def test_analytics_follow_new_fills(client, engine):
    before = client.get("/api/analytics").get_json()["strategies"]["momentum"]
    force_trade(engine, side="buy", strategy="news", qty=0.002)
    force_trade(engine, side="sell", strategy="news", qty=0.002)
    after = client.get("/api/analytics").get_json()["strategies"]
    assert after["momentum"]["trades"] == before["trades"]
    news_lines = [t for t in ledger_lines(engine) if t["strategy"] == "news"]
    assert after["news"]["round_trips"] == oracle_figures(oracle_round_trips(news_lines)["news"])["round_trips"]


def test_distribution_counts_every_closed_round_trip(client, engine):
    body = client.get("/api/chart/distribution").get_json()["strategies"]
    oracle = oracle_round_trips(ledger_lines(engine))
    assert body
    for name, histogram in body.items():
        nets = [t["net"] for t in oracle[name] if t["closed"]]
        assert histogram["wins"] == sum(1 for n in nets if n > 0)
        assert histogram["losses"] == sum(1 for n in nets if n <= 0)
        assert sum(histogram["counts"]) == len(nets)
        assert histogram["bins"][0] <= min(nets) + 1e-9 and histogram["bins"][-1] >= max(nets) - 1e-9


def test_cumulative_covers_the_whole_run_and_ends_at_net_pnl(client, engine):
    body = client.get("/api/chart/cumulative").get_json()
    lines = equity_lines(engine)
    assert len(body["equity"]) == len(lines) <= 2000  # small enough to send whole
    assert body["equity"][0] == [lines[0]["ts"], lines[0]["equity"]]
    assert body["trading_equity"][-1] == [lines[-1]["ts"], lines[-1]["trading_equity"]]
    performance = client.get("/api/strategies/performance").get_json()["strategies"]
    net = next(row["net_pnl"] for row in performance if row["strategy"] == "momentum")
    series = body["strategies"]["momentum"]
    assert series[-1][1] == pytest.approx(net)
    assert series[-1][0] == client.get("/api/status").get_json()["market_time"]
    assert series[-2] == [lines[-1]["ts"], lines[-1]["strategies"]["momentum"]]


def test_cumulative_is_downsampled_keeping_extremes(client, engine):
    small = engine.facade.cumulative_pnl(max_points=50)
    lines = equity_lines(engine)
    values = [line["equity"] for line in lines]
    assert len(small["equity"]) <= 50
    kept = [point[1] for point in small["equity"]]
    assert max(values) in kept and min(values) in kept
    assert small["equity"][0][0] == lines[0]["ts"] and small["equity"][-1][0] == lines[-1]["ts"]


# ----- the period, the decomposition and the report ------------------------------------------
def engine_with(traded_template, tmp_path, **sections):
    """An opened engine on a copy of the template data dir with extra config sections."""
    import shutil

    from bot.config import parse_config
    from bot.engine import BotEngine

    shutil.copytree(traded_template / "data", tmp_path / "data")
    data = {"storage": {"data_dir": str(tmp_path / "data"), "log_dir": str(tmp_path / "logs"), "fsync": False},
            "dashboard": {"async_mode": "threading"}, **sections}
    engine = BotEngine(parse_config(data))
    engine.open()
    engine.run_fast(5)
    return engine


@pytest.mark.parametrize("setting, label, pandas_period, annualization", [
    ("hourly", "1h", "1h", 24 * 365), ("daily", "1d", "1D", 365), ("auto", "1h", "1h", 24 * 365)])
def test_the_period_is_analytics_period_and_is_stated(traded_template, tmp_path, setting, label, pandas_period,
                                                      annualization):
    engine = engine_with(traded_template, tmp_path, analytics={"period": setting})
    try:
        body = engine.facade.analytics()
        lines = equity_lines(engine)
    finally:
        engine.close()
    assert (body["period"], body["period_setting"], body["min_periods"]) == (label, setting, 30)
    assert body["period_rule"].startswith("auto: hourly until") if setting == "auto" else \
        body["period_rule"] == f"analytics.period: {setting}"
    expected = empyrical_on(lines, [line["equity"] for line in lines], pandas_period, annualization)
    for figures in (body["overall"], body["overall"]["trading"], *body["strategies"].values()):
        assert figures["period"] == label
    assert body["overall"]["periods"] == expected["periods"]
    assert body["overall"]["needs_periods"] == 30 - expected["periods"]
    assert body["overall"]["samples"] == len(lines)
    assert body["overall"]["start"] == lines[0]["ts"] and body["overall"]["end"] == lines[-1]["ts"]
    assert body["overall"]["max_drawdown_pct"] == pytest.approx(expected["max_drawdown_pct"], rel=1e-9, abs=1e-12)


def starting_inventory(engine) -> tuple[float, dict, dict]:
    """(initial equity, starting balances, initial marks) from the state file, read here."""
    state = json.loads((Path(engine.data_dir) / "portfolio_state.json").read_text(encoding="utf-8"))
    marks = state["initial_marks"]
    initial = sum(qty * marks[asset] for wallet in state["starting_balances"].values() for asset, qty in wallet.items())
    return initial, state["starting_balances"], marks


def test_buy_and_hold_is_the_starting_inventory_left_alone(client, engine):
    body = client.get("/api/chart/cumulative").get_json()
    lines = {line["ts"]: line for line in equity_lines(engine)}
    initial, _, _ = starting_inventory(engine)
    assert len(body["buy_and_hold"]) == len(lines)
    for ts, value in body["buy_and_hold"]:
        assert value == pytest.approx(initial + lines[ts]["holdings_pnl"], rel=1e-12)


def test_the_portfolio_shows_both_terms_of_total_pnl_and_the_kill_switch_basis(client, engine):
    body = client.get("/api/portfolio").get_json()
    initial, starting, initial_marks = starting_inventory(engine)
    marks = body["marks"]
    holdings = oracle_holdings_pnl(starting, initial_marks, marks, all_ledger_lines(engine))
    strategies = {r["strategy"]: r for r in client.get("/api/strategies/performance").get_json()["strategies"]}
    assert body["holdings_pnl"] == pytest.approx(holdings, abs=1e-6)
    assert body["strategies_net_pnl"] == pytest.approx(sum(r["net_pnl"] for r in strategies.values()), abs=1e-6)
    assert body["total_pnl"] == pytest.approx(body["strategies_net_pnl"] + body["holdings_pnl"], abs=1e-6)
    assert body["trading_equity"] == pytest.approx(initial + body["strategies_net_pnl"], abs=1e-6)
    assert body["buy_and_hold_equity"] == pytest.approx(initial + holdings, abs=1e-6)
    assert body["drawdown_basis"] == "trading"
    peak = body["trading_peak_equity"]
    assert body["trading_drawdown_pct"] == pytest.approx(max(0.0, (peak - body["trading_equity"]) / peak * 100.0))


def test_the_report_download_has_the_apis_figures(client, engine):
    import base64
    import hashlib
    import re

    from tests.report_figures import report_figures, report_outside_references

    response = client.get("/api/report.html")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert re.fullmatch(r'attachment; filename="report-\d{4}-\d{2}-\d{2}\.html"', response.headers["Content-Disposition"])
    html = response.get_data(as_text=True)
    css = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode()
    assert response.headers["Content-Security-Policy"].startswith(f"default-src 'none'; style-src 'sha256-{digest}';")
    assert report_outside_references(html) == (0, [])
    figures = report_figures(html)
    analytics = client.get("/api/analytics").get_json()
    portfolio = client.get("/api/portfolio").get_json()
    for key in ("equity", "total_pnl", "strategies_net_pnl", "holdings_pnl", "trading_equity", "buy_and_hold_equity"):
        assert figures[key]["value"] == portfolio[key], key
    assert figures["samples"]["value"] == analytics["overall"]["samples"] == len(equity_lines(engine))
    for name, metrics in analytics["strategies"].items():
        for key in ("round_trips", "win_rate", "profit_factor", "expectancy", "net_pnl"):
            assert figures[f"{key}.{name}"]["value"] == metrics[key], (key, name)
        assert figures[f"max_drawdown_pct.{name}"]["value"] == metrics["max_drawdown_pct"], name
    fees = sum(r["fees_usdt"] for r in client.get("/api/strategies/performance").get_json()["strategies"])
    assert figures["fees.total"]["value"] == pytest.approx(fees, rel=1e-12)
