"""run_bot.py --market live as a subprocess, its ccxt exchanges pointed at the local fake server.

The fake exchange runs in the test process; the bot reaches it on 127.0.0.1 only. The
dashboard runs as configured by default (eventlet), so the live workers run as green threads.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml

from tests.e2e.conftest import REPO_ROOT, WAIT_MS, start_bot
from tests.market.fake_exchange import FakeExchangeServer

EXCHANGES = ("binance", "kraken")


@pytest.fixture
def fake():
    with FakeExchangeServer(step_seconds=0.1) as server:
        yield server


def live_settings(fake: FakeExchangeServer) -> dict:
    return {
        "market": {
            "source": "live",
            "exchanges": list(EXCHANGES),
            "symbols": ["BTC/USDT", "ETH/USDT"],
            "exchange_options": {ex: fake.exchange_options(ex, timeout_ms=500) for ex in EXCHANGES},
            "max_quote_age_seconds": 3.0,
            "live": {"poll_seconds": 0.1, "candle_backfill": 60, "retry_attempts": 1, "backoff_base_seconds": 0.01,
                     "backoff_max_seconds": 0.05, "rate_limit_backoff_seconds": 0.05, "breaker_failures": 2,
                     "breaker_cooldown_seconds": 0.5},
        },
        "portfolio": {"starting_balances": {"USDT": 10_000.0, "BTC": 0.05, "ETH": 1.0}},
        "engine": {"tick_interval_seconds": 0.2},
    }


def test_live_mode_serves_both_exchanges_reports_a_fault_and_stops_cleanly(tmp_path, fake, watched):
    bot = start_bot(tmp_path, live_settings(fake), ("--market", "live"))
    try:
        status = bot.wait_until(lambda: (s := bot.get_json("/api/status")) and s["tick"] is not None
                                and all(h["state"] == "live" for h in s["health"].values()) and s,
                                timeout=30, what="both exchanges live in /api/status")
        assert status["market_source"] == "live" and set(status["health"]) == set(EXCHANGES)
        assert "Live market data (binance, kraken)" in status["market_description"]
        market = bot.wait_until(lambda: (m := bot.get_json("/api/market/live"))
                                and {q["exchange"] for q in m["quotes"]} == set(EXCHANGES) and m,
                                timeout=30, what="quotes from both exchanges in /api/market/live")
        assert {(q["exchange"], q["symbol"]) for q in market["quotes"]} == {
            (ex, sym) for ex in EXCHANGES for sym in ("BTC/USDT", "ETH/USDT")}
        assert all(0 < q["bid"] < q["ask"] for q in market["quotes"])
        assert [row["symbol"] for row in market["cross_exchange"]] == ["BTC/USDT", "ETH/USDT"]

        browser = watched()
        page = browser.open(bot.base_url, "/")
        feeds = page.locator("#status-feeds")
        assert page.locator("#status-market").text_content().startswith("Live market data (binance, kraken)")
        page.wait_for_function("() => document.querySelector('#status-feeds').textContent.startsWith('All exchanges live')",
                               timeout=WAIT_MS)

        fake.set_fault("kraken", "http_500")
        # Within a broadcast the status bar names the exchange, its state, why, and the data's age.
        page.wait_for_function("() => /^kraken (degraded|down) \\(.*exchange not available.*\\) · data [0-9.]+s old/"
                               ".test(document.querySelector('#status-feeds').textContent)", timeout=WAIT_MS)
        assert feeds.get_attribute("data-state") == "degraded"
        health = bot.wait_until(lambda: (h := bot.get_json("/api/status")["health"])["kraken"]["state"] != "live"
                                and h, timeout=30, what="kraken degraded in /api/status")
        assert health["kraken"]["state"] in ("degraded", "down")
        assert "exchange not available" in health["kraken"]["reason"]
        assert health["binance"]["state"] == "live"
        bot.wait_until(lambda: {q["exchange"] for q in bot.get_json("/api/market/live")["quotes"]} == {"binance"},
                       timeout=30, what="kraken quotes withdrawn from /api/market/live")

        fake.set_fault("kraken", None)
        bot.wait_until(lambda: bot.get_json("/api/status")["health"]["kraken"]["state"] == "live",
                       timeout=30, what="kraken live again")
        page.wait_for_function("() => document.querySelector('#status-feeds').dataset.state === 'live'",
                               timeout=WAIT_MS)
        browser.assert_clean()
    finally:
        code = bot.stop()
    assert code == 0, f"run_bot.py exited with {code} after SIGTERM\n{bot.output()}"
    summary = bot.stdout_path.read_text(encoding="utf-8")
    assert re.search(r"exchanges: binance live, data [\d.]+s old; kraken live, data [\d.]+s old", summary), summary

    state = json.loads((bot.data_dir / "portfolio_state.json").read_text(encoding="utf-8"))
    assert state["engine"]["market_source"] == "live"
    activity = [json.loads(line) for line in (bot.log_dir / "activity.jsonl").read_text().splitlines()]
    assert activity[0]["event"] == "bot_started" and activity[0]["market"] == "live"
    assert activity[-1]["event"] == "bot_stopped"
    text_log = (bot.log_dir / "bot.log").read_text(encoding="utf-8")
    for line in ("market binance: live", "market kraken: live", "market kraken: degraded", "market kraken: live again"):
        assert line in text_log, f"{line!r} missing from bot.log\n{text_log[-3000:]}"


def test_an_unknown_exchange_id_exits_2_naming_the_setting(tmp_path, fake):
    settings = live_settings(fake)
    settings["market"]["exchanges"] = ["binance", "nosuchexchange"]
    settings["storage"] = {"data_dir": str(tmp_path / "data"), "log_dir": str(tmp_path / "logs")}
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    result = subprocess.run([sys.executable, "run_bot.py", "--config", str(config_path), "--no-dashboard"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "market.exchanges: unknown ccxt exchange id 'nosuchexchange'" in result.stderr
    assert "Traceback" not in result.stderr
