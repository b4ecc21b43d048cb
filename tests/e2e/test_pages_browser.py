"""The round-trips, wallets and logs pages and the journal's trade picker in a real browser
(run_bot.py subprocess, headless Chromium; see conftest.py). What the page shows is compared with
the API's answer and with the files on disk; screenshots at 1366 and 390 px go to /tmp/dashboard-shots/ (never into the checkout)."""
from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import ROW_IN_VIEW, SHOTS_COPY_DIR as SHOTS, WAIT_MS

pytestmark = pytest.mark.e2e


def _shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => { document.getElementById('toasts').hidden = true; }")
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _closed_trips(bot):
    return bot.wait_until(lambda: bot.get_json("/api/roundtrips?status=closed&limit=1000")["round_trips"],
                          timeout=WAIT_MS / 1000 * 3, what="a closed round trip")


def _ready(page, panel: str) -> None:
    page.wait_for_function(f"() => document.getElementById('{panel}').dataset.state === 'ready'", timeout=WAIT_MS)


def test_round_trips_page_filters_and_calendar(bot_server, watched):
    trips = _closed_trips(bot_server)
    w = watched(1366, 900)
    page = w.open(bot_server.base_url, "/trades")
    _ready(page, "trips-panel")
    shown = page.eval_on_selector_all("#trips-body tr", "rows => rows.map(r => r.dataset.tripId)")
    assert shown and set(shown) <= {t["id"] for t in bot_server.get_json("/api/roundtrips?status=closed&limit=1000")["round_trips"]}
    strategy = trips[0]["strategy"]
    page.select_option("#trip-strategy", strategy)
    page.wait_for_function("(s) => [...document.querySelectorAll('#trips-body tr td:nth-child(4)')].length > 0"
                           " && [...document.querySelectorAll('#trips-body tr td:nth-child(4)')]"
                           ".every(td => td.textContent.toLowerCase().replace(' ', '_') === s)", arg=strategy,
                           timeout=WAIT_MS)
    page.select_option("#trip-outcome", "loss")
    expected = bot_server.get_json(f"/api/roundtrips?status=closed&strategy={strategy}&outcome=loss&limit=50")
    page.wait_for_function("(n) => document.getElementById('trips-panel').dataset.state !== 'loading'"
                           " && document.querySelectorAll('#trips-body tr').length === n"
                           " || (n === 0 && document.getElementById('trips-panel').dataset.state === 'empty')",
                           arg=len(expected["round_trips"]), timeout=WAIT_MS)
    page.select_option("#trip-outcome", "")
    page.select_option("#trip-strategy", "")
    _ready(page, "calendar-panel")
    summary = bot_server.get_json("/api/roundtrips/summary")
    days = page.eval_on_selector_all("#calendar-body li", "items => items.map(i => i.dataset.key)")
    assert set(days) <= {d["date"] for d in summary["days"]} and days
    page.click("#calendar-weeks")
    weeks = page.eval_on_selector_all("#calendar-body li", "items => items.map(i => i.dataset.key)")
    assert weeks and all("-W" in key for key in weeks)
    _ready(page, "symbols-panel")
    _shoot(page, "trades-1366")
    w.assert_clean()
    narrow = watched(390, 844)
    small = narrow.open(bot_server.base_url, "/trades")
    _ready(small, "trips-panel")
    assert small.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert small.evaluate(ROW_IN_VIEW, "trips-body") == "ok"  # stacked: Net P&L and P&L % in view, labelled
    _shoot(small, "trades-390")
    narrow.assert_clean()


def test_wallets_page_shows_every_exchange_and_the_drift(bot_server, watched):
    wallets = bot_server.get_json("/api/wallets")
    for width in (1366, 390):
        w = watched(width, 900)
        page = w.open(bot_server.base_url, "/wallets")
        _ready(page, "balances-panel")
        _ready(page, "drift-panel")
        pairs = page.eval_on_selector_all("#balances-body tr[data-asset]",
                                          "rows => rows.map(r => r.dataset.exchange + ' ' + r.dataset.asset)")
        assert set(pairs) == {f"{e['exchange']} {a['asset']}" for e in wallets["exchanges"] for a in e["assets"]}
        assets = page.eval_on_selector_all("#drift-body tr", "rows => rows.map(r => r.dataset.asset)")
        assert assets == [row["asset"] for row in wallets["inventory"]]
        _shoot(page, f"wallets-{width}")
        w.assert_clean()


