"""The alerts page in a real browser (headless Debian Chromium through Playwright) against a
run_bot.py subprocess: the rule form and its checks, a price alert that fires on the simulated
market, pause/resume/delete, the history filters, the test notification and browser notifications.
Tests run in file order on one module-scoped bot (conftest.bot_server); each names its own rules.
"""
from __future__ import annotations

import json
import uuid

import pytest
from playwright.sync_api import expect

# The browser, page watcher and screenshot fixtures of the main browser suite.
from tests.e2e.conftest import PAGE_SETTLED, WAIT_MS, api_call

pytestmark = pytest.mark.e2e

FORM_READY = "() => document.querySelector('#alert-symbol').value === 'BTC/USDT'"
ROW = '#rules-body tr[data-rule-id="{}"]'
ROW_STATUS_IS = "([id, status]) => document.querySelector(`#rules-body tr[data-rule-id=\"${id}\"]`)?.dataset.status === status"
ROW_GONE = "(id) => !document.querySelector(`#rules-body tr[data-rule-id=\"${id}\"]`)"
# Wraps the real Notification API: records each notification and each permission request.
NOTIFICATION_SPY = """(() => {
  window.__notes = []; window.__permissionRequests = 0;
  const Real = window.Notification;
  if (typeof Real !== 'function') return;
  class Spy extends Real {
    constructor(title, options) { super(title, options); window.__notes.push({title, body: options && options.body}); }
    static requestPermission(callback) { window.__permissionRequests += 1; return Real.requestPermission(callback); }
  }
  window.Notification = Spy;
})();"""
NO_NOTIFICATION_API = "delete window.Notification;"


def open_alerts(w, base_url: str, path: str = "/alerts"):
    page = w.open(base_url, path)
    page.wait_for_function(FORM_READY, timeout=WAIT_MS)
    return page


def btc_mid(bot) -> float:
    """The mean of the exchanges' BTC/USDT mids: the price an exchange-less rule watches."""
    quotes = [q for q in bot.get_json("/api/market/live")["quotes"] if q["symbol"] == "BTC/USDT"]
    assert quotes, "no BTC/USDT quote"
    return sum((q["bid"] + q["ask"]) / 2 for q in quotes) / len(quotes)


def alerts_file(bot) -> bytes | None:
    path = bot.data_dir / "alerts.json"
    return path.read_bytes() if path.exists() else None


def submit_rule(page) -> dict:
    """Click "Add alert" and return the rule the server created."""
    with page.expect_response(lambda r: r.url.endswith("/api/alerts") and r.request.method == "POST") as answer:
        page.click("#alert-submit")
    assert answer.value.status == 201, answer.value.text()
    return answer.value.json()["rule"]


def rules_by_id(bot) -> dict:
    return {r["id"]: r for r in bot.get_json("/api/alerts")["rules"]}


# ---- the tests ---------------------------------------------------------------------------------

def test_alerts_page_loads_with_empty_states_and_no_errors(bot_server, watched):
    w = watched()
    page = open_alerts(w, bot_server.base_url)
    assert page.locator("#rules-panel").get_attribute("data-state") == "empty"
    assert "No alert rules yet" in page.locator("#rules-panel .panel-state").inner_text()
    assert page.locator("#history-panel").get_attribute("data-state") == "empty"
    assert "No alert has fired yet" in page.locator("#history-panel .panel-state").inner_text()
    assert page.locator("#whales-panel").get_attribute("data-state") in ("ready", "empty")
    assert page.locator("#notifications-panel").get_attribute("data-state") in ("ready", "empty")
    # The form shows the fields of the chosen condition only, with the symbols of the bot.
    status = bot_server.get_json("/api/status")
    assert page.eval_on_selector_all("#alert-symbol option", "os => os.map(o => o.value)") == status["symbols"]
    assert page.eval_on_selector_all("#alert-exchange option", "os => os.map(o => o.value)") == ["", *status["exchanges"]]
    assert page.locator("#alert-price").is_visible() and page.locator("#alert-pct").is_hidden()
    page.select_option("#alert-condition", "loss_streak")
    assert page.locator("#alert-strategy").is_visible() and page.locator("#alert-count").is_visible()
    assert page.locator("#alert-symbol").is_hidden() and page.locator("#alert-price").is_hidden()
    strategies = bot_server.get_json("/api/catalog")["strategies"]  # the server's one list (manual included)
    assert page.eval_on_selector_all("#alert-strategy option", "os => os.map(o => o.value)") == strategies
    page.select_option("#alert-condition", "whale")
    assert page.locator("#alert-min-usd").is_visible() and page.input_value("#alert-min-usd") == "1000000"
    assert page.locator("#alert-symbol option").first.text_content() == "Any asset"
    page.select_option("#alert-condition", "above")
    # The price starts at the market's current mid (it follows the market until the user edits it).
    prefilled = float(page.input_value("#alert-price"))
    assert prefilled == pytest.approx(btc_mid(bot_server), rel=0.05)
    assert page.evaluate("document.querySelectorAll('[style]:not(canvas)').length") == 0, "inline style attributes"
    w.assert_clean()


