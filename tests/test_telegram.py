"""Telegram against a local fake Bot API: notifications from the background queue, commands from
the allowed chats only, through the engine's command path, and a poller that outlives outages."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from bot.config import ConfigError, NotificationsConfig, parse_config
from bot.config_telegram import TelegramConfig
from bot.engine import BotEngine
from bot.notify.notifications import NotificationService
from bot.notify.telegram import TelegramPoller
from bot.notify.telegram_commands import TelegramCommands
from tests.dashboard.conftest import force_trade, make_config
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.polling import wait_for

ME, STRANGER, ALSO_ME = 4242, 666, -100123  # a private chat, someone else, a group


@pytest.fixture
def fake():
    server = FakeTelegram()
    yield server
    server.close()


def telegram_settings(fake, **extra) -> dict:
    return {"bot_token": TOKEN, "chat_ids": [ME, ALSO_ME], "api_base_url": fake.url, "poll_timeout_seconds": 1,
            "backoff_seconds": 0.01, "max_backoff_seconds": 0.05, **extra}


# ----- config ----------------------------------------------------------------------------------
@pytest.mark.parametrize("settings, key", [
    ({"bot_token": TOKEN}, "chat_ids"),
    ({"bot_token": "not-a-token", "chat_ids": [1]}, "bot_token"),
    ({"bot_token": TOKEN, "chat_ids": [1], "api_base_url": "ftp://x"}, "api_base_url"),
    ({"bot_token": TOKEN, "chat_ids": ["me"]}, "chat_ids"),
])
def test_bad_telegram_settings_are_refused_naming_the_key(settings, key):
    with pytest.raises(ConfigError) as refused:
        parse_config({"notifications": {"telegram": settings}})
    assert "notifications.telegram" in str(refused.value) and key in str(refused.value)


def test_telegram_is_off_without_a_token():
    assert not TelegramConfig().enabled and not NotificationsConfig().telegram.enabled


# ----- notifications ---------------------------------------------------------------------------
def service(tmp_path, fake, sleeps=None, **telegram):
    config = NotificationsConfig(telegram=telegram_settings(fake, **telegram))
    return NotificationService(config, tmp_path, sleep=(sleeps.append if sleeps is not None else None))


def test_every_notification_reaches_every_allowed_chat(tmp_path, fake):
    svc = service(tmp_path, fake)
    try:
        svc.notify("trade_executed", "Bought 0.01 BTC on binance", level="success")
        wait_for(lambda: svc.stats["telegram_sent"] == 2, what="one message per chat")
        assert sorted(m["chat_id"] for m in fake.sent) == sorted([ME, ALSO_ME])
        text = fake.messages_to(ME)[0]
        assert "Bought 0.01 BTC on binance" in text and "trade executed" in text and "✅" in text
        assert svc.stats["telegram_sent"] == 2 and svc.stats["telegram_failed"] == 0
    finally:
        svc.close()


def test_a_kind_switched_off_never_reaches_telegram(tmp_path, fake):
    config = NotificationsConfig(kinds={"alert": False}, telegram=telegram_settings(fake))
    svc = NotificationService(config, tmp_path)
    try:
        assert svc.notify("alert", "BTC above 70,000") is None
        svc.notify("manual", "a note")
        wait_for(lambda: len(fake.sent) == 2, what="the manual note")
        assert all("a note" in m["text"] for m in fake.sent)
    finally:
        svc.close()


def test_a_5xx_is_retried_and_a_429_waits_as_long_as_telegram_asks(tmp_path, fake):
    sleeps = []
    fake.fail("sendMessage", 502)
    fake.fail("sendMessage", 429, retry_after=0.03)
    svc = service(tmp_path, fake, sleeps=sleeps, chat_ids=[ME])
    try:
        svc.notify("manual", "hello")
        wait_for(lambda: svc.stats["telegram_sent"] == 1, what="delivery after two refusals")
        assert svc.stats["telegram_retries"] == 2 and svc.stats["telegram_sent"] == 1
        assert sleeps == [0.01, 0.03]  # the backoff, then Telegram's retry_after
        assert fake.calls.count("sendMessage") == 3
    finally:
        svc.close()


def test_a_refused_message_is_not_retried_and_is_counted(tmp_path, fake):
    fake.fail("sendMessage", 400)
    svc = service(tmp_path, fake, chat_ids=[ME])
    try:
        svc.notify("manual", "hello")
        wait_for(lambda: svc.stats["telegram_failed"] == 1, what="the failure counted")
        assert fake.calls.count("sendMessage") == 1 and fake.sent == []
    finally:
        svc.close()


def test_a_telegram_that_stops_answering_never_holds_up_notify(tmp_path, fake):
    fake.hold_sends()
    svc = service(tmp_path, fake, chat_ids=[ME])
    try:
        first = svc.notify("manual", "one")
        wait_for(lambda: "sendMessage" in fake.calls, what="the first send under way (and held)")
        # While that send hangs, more notifications are taken at once: notify only queues.
        second, third = svc.notify("manual", "two"), svc.notify("manual", "three")
        assert first and second and third and svc.pending() == 2 and fake.sent == []
        fake.release()
        wait_for(lambda: len(fake.sent) == 3, what="all three delivered once Telegram answers")
        assert [m["text"].split("\n")[0].split()[-1] for m in fake.sent] == ["one", "two", "three"]
    finally:
        svc.close()


# ----- commands on a real engine ---------------------------------------------------------------
@pytest.fixture
def engine(tmp_path):
    bot = BotEngine(make_config(tmp_path))
    bot.open()
    bot.run_fast(30)
    force_trade(bot, "buy", qty=0.002, reason="telegram test buy")
    force_trade(bot, "sell", qty=0.001, reason="telegram test sell")
    yield bot
    bot.close()


def ledger_on_disk(engine) -> list[dict]:
    lines = (Path(engine.data_dir) / "trades.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def state_on_disk(engine) -> dict:
    return json.loads((Path(engine.data_dir) / "portfolio_state.json").read_text(encoding="utf-8"))


def usdt_figure(text: str, label: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith(label))
    return float(line.split(":", 1)[1].split("USDT")[0].replace(",", ""))


def test_profit_names_the_terms_and_they_add_up(engine):
    text = TelegramCommands(engine).answer(ME, "/profit")
    strategies, holdings = usdt_figure(text, "Strategies"), usdt_figure(text, "Starting holdings")
    total = usdt_figure(text, "Total P&L")
    summary = engine.facade.portfolio_summary()
    assert total == pytest.approx(strategies + holdings, abs=0.011)  # each shown to the cent
    assert total == pytest.approx(summary["equity"] - summary["initial_equity"], abs=0.006)
    assert "momentum:" in text


def test_trades_lists_the_newest_trades_of_the_ledger_on_disk(engine):
    text = TelegramCommands(engine).answer(ME, "/trades 2")
    newest = list(reversed(ledger_on_disk(engine)))[:2]
    rows = text.splitlines()[1:]
    assert len(rows) == 2
    for row, trade in zip(rows, newest):
        assert trade["ts"] in row and trade["side"] in row and trade["symbol"] in row and trade["exchange"] in row
    assert TelegramCommands(engine).answer(ME, "/trades lots").startswith("/trades N: N must be")
    assert TelegramCommands(engine).answer(ME, "/trades 31").startswith("/trades N: N must be")


def test_balance_and_positions_show_the_wallets_and_the_open_position(engine):
    commands = TelegramCommands(engine)
    balance = commands.answer(ME, "/balance")
    for exchange in engine.portfolio.balances:
        assert f"{exchange}: " in balance
    positions = commands.answer(ME, "/positions")
    assert "momentum long 0.001 BTC" in positions  # bought 0.002, sold 0.001


def test_pause_and_resume_go_through_the_command_path_and_are_persisted(engine):
    commands = TelegramCommands(engine)
    assert commands.answer(ME, "/pause") == "Bot: paused."
    assert engine.state == "paused" and state_on_disk(engine)["engine"]["state"] == "paused"
    assert state_on_disk(engine)["engine"]["pause_reason"] == "paused from Telegram"
    assert commands.answer(ME, "/status@fake_bot").startswith("Bot: paused (paused from Telegram)")
    assert commands.answer(ME, "/resume") == "Bot: running."
    assert engine.state == "running" and state_on_disk(engine)["engine"]["state"] == "running"


def test_stop_needs_a_confirmation_within_the_window(engine):
    now = [100.0]
    commands = TelegramCommands(engine, confirm_seconds=60, clock=lambda: now[0])
    assert "Send /stop confirm within 60 s" in commands.answer(ME, "/stop confirm")  # nothing asked yet
    assert "Send /stop confirm within 60 s" in commands.answer(ME, "/stop")
    assert engine.state == "running"
    now[0] += 61  # confirmed too late: asked again, nothing happens
    assert "Send /stop confirm" in commands.answer(ME, "/stop confirm")
    assert engine.state == "running"
    commands.answer(ME, "/stop")
    assert "Send /stop confirm" in commands.answer(ALSO_ME, "/stop confirm")  # another chat cannot confirm
    assert engine.state == "running" and state_on_disk(engine)["engine"]["state"] == "running"
    now[0] += 59
    assert commands.answer(ME, "/stop confirm") == "Bot: stopped."
    assert engine.state == "stopped" and state_on_disk(engine)["engine"]["state"] == "stopped"


def test_unknown_and_plain_messages_get_a_pointer_to_help(engine):
    commands = TelegramCommands(engine)
    assert commands.answer(ME, "/moon") == "Unknown command /moon; /help lists them."
    assert commands.answer(ME, "hello bot") == "Send a command; /help lists them."
    assert "/positions" in commands.answer(ME, "/help")


# ----- the poller ------------------------------------------------------------------------------
def test_the_poller_answers_allowed_chats_only_and_logs_a_stranger_once(fake, caplog):
    events = []
    poller = TelegramPoller(TelegramConfig(**telegram_settings(fake)), lambda chat, text: f"echo {text}",
                            on_event=lambda name, fields: events.append((name, fields)))
    poller.start()
    try:
        with caplog.at_level(logging.WARNING, logger="bot.notify.telegram"):
            fake.say(STRANGER, "/status")
            fake.say(STRANGER, "/pause")
            fake.say(ME, "/status")
            wait_for(lambda: fake.messages_to(ME) == ["echo /status"], what="the answer to the allowed chat")
            wait_for(lambda: poller.stats["ignored"] == 2, what="both strangers' messages seen")
        assert fake.messages_to(STRANGER) == []
        assert sum("666" in record.getMessage() for record in caplog.records) == 1
        assert events == [("telegram_chat_refused", {"chat_id": STRANGER})]
    finally:
        poller.stop()


def test_the_poller_survives_failures_with_backoff_and_reports_the_outage_once(fake):
    events = []
    fake.fail("getUpdates", 502, times=3)
    poller = TelegramPoller(TelegramConfig(**telegram_settings(fake)), lambda chat, text: "pong",
                            on_event=lambda name, fields: events.append(name))
    poller.start()
    try:
        fake.say(ME, "/ping")
        wait_for(lambda: fake.messages_to(ME) == ["pong"], what="an answer after three failed polls")
        assert poller.stats["poll_failures"] == 3
        assert events == ["telegram_poll_failed", "telegram_poll_recovered"]
        fake.say(ME, "/ping")  # acknowledged updates are not answered twice
        wait_for(lambda: len(fake.messages_to(ME)) == 2, what="the second answer")
        assert fake.messages_to(ME) == ["pong", "pong"]
    finally:
        poller.stop()


def test_a_command_that_raises_is_answered_and_the_poller_goes_on(fake):
    def answer(chat, text):
        if text == "/boom":
            raise RuntimeError("kaput")
        return "fine"

    poller = TelegramPoller(TelegramConfig(**telegram_settings(fake)), answer)
    poller.start()
    try:
        fake.say(ME, "/boom")
        fake.say(ME, "/next")
        wait_for(lambda: len(fake.messages_to(ME)) == 2, what="both answers")
        assert fake.messages_to(ME) == ["That failed: kaput", "fine"]
    finally:
        poller.stop()
