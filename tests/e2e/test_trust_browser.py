"""Every label true, in real Chromium against a run_bot.py subprocess: no bid above an ask under
one header, the P&L decomposition adds up on the page, the page says so within seconds when the
bot process dies, and at 390 px every page is in the nav and the key columns stay in view."""
from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import ROW_IN_VIEW, WAIT_MS, api_call, start_bot

pytestmark = pytest.mark.e2e

PAGES = {"overview": "/", "analytics": "/analytics", "leaderboard": "/leaderboard", "journal": "/journal",
         "alerts": "/alerts", "market": "/market", "trades": "/trades", "wallets": "/wallets", "logs": "/logs"}

# Every table on the page as {headers, rows: [[cell text...]]}.
TABLES = """() => [...document.querySelectorAll('table')].map(t => ({
    id: t.querySelector('tbody')?.id || '',
    headers: [...t.querySelectorAll('thead th')].map(th => th.textContent.trim()),
    rows: [...t.querySelectorAll('tbody tr')].map(r => [...r.cells].map(c => c.textContent.trim())),
}))"""


def number(text: str) -> float:
    """The first signed number in a cell ("+1,234.50", "−0.12", "60,039.70 binance")."""
    match = re.search(r"[+−-]?[\d,]+(?:\.\d+)?", text)
    assert match, f"no number in {text!r}"
    return float(match.group(0).replace(",", "").replace("−", "-"))


def test_no_bid_above_an_ask_under_one_header(bot_server, watched):
    status = bot_server.get_json("/api/status")
    exchanges = set(status["exchanges"])
    w = watched()
    for path in ("/", "/market"):
        page = w.open(bot_server.base_url, path)
        page.wait_for_function("() => document.querySelectorAll('#prices-body tr, #quotes-body tr').length > 0",
                               timeout=WAIT_MS)
        checked = 0
        for table in page.evaluate(TABLES):
            heads = [h.lower() for h in table["headers"]]
            if "bid" in heads and "ask" in heads:  # a plain Bid / Ask pair: one quote per row
                b, a = heads.index("bid"), heads.index("ask")
                for row in table["rows"]:
                    assert number(row[b]) <= number(row[a]), (path, table["id"], row)
                    checked += 1
            if "best bid (exchange)" in heads:  # best of all exchanges: each names its exchange, with the gap
                b, a, g = heads.index("best bid (exchange)"), heads.index("best ask (exchange)"), heads.index("gap")
                for row in table["rows"]:
                    assert row[b].split()[-1] in exchanges and row[a].split()[-1] in exchanges, row
                    bid, ask, gap = number(row[b]), number(row[a]), number(row[g])
                    assert gap == pytest.approx((bid - ask) / ask * 100, abs=2e-3), row
                    checked += 1
            if "highest bid" in heads:  # the cross-exchange gaps: each price beside its exchange's column
                b, a = heads.index("highest bid"), heads.index("lowest ask")
                assert table["headers"][b - 1] == "Sell on" and table["headers"][a - 1] == "Buy on"
                for row in table["rows"]:
                    assert row[b - 1] in exchanges and row[a - 1] in exchanges, row
        assert checked > 0, f"{path}: no bid/ask table found"
    w.assert_clean()


NAV_REACHABLE = """() => [...document.querySelectorAll('.nav a')].map(a => {
    const r = a.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return {href: a.getAttribute('href'), current: a.getAttribute('aria-current') === 'page',
            inside: r.left >= 0 && r.right <= window.innerWidth && r.width > 0 && r.height > 0,
            onTop: hit !== null && (hit === a || a.contains(hit))};
})"""
# The cell under column `name` of the first row of the table holding tbody#id: shown and in the viewport.
CELL_IN_VIEW = """([id, name]) => {
    const body = document.getElementById(id);
    const row = body && body.rows[0];
    if (!row) return null;
    const cell = [...row.cells].find(c => c.dataset.label === name);
    if (!cell) return 'no cell labelled ' + name;
    const r = cell.getBoundingClientRect();
    return r.width > 0 && r.left >= 0 && r.right <= window.innerWidth ? 'ok' : 'off-screen ' + r.left + '..' + r.right;
}"""


def test_390px_every_page_in_the_nav_and_key_columns_in_view(bot_server, watched):
    w = watched(390, 844)
    for name, path in PAGES.items():
        page = w.open(bot_server.base_url, path)
        links = page.evaluate(NAV_REACHABLE)
        assert sorted(link["href"] for link in links) == sorted(PAGES.values())
        assert all(link["inside"] and link["onTop"] for link in links), (name, links)
        assert [link["href"] for link in links if link["current"]] == [path]
        assert page.locator("#status-market-time").is_visible(), f"{name}: market time hidden at 390 px"
        assert page.evaluate("() => document.scrollingElement.scrollWidth") <= 390, f"{name} scrolls sideways"
    page = w.open(bot_server.base_url, "/")
    page.wait_for_function("() => document.querySelectorAll('#positions-body tr').length > 0", timeout=90_000)
    page.wait_for_function("() => document.querySelectorAll('#trades-body tr').length > 0", timeout=WAIT_MS)
    assert page.evaluate(CELL_IN_VIEW, ["positions-body", "Unrealized"]) == "ok"
    assert page.evaluate(CELL_IN_VIEW, ["trades-body", "Side"]) == "ok"
    # /market: every column of a quote, a cross-exchange gap and an open order inside its panel, named.
    page = w.open(bot_server.base_url, "/market")
    page.wait_for_function("() => document.querySelectorAll('#quotes-body tr').length > 0", timeout=WAIT_MS)
    page.wait_for_function("() => document.querySelectorAll('#cross-body tr').length > 0", timeout=WAIT_MS)
    quote = bot_server.get_json("/api/market/live")["quotes"][0]
    placed = api_call(page, "POST", "/api/orders", {
        "exchange": quote["exchange"], "symbol": quote["symbol"], "side": "buy", "type": "limit",
        "amount": 20, "amount_in": "quote", "price": float(f"{quote['bid'] * 0.5:.2g}")})
    assert placed["status"] == 201, placed
    try:
        page.wait_for_function("() => document.querySelectorAll('#orders-body tr').length > 0", timeout=WAIT_MS)
        for body in ("quotes-body", "cross-body", "orders-body"):
            assert page.evaluate(ROW_IN_VIEW, body) == "ok", body
    finally:
        api_call(page, "DELETE", f"/api/orders/{placed['data']['order']['id']}")
    w.assert_clean()