def test_bad_input_shows_field_errors_and_saves_nothing(bot_server, watched, shots):
    w = watched()
    page = open_alerts(w, bot_server.base_url)
    rules_before = bot_server.get_json("/api/alerts")["rules"]
    file_before = alerts_file(bot_server)
    sent = []
    page.on("request", lambda r: sent.append(r.url) if r.method != "GET" and "/api/" in r.url else None)

    page.select_option("#alert-condition", "above")
    page.fill("#alert-price", "-5")
    page.click("#alert-submit")
    error = page.locator("#error-price")
    error.wait_for(state="visible", timeout=WAIT_MS)
    assert "above 0" in error.inner_text()
    assert page.get_attribute("#alert-price", "aria-invalid") == "true"
    shots(page, "alerts-field-error-1280")
    page.fill("#alert-price", "")
    assert error.is_hidden(), "typing did not clear the error"
    page.click("#alert-submit")
    assert "Enter the price level" in error.inner_text()

    page.select_option("#alert-condition", "pct_move")
    assert error.is_hidden(), "a hidden field kept its error"
    page.fill("#alert-pct", "2")
    page.fill("#alert-window", "20000")
    page.click("#alert-submit")
    assert "10,080" in page.locator("#error-window_minutes").inner_text()

    page.select_option("#alert-condition", "drawdown")
    page.fill("#alert-pct", "150")
    page.click("#alert-submit")
    assert "below 100%" in page.locator("#error-pct").inner_text()

    page.select_option("#alert-condition", "loss_streak")
    page.fill("#alert-count", "2.5")
    page.click("#alert-submit")
    assert "whole number" in page.locator("#error-count").inner_text()

    page.select_option("#alert-condition", "whale")
    page.fill("#alert-min-usd", "0")
    page.check("#alert-repeat")
    page.fill("#alert-cooldown", "-1")
    page.click("#alert-submit")
    assert "above 0" in page.locator("#error-min_usd").inner_text()
    assert "0 to 10,080" in page.locator("#error-cooldown_minutes").inner_text()

    assert sent == [], f"an invalid rule was sent: {sent}"
    assert bot_server.get_json("/api/alerts")["rules"] == rules_before
    assert alerts_file(bot_server) == file_before, "data/alerts.json changed"
    w.assert_clean()