def test_logs_panel_filters_by_source_level_and_strategy(bot_server, watched):
    w = watched(1366, 900)
    page = w.open(bot_server.base_url, "/logs")
    _ready(page, "logs-panel")
    # the activity file on disk, read here: the newest line is the first row's event
    lines = [json.loads(x) for x in (bot_server.log_dir / "activity.jsonl").read_text().splitlines() if x.strip()]
    events = {line["event"] for line in lines}
    first = page.eval_on_selector("#logs-body tr td:nth-child(3)", "td => td.textContent")
    assert first in events
    traded = sorted({line["strategy"] for line in lines if line.get("strategy")})
    page.select_option("#log-strategy", traded[0])
    page.wait_for_function("(s) => document.getElementById('logs-panel').dataset.state === 'ready'"
                           " && [...document.querySelectorAll('#logs-body tr td:nth-child(4)')]"
                           ".every(td => td.textContent.toLowerCase().replace(' ', '_') === s)", arg=traded[0],
                           timeout=WAIT_MS)
    page.select_option("#log-strategy", "")
    page.select_option("#log-source", "bot")
    page.select_option("#log-level", "warning")
    page.wait_for_function("() => ['ready', 'empty'].includes(document.getElementById('logs-panel').dataset.state)"
                           " && [...document.querySelectorAll('#logs-body tr')]"
                           ".every(r => ['warning', 'error', 'critical'].includes(r.dataset.level))", timeout=WAIT_MS)
    page.select_option("#log-level", "")
    page.select_option("#log-source", "activity")
    page.wait_for_function("() => document.getElementById('logs-panel').dataset.state === 'ready'"
                           " && document.getElementById('log-note').textContent.includes('activity.jsonl')",
                           timeout=WAIT_MS)
    _shoot(page, "logs-1366")
    w.assert_clean()
    narrow = watched(390, 844)
    small = narrow.open(bot_server.base_url, "/logs")
    _ready(small, "logs-panel")
    _shoot(small, "logs-390")
    narrow.assert_clean()


def test_journal_trade_picker_searches_the_ledger_and_fills_the_bots_reason(bot_server, watched):
    def closing_trade():  # the module's earlier tests usually leave one; run alone, the bot may not have traded yet
        path = bot_server.data_dir / "trades.jsonl"
        if not path.exists():
            return None
        ledger = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        return next((t for t in ledger if "entry" not in t and t.get("reason")), None)

    trade = bot_server.wait_until(closing_trade, timeout=120, what="a trade with a reason in trades.jsonl")
    w = watched(1366, 900)
    page = w.open(bot_server.base_url, "/journal")
    page.fill("#journal-trade-search", trade["id"])
    page.wait_for_function("(id) => [...document.querySelectorAll('#journal-trade option')].some(o => o.value === id)",
                           arg=trade["id"], timeout=WAIT_MS)
    page.select_option("#journal-trade", trade["id"])
    assert page.input_value("#journal-entry-reason") == trade["reason"]
    page.fill("#journal-entry-reason", trade["reason"] + " (checked)")  # editable
    page.click("#journal-submit")  # no confidence, no rating: both optional
    page.wait_for_function("() => document.querySelectorAll('#journal-entries li').length > 0", timeout=WAIT_MS)
    saved = json.loads((bot_server.data_dir / "trade_journal.json").read_text())["entries"][-1]
    assert (saved["trade_id"], saved["entry_reason"], saved["confidence_level"], saved["rating"]) == \
        (trade["id"], trade["reason"] + " (checked)", None, None)
    _shoot(page, "journal-1366")
    w.assert_clean()
    narrow = watched(390, 844)
    small = narrow.open(bot_server.base_url, "/journal")
    _shoot(small, "journal-390")
    narrow.assert_clean()
