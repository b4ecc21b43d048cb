"""The dashboard in a real browser: headless Debian Chromium driven by Playwright against a
run_bot.py subprocess (see conftest.py). Screenshots of every page are saved in the test's
tmp dir and copied to /tmp/dashboard-shots/.
"""
from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import PAGE_SETTLED, WAIT_MS, api_call, start_bot

pytestmark = pytest.mark.e2e

PAGES = {"overview": "/", "analytics": "/analytics", "leaderboard": "/leaderboard", "journal": "/journal",
         "alerts": "/alerts", "market": "/market", "trades": "/trades", "wallets": "/wallets", "logs": "/logs"}
XSS_SCRIPT = "<script>window.__xss=1</script>"
XSS_IMG = '<img src=x onerror="window.__xss=2">'
BOT_STATE_IS = "(state) => document.querySelector('#status-bot').dataset.state === state"
JOURNAL_LIST_STATE_IN = "(states) => states.includes(document.querySelector('#journal-list-panel').dataset.state)"


def trade_row_count(page) -> int:
    return page.locator("#trades-body tr").count()


# ---- the tests ---------------------------------------------------------------------------------

def test_overview_trade_table_grows_without_reload(bot_server, watched):
    w = watched()
    page = w.open(bot_server.base_url, "/")
    page.evaluate("window.__sameDocument = true")
    before = trade_row_count(page)
    top_before = page.evaluate("document.querySelector('#trades-body tr')?.dataset.tradeId || ''")
    if before < 50:
        page.wait_for_function(f"() => document.querySelectorAll('#trades-body tr').length > {before}", timeout=90_000)
    else:  # already full (50 kept): a new trade replaces the top row instead
        page.wait_for_function(
            f"() => document.querySelector('#trades-body tr')?.dataset.tradeId !== {json.dumps(top_before)}",
            timeout=90_000)
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    assert page.locator("#trades-panel").get_attribute("data-state") == "ready"
    # Newest first: the data-trade-id numbers descend down the table.
    ids = page.eval_on_selector_all("#trades-body tr", "rows => rows.map(r => r.dataset.tradeId)")
    assert ids == sorted(ids, reverse=True)
    w.assert_clean()


@pytest.mark.parametrize("name", list(PAGES))
def test_page_loads_cleanly(bot_server, watched, shots, name):
    w = watched()
    page = w.open(bot_server.base_url, PAGES[name])
    status = bot_server.get_json("/api/status")
    assert page.locator("#status-market").inner_text() == status["market_description"]
    assert page.locator('.nav a[aria-current="page"]').get_attribute("href") == PAGES[name]
    # Chart.js sizes its canvases and Lightweight Charts lays out its panes through the CSSOM
    # (allowed by the CSP, which only refuses style attributes in markup); nothing else has a style.
    styled = ("document.querySelectorAll('[style]:not(canvas):not(#candle-chart):not(#candle-chart *)"
              ":not(#mini-charts *)').length")
    assert page.evaluate(styled) == 0, "inline style attributes"
    if name in ("analytics", "market"):
        page.wait_for_timeout(1500)  # let a live update or two draw into the charts
    shots(page, f"{name}-1280")
    w.assert_clean()