def test_server_field_errors_show_next_to_the_field(bot_server, watched):
    w = watched()
    page = open_alerts(w, bot_server.base_url)
    rules_before = bot_server.get_json("/api/alerts")["rules"]
    file_before = alerts_file(bot_server)
    # A symbol the client cannot know is wrong (the bot does not trade it): the server says so.
    page.evaluate("""() => { const s = document.querySelector('#alert-symbol');
        const o = document.createElement('option'); o.value = 'DOGE/USDT'; o.textContent = 'DOGE/USDT';
        s.appendChild(o); s.value = 'DOGE/USDT'; }""")
    page.fill("#alert-price", "0.5")
    page.click("#alert-submit")
    error = page.locator("#error-symbol")
    error.wait_for(state="visible", timeout=WAIT_MS)
    assert "symbol must be one of the traded symbols" in error.inner_text()
    assert page.get_attribute("#alert-symbol", "aria-invalid") == "true"
    assert page.locator("#alert-form-error").is_hidden()

    # Any field the server names: an intercepted answer for the note.
    def refuse(route):
        route.fulfill(status=400, content_type="application/json",
                      body=json.dumps({"error": "note must not mention secrets", "field": "note"}))

    page.route("**/api/alerts", refuse)
    page.select_option("#alert-symbol", "BTC/USDT")
    page.fill("#alert-price", "1000")
    page.fill("#alert-note", "password 1234")
    page.click("#alert-submit")
    note_error = page.locator("#error-note")
    note_error.wait_for(state="visible", timeout=WAIT_MS)
    assert note_error.inner_text() == "note must not mention secrets"
    assert error.is_hidden()
    page.unroute("**/api/alerts", refuse)

    assert bot_server.get_json("/api/alerts")["rules"] == rules_before
    assert alerts_file(bot_server) == file_before
    w.assert_clean(expected=("status of 400",))


def test_price_alert_fires_and_shows_without_reload(bot_server, watched, shots):
    w = watched()
    page = open_alerts(w, bot_server.base_url)
    page.evaluate("window.__sameDocument = true")
    marker = f"e2e-{uuid.uuid4().hex[:8]}"
    # "above" a level well under the current mid: true on the very next tick.
    level = round(btc_mid(bot_server) * 0.9, 2)
    page.select_option("#alert-condition", "above")
    page.select_option("#alert-symbol", "BTC/USDT")
    page.fill("#alert-price", str(level))
    page.fill("#alert-note", marker)
    rule = submit_rule(page)
    assert (rule["condition"], rule["symbol"], rule["price"], rule["repeat"]) == ("above", "BTC/USDT", level, False)
    assert rule["exchange"] is None and rule["note"] == marker
    page.locator(".toast-success", has_text="Alert added").wait_for(timeout=WAIT_MS)
    assert page.input_value("#alert-note") == "", "the form was not reset"

    # The notification arrives as a toast, the rule shows as fired, the trigger is in the history.
    page.locator(".toast", has_text="Alert: BTC/USDT above").first.wait_for(timeout=WAIT_MS)
    page.wait_for_function(ROW_STATUS_IS, arg=[rule["id"], "fired"], timeout=WAIT_MS)
    row = page.locator(ROW.format(rule["id"]))
    assert "BTC/USDT above" in row.inner_text() and marker in row.inner_text()
    assert row.get_by_role("button", name="Re-arm").is_visible()
    assert row.locator(".rule-count").inner_text() == "1 time"
    history_row = page.locator("#history-body tr", has_text="Alert: BTC/USDT above").first
    history_row.wait_for(timeout=WAIT_MS)
    assert history_row.get_attribute("data-rule-id") == rule["id"]
    page.locator("#notifications-list li[data-kind='alert']").first.wait_for(timeout=WAIT_MS)
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    stored = rules_by_id(bot_server)[rule["id"]]
    assert stored["active"] is False and stored["trigger_count"] == 1, stored

    # History filters: by condition, symbol and text; a filter that matches nothing says so.
    page.select_option("#history-filter-condition", "whale")
    page.wait_for_function("() => document.querySelector('#history-panel').dataset.state === 'empty'")
    assert "No trigger matches the filter" in page.locator("#history-panel .panel-state").inner_text()
    page.select_option("#history-filter-condition", "above")
    page.select_option("#history-filter-symbol", "BTC/USDT")
    page.fill("#history-filter-text", "btc/usdt ABOVE")
    assert page.locator("#history-panel").get_attribute("data-state") == "ready"
    assert page.locator(f'#history-body tr[data-rule-id="{rule["id"]}"]').count() == 1
    page.fill("#history-filter-text", "no such message " + marker)
    assert page.locator("#history-panel").get_attribute("data-state") == "empty"
    page.fill("#history-filter-text", "")
    page.select_option("#history-filter-condition", "")
    page.select_option("#history-filter-symbol", "")
    shots(page, "alerts-fired-1280")
    w.assert_clean()


