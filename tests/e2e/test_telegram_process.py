"""run_bot.py with its dashboard (eventlet) and Telegram pointed at a local fake Bot API: the
start notification arrives, /pause from the allowed chat pauses the real engine, a stranger gets
no answer, and a Telegram that stops answering holds up no tick."""
from __future__ import annotations

from tests.e2e.conftest import start_bot
from tests.fake_telegram import TOKEN, FakeTelegram

ME, STRANGER = 4242, 666


def test_telegram_commands_drive_the_real_bot_and_an_outage_never_stops_the_ticks(tmp_path):
    fake = FakeTelegram()
    telegram = {"bot_token": TOKEN, "chat_ids": [ME], "api_base_url": fake.url, "poll_timeout_seconds": 1,
                "backoff_seconds": 0.05, "max_backoff_seconds": 0.2}
    bot = start_bot(tmp_path, {"notifications": {"telegram": telegram}})
    try:
        bot.wait_until(lambda: any("Bot started" in text for text in fake.messages_to(ME)),
                       what="the start notification in Telegram")
        fake.say(STRANGER, "/pause")
        fake.say(ME, "/pause")
        bot.wait_until(lambda: "Bot: paused." in fake.messages_to(ME), what="the answer to /pause")
        health = bot.get_json("/api/health")
        assert health["state"] == "paused" and health["pause_reason"] == "paused from Telegram"
        assert fake.messages_to(STRANGER) == []

        fake.say(ME, "/resume")
        bot.wait_until(lambda: "Bot: running." in fake.messages_to(ME), what="the answer to /resume")
        assert bot.get_json("/api/health")["state"] == "running"

        # Telegram stops answering: sends hang, and the market keeps ticking all the same.
        fake.hold_sends()
        fake.say(ME, "/status")
        bot.wait_until(lambda: fake.calls.count("sendMessage") > len(fake.sent), what="a send held by Telegram")
        tick = bot.get_json("/api/health")["tick"]
        bot.wait_until(lambda: bot.get_json("/api/health")["tick"] >= tick + 20,
                       what="20 more ticks while Telegram hangs")
        fake.release()
        bot.wait_until(lambda: any(text.startswith("Bot: running") for text in fake.messages_to(ME)),
                       what="the /status answer once Telegram answers again")
    finally:
        code = bot.stop()
        fake.close()
    assert code == 0, bot.output()
    activity = (bot.log_dir / "activity.jsonl").read_text(encoding="utf-8")
    assert '"telegram_chat_refused"' in activity and "666" in activity
