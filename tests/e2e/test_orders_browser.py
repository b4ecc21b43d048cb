"""Trading by hand in a real browser at 390 px (run_bot.py subprocess, headless Chromium).

A limit buy below the market rests, fills partly and then fully as the simulated market trades
through it; its round trip and the journal's offer of its trade follow; a stop is placed and
cancelled from the open-orders table; a strategy's position is closed by hand. What the page
shows is checked against the API and data/orders.jsonl read here.
"""
from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import WAIT_MS, start_bot

pytestmark = pytest.mark.e2e

# Deep pockets so one order outlasts many prints (it fills partly first); a tick (10 simulated seconds)
# every quarter of a wall second, so the partly filled order is on screen for a few broadcasts.
CONFIG = {"portfolio": {"starting_balances": {"USDT": 10_000_000.0}}, "market": {"speed": 40}}


@pytest.fixture(scope="module")
def rich_bot(tmp_path_factory):
    bot = start_bot(tmp_path_factory.mktemp("orders-bot"), CONFIG)
    try:
        yield bot
    finally:
        code = bot.stop()
    assert code == 0, bot.output()


def confirm(page) -> None:
    page.locator("dialog.modal button[value=ok]").click()


def place_from_ticket(page, **fields) -> None:
    page.select_option("#order-exchange", fields["exchange"])
    page.select_option("#order-symbol", fields["symbol"])
    page.select_option("#order-side", fields["side"])
    page.select_option("#order-type", fields["type"])
    page.fill("#order-amount", str(fields["amount"]))
    if "price" in fields:
        page.fill("#order-price", str(fields["price"]))
    if "stop_price" in fields:
        page.fill("#order-stop", str(fields["stop_price"]))
    page.fill("#order-reason", fields.get("reason", ""))
    page.click("#order-submit")
    confirm(page)


def orders_events(bot) -> list[dict]:
    path = bot.data_dir / "orders.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_trade_by_hand_at_390_px(rich_bot, watched):
    w = watched(width=390, height=844)
    page = w.open(rich_bot.base_url, "/")
    box = page.locator("#order-ticket-panel").bounding_box()
    assert box["width"] <= 390, "the ticket fits a 390 px screen"
    quote = next(q for q in rich_bot.get_json("/api/market/live")["quotes"]
                 if q["exchange"] == "binance" and q["symbol"] == "BTC/USDT")
    price = round(quote["bid"] - 0.05, 2)  # five steps below the bid
    page.click("#order-estimate-button")  # an empty amount: the refusal names the field
    page.wait_for_function("() => !document.getElementById('error-amount').hidden", timeout=WAIT_MS)
    place_from_ticket(page, exchange="binance", symbol="BTC/USDT", side="buy", type="limit", amount=30,
                      price=price, reason="by hand below the market")
    # It rests: an open row with its place in the queue.
    page.wait_for_function("() => document.querySelector('#orders-body tr[data-status]')", timeout=WAIT_MS)
    order_id = page.get_attribute("#orders-body tr", "data-order-id")
    seen = set()

    def status():
        row = page.query_selector(f"#orders-body tr[data-order-id='{order_id}']")
        return row.get_attribute("data-status") if row else None

    # Partly, then fully: watch the row's status change as the simulated market trades through it.
    page.wait_for_function(
        f"() => {{ const r = document.querySelector(\"#orders-body tr[data-order-id='{order_id}']\");"
        f" return r && r.dataset.status === 'partially_filled'; }}", timeout=WAIT_MS * 4)
    seen.add(status())
    filled_text = page.text_content(f"#orders-body tr[data-order-id='{order_id}'] .order-filled")
    assert filled_text.split("/")[0].strip() not in ("0", "0.00000000")
    page.wait_for_function(f"() => !document.querySelector(\"#orders-body tr[data-order-id='{order_id}']\")",
                           timeout=WAIT_MS * 4)
    page.wait_for_function(f"() => document.getElementById('orders-finished').textContent.includes('{order_id}')",
                           timeout=WAIT_MS)
    events = [e for e in orders_events(rich_bot) if e["order"]["id"] == order_id]
    names = [e["event"] for e in events]
    assert names[0] == "placed" and "partially_filled" in names and names[-1] == "filled", names
    trade_ids = events[-1]["order"]["trade_ids"]
    trades = [t for t in rich_bot.get_json("/api/trades?limit=1000&strategy=manual")["trades"]
              if t["signal_id"] == order_id]
    # Never worse than the limit (a part may have crossed on arrival, as a taker, at a better price).
    assert sum(t["qty"] for t in trades) == pytest.approx(30.0) and all(t["price"] <= price for t in trades)
    # Its round trip, under the manual strategy, with the order's own reason.
    trips = rich_bot.get_json("/api/roundtrips?strategy=manual")["round_trips"]
    trip = next(t for t in trips if set(trade_ids) & set(t["trade_ids"]))
    assert trip["entry_reason"] == "by hand below the market"

    # A stop: placed from the ticket, shown resting, cancelled from the table.
    last = quote["last"]
    place_from_ticket(page, exchange="binance", symbol="BTC/USDT", side="buy", type="stop-market", amount=0.01,
                      stop_price=round(last * 1.5, 2))
    page.wait_for_function("() => [...document.querySelectorAll('#orders-body tr')].some(r => r.textContent.includes('stop'))",
                           timeout=WAIT_MS)
    stop_id = page.eval_on_selector_all("#orders-body tr", "rows => rows.map(r => r.dataset.orderId)")[-1]
    page.click(f"#orders-body button[data-cancel-order='{stop_id}']")
    page.wait_for_function(f"() => !document.querySelector(\"#orders-body tr[data-order-id='{stop_id}']\")",
                           timeout=WAIT_MS)
    assert [e["event"] for e in orders_events(rich_bot) if e["order"]["id"] == stop_id][-1] == "cancelled"

    # A strategy's position closed by hand: its exit, with the reason "manual close".
    button = "#positions-body button[data-close-strategy='momentum']"
    page.wait_for_selector(button, timeout=WAIT_MS * 4)
    page.locator(button).first.click()
    confirm(page)
    rich_bot.wait_until(lambda: any(t["reason"] == "manual close"
                                    for t in rich_bot.get_json("/api/trades?limit=200&strategy=momentum")["trades"]),
                        timeout=120, what="momentum's manual close in the ledger")

    # The journal offers the manual trade.
    journal = w.open(rich_bot.base_url, "/journal")
    journal.wait_for_function(f"() => [...document.querySelectorAll('#journal-trade option')]"
                              f".some(o => o.value === '{trade_ids[0]}')", timeout=WAIT_MS)
    w.assert_clean(expected=("400 (BAD REQUEST)",))  # the estimate refused on purpose above