def test_pause_resume_and_delete_a_rule(bot_server, watched):
    w = watched()
    page = open_alerts(w, bot_server.base_url)
    page.select_option("#alert-condition", "whale")
    page.fill("#alert-min-usd", "1e15")  # never fires
    page.check("#alert-repeat")
    page.fill("#alert-cooldown", "30")
    rule = submit_rule(page)
    assert (rule["condition"], rule["min_usd"], rule["repeat"], rule["cooldown_minutes"]) == ("whale", 1e15, True, 30.0)
    assert rule["symbol"] is None
    row = page.locator(ROW.format(rule["id"]))
    row.wait_for(timeout=WAIT_MS)
    assert "Whale transfers over" in row.inner_text() and "repeats, 30 min cooldown" in row.inner_text()
    assert row.get_attribute("data-status") == "active"

    row.get_by_role("button", name="Pause").click()
    page.wait_for_function(ROW_STATUS_IS, arg=[rule["id"], "paused"], timeout=WAIT_MS)
    page.locator(".toast-success", has_text="Alert paused").wait_for(timeout=WAIT_MS)
    assert rules_by_id(bot_server)[rule["id"]]["active"] is False
    row.get_by_role("button", name="Resume").click()
    page.wait_for_function(ROW_STATUS_IS, arg=[rule["id"], "active"], timeout=WAIT_MS)
    assert rules_by_id(bot_server)[rule["id"]]["active"] is True

    # Delete asks first; Cancel keeps the rule.
    row.get_by_role("button", name="Delete").click()
    dialog = page.locator("dialog.modal")
    assert "Whale transfers over" in dialog.inner_text()
    dialog.get_by_role("button", name="Cancel").click()
    assert page.locator("dialog.modal").count() == 0
    assert rule["id"] in rules_by_id(bot_server)
    row.get_by_role("button", name="Delete").click()
    page.locator("dialog.modal").get_by_role("button", name="Delete").click()
    page.wait_for_function(ROW_GONE, arg=rule["id"], timeout=WAIT_MS)
    page.locator(".toast-success", has_text="Alert deleted").wait_for(timeout=WAIT_MS)
    assert rule["id"] not in rules_by_id(bot_server)
    w.assert_clean()


def test_alerts_page_screenshots_and_no_sideways_scroll(bot_server, watched, shots):
    # Some content for the pictures: a pct_move rule made through the form (it may fire).
    w = watched()
    page = open_alerts(w, bot_server.base_url)
    page.select_option("#alert-condition", "pct_move")
    page.select_option("#alert-symbol", "ADA/USDT")
    page.select_option("#alert-exchange", "binance")
    page.fill("#alert-note", "Screenshot rule")
    rule = submit_rule(page)
    assert (rule["pct"], rule["window_minutes"], rule["exchange"]) == (2.0, 15.0, "binance")
    page.locator(ROW.format(rule["id"]), has_text="ADA/USDT moves 2% within 15 min on binance").wait_for(timeout=WAIT_MS)
    page.wait_for_timeout(500)
    shots(page, "alerts-page-1280")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    w.assert_clean()

    narrow = watched(390, 844)
    page = open_alerts(narrow, bot_server.base_url)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 391, f"the alerts page at 390 px is {width} px wide"
    # Wide tables scroll inside their panel, not the page.
    assert page.evaluate("[...document.querySelectorAll('.table-wrap')].every(t => t.getBoundingClientRect().right <= 391)")
    shots(page, "alerts-page-390")
    narrow.assert_clean()


