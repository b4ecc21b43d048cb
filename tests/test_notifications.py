"""NotificationService: dashboards, log file, webhook delivery with retries, rate limit, switches."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.config import NotificationsConfig
from bot.notify.notifications import NotificationService
from tests.polling import wait_for


class Hook:
    """A local webhook: answers with the scripted statuses in turn (None = never answer)."""

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.bodies = []
        self.release = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.bodies.append(json.loads(body))
                status = hook.statuses.pop(0) if hook.statuses else 200
                if status is None:
                    hook.release.wait(10)
                    return
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def service(tmp_path, **settings):
    emitted = []
    svc = NotificationService(NotificationsConfig(**settings), tmp_path, emit=emitted.append)
    svc.emitted = emitted
    return svc


def test_notification_reaches_listeners_and_the_log_at_once(tmp_path):
    svc = service(tmp_path)
    note = svc.notify("trade_executed", "Bought 0.01 BTC", level="success", trade_id="T1")
    assert svc.emitted == [note]
    assert note["kind"] == "trade_executed" and note["level"] == "success" and note["trade_id"] == "T1"
    svc.close()
    lines = (tmp_path / "notifications.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["message"] == "Bought 0.01 BTC"


def test_webhook_success_sends_a_slack_and_discord_compatible_body(tmp_path):
    hook = Hook([200])
    try:
        svc = service(tmp_path, webhook_url=hook.url)
        svc.notify("manual", "hello", level="info")
        wait_for(lambda: svc.stats["webhook_sent"] == 1)
        body = hook.bodies[0]
        assert body["text"] == body["content"] == "[i] hello"
        assert body["kind"] == "manual"
        svc.close()
    finally:
        hook.close()


def test_webhook_500s_then_success_is_retried(tmp_path):
    hook = Hook([500, 502, 200])
    try:
        svc = service(tmp_path, webhook_url=hook.url, webhook_backoff_seconds=0.01)
        svc.notify("alert", "BTC above 100")
        wait_for(lambda: svc.stats["webhook_sent"] == 1)
        assert len(hook.bodies) == 3 and svc.stats["webhook_retries"] == 2 and svc.stats["webhook_failed"] == 0
        svc.close()
    finally:
        hook.close()


def test_a_4xx_is_not_retried_and_is_counted(tmp_path):
    hook = Hook([404])
    try:
        svc = service(tmp_path, webhook_url=hook.url, webhook_backoff_seconds=0.01)
        svc.notify("alert", "x")
        wait_for(lambda: svc.stats["webhook_failed"] == 1)
        assert len(hook.bodies) == 1
        svc.close()
    finally:
        hook.close()


def test_a_webhook_that_never_answers_does_not_block_the_caller(tmp_path):
    hook = Hook([None] * 10)
    try:
        svc = service(tmp_path, webhook_url=hook.url, webhook_timeout_seconds=0.3, webhook_retries=1,
                      webhook_backoff_seconds=0.01, rate_limit_per_minute=10_000)
        sent = 0
        for i in range(500):  # the tick loop keeps notifying while the webhook hangs
            if svc.notify("trade_executed", f"trade {i}"):
                sent += 1
        assert sent == 500 and len(svc.emitted) == 500
        wait_for(lambda: svc.stats["webhook_failed"] >= 1, timeout=30)
        svc.close(timeout=0.5)
    finally:
        hook.close()


def test_rate_limit_per_kind_suppresses_a_flood(tmp_path):
    now = [1000.0]
    svc = NotificationService(NotificationsConfig(rate_limit_per_minute=3), tmp_path, clock=lambda: now[0])
    results = [svc.notify("alert", f"flap {i}") for i in range(5)]
    assert [r is not None for r in results] == [True, True, True, False, False]
    assert svc.notify("trade_executed", "other kinds are not held back") is not None
    now[0] += 61
    assert svc.notify("alert", "a minute later") is not None
    assert svc.stats["suppressed"] == 2
    svc.close()


def test_switched_off_kinds_are_not_sent(tmp_path):
    svc = service(tmp_path, kinds={"trade_executed": False})
    assert svc.notify("trade_executed", "quiet") is None
    assert svc.notify("alert", "loud") is not None
    assert svc.stats["disabled"] == 1
    svc.close()


def test_bad_kind_or_level_is_refused(tmp_path):
    svc = service(tmp_path)
    with pytest.raises(ValueError, match="unknown notification kind"):
        svc.notify("gossip", "x")
    with pytest.raises(ValueError, match="level must be one of"):
        svc.notify("manual", "x", level="panic")
    svc.close()


# ----- composed notes: the message is made only for a note that goes out -------------------------
def test_a_composed_note_is_the_note_notify_sends(tmp_path):
    """notify_composed against the plain notify: the same note, the same log line, the same counts."""
    results = {}
    for way in ("plain", "composed"):
        folder = tmp_path / way
        folder.mkdir()
        emitted = []
        svc = NotificationService(NotificationsConfig(), folder, emit=emitted.append, clock=lambda: 1_767_225_600.5)
        if way == "plain":
            note = svc.notify("trade_executed", "momentum: buy 1 BTC/USDT", level="success", signal_id="s-1",
                              trade_ids=["T1"])
        else:
            note = svc.notify_composed("trade_executed", lambda: ("momentum: buy 1 BTC/USDT",
                                                                  {"signal_id": "s-1", "trade_ids": ["T1"]}),
                                       level="success")
        svc.close()
        results[way] = (note, emitted, list(svc.history), dict(svc.stats),
                        (folder / "notifications.jsonl").read_text())
    assert results["composed"] == results["plain"]
    assert results["plain"][0]["message"] == "momentum: buy 1 BTC/USDT" and results["plain"][0]["trade_ids"] == ["T1"]


def test_a_note_held_back_is_never_composed(tmp_path):
    """Rate-limited or switched off: compose is not called, and the counts are notify's."""
    now = [1000.0]
    svc = NotificationService(NotificationsConfig(rate_limit_per_minute=2, kinds={"alert": False}), tmp_path,
                              clock=lambda: now[0])
    composed = []

    def compose(i):
        def make():
            composed.append(i)
            return f"trade {i}", {"n": i}
        return make

    sent = [svc.notify_composed("trade_executed", compose(i)) for i in range(4)]
    assert [note is not None for note in sent] == [True, True, False, False]
    assert composed == [0, 1]
    assert svc.notify_composed("alert", compose(9)) is None and composed == [0, 1]
    now[0] += 61
    assert svc.notify_composed("trade_executed", compose(5))["n"] == 5 and composed == [0, 1, 5]
    assert svc.stats["suppressed"] == 2 and svc.stats["disabled"] == 1 and svc.stats["sent"] == 3
    with pytest.raises(ValueError, match="unknown notification kind"):
        svc.notify_composed("gossip", compose(7))
    assert composed == [0, 1, 5]
    svc.close()