def test_layouts_at_390_have_no_horizontal_scroll(bot_server, watched, shots):
    w = watched(390, 844)
    for name, path in PAGES.items():
        page = w.open(bot_server.base_url, path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1, f"{name} at 390 px is {width} px wide"
        if name in ("overview", "journal", "market"):
            shots(page, f"{name}-390")
    w.assert_clean()


def test_bot_pause_and_start_change_the_status_bar(bot_server, watched, shots):
    w = watched()
    page = w.open(bot_server.base_url, "/")
    status_bot = page.locator("#status-bot")
    try:
        assert status_bot.get_attribute("data-state") == "running"
        # Pause asks first; cancelling changes nothing.
        page.click("#bot-pause")
        page.locator("dialog.modal").get_by_role("button", name="Cancel").click()
        assert page.locator("dialog.modal").count() == 0
        assert bot_server.get_json("/api/status")["state"] == "running"

        page.click("#bot-pause")
        shots(page, "overview-confirm-pause-1280")
        page.locator("dialog.modal").get_by_role("button", name="Pause").click()
        page.wait_for_function(BOT_STATE_IS, arg="paused", timeout=WAIT_MS)
        assert "Paused" in status_bot.inner_text()
        assert bot_server.get_json("/api/status")["state"] == "paused"
        assert page.locator("#bot-pause").is_disabled()
        # One toast per action: the bot's own status notification, not a second one from the page.
        page.locator(".toast", has_text="Bot paused").first.wait_for(timeout=WAIT_MS)
        assert page.locator(".toast", has_text="paused").count() == 1

        page.click("#bot-start")  # starting needs no confirmation
        page.wait_for_function(BOT_STATE_IS, arg="running", timeout=WAIT_MS)
        page.locator(".toast", has_text="Bot running").first.wait_for(timeout=WAIT_MS)
        assert page.locator(".toast", has_text="running").count() == 1
        assert "Running" in status_bot.inner_text()
        assert bot_server.get_json("/api/status")["state"] == "running"
        assert page.locator("#bot-start").is_disabled()
    finally:
        if bot_server.get_json("/api/status")["state"] != "running":
            api_call(page, "POST", "/api/bot/start")
    w.assert_clean()


def test_strategy_toggle_switches_and_reports(bot_server, watched):
    w = watched()
    page = w.open(bot_server.base_url, "/")
    page.wait_for_selector("#toggle-momentum")
    switch = page.locator("#toggle-momentum")
    assert switch.is_checked()
    try:
        switch.click()
        page.locator(".toast-success", has_text="Momentum disabled").wait_for(timeout=WAIT_MS)
        page.wait_for_function("() => !document.querySelector('#toggle-momentum').checked")
        performance = bot_server.get_json("/api/strategies/performance")["strategies"]
        assert [s["enabled"] for s in performance if s["strategy"] == "momentum"] == [False]
        switch.click()
        page.locator(".toast-success", has_text="Momentum enabled").wait_for(timeout=WAIT_MS)
        assert switch.is_checked()
    finally:
        performance = bot_server.get_json("/api/strategies/performance")["strategies"]
        if not [s for s in performance if s["strategy"] == "momentum"][0]["enabled"]:
            api_call(page, "POST", "/api/strategies/momentum/toggle")
    w.assert_clean()


def test_leaderboard_sorts_from_the_keyboard(bot_server, watched):
    w = watched()
    page = w.open(bot_server.base_url, "/leaderboard")
    net = page.locator('th[data-sort-key="net_pnl"]')
    trades = page.locator('th[data-sort-key="trades"]')
    assert net.get_attribute("aria-sort") == "descending"
    page.locator('button[data-sort="trades"]').focus()
    page.keyboard.press("Enter")
    assert trades.get_attribute("aria-sort") == "descending"
    assert net.get_attribute("aria-sort") is None
    page.keyboard.press("Space")
    assert trades.get_attribute("aria-sort") == "ascending"
    w.assert_clean()


def test_journal_entry_is_saved_listed_and_exported(bot_server, watched, shots):
    w = watched()
    page = w.open(bot_server.base_url, "/journal")
    page.wait_for_function("() => !document.querySelector('#journal-trade-help').textContent.startsWith('Loading')")
    marker = f"e2e-{uuid.uuid4().hex[:10]}"
    options = page.eval_on_selector_all("#journal-trade option", "os => os.map(o => o.value)")
    trade_id = options[1] if len(options) > 1 else ""
    page.select_option("#journal-trade", trade_id)
    page.fill("#journal-entry-reason", f"Entry {marker}")
    page.fill("#journal-confidence", "7")
    page.select_option("#journal-rating", "4")
    page.fill("#journal-exit-reason", "Exited on the take-profit")
    page.fill("#journal-lessons", "Let winners run")
    page.click("#journal-submit")
    entry = page.locator(".journal-entry", has_text=f"Entry {marker}")
    entry.wait_for(timeout=WAIT_MS)
    assert "Confidence 7/10" in entry.inner_text()
    page.locator(".toast-success", has_text="saved").wait_for(timeout=WAIT_MS)
    assert page.input_value("#journal-entry-reason") == "", "the form was not reset"

    rows = list(csv.DictReader(io.StringIO(bot_server.get_text("/api/export/journal"))))
    mine = [r for r in rows if r["entry_reason"] == f"Entry {marker}"]
    assert len(mine) == 1, rows
    assert mine[0]["confidence_level"] == "7" and mine[0]["rating"] == "4"
    assert mine[0]["trade_id"] == trade_id and mine[0]["lessons_learned"] == "Let winners run"

    # Edit: the form fills in, PUT saves, the list shows the change.
    entry.get_by_role("button", name="Edit").click()
    assert page.input_value("#journal-entry-reason") == f"Entry {marker}"
    assert page.input_value("#journal-confidence") == "7"
    page.fill("#journal-confidence", "9")
    page.click("#journal-submit")
    edited = page.locator(".journal-entry", has_text=f"Entry {marker}").filter(has_text="Confidence 9/10")
    edited.wait_for(timeout=WAIT_MS)
    shots(page, "journal-entries-1280")
    rows = list(csv.DictReader(io.StringIO(bot_server.get_text("/api/export/journal"))))
    assert [r["confidence_level"] for r in rows if r["entry_reason"] == f"Entry {marker}"] == ["9"]

    # The text filter asks the server and narrows the list.
    page.fill("#journal-filter-text", marker)
    page.wait_for_function("() => document.querySelectorAll('.journal-entry').length === 1", timeout=WAIT_MS)
    page.fill("#journal-filter-text", "no-such-text-" + marker)
    page.wait_for_function(JOURNAL_LIST_STATE_IN, arg=["empty"], timeout=WAIT_MS)
    assert "match" in page.locator("#journal-list-panel .panel-state").inner_text()
    w.assert_clean()


def test_journal_bad_input_shows_field_errors_and_saves_nothing(bot_server, watched, shots):
    w = watched()
    page = w.open(bot_server.base_url, "/journal")
    count_before = len(bot_server.get_json("/api/journal/entries")["entries"])
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method in ("POST", "PUT") else None)

    page.fill("#journal-entry-reason", "Too sure of myself")
    page.fill("#journal-confidence", "11")
    page.select_option("#journal-rating", "3")
    page.click("#journal-submit")
    error = page.locator("#error-confidence_level")
    error.wait_for(state="visible", timeout=WAIT_MS)
    assert "1 to 10" in error.inner_text()
    assert page.get_attribute("#journal-confidence", "aria-invalid") == "true"
    assert posts == [], "an invalid entry was sent"
    shots(page, "journal-field-error-1280")

    # An error only the server can find (a trade that is not in the ledger) shows by its field too.
    page.fill("#journal-confidence", "5")
    assert error.is_hidden()
    page.evaluate("""() => { const s = document.querySelector('#journal-trade');
        const o = document.createElement('option'); o.value = 'T99999999'; o.textContent = 'missing trade';
        s.appendChild(o); s.value = 'T99999999'; }""")
    page.click("#journal-submit")
    trade_error = page.locator("#error-trade_id")
    trade_error.wait_for(state="visible", timeout=WAIT_MS)
    assert "T99999999" in trade_error.inner_text()
    assert len(bot_server.get_json("/api/journal/entries")["entries"]) == count_before
    rows = list(csv.DictReader(io.StringIO(bot_server.get_text("/api/export/journal"))))
    assert not [r for r in rows if r["entry_reason"] == "Too sure of myself"]
    # The browser logs the refused POST itself (status 400); that one is expected.
    w.assert_clean(expected=("status of 400",))