def test_test_notification_and_browser_notifications(bot_server, watched):
    w = watched()
    w.context.grant_permissions(["notifications"], origin=bot_server.base_url)
    w.page.add_init_script(NOTIFICATION_SPY)
    page = open_alerts(w, bot_server.base_url)
    control = page.locator('[data-browser-notify="full"]')
    status_item = page.locator("#status-browser-notify")
    assert control.get_attribute("data-state") == "off" and "Browser notifications: off" in control.inner_text()
    assert status_item.get_attribute("data-state") == "off"

    # Off: a test notification is a toast (and a list item), not a browser notification.
    marker = f"e2e-{uuid.uuid4().hex[:8]}"
    page.fill("#notify-message", f"first {marker}")
    page.select_option("#notify-level", "warning")
    page.click("#notify-submit")
    page.locator(".toast-warning", has_text=f"first {marker}").wait_for(timeout=WAIT_MS)
    # The toast comes through the socket, the result line after the HTTP answer: either may be first.
    expect(page.locator("#notify-result")).to_contain_text("No webhook is configured", timeout=WAIT_MS)
    page.locator("#notifications-list li", has_text=f"first {marker}").wait_for(timeout=WAIT_MS)
    assert page.evaluate("window.__notes") == []

    # Enable (already allowed by the browser here, so no prompt is needed): toast + notification.
    control.get_by_role("button", name="Enable").click()
    page.wait_for_function("() => document.querySelector('[data-browser-notify=\"full\"]').dataset.state === 'on'")
    assert status_item.get_attribute("data-state") == "on"
    assert page.evaluate("localStorage.getItem('dashboard.browserNotifications')") == "on"
    page.fill("#notify-message", f"second {marker}")
    page.click("#notify-submit")
    page.locator(".toast", has_text=f"second {marker}").wait_for(timeout=WAIT_MS)
    page.wait_for_function("(text) => window.__notes.some(n => n.body === text)", arg=f"second {marker}", timeout=WAIT_MS)
    note = [n for n in page.evaluate("window.__notes") if n["body"] == f"second {marker}"][0]
    assert note["title"].startswith("Manual")

    # The choice is remembered, on every page (status bar control).
    page.goto(bot_server.base_url + "/")
    page.wait_for_function(PAGE_SETTLED, timeout=WAIT_MS)
    assert page.locator("#status-browser-notify").get_attribute("data-state") == "on"
    page.locator("#status-browser-notify").get_by_role("button", name="Turn off").click()
    expect(page.locator("#status-browser-notify")).to_have_attribute("data-state", "off", timeout=WAIT_MS)
    assert page.evaluate("localStorage.getItem('dashboard.browserNotifications')") == "off"
    assert page.evaluate("window.__permissionRequests") == 0
    w.assert_clean()


def test_browser_notifications_denied_or_unsupported_keep_toasts(bot_server, watched):
    # Not granted: headless Chromium answers the permission request with "denied".
    w = watched()
    w.page.add_init_script(NOTIFICATION_SPY)
    page = open_alerts(w, bot_server.base_url)
    control = page.locator('[data-browser-notify="full"]')
    assert control.get_attribute("data-state") == "off"
    assert page.evaluate("window.__permissionRequests") == 0, "permission was asked without a click"
    control.get_by_role("button", name="Enable").click()
    page.wait_for_function("() => document.querySelector('[data-browser-notify=\"full\"]').dataset.state === 'denied'")
    assert page.evaluate("window.__permissionRequests") == 1
    assert "blocked" in control.inner_text() and control.get_by_role("button").count() == 0
    page.locator(".toast-warning", has_text="blocks notifications").wait_for(timeout=WAIT_MS)
    marker = f"e2e-{uuid.uuid4().hex[:8]}"
    answer = api_call(page, "POST", "/api/notifications/send", {"message": f"denied {marker}", "level": "info"})
    assert answer["status"] == 200, answer
    page.locator(".toast-info", has_text=f"denied {marker}").wait_for(timeout=WAIT_MS)
    assert page.evaluate("window.__notes") == []
    w.assert_clean()

    # No Notification API at all.
    bare = watched()
    bare.page.add_init_script(NO_NOTIFICATION_API)
    page = open_alerts(bare, bot_server.base_url)
    control = page.locator('[data-browser-notify="full"]')
    assert control.get_attribute("data-state") == "unsupported"
    assert "not supported" in control.inner_text() and control.get_by_role("button").count() == 0
    answer = api_call(page, "POST", "/api/notifications/send", {"message": f"bare {marker}", "level": "info"})
    assert answer["status"] == 200, answer
    page.locator(".toast-info", has_text=f"bare {marker}").wait_for(timeout=WAIT_MS)
    bare.assert_clean()