def test_a_trade_confirmation_says_every_leg_and_the_realized_pnl(tmp_path):
    from bot.faults import FaultTracker
    from bot.models import Trade
    from bot.notify.activity import ActivityLog
    from bot.notify.notices import EngineNotices

    def trade(n, side, qty, price, realized):
        return Trade(id=f"T{n}", seq=n, ts=0.0, tick=3, strategy="arbitrage", signal_id="arbitrage-3-1",
                     kind="cross", exchange=("binance", "kraken")[n - 1], symbol="BTC/USDT", side=side, qty=qty,
                     price=price, fee=0.0, fee_asset="USDT", quote_usdt_rate=1.0, realized_pnl=realized,
                     status="filled", reason="")

    svc = NotificationService(NotificationsConfig(), tmp_path)
    notices = EngineNotices(ActivityLog(tmp_path), svc, FaultTracker(lambda *a, **k: None))
    notices.trades_executed([trade(1, "buy", 0.25, 101234.5678, 0.0), trade(2, "sell", 0.25, 101300.0, 12.345)])
    notices.trades_executed([trade(1, "buy", 1e-05, 99.5, 0.0)])
    first, second = svc.history
    assert first["message"] == ("arbitrage: buy 0.25 BTC/USDT on binance at 101235; "
                                "sell 0.25 BTC/USDT on kraken at 101300 (realized +12.35 USDT)")
    assert (first["kind"], first["level"], first["strategy"], first["signal_id"], first["trade_ids"]) == \
        ("trade_executed", "success", "arbitrage", "arbitrage-3-1", ["T1", "T2"])
    assert second["message"] == "arbitrage: buy 1e-05 BTC/USDT on binance at 99.5"
    svc.close()


def test_a_confirmation_that_cannot_be_made_is_a_counted_fault_not_a_raise(tmp_path):
    from bot.faults import FaultTracker
    from bot.notify.activity import ActivityLog
    from bot.notify.notices import EngineNotices

    faults = FaultTracker(lambda *a, **k: None)
    svc = NotificationService(NotificationsConfig(), tmp_path)
    EngineNotices(ActivityLog(tmp_path), svc, faults).trades_executed([])  # no trades: nothing to say
    assert faults.side_errors["notifications"] == 1 and not svc.history
    svc.close()
