"""The pages' risk figures, the decomposition and the HTML report in headless Chromium, against a
run_bot.py subprocess that is stopped (tick loop halted, so the figures hold still) before looking.

The report is opened twice: downloaded with the /analytics button, and written by
`run_bot.py report` after the bot exits. Both must load with no console error and no CSP
violation, show the API's figures, and are screenshotted into the test's tmp dir (and copied to
/tmp/dashboard-shots/).
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import CSP_WATCH, REPO_ROOT, SHOTS_COPY_DIR, WAIT_MS, api_call, start_bot

pytestmark = pytest.mark.e2e
MINUS = "\u2212"
RISK_CELLS = {"sharpe": 1, "sortino": 2, "calmar": 3, "volatility_pct": 4, "max_drawdown_pct": 5}


def money(value: float, signed: bool = False) -> str:
    """The pages' and the report's number format (2 decimals, grouped, a true minus)."""
    text = f"{abs(value):,.2f}"
    if abs(value) < 0.005:
        return text
    return (("+" if value > 0 else MINUS) if signed else ("" if value > 0 else MINUS)) + text


def needs(figures: dict) -> str:
    count = figures["needs_periods"]
    return f"needs {count} more hour{'s' if count != 1 else ''}"


@pytest.fixture(scope="module")
def stopped_bot(tmp_path_factory):
    """A bot that traded and took samples for a while, then stopped from the API."""
    # 30 simulated seconds a tick (the e2e default is 10): two hourly periods in a third of the wall time.
    bot = start_bot(tmp_path_factory.mktemp("report-bot"), {"market": {"tick_seconds": 30.0}})
    try:
        bot.wait_until(lambda: bot.get_json("/api/trades?limit=1")["total"] >= 5
                       and bot.get_json("/api/analytics")["overall"]["periods"] >= 2,
                       timeout=120, interval=0.5, what="trades and two hourly periods")
        # Trading stopped here too (the first test stops it again from the page): each test finds the
        # figures still, whichever runs first or alone (xdist may give them to different workers).
        page = urllib.request.urlopen(bot.base_url + "/", timeout=30).read().decode("utf-8")
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        request = urllib.request.Request(bot.base_url + "/api/bot/stop", data=b"{}", method="POST",
                                         headers={"Content-Type": "application/json", "X-CSRF-Token": token})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200
        yield bot
    finally:
        code = bot.stop()
    assert code == 0, bot.output()


def watch(context):
    """A new page whose console errors, page errors and CSP violations are collected."""
    page = context.new_page()
    errors: list[str] = []
    page.add_init_script(CSP_WATCH)
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    return page, errors


def screenshot(page, directory: Path, name: str) -> Path:
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    SHOTS_COPY_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS_COPY_DIR / path.name)
    return path


def check_report(page, errors, api: dict) -> None:
    """The opened report shows the API's figures and loaded cleanly."""
    portfolio, analytics = api["portfolio"], api["analytics"]
    shown = lambda key: page.locator(f'[data-figure="{key}"]').inner_text().strip()  # noqa: E731
    assert shown("equity") == f"{money(portfolio['equity'])} USDT"
    assert shown("strategies_net_pnl") == f"{money(portfolio['strategies_net_pnl'], True)} USDT"
    assert shown("holdings_pnl") == f"{money(portfolio['holdings_pnl'], True)} USDT"
    assert shown("round_trips.overall") == str(analytics["overall"]["round_trips"])
    assert shown("samples") == str(analytics["overall"]["samples"])
    assert shown("sharpe.equity").startswith(needs(analytics["overall"]))
    assert page.locator("svg.chart").count() == 3 and page.locator("table.calendar td[data-date]").count() >= 1
    assert page.evaluate("document.querySelectorAll('script').length") == 0
    assert errors == [], errors
    assert page.evaluate("window.__csp") == [], page.evaluate("window.__csp")


