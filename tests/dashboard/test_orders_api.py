"""POST/GET/DELETE /api/orders, the estimate and POST /api/positions/close through the Flask app."""
import json
from pathlib import Path

import pytest

from tests.dashboard.conftest import force_trade, ledger_lines


def orders_file(engine) -> Path:
    return Path(engine.data_dir) / "orders.jsonl"


def body(engine, **fields):
    exchange = max(engine.portfolio.balances, key=lambda ex: engine.portfolio.balance(ex, "USDT"))
    bid = engine.last_snapshot.quotes[(exchange, "BTC/USDT")].bid
    return {"exchange": exchange, "symbol": "BTC/USDT", "side": "buy", "type": "limit", "amount": 0.001,
            "price": round(bid - 300, 2), **fields}


def test_place_list_and_cancel_a_resting_limit(client, engine, csrf):
    sent = body(engine)
    estimate = client.post("/api/orders/estimate", headers=csrf, json=sent)
    assert estimate.status_code == 200 and estimate.get_json()["estimate"]["action"] == "rest"
    assert not orders_file(engine).exists(), "an estimate writes nothing"
    created = client.post("/api/orders", headers=csrf, json=sent)
    assert created.status_code == 201, created.get_json()
    order = created.get_json()["order"]
    assert order["strategy"] == "manual" and order["status"] in ("pending", "open")  # latency 0 here: open
    engine.run_fast(2)
    listed = client.get("/api/orders").get_json()
    assert [o["id"] for o in listed["open"]] == [order["id"]]
    held = 0.001 * sent["price"] * (1 + engine.source.markets[(sent["exchange"], "BTC/USDT")].maker_fee)
    assert listed["reserved"][sent["exchange"]]["USDT"] == pytest.approx(held)
    cancelled = client.delete(f"/api/orders/{order['id']}", headers=csrf)
    assert cancelled.status_code == 200 and cancelled.get_json()["order"]["status"] == "cancelled"
    lines = [json.loads(line) for line in orders_file(engine).read_text().splitlines()]
    assert lines[0]["event"] == "placed" and lines[-1]["event"] == "cancelled"
    assert client.get("/api/orders").get_json()["open"] == []
    assert client.delete("/api/orders/O99999999", headers=csrf).status_code == 404


@pytest.mark.parametrize("change, field", [({"symbol": "DOGE/USDT"}, "symbol"), ({"amount": -1}, "amount"),
                                           ({"side": "hold"}, "side"), ({"tif": "FOK"}, "tif"),
                                           ({"colour": "red"}, "colour"), ({"amount": 1e6}, "amount")])
def test_bad_orders_are_400_naming_the_field_and_write_nothing(client, engine, csrf, change, field):
    answer = client.post("/api/orders", headers=csrf, json=body(engine, **change))
    assert answer.status_code == 400 and answer.get_json()["field"] == field, answer.get_json()
    assert not orders_file(engine).exists()


def test_closing_a_strategys_position_is_recorded_as_its_manual_close(client, engine, csrf):
    exchange = max(engine.portfolio.balances, key=lambda ex: engine.portfolio.balance(ex, "USDT"))
    force_trade(engine, qty=0.002, exchange=exchange)
    engine.run_fast(2)
    position = engine.portfolio.positions[("momentum", "BTC")].by_exchange[exchange]
    answer = client.post("/api/positions/close", headers=csrf,
                         json={"strategy": "momentum", "asset": "BTC", "exchange": exchange})
    assert answer.status_code == 201, answer.get_json()
    order = answer.get_json()["order"]
    engine.run_fast(3)
    exit_trades = [t for t in ledger_lines(engine) if t["signal_id"] == order["id"]]
    assert exit_trades and all(t["strategy"] == "momentum" and t["reason"] == "manual close" for t in exit_trades)
    assert sum(t["qty"] for t in exit_trades) == pytest.approx(round(position, 5), abs=1e-5)
    missing = client.post("/api/positions/close", headers=csrf,
                          json={"strategy": "momentum", "asset": "DOGE", "exchange": exchange})
    assert missing.status_code == 404 and missing.get_json()["field"] == "asset"


def test_a_manual_sell_beyond_what_manual_holds_is_400_and_writes_nothing(client, engine, csrf):
    """The wallet holds starting BTC, but the manual strategy holds none of it and does not short."""
    sent = body(engine, side="sell", type="market", price=None)
    assert engine.portfolio.balance(sent["exchange"], "BTC") > 0.001  # the starting inventory is there
    state = json.dumps(engine.portfolio.to_state(), sort_keys=True)
    answer = client.post("/api/orders", headers=csrf, json=sent)
    assert answer.status_code == 400 and answer.get_json()["field"] == "amount", answer.get_json()
    assert "manual has 0 BTC to sell (its position less its open orders) and does not short" in \
        answer.get_json()["error"]
    assert not orders_file(engine).exists()
    assert json.dumps(engine.portfolio.to_state(), sort_keys=True) == state


def test_what_manuals_open_sell_orders_hold_is_not_sold_twice(client, engine, csrf):
    """manual buys 0.002 BTC, rests a sell of all of it far above the market: a market sell of 0.001
    more is refused (it would sell coins the resting order will), and a cancel frees them again."""
    bought = client.post("/api/orders", headers=csrf, json=body(engine, type="market", price=None, amount=0.002))
    assert bought.status_code == 201, bought.get_json()
    engine.run_fast(2)
    assert engine.portfolio.held("manual", "BTC") == pytest.approx(0.002)
    exchange = bought.get_json()["order"]["exchange"]
    ask = engine.last_snapshot.quotes[(exchange, "BTC/USDT")].ask
    resting = client.post("/api/orders", headers=csrf, json=body(engine, side="sell", amount=0.002,
                                                                   price=round(ask * 1.5, 2)))
    assert resting.status_code == 201, resting.get_json()
    again = body(engine, side="sell", type="market", price=None, amount=0.001)
    refused = client.post("/api/orders", headers=csrf, json=again)
    assert refused.status_code == 400 and "manual has 0 BTC to sell" in refused.get_json()["error"], refused.get_json()
    assert client.delete(f"/api/orders/{resting.get_json()['order']['id']}", headers=csrf).status_code == 200
    assert client.post("/api/orders", headers=csrf, json=again).status_code == 201
