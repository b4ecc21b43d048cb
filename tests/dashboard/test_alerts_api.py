"""Alert rules and manual notifications through the API, and what reaches the browsers."""
import json
from pathlib import Path

import pytest



def alerts_file(engine) -> Path:
    return Path(engine.data_dir) / "alerts.json"


def file_bytes(path: Path):
    return path.read_bytes() if path.exists() else None


def test_add_list_toggle_delete_a_price_rule(client, engine, csrf):
    created = client.post("/api/alerts", headers=csrf, json={"symbol": "BTC/USDT", "condition": "above",
                                                             "price": 1e9, "repeat": True, "cooldown_minutes": 5})
    assert created.status_code == 201
    rule = created.get_json()["rule"]
    assert rule["condition"] == "above" and rule["price"] == 1e9 and rule["active"] is True
    saved = json.loads(alerts_file(engine).read_text())
    assert [r["id"] for r in saved["rules"]] == [rule["id"]]
    assert [r["id"] for r in client.get("/api/alerts").get_json()["rules"]] == [rule["id"]]
    paused = client.post(f"/api/alerts/{rule['id']}/toggle", headers=csrf).get_json()["rule"]
    assert paused["active"] is False
    assert client.delete(f"/api/alerts/{rule['id']}", headers=csrf).get_json() == {"deleted": rule["id"]}
    assert json.loads(alerts_file(engine).read_text())["rules"] == []
    assert client.delete(f"/api/alerts/{rule['id']}", headers=csrf).status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"symbol": "DOGE/USDT", "condition": "above", "price": 1}, "symbol"),
    ({"symbol": "BTC/USDT", "condition": "above", "price": -5}, "price"),
    ({"symbol": "BTC/USDT", "condition": "above", "price": "high"}, "price"),
    ({"symbol": "BTC/USDT", "condition": "above"}, "price"),
    ({"symbol": "BTC/USDT", "condition": "sideways", "price": 1}, "condition"),
    ({"symbol": "BTC/USDT", "condition": "above", "price": 1, "exchange": "mtgox"}, "exchange"),
    ({"symbol": "BTC/USDT", "condition": "above", "price": 1, "colour": "red"}, "colour"),
    ({"symbol": "BTC/USDT", "condition": "pct_move", "pct": 2}, "window_minutes"),
    ({"condition": "drawdown", "pct": 150}, "pct"),
    ({"condition": "loss_streak", "strategy": "momentum", "count": 0}, "count"),
    ({"condition": "loss_streak", "strategy": "martingale", "count": 3}, "strategy"),
    ({"symbol": "BTC/USDT", "condition": "above", "price": 1, "repeat": "yes"}, "repeat"),
    ({"symbol": "BTC/USDT", "condition": "above", "price": 1, "cooldown_minutes": -1}, "cooldown_minutes"),
])
def test_bad_rules_get_400_naming_the_field_and_change_nothing(client, engine, csrf, body, field):
    before = file_bytes(alerts_file(engine))
    response = client.post("/api/alerts", headers=csrf, json=body)
    assert response.status_code == 400
    assert response.get_json()["field"] == field
    assert file_bytes(alerts_file(engine)) == before


def test_rule_writes_need_the_csrf_token(client, engine):
    response = client.post("/api/alerts", json={"symbol": "BTC/USDT", "condition": "above", "price": 1})
    assert response.status_code == 403
    assert not alerts_file(engine).exists()


def test_a_crossed_rule_fires_notifies_and_is_broadcast(dashboard, engine, client, csrf):
    app, socketio = dashboard
    browser = socketio.test_client(app)
    browser.get_received()
    mark = engine.portfolio.marks()["BTC"]
    rule = client.post("/api/alerts", headers=csrf, json={"symbol": "BTC/USDT", "condition": "above",
                                                          "price": mark * 0.5}).get_json()["rule"]
    engine.run_fast(2)
    events = browser.get_received()
    notes = [e["args"][0] for e in events if e["name"] == "notification"]
    assert any(n["kind"] == "alert" and "BTC/USDT above" in n["message"] for n in notes)
    state = client.get("/api/alerts").get_json()
    assert state["history"][0]["rule_id"] == rule["id"]
    assert state["rules"][0]["active"] is False  # one-shot
    updates = [e["args"][0] for e in events if e["name"] == "alerts_update"]
    assert updates and updates[-1]["rules"][0]["id"] == rule["id"]
    app.extensions["dashboard"].broadcaster.broadcast_once()
    periodic = [e["args"][0] for e in browser.get_received() if e["name"] == "alerts_update"]
    assert periodic and periodic[-1]["history"][0]["rule_id"] == rule["id"]
    browser.disconnect()


def test_manual_notification_reaches_browsers_and_the_log(dashboard, engine, client, csrf):
    app, socketio = dashboard
    browser = socketio.test_client(app)
    browser.get_received()
    response = client.post("/api/notifications/send", headers=csrf, json={"message": "webhook test", "level": "warning"})
    assert response.status_code == 200
    note = response.get_json()["notification"]
    assert note["kind"] == "manual" and note["level"] == "warning"
    received = [e["args"][0] for e in browser.get_received() if e["name"] == "notification"]
    assert [n["message"] for n in received] == ["webhook test"]
    log = (Path(engine.log_dir) / "notifications.jsonl").read_text().splitlines()
    assert json.loads(log[-1])["message"] == "webhook test"
    browser.disconnect()


@pytest.mark.parametrize("body, field", [
    ({"message": "", "level": "info"}, "message"),
    ({"message": "x" * 501}, "message"),
    ({"message": "hi", "level": "panic"}, "level"),
    ({"message": "hi", "to": "everyone"}, "to"),
])
def test_bad_manual_notifications_get_400(client, csrf, body, field):
    response = client.post("/api/notifications/send", headers=csrf, json=body)
    assert response.status_code == 400 and response.get_json()["field"] == field


def test_writes_push_the_new_version_at_once(dashboard, engine, client, csrf):
    """The pushes come from the live cache at the engine's new version (a stale cache would fail this)."""
    app, socketio = dashboard
    browser = socketio.test_client(app)
    browser.get_received()
    assert engine.cache.get("alerts_update")["rules"] == []  # warm: a cached payload without the rule
    assert [r["enabled"] for r in engine.cache.get("strategies_update")["strategies"] if r["strategy"] == "news"] == [True]
    rule = client.post("/api/alerts", headers=csrf, json={"condition": "drawdown", "pct": 40}).get_json()["rule"]
    pushed = [e["args"][0] for e in browser.get_received() if e["name"] == "alerts_update"]
    assert [r["id"] for r in pushed[-1]["rules"]] == [rule["id"]]
    client.post(f"/api/alerts/{rule['id']}/toggle", headers=csrf)
    pushed = [e["args"][0] for e in browser.get_received() if e["name"] == "alerts_update"]
    assert pushed[-1]["rules"][0]["active"] is False
    client.post("/api/strategies/news/toggle", headers=csrf)
    pushed = [e["args"][0] for e in browser.get_received() if e["name"] == "strategies_update"]
    assert [r["enabled"] for r in pushed[-1]["strategies"] if r["strategy"] == "news"] == [False]
    client.delete(f"/api/alerts/{rule['id']}", headers=csrf)
    pushed = [e["args"][0] for e in browser.get_received() if e["name"] == "alerts_update"]
    assert pushed[-1]["rules"] == []
    browser.disconnect()