def test_the_pages_and_the_downloaded_report(stopped_bot, browser, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    try:
        page, errors = watch(context)
        page.goto(stopped_bot.base_url + "/")
        page.wait_for_function("() => document.querySelector('#kpi-strategies-pnl').textContent !== '–'", timeout=WAIT_MS)
        assert api_call(page, "POST", "/api/bot/stop")["status"] == 200
        api = {name: stopped_bot.get_json(f"/api/{name}") for name in ("portfolio", "analytics", "chart/cumulative")}
        portfolio = api["portfolio"]
        # The overview: total P&L and both of its terms, and the drawdown the kill switch watches.
        page.reload()
        page.wait_for_function(f"() => document.querySelector('#kpi-pnl-total').textContent === "
                               f"{money(portfolio['total_pnl'], True)!r}", timeout=WAIT_MS)
        assert page.inner_text("#kpi-strategies-pnl") == money(portfolio["strategies_net_pnl"], True)
        assert page.inner_text("#kpi-holdings-pnl") == money(portfolio["holdings_pnl"], True)
        assert "kill switch basis" in page.inner_text("#kpi-drawdown-basis")
        screenshot(page, tmp_path, "overview-decomposition-1280")

        # /analytics: each risk figure with its period and sample size, or what it needs.
        page.goto(stopped_bot.base_url + "/analytics")
        page.wait_for_function("() => document.querySelector('#risk-panel').dataset.state === 'ready'", timeout=WAIT_MS)
        analytics = api["analytics"]
        rows = {"Equity": analytics["overall"], "Trading equity": analytics["overall"]["trading"]}
        rows.update({name.replace("_", " ").capitalize(): figures for name, figures in analytics["strategies"].items()})
        for label, figures in rows.items():
            row = page.locator("#risk-body tr", has=page.locator("th", has_text=label)).first
            for key, column in RISK_CELLS.items():
                cell = row.locator("td").nth(column - 1)
                plural = "" if figures["periods"] == 1 else "s"
                assert cell.locator(".figure-basis").inner_text() == f"1h × {figures['periods']} period{plural}", (label, key)
                if figures[key] is None and figures["needs_periods"] > 0 and key != "max_drawdown_pct":
                    assert cell.inner_text().startswith(needs(figures)), (label, key)
                elif figures[key] is None:  # drawdown needs one period, not thirty
                    assert cell.inner_text().startswith("–"), (label, key)
        assert analytics["period_rule"] in page.inner_text("#risk-caption")
        labels = page.evaluate("() => Chart.getChart(document.querySelector('#equity-chart')).data.datasets.map(d => d.label)")
        assert labels == ["Equity", "Trading equity", "Buy and hold"]
        last_hold = page.evaluate("() => { const d = Chart.getChart(document.querySelector('#equity-chart')).data.datasets[2].data;"
                                  " return d[d.length - 1].y; }")
        assert last_hold == pytest.approx(api["chart/cumulative"]["buy_and_hold"][-1][1])
        screenshot(page, tmp_path, "analytics-risk-1280")
        assert errors == [], errors

        # The download button: one self-contained file.
        with page.expect_download() as info:
            page.click("#report-download")
        download = info.value
        assert download.suggested_filename.startswith("report-") and download.suggested_filename.endswith(".html")
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        report, report_errors = watch(context)
        report.goto(saved.as_uri())
        check_report(report, report_errors, api)
        assert screenshot(report, tmp_path, "report-downloaded").stat().st_size > 10_000
    finally:
        context.close()


def test_the_command_line_report_of_the_stopped_bot(stopped_bot, browser, tmp_path):
    api = {name: stopped_bot.get_json(f"/api/{name}") for name in ("portfolio", "analytics")}
    assert stopped_bot.stop() == 0
    out = tmp_path / "report.html"
    result = subprocess.run([sys.executable, "run_bot.py", "report", "--data-dir", str(stopped_bot.data_dir),
                             "--config", str(stopped_bot.config_path), "--out", str(out)],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        page, errors = watch(context)
        page.goto(out.as_uri())
        check_report(page, errors, api)
        assert screenshot(page, tmp_path, "report-cli").stat().st_size > 10_000
    finally:
        context.close()
