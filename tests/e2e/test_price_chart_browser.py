"""The Market page's price chart and the status bar's speed control in real Chromium.

A real run_bot.py trades on the fast e2e market; the chart must show that market's candles, our
fills on them (as many as GET /api/candles gives for the same candles, each strategy in the key)
and momentum's indicator series, with a tooltip naming a fill's reason; the speed control must
change the running bot's speed with one toast. No console error, no CSP violation.
"""
from __future__ import annotations


import pytest

from tests.e2e.conftest import WAIT_MS, api_call, start_bot
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

CHART_DRAWN = """() => { const box = document.getElementById('candle-chart');
    return box && Number(box.dataset.candles) > 0 && Number(box.dataset.fills) > 0; }"""


@pytest.fixture(scope="module")
def trading_bot(tmp_path_factory):
    bot = start_bot(tmp_path_factory.mktemp("chart"))
    try:
        yield bot
    finally:
        code = bot.stop()
    assert code == 0, f"run_bot.py exited with {code}\n{bot.output()}"


def traded_market(bot) -> tuple[str, str]:
    """A market where momentum has filled (polled until the ledger has such a fill)."""
    def found():
        trades = bot.get_json("/api/trades?strategy=momentum&limit=50")["trades"]
        return (trades[-1]["exchange"], trades[-1]["symbol"]) if trades else None
    return bot.wait_until(found, timeout=90, interval=0.3, what="a momentum fill")


def test_the_chart_shows_candles_fills_and_indicators_and_the_speed_control_works(trading_bot, watched, shots):
    bot = trading_bot
    exchange, symbol = traded_market(bot)
    query = f"/api/candles?exchange={exchange}&symbol={symbol.replace('/', '%2F')}&limit=500"
    bot.wait_until(lambda: bot.get_json(query)["markers"], timeout=60, what="the fill on a closed candle")
    watch = watched(1366, 900)
    page = watch.open(bot.base_url, "/market")
    page.select_option("#chart-exchange", exchange)
    page.select_option("#market-symbol", symbol)
    page.wait_for_function(CHART_DRAWN, timeout=WAIT_MS)
    box = page.locator("#candle-chart")
    drawn_series = box.get_attribute("data-series").split()
    assert {"candles", "emaFast", "emaSlow", "rsi"} <= set(drawn_series), drawn_series
    assert page.locator("#candle-chart canvas").count() > 0
    # The same candles from the API (the page has at least those; more may have closed since).
    answer = bot.get_json(query)
    assert int(box.get_attribute("data-candles")) >= len(answer["candles"]) - 5
    assert int(box.get_attribute("data-fills")) >= 1
    strategies = {m["strategy"] for m in answer["markers"]}
    keyed = set(page.locator("#chart-key li[data-strategy]").evaluate_all("nodes => nodes.map(n => n.dataset.strategy)"))
    assert strategies <= keyed, (strategies, keyed)
    assert "EMA3/EMA8" in page.locator("#candle-note").text_content()
    # Live: more closed candles arrive without a reload (market_update -> GET /api/candles?after=).
    drawn = int(box.get_attribute("data-candles"))
    page.wait_for_function(f"() => Number(document.getElementById('candle-chart').dataset.candles) > {drawn}",
                           timeout=WAIT_MS)
    # Axis and tooltip numbers: never "−0", a true minus sign, digits from the price step.
    shown = page.evaluate("""async () => { const m = await import('/static/js/price_chart.js');
        return [m.axisNumber(-0.0001, 2), m.axisNumber(-1.5, 1), m.axisNumber(60123.456, 2), m.stepDigits(0.01),
                m.stepDigits(1e-05), m.stepDigits(1)]; }""")
    assert shown == ["0.00", "−1.5", "60,123.46", 2, 5, 0]

    # Point along the chart until the tooltip of a fill shows: it names the strategy and the reason.
    # At the e2e speed a candle closes every 0.3 s wall and the chart scrolls under the pointer; at
    # speed 0.5 the next one is two wall minutes away, so the chart holds still while the pointer
    # sweeps it bar by bar (bars are ~7 px wide: a 2 px step crosses each). The tooltip follows the
    # crosshair's time, whatever the height in the pane. A sweep repeats (deadline) if a candle
    # closed during it.
    answer = api_call(page, "POST", "/api/market/speed", {"speed": 0.5})
    assert answer["status"] == 200, answer
    bot.wait_until(lambda: bot.get_json("/api/status")["clock"]["speed"] == 0.5, timeout=30, what="speed 0.5")
    area = box.bounding_box()
    tip = page.locator("#chart-tooltip")
    fill_tip = page.locator("#chart-tooltip .tip-fill")

    def swept() -> bool:
        for x in range(int(area["x"] + area["width"] - 70), int(area["x"] + 10), -2):
            page.mouse.move(x, area["y"] + area["height"] * 0.3)
            if tip.is_visible() and fill_tip.count():
                return True
        page.mouse.move(area["x"] + 5, area["y"] - 40)
        return False

    wait_for(swept, timeout=60, what="a fill's tooltip along the chart", interval=0.5)
    shots(page, "chart-tooltip-1366")
    text = fill_tip.first.text_content()
    assert " at " in text and any(word in text for word in ("buy", "sell")), text
    page.mouse.move(area["x"] + 5, area["y"] - 40)
    shots(page, "chart-market-1366")

    # The compact charts: one per symbol of the exchange, with candles; picking one charts it.
    symbols = bot.get_json("/api/status")["symbols"]
    page.wait_for_function(f"() => [...document.querySelectorAll('.mini-chart')].filter(n => Number(n.dataset.candles) > 0).length === {len(symbols)}",
                           timeout=WAIT_MS)
    other = next(s for s in symbols if s != symbol)
    page.click(f".mini-chart[data-symbol='{other}']")
    assert page.locator("#market-symbol").input_value() == other
    page.wait_for_function(CHART_DRAWN.replace("&& Number(box.dataset.fills) > 0", ""), timeout=WAIT_MS)
    assert other in page.locator("#candle-note").text_content()
    page.click(f".mini-chart[data-symbol='{symbol}']")
    page.wait_for_function(CHART_DRAWN, timeout=WAIT_MS)

    # The speed control on the status bar: set, applied, one toast.
    assert page.locator("#speed-form").is_visible()
    page.evaluate("() => { document.getElementById('toasts').replaceChildren(); }")
    page.fill("#speed-input", "123")
    page.click("#speed-set")
    bot.wait_until(lambda: bot.get_json("/api/status")["clock"]["speed"] == 123.0, timeout=30, what="speed 123")
    page.wait_for_function("() => document.querySelectorAll('#toasts .toast').length > 0", timeout=WAIT_MS)
    toasts = page.locator("#toasts .toast").all_text_contents()
    assert len(toasts) == 1 and "123" in toasts[0], toasts
    watch.assert_clean()

    narrow = watched(390, 844)
    small = narrow.open(bot.base_url, "/market")
    small.select_option("#chart-exchange", exchange)
    small.select_option("#market-symbol", symbol)
    small.wait_for_function(CHART_DRAWN, timeout=WAIT_MS)
    width = small.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at 390 px ({width} px wide)"
    shots(small, "chart-market-390")
    narrow.assert_clean()