FORMATS = """async () => {
    const f = await import('/static/js/format.js');
    const ticks = [-1, -0.75, -0.5, -0.25, 0].map(value => ({value}));
    f.setMarketNow('2026-01-03T10:00:00Z');
    return {
        axis: ticks.map((t, i) => f.axisNumber(t.value, i, ticks)),
        wide: [0, 2000, 4000].map((v, i, all) => f.axisNumber(v, i, all.map(value => ({value})))),
        money: f.money(-0.001), signed: f.signedMoney(-0.004),
        usdt: f.assetAmount(0.00685688, 'USDT'), big: f.assetAmount(12.4312, 'USDT'), btc: f.assetAmount(0.00012345, 'BTC'),
        today: f.stamp('2026-01-03T09:15:02Z'), older: f.stamp('2026-01-01T09:15:02Z'),
        day: f.changeLabel(86400), half: f.changeLabel(43200), wall: f.wallDateTime('2026-01-03T09:15:02Z'),
    };
}"""


def test_number_and_time_formats_in_the_browser(bot_server, watched):
    """The page's own format module (imported as the pages import it): axes never read −0 and
    neighbours never read alike, USDT amounts at 2 decimals whatever their size, dates on
    anything not from the market's day, "24h" only for a day."""
    w = watched()
    page = w.open(bot_server.base_url, "/")
    got = page.evaluate(FORMATS)
    assert got["axis"] == ["−1.00", "−0.75", "−0.50", "−0.25", "0.00"]
    assert got["wide"] == ["0", "2,000", "4,000"]
    assert got["money"] == "0.00" and got["signed"] == "0.00"
    assert (got["usdt"], got["big"], got["btc"]) == ("0.01", "12.43", "0.00012345")
    assert (got["today"], got["older"]) == ("09:15:02", "2026-01-01 09:15")
    assert (got["day"], got["half"]) == ("24h", "12h change")
    assert got["wall"].endswith("wall clock")
    w.assert_clean()


def _figure(page, selector: str) -> float:
    return number(page.locator(selector).inner_text())


def test_the_pnl_decomposition_adds_up_to_total_pnl(bot_server, watched):
    """Stopped (the market frozen), the page's figures are the API's, and strategies' net P&L +
    starting inventory moves = total P&L on the overview and above the equity chart. Runs last
    on its bot: it stops it."""
    w = watched()
    page = w.open(bot_server.base_url, "/")
    assert api_call(page, "POST", "/api/bot/stop")["status"] == 200
    api = bot_server.get_json("/api/portfolio")
    shown = f"{api['total_pnl']:,.2f}".lstrip("-")
    for path, (total_id, strategies_id, holdings_id) in (("/", ("#kpi-pnl-total", "#kpi-strategies-pnl", "#kpi-holdings-pnl")),
                                                         ("/analytics", ("#decomp-total", "#decomp-strategies", "#decomp-holdings"))):
        p = w.open(bot_server.base_url, path)
        p.wait_for_function(f"() => document.querySelector('{total_id}').textContent.endsWith({shown!r})", timeout=WAIT_MS)
        total, strategies, holdings = _figure(p, total_id), _figure(p, strategies_id), _figure(p, holdings_id)
        assert total == pytest.approx(api["total_pnl"], abs=0.006)
        assert strategies == pytest.approx(api["strategies_net_pnl"], abs=0.006)
        assert holdings == pytest.approx(api["holdings_pnl"], abs=0.006)
        assert strategies + holdings == pytest.approx(total, abs=0.011)  # each rounded to the cent
    # the API's own identity, from its parts
    assert api["equity"] - api["initial_equity"] == pytest.approx(api["strategies_net_pnl"] + api["holdings_pnl"], abs=1e-6)
    w.assert_clean()


GREYED = """() => document.documentElement.dataset.heard === 'no'
    && document.querySelector('#status-bot').dataset.state === 'unknown'
    && getComputedStyle(document.querySelector('#portfolio-panel')).filter.includes('grayscale')"""


def test_killing_the_bot_greys_the_page_and_says_the_state_is_unknown(tmp_path, watched):
    bot = start_bot(tmp_path)
    try:
        w = watched()
        page = w.open(bot.base_url, "/")
        assert page.locator("#status-bot").get_attribute("data-state") == "running"
        assert page.evaluate("() => document.documentElement.dataset.heard") == "yes"
        bot.process.kill()  # SIGKILL: no goodbye from the server
        bot.process.wait(timeout=10)
        page.wait_for_function(GREYED, timeout=10_000)  # "within seconds"
        assert "Unknown" in page.locator("#status-bot").inner_text()
        assert page.locator("#bot-start").is_disabled() and page.locator("#bot-stop").is_disabled()
        w.assert_clean(expected=("ERR_CONNECTION_REFUSED", "WebSocket", "socket.io", "Failed to load resource"))
    finally:
        if bot.process.poll() is None:
            bot.process.kill()
            bot.process.wait(timeout=10)

