"""One shape per payload: each Socket.IO event equals its REST twin for the same state, every
payload is a JSON object, and the catalog the pages use is the server's own table."""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from bot.payloads import ENVELOPE, REST_TWINS, UPDATE_BUILDERS
from tests.dashboard.conftest import force_trade, ledger_lines

JS_DIR = Path(__file__).resolve().parents[2] / "dashboard" / "static" / "js"


def _strip(payload: dict) -> dict:
    return {key: value for key, value in payload.items() if key not in ENVELOPE}


def _received(client) -> dict[str, list]:
    out: dict[str, list] = {}
    for packet in client.get_received():
        out.setdefault(packet["name"], []).append(packet["args"][0])
    return out


@pytest.fixture
def browser(dashboard, app):
    client = dashboard[1].test_client(app, flask_test_client=app.test_client())
    yield client
    if client.is_connected():
        client.disconnect()


def test_every_update_event_equals_its_rest_twin(browser, client, engine):
    """Same engine state (the engine does not tick here): the greeting's payloads, less the
    envelope, are the REST answers; both transports carry objects, never bare lists."""
    greeting = _received(browser)
    for event in list(UPDATE_BUILDERS) + ["bot_status"]:
        (socket_payload,) = greeting[event]
        assert isinstance(socket_payload, dict), event
        rest = client.get(REST_TWINS[event])
        assert rest.status_code == 200, event
        assert _strip(socket_payload) == rest.get_json(), event
    assert set(ENVELOPE) <= set(greeting["portfolio_update"][0])
    # The ledger file, read on its own, is the oracle for the trades both carry.
    assert greeting["trades_update"][0]["trades"] == list(reversed(ledger_lines(engine)))[:10]
    assert greeting["trades_update"][0]["total"] == engine.ledger.count


def test_a_broadcast_carries_the_same_shapes(browser, client, app):
    browser.get_received()
    app.extensions["dashboard"].broadcaster.broadcast_once()
    round_ = _received(browser)
    for event in UPDATE_BUILDERS:
        (payload,) = round_[event]
        assert payload["broadcast_seq"] == 1
        assert _strip(payload) == client.get(REST_TWINS[event]).get_json(), event


def test_trade_executed_has_the_trades_shape(browser, client, engine):
    browser.get_received()
    force_trade(engine)
    (pushed,) = _received(browser)["trade_executed"]
    rest = client.get("/api/trades?limit=1").get_json()
    assert set(pushed) == set(rest) == {"trades", "total"}
    assert pushed["trades"] == rest["trades"] == [ledger_lines(engine)[-1]]
    assert pushed["total"] == rest["total"]


def test_the_page_catalog_is_the_api_catalog(client):
    answer = client.get("/api/catalog").get_json()
    page = client.get("/alerts").get_data(as_text=True)
    embedded = re.search(r"data-catalog='([^']*)'", page).group(1)
    assert json.loads(html.unescape(embedded)) == answer
    assert set(answer["strategies"]) >= {"arbitrage", "momentum", "news", "stat_arb"}
    assert answer["levels"] == ["info", "success", "warning", "error"]
    # the template's choices are rendered from the same table
    assert re.findall(r'<option value="(\w+)">', page[page.index('id="alert-condition"'):page.index("</select>", page.index('id="alert-condition"'))]) \
        == [row["condition"] for row in answer["conditions"]]


def _spec(catalog: dict, condition: str, name: str) -> dict:
    row = next(row for row in catalog["conditions"] if row["condition"] == condition)
    return next(field for field in row["fields"] if field["name"] == name)


@pytest.mark.parametrize("condition, name, body", [
    ("pct_move", "window_minutes", {"symbol": "BTC/USDT", "pct": 2}),
    ("loss_streak", "count", {"strategy": "momentum"}),
])
def test_the_catalog_limits_are_the_server_limits(client, csrf, condition, name, body):
    """The catalog's maximum is accepted and one above it is refused naming the field: the
    limits the form checks are the ones the server enforces."""
    catalog = client.get("/api/catalog").get_json()
    top = _spec(catalog, condition, name)["max"]
    ok = client.post("/api/alerts", json={"condition": condition, name: top, **body}, headers=csrf)
    assert ok.status_code == 201, ok.get_json()
    refused = client.post("/api/alerts", json={"condition": condition, name: top + 1, **body}, headers=csrf)
    assert refused.status_code == 400 and refused.get_json()["field"] == name
    drawdown = _spec(catalog, "drawdown", "pct")
    assert client.post("/api/alerts", json={"condition": "drawdown", "pct": drawdown["max_exclusive"]},
                       headers=csrf).get_json()["field"] == "pct"


def test_each_condition_takes_exactly_the_catalog_fields(client, csrf):
    catalog = client.get("/api/catalog").get_json()
    for row in catalog["conditions"]:
        body = {"condition": row["condition"]}
        for field in row["fields"]:
            if field["required"]:
                body[field["name"]] = field.get("suggested", {"string": "BTC/USDT", "number": 5}.get(field["kind"]))
        if row["condition"] == "loss_streak":
            body["strategy"] = "momentum"
        answer = client.post("/api/alerts", json=body, headers=csrf)
        assert answer.status_code == 201, (row["condition"], answer.get_json())
        stranger = next(name for name in ("price", "count") if name not in {f["name"] for f in row["fields"]})
        refused = client.post("/api/alerts", json={**body, stranger: 1}, headers=csrf)
        assert refused.status_code == 400 and refused.get_json()["field"] == stranger


def test_the_browser_copies_no_table_and_unwraps_no_list():
    """No asList, no strategy list, no level list, no condition limits written into JavaScript."""
    for path in JS_DIR.glob("*.js"):
        text = path.read_text(encoding="utf-8")
        assert "asList" not in text, path.name
        assert not re.search(r'\[\s*"arbitrage",\s*"momentum"', text), path.name
        assert not re.search(r'\[\s*"info",\s*"success"', text), path.name
        assert "10_080" not in text and "10080" not in text, path.name


def test_a_notification_event_is_the_item_the_alerts_answer_lists(browser, client, csrf):
    browser.get_received()
    sent = client.post("/api/notifications/send", json={"message": "shape check", "level": "warning"}, headers=csrf)
    assert sent.status_code == 200
    (pushed,) = [n for n in _received(browser).get("notification", []) if n.get("message") == "shape check"]
    listed = client.get("/api/alerts").get_json()["notifications"][0]
    assert pushed == listed == sent.get_json()["notification"]
