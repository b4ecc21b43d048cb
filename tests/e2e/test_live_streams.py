"""run_bot.py --market live with its dashboard (eventlet), three exchanges on fake binance streams.

The streams' asyncio loops run in OS threads inside an eventlet-patched process: the dashboard
must keep answering (/api/health many times, Socket.IO updates arriving) while they stream;
a dropped socket reconnects and the status bar says so. The fakes run in this test process,
reached on 127.0.0.1 only.
"""
from __future__ import annotations

import json
import threading
import time

import pytest
import requests
import socketio

from tests.e2e.conftest import WAIT_MS, start_bot
from tests.market.fake_stream_exchange import FakeBinanceStream

EXCHANGES = ("binance", "binanceus", "binanceusdm")
SYMBOLS = ("BTC/USDT", "ETH/USDT")


@pytest.fixture
def fakes():
    # 5 steps a second per stream: 120 frames a second in all, binance's own depth@100ms pace for two symbols.
    servers = {ex: FakeBinanceStream(SYMBOLS, seed=i + 1, step_seconds=0.2).start() for i, ex in enumerate(EXCHANGES)}
    try:
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def settings(fakes) -> dict:
    return {
        "market": {
            "source": "live", "exchanges": list(EXCHANGES), "symbols": list(SYMBOLS),
            "exchange_options": {ex: fakes[ex].stream_options(ex) for ex in EXCHANGES},
            "max_quote_age_seconds": 3.0,
            "live": {"poll_seconds": 0.5, "candle_backfill": 60, "retry_attempts": 1,
                     "streams": {"silence_seconds": 3.0, "reconnect_base_seconds": 0.2,
                                 "reconnect_max_seconds": 1.0}},
        },
        "portfolio": {"starting_balances": {"USDT": 10_000.0, "BTC": 0.05, "ETH": 1.0}},
        "engine": {"tick_interval_seconds": 0.2},
    }


def test_the_dashboard_stays_responsive_while_three_exchanges_stream_and_shows_a_reconnect(tmp_path, fakes, watched):
    bot = start_bot(tmp_path, settings(fakes), ("--market", "live"))
    received: list[tuple[float, dict]] = []
    lock = threading.Lock()
    client = socketio.Client(reconnection=False)

    def on_market(data):
        with lock:
            received.append((time.time(), data))

    client.on("market_update", on_market)
    try:
        status = bot.wait_until(lambda: (s := bot.get_json("/api/status")) and all(
            h.get("feed") == "stream" and h["state"] == "live" for h in s["health"].values()) and s,
            timeout=40, what="three exchanges streaming in /api/status")
        assert set(status["health"]) == set(EXCHANGES)
        client.connect(bot.base_url, transports=["websocket"], wait_timeout=10)

        # The hub keeps serving: 100 health checks answered (each within its time-out) while
        # the streams push their frames, and Socket.IO updates keep coming.
        for _ in range(100):
            assert requests.get(bot.base_url + "/api/health", timeout=5).status_code == 200
        bot.wait_until(lambda: len(received) >= 4, timeout=30, what="four market_update broadcasts")
        with lock:
            latest = received[-1][1]
        assert all(latest["health"][ex]["feed"] == "stream" for ex in EXCHANGES)
        ticks = [bot.get_json("/api/status")["tick"]]
        bot.wait_until(lambda: bot.get_json("/api/status")["tick"] >= ticks[0] + 10, timeout=30, what="ten more ticks")

        browser = watched()
        page = browser.open(bot.base_url, "/")
        streams = page.locator("#status-streams")
        shown = "() => /binanceus stream [0-9.]+\\/s, last [0-9.]+ s, reconnects (\\d+)/" \
                ".exec(document.querySelector('#status-streams').textContent)"
        try:
            page.wait_for_function(shown, timeout=WAIT_MS)
        except Exception as exc:
            raise AssertionError(f"status bar streams: {streams.text_content()!r}") from exc
        before = bot.get_json("/api/status")["health"]["binanceus"]["reconnects"]

        fakes["binanceus"].drop()
        bot.wait_until(lambda: (h := bot.get_json("/api/status")["health"]["binanceus"])["reconnects"] > before
                       and h["feed"] == "stream", timeout=60, what="binanceus reconnected")
        # The outage and the recovery are activity records (written through) while the bot runs.
        bot.wait_until(lambda: "binanceus: degraded - stream down" in activity_text(bot), timeout=60,
                       what="the outage in activity.jsonl")
        bot.wait_until(lambda: "binanceus: live again" in activity_text(bot), timeout=60,
                       what="the recovery in activity.jsonl")
        try:
            page.wait_for_function(f"() => {{ const m = ({shown})(); return m && Number(m[1]) > {before}; }}",
                                   timeout=max(WAIT_MS, 60_000))
        except Exception as exc:
            raise AssertionError(f"status bar streams: {streams.text_content()!r}") from exc
        browser.assert_clean()
    finally:
        client.disconnect()
        code = bot.stop()
    assert code == 0, f"run_bot.py exited with {code} after SIGTERM\n{bot.output()}"
    text_log = (bot.log_dir / "bot.log").read_text(encoding="utf-8")
    for line in ("binanceus stream down", "market binanceus: degraded - stream down", "market binanceus: live again"):
        assert line in text_log, f"{line!r} missing from bot.log\n{text_log[-3000:]}"
    activity = activity_text(bot)
    assert activity.index("binanceus: degraded - stream down") < activity.rindex("binanceus: live again")
    assert json.loads(activity.splitlines()[-1])["event"] == "bot_stopped"


def activity_text(bot) -> str:
    """logs/activity.jsonl as the bot has written it so far (read straight from disk)."""
    path = bot.log_dir / "activity.jsonl"
    return path.read_text(encoding="utf-8") if path.exists() else ""
