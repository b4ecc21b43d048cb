"""The command handler on a real opened engine: each command is persisted before it is applied,
bumps the version so the live cache refreshes itself, and changes nothing when refused or when
the disk refuses the write."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.commands import (AddAlertRule, AddJournalEntry, DeleteAlertRule, EditJournalEntry, PauseBot,
                          SendNotification, StartBot, StopBot, ToggleAlertRule, ToggleStrategy)
from bot.engine import BotEngine
from bot.requests import (AlertRuleRequest, CommandError, JournalEntryRequest, NotificationRequest,
                          validate_request)
from tests.dashboard.conftest import force_trade, make_config
from tests.storage_faults import NO_SPACE, refuse_writes


@pytest.fixture
def engine(tmp_path):
    bot = BotEngine(make_config(tmp_path))
    bot.open()
    bot.run_fast(5)
    yield bot
    bot.close()


def rule(**fields):
    return validate_request(AlertRuleRequest, {"condition": "above", "symbol": "BTC/USDT", "price": 1e9, **fields})


def entry(**fields):
    return validate_request(JournalEntryRequest, fields)


def state_on_disk(engine) -> dict:
    return json.loads((Path(engine.data_dir) / "portfolio_state.json").read_text())


def test_a_rule_command_refreshes_the_cache_by_version(engine):
    assert engine.cache.get("alerts_update")["rules"] == []
    version = engine.version
    added = engine.commands.handle(AddAlertRule(rule()))
    assert engine.version > version
    assert [r["id"] for r in engine.cache.get("alerts_update")["rules"]] == [added.id]  # no invalidate() needed
    engine.commands.handle(ToggleAlertRule(added.id))
    assert engine.cache.get("alerts_update")["rules"][0]["active"] is False
    engine.commands.handle(DeleteAlertRule(added.id))
    assert engine.cache.get("alerts_update")["rules"] == []


def test_a_strategy_toggle_is_on_disk_and_survives_a_restart(engine, tmp_path):
    assert engine.commands.handle(ToggleStrategy("momentum")) is False
    assert state_on_disk(engine)["engine"]["enabled"]["momentum"] is False
    assert [r["enabled"] for r in engine.cache.get("strategies_update")["strategies"] if r["strategy"] == "momentum"] == [False]
    engine.close()
    again = BotEngine(make_config(tmp_path))
    again.open()
    assert again.manager.enabled["momentum"] is False
    again.close()


def test_bot_state_commands_are_written_first(engine):
    assert engine.commands.handle(PauseBot("lunch")) == "paused"
    assert state_on_disk(engine)["engine"]["state"] == "paused"
    assert state_on_disk(engine)["engine"]["pause_reason"] == "lunch"
    assert engine.commands.handle(StopBot()) == "stopped"
    assert state_on_disk(engine)["engine"]["state"] == "stopped"
    assert engine.commands.handle(StartBot()) == "running"
    assert state_on_disk(engine)["engine"]["state"] == "running"


def test_resuming_after_the_kill_switch_writes_the_new_peak(engine):
    with engine.lock:
        engine.kill_switch = {"reason": "kill switch: test", "drawdown_pct": 50.0, "tick": 1}
        engine.portfolio.peak_equity = engine.portfolio.equity() * 2
    engine.pause("kill switch: test")
    engine.commands.handle(StartBot())
    saved = state_on_disk(engine)
    assert saved["engine"]["kill_switch"] is None
    assert saved["peak_equity"] == pytest.approx(engine.portfolio.equity())


@pytest.mark.parametrize("command, field, status", [
    (AddAlertRule(rule(symbol="DOGE/USDT")), "symbol", 400),
    (AddAlertRule(rule(exchange="mtgox")), "exchange", 400),
    (AddAlertRule(validate_request(AlertRuleRequest, {"condition": "loss_streak", "strategy": "martingale",
                                                      "count": 2})), "strategy", 400),
    (DeleteAlertRule("nope"), "id", 404),
    (ToggleAlertRule("nope"), "id", 404),
    (ToggleStrategy("martingale"), "name", 404),
    (AddJournalEntry(entry(trade_id="T99999999", entry_reason="x")), "trade_id", 400),
    (AddJournalEntry(entry()), "entry_reason", 400),
    (EditJournalEntry("J999999", entry(rating=3)), "id", 404),
])
def test_refused_commands_change_nothing(engine, command, field, status):
    before = (engine.version, dict(engine.alerts.rules), dict(engine.manager.enabled), engine.state)
    files = {p.name: p.read_bytes() for p in Path(engine.data_dir).iterdir() if p.is_file()}
    with pytest.raises(CommandError) as refused:
        engine.commands.handle(command)
    assert (refused.value.field, refused.value.status) == (field, status)
    assert (engine.version, dict(engine.alerts.rules), dict(engine.manager.enabled), engine.state) == before
    assert {p.name: p.read_bytes() for p in Path(engine.data_dir).iterdir() if p.is_file()} == files


def memory(engine) -> tuple:
    """What a command may change in memory, compared by value."""
    rules = {key: (r.active, r.armed) for key, r in engine.alerts.rules.items()}
    return (engine.state, engine.pause_reason, dict(engine.manager.enabled), rules,
            engine.facade.journal.entries(), len(engine.notifications.history), engine.version)


def test_every_command_changes_nothing_when_the_disk_refuses_it(engine):
    kept = engine.commands.handle(AddAlertRule(rule()))
    trade_id = force_trade(engine).fills and engine.ledger.recent(1)[0].id
    note = engine.commands.handle(AddJournalEntry(entry(trade_id=trade_id, entry_reason="kept")))
    commands = [StartBot(), PauseBot(), StopBot(), ToggleStrategy("momentum"), AddAlertRule(rule(price=5.0)),
                DeleteAlertRule(kept.id), ToggleAlertRule(kept.id), AddJournalEntry(entry(entry_reason="lost")),
                EditJournalEntry(note["id"], entry(rating=1)),
                SendNotification(validate_request(NotificationRequest, {"message": "hello"}))]
    files = {p.name: p.read_bytes() for p in Path(engine.data_dir).iterdir() if p.is_file()}
    faults = pytest.MonkeyPatch()
    attempts = refuse_writes(faults)

    def log_full(records):
        raise OSError(28, NO_SPACE)

    faults.setattr(engine.notifications._writer, "append_many", log_full)
    for command in commands:
        with engine.lock:  # a state from which the command has something to do
            engine.state = "paused" if isinstance(command, StartBot) else "running"
        before = memory(engine)
        with pytest.raises(CommandError) as refused:
            engine.commands.handle(command)
        assert refused.value.status == 503, command
        assert refused.value.message.startswith(f"storage: {NO_SPACE}"), command
        assert memory(engine) == before, command
    assert len(attempts) == len(commands) - 1  # every command but the notification tried a document write
    assert {p.name: p.read_bytes() for p in Path(engine.data_dir).iterdir() if p.is_file()} == files
    faults.undo()  # the disk is back: the rule the failed delete kept is still in the file
    assert kept.id in engine.alerts.rules
    assert [r["id"] for r in json.loads((Path(engine.data_dir) / "alerts.json").read_text())["rules"]] == [kept.id]