def test_failed_api_call_shows_an_error_state_with_retry(bot_server, watched, shots):
    w = watched()
    page = w.page

    def fail(route):
        route.fulfill(status=500, content_type="application/json",
                      body=json.dumps({"error": "journal file unreadable", "field": None}))

    page.route("**/api/journal/entries*", fail)
    w.open(bot_server.base_url, "/journal")
    panel = page.locator("#journal-list-panel")
    assert panel.get_attribute("data-state") == "error"
    assert "journal file unreadable" in panel.locator(".panel-state").inner_text()
    shots(page, "journal-error-state-1280")
    page.unroute("**/api/journal/entries*", fail)
    panel.get_by_role("button", name="Retry").click()
    page.wait_for_function(JOURNAL_LIST_STATE_IN, arg=["ready", "empty"], timeout=WAIT_MS)
    w.assert_clean(expected=("status of 500",))


def test_markup_in_journal_text_renders_as_text(bot_server, watched, shots):
    w = watched()
    page = w.open(bot_server.base_url, "/journal")
    marker = uuid.uuid4().hex[:8]
    answer = api_call(page, "POST", "/api/journal/entry", {
        "trade_id": None, "entry_reason": f"xss {marker} {XSS_IMG}", "confidence_level": 5,
        "exit_reason": None, "lessons_learned": XSS_SCRIPT, "rating": 2})
    assert answer["status"] == 201, answer
    page.reload()
    page.wait_for_function(PAGE_SETTLED, timeout=WAIT_MS)
    entry = page.locator(".journal-entry", has_text=f"xss {marker}")
    entry.wait_for(timeout=WAIT_MS)
    assert entry.get_by_text(XSS_SCRIPT, exact=True).is_visible()
    assert XSS_IMG in entry.inner_text()
    assert entry.locator("script, img").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    entry.scroll_into_view_if_needed()
    shots(page, "journal-markup-as-text-1280")
    w.assert_clean()


