"""The read endpoints agree with the ledger file and the state file; the controls work."""
from __future__ import annotations

import pytest

from tests.dashboard.conftest import all_ledger_lines, force_trade, ledger_lines, state_file


def test_health_reports_engine_and_ledger(client, engine):
    body = client.get("/api/health").get_json()
    assert body["status"] == "ok"
    assert body["state"] == "running"
    assert body["market_source"] == "simulated"
    assert body["tick"] == engine.last_snapshot.tick
    assert body["trades"] == len(ledger_lines(engine))
    assert body["uptime_seconds"] >= 0


def test_status_is_the_facade_status(client, engine):
    body = client.get("/api/status").get_json()
    assert body["state"] == "running"
    assert body["exchanges"] == list(engine.source.exchanges)
    assert body["tick"] == engine.last_snapshot.tick


def test_portfolio_agrees_with_the_state_file(client, engine):
    with engine.lock:
        engine.data_flow.write_state()
    body = client.get("/api/portfolio").get_json()
    saved = state_file(engine)
    assert body["balances"] == saved["balances"]
    assert body["last_seq"] == saved["last_seq"] == len(all_ledger_lines(engine))
    realized = sum(s["realized_pnl"] for s in saved["strategies"].values())
    fees = sum(s["fees_usdt"] for s in saved["strategies"].values())
    assert body["realized_pnl"] == pytest.approx(realized, abs=1e-9)
    assert body["fees_usdt"] == pytest.approx(fees, abs=1e-9)
    assert {(p["strategy"], p["asset"]) for p in body["positions"]} == \
        {(p["strategy"], p["asset"]) for p in saved["positions"]}
    marks = body["marks"]
    equity = sum(qty * marks.get(asset, 0.0) for wallet in body["balances"].values() for asset, qty in wallet.items())
    equity += sum(t["amount"] * marks.get(t["asset"], 0.0) for t in saved["in_transit"])  # coins in transit count
    assert body["equity"] == pytest.approx(equity, rel=1e-12)


def test_trades_newest_first_match_the_ledger(client, engine):
    lines = ledger_lines(engine)
    body = client.get("/api/trades?limit=5").get_json()
    assert body["total"] == len(lines)
    assert body["trades"] == list(reversed(lines))[:5]
    default = client.get("/api/trades").get_json()
    assert default["trades"] == list(reversed(lines))[:100]


def test_trades_filter_by_strategy(client, engine):
    lines = ledger_lines(engine)
    for name in engine.facade.strategy_names():
        body = client.get(f"/api/trades?limit=1000&strategy={name}").get_json()
        assert body["trades"] == [t for t in reversed(lines) if t["strategy"] == name][:1000], name


def test_trades_beyond_memory_come_from_the_file(client, engine):
    engine.ledger._recent = type(engine.ledger._recent)(engine.ledger._recent, maxlen=3)  # a tiny memory
    lines = ledger_lines(engine)
    assert len(lines) > 3
    body = client.get("/api/trades?limit=1000&strategy=momentum").get_json()
    assert body["trades"] == [t for t in reversed(lines) if t["strategy"] == "momentum"][:1000]
    assert body["trades"]
    body = client.get("/api/trades?limit=50").get_json()
    assert body["trades"] == list(reversed(lines))[:50]


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=abc", "limit=-5", "limit=2.5"])
def test_bad_limit_is_a_400_naming_limit(client, query):
    response = client.get(f"/api/trades?{query}")
    assert response.status_code == 400
    assert response.get_json()["field"] == "limit"


def test_unknown_strategy_is_a_400_naming_strategy(client):
    response = client.get("/api/trades?strategy=nope")
    assert response.status_code == 400
    assert response.get_json() == {"error": response.get_json()["error"], "field": "strategy"}


def test_strategy_performance_agrees_with_the_ledger(client, engine):
    lines = ledger_lines(engine)
    rows = {r["strategy"]: r for r in client.get("/api/strategies/performance").get_json()["strategies"]}
    for name, row in rows.items():
        mine = [t for t in lines if t["strategy"] == name]
        assert row["trades"] == len(mine)
        assert row["realized_pnl"] == pytest.approx(sum(t["realized_pnl"] for t in mine), abs=1e-9)


def test_market_live_lists_every_quote(client, engine):
    body = client.get("/api/market/live").get_json()
    assert body["tick"] == engine.last_snapshot.tick
    assert len(body["quotes"]) == len(engine.last_snapshot.quotes)
    # every broadcast carries each exchange's state and data age for the status bar
    assert set(body["health"]) == set(engine.source.exchanges)
    assert all(h["state"] == "live" and "age_seconds" in h for h in body["health"].values())