def test_markup_in_trade_reason_renders_as_text(watched, shots, tmp_path):
    """A second bot whose ledger holds one trade with markup in its reason; no strategy runs."""
    reason = f"breakout {XSS_SCRIPT} {XSS_IMG}"
    seeded = {"id": "T00000001", "seq": 1, "ts": "2026-01-01T00:00:00.000Z", "tick": 0, "strategy": "momentum",
              "signal_id": "momentum-0-1", "kind": "momentum_entry", "exchange": "binance", "symbol": "BTC/USDT",
              "side": "buy", "qty": 0.001, "price": 90000.0, "fee": 0.09, "fee_asset": "USDT",
              "quote_usdt_rate": 1.0, "realized_pnl": 0.0, "status": "filled", "reason": reason}
    off = {"enabled": False}
    bot = start_bot(tmp_path, {"strategies": {"arbitrage": off, "momentum": off, "news": off, "stat_arb": off}},
                    seed_trades=[seeded])
    try:
        w = watched()
        page = w.open(bot.base_url, "/")
        cell = page.locator('#trades-body tr[data-trade-id="T00000001"] td.reason')
        cell.wait_for(timeout=WAIT_MS)
        assert cell.inner_text() == reason
        assert page.locator("#trades-body script, #trades-body img").count() == 0
        assert page.evaluate("typeof window.__xss") == "undefined"
        shots(page, "overview-markup-in-reason-1280")
        w.assert_clean()
    finally:
        code = bot.stop()
    assert code == 0, bot.output()
    # With the bot gone the status bar says so and offers to reconnect (the page keeps trying).
    page.wait_for_function("() => document.documentElement.dataset.connection !== 'connected'", timeout=WAIT_MS)
    assert page.locator("#status-connection").get_by_role("button", name="Reconnect now").is_visible()


def test_trades_csv_download_matches_the_ledger(bot_server, watched):
    w = watched()
    page = w.open(bot_server.base_url, "/journal")
    bot_server.wait_until(lambda: bot_server.get_json("/api/health")["trades"] >= 1, timeout=90, what="a first trade")
    with page.expect_download() as download_info:
        page.click("#export-trades")
    download = download_info.value
    assert download.suggested_filename.startswith("trades") and download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows, "the trades CSV has no rows"
    ledger = [json.loads(line) for line in (bot_server.data_dir / "trades.jsonl").read_text().splitlines() if line]
    ledger = [line for line in ledger if "entry" not in line]  # transfer and borrow fee lines have their own CSVs
    # The ledger may have grown since the download: the CSV must be its prefix, in order.
    assert len(ledger) >= len(rows)
    assert [r["id"] for r in rows] == [t["id"] for t in ledger[: len(rows)]]
    for row, trade in zip(rows, ledger):
        assert int(row["seq"]) == trade["seq"]
        assert (row["strategy"], row["symbol"], row["side"], row["exchange"]) == \
            (trade["strategy"], trade["symbol"], trade["side"], trade["exchange"])
        assert float(row["qty"]) == pytest.approx(trade["qty"])
        # Decimal strings at the market's precision: equal to the ledger within half their last digit.
        digits = len(row["price"].partition(".")[2])
        assert float(row["price"]) == pytest.approx(trade["price"], abs=0.5 * 10 ** -digits + 1e-12)
        assert float(row["realized_pnl"]) == pytest.approx(trade["realized_pnl"])
    w.assert_clean()