def test_allocation_sums_to_equity(client):
    allocation = client.get("/api/chart/allocation").get_json()
    portfolio = client.get("/api/portfolio").get_json()
    assert len(allocation["labels"]) == len(allocation["values"]) > 0
    assert sum(allocation["values"]) == pytest.approx(portfolio["equity"], rel=1e-9)
    assert allocation["values"] == sorted(allocation["values"], reverse=True)


def test_alerts_lists_rules_history_whales_and_notifications(client):
    body = client.get("/api/alerts").get_json()
    assert body["rules"] == [] and body["history"] == []
    assert isinstance(body["whales"], list)
    assert body["notifications"][0]["message"].startswith("Bot started")


def test_unknown_api_path_and_wrong_method_answer_json(client, csrf):
    missing = client.get("/api/nothing-here")
    assert missing.status_code == 404 and missing.get_json()["field"] is None
    wrong = client.delete("/api/portfolio", headers=csrf)
    assert wrong.status_code == 405 and "error" in wrong.get_json()
    wrong_post = client.get("/api/bot/start")
    assert wrong_post.status_code == 405 and "error" in wrong_post.get_json()


def test_bot_controls_change_the_engine_state(client, engine, csrf):
    assert client.post("/api/bot/pause", headers=csrf).get_json() == {"state": "paused"}
    assert engine.state == "paused" and engine.pause_reason == "paused from the dashboard"
    assert client.post("/api/bot/start", headers=csrf).get_json() == {"state": "running"}
    assert client.post("/api/bot/stop", headers=csrf).get_json() == {"state": "stopped"}
    assert engine.state == "stopped"
    assert client.post("/api/bot/start", headers=csrf, json={}).get_json() == {"state": "running"}


def test_toggle_strategy(client, engine, csrf):
    body = client.post("/api/strategies/momentum/toggle", headers=csrf).get_json()
    assert body == {"strategy": "momentum", "enabled": False}
    assert engine.manager.enabled["momentum"] is False
    rows = client.get("/api/strategies/performance").get_json()["strategies"]
    assert [r["enabled"] for r in rows if r["strategy"] == "momentum"] == [False]
    assert client.post("/api/strategies/momentum/toggle", headers=csrf).get_json()["enabled"] is True
    unknown = client.post("/api/strategies/nope/toggle", headers=csrf)
    assert unknown.status_code == 404 and unknown.get_json()["field"] == "name"


def test_a_new_fill_shows_in_trades_and_health(client, engine):
    before = client.get("/api/health").get_json()["trades"]
    force_trade(engine)
    assert client.get("/api/health").get_json()["trades"] == before + 1
    newest = client.get("/api/trades?limit=1").get_json()["trades"][0]
    assert newest == ledger_lines(engine)[-1]


def test_metrics_in_prometheus_text(client, engine):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert f"bot_trades_total {float(len(ledger_lines(engine)))}" in text
    assert "bot_ticks_total" in text and "bot_equity_usdt" in text
    assert 'bot_strategy_realized_pnl_usdt{strategy="momentum"}' in text
    assert 'bot_strategy_opportunities_total{strategy="momentum"}' in text
    assert "dashboard_connected_clients" in text and "dashboard_broadcast_duration_seconds_bucket" in text


def test_metrics_and_the_portfolio_decomposition_agree_with_the_ledger(client, engine):
    """/metrics per-strategy P&L is the API's; total P&L = strategies' net + holdings (from the ledger)."""
    from prometheus_client.parser import text_string_to_metric_families

    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))}
    net = {s.labels["strategy"]: s.value for s in families["bot_strategy_net_pnl_usdt"].samples}
    rows = {r["strategy"]: r for r in client.get("/api/strategies/performance").get_json()["strategies"]}
    assert net == {name: row["net_pnl"] for name, row in rows.items()}
    # Independent of the books: realized P&L and fees summed from the ledger lines themselves.
    lines = ledger_lines(engine)
    momentum = [t for t in lines if t["strategy"] == "momentum"]
    realized = sum(t["realized_pnl"] for t in momentum)
    assert abs(rows["momentum"]["realized_pnl"] - realized) < 1e-9
    summary = client.get("/api/portfolio").get_json()
    assert abs(summary["strategies_net_pnl"] - sum(r["net_pnl"] for r in rows.values())) < 1e-6
    assert abs(summary["total_pnl"] - (summary["strategies_net_pnl"] + summary["holdings_pnl"])) < 1e-6
