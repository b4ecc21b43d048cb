"""Hostile request bodies get a 400 naming the field, store nothing, and trading goes on; a write
the disk refuses answers 503 and changes nothing, memory included."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.storage_faults import NO_SPACE, refuse_writes

RULE = '{"condition": "above", "symbol": "BTC/USDT", "price": %s, "note": %s}'
JSON = {"Content-Type": "application/json"}


def post_raw(client, csrf, path, text: str):
    return client.post(path, headers={**csrf, **JSON}, data=text.encode("utf-8"))


def data_files(engine) -> dict:
    return {p.name: p.read_bytes() for p in sorted(Path(engine.data_dir).iterdir()) if p.is_file()}


def trading_goes_on(engine, client, csrf) -> None:
    """A rule that fires at once still fires, and ticks and trades still advance."""
    mark = engine.portfolio.marks()["BTC"]
    rule = client.post("/api/alerts", headers=csrf, json={"condition": "above", "symbol": "BTC/USDT",
                                                          "price": mark * 0.5, "note": "é ✓"}).get_json()["rule"]
    ticks, trades = engine.ticks_run, engine.ledger.count
    for _ in range(60):  # the seeded market trades within a few thousand ticks; bounded, not timed
        engine.run_fast(100)
        if engine.ledger.count > trades:
            break
    assert engine.ticks_run > ticks
    assert engine.ledger.count > trades, "no trade in 6,000 ticks after the refused request"
    history = client.get("/api/alerts").get_json()["history"]
    assert [h["rule_id"] for h in history] == [rule["id"]]
    assert all(c["errors"] == 0 for c in engine.manager.stats().values())


@pytest.mark.parametrize("name, text, field", [
    ("lone surrogate in the note", RULE % ("100", '"\\ud800"'), "note"),
    ("lone low surrogate", RULE % ("100", '"ok \\udfff"'), "note"),
    ("400-digit price", RULE % ("9" * 400, '""'), "price"),
    ("5000-digit price", RULE % ("9" * 5000, '""'), "price"),
    ("1e400 price", RULE % ("1e400", '""'), "price"),
    ("NaN price", RULE % ("NaN", '""'), "price"),
    ("-Infinity price", RULE % ("-Infinity", '""'), "price"),
    ("deep JSON in the note", RULE % ("100", "[" * 30_000 + "]" * 30_000), "note"),
    ("deep JSON body", "[" * 30_000 + "]" * 30_000, None),
    ("deep objects", '{"a":' * 10_000 + "1" + "}" * 10_000, "a"),
    ("surrogate field name", '{"condition": "above", "symbol": "BTC/USDT", "price": 1, "\\ud800": 1}', "\ufffd"),
])
def test_hostile_alert_bodies_are_400_naming_the_field_and_trading_goes_on(client, engine, csrf, name, text, field):
    files, rules = data_files(engine), dict(engine.alerts.rules)
    response = post_raw(client, csrf, "/api/alerts", text)
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["field"] == field and body["error"]
    assert data_files(engine) == files and engine.alerts.rules == rules
    trading_goes_on(engine, client, csrf)


@pytest.mark.parametrize("path, text, field", [
    ("/api/journal/entry", '{"entry_reason": "\\ud83d"}', "entry_reason"),
    ("/api/journal/entry", '{"entry_reason": "x", "rating": %s}' % ("1" * 400), "rating"),
    ("/api/journal/entry", '{"lessons_learned": ' + "[" * 30_000 + "]" * 30_000 + "}", "lessons_learned"),
    ("/api/notifications/send", '{"message": "\\ud800 hello"}', "message"),
    ("/api/notifications/send", '{"message": "hi", "level": ' + "{" * 5000 + "}" * 5000 + "}", "level"),
    ("/api/bot/pause", '{"x": ' + "[" * 30_000 + "]" * 30_000 + "}", "x"),
    ("/api/bot/pause", '{"x": 1}', "x"),
    ("/api/strategies/momentum/toggle", "[1]", None),
])
def test_hostile_bodies_elsewhere_are_400_and_change_nothing(client, engine, csrf, path, text, field):
    files = data_files(engine)
    state, enabled, notes = engine.state, dict(engine.manager.enabled), len(engine.notifications.history)
    response = post_raw(client, csrf, path, text)
    assert response.status_code == 400 and response.get_json()["field"] == field
    assert data_files(engine) == files
    assert (engine.state, dict(engine.manager.enabled), len(engine.notifications.history)) == (state, enabled, notes)


def test_not_utf8_and_not_json_are_400(client, csrf):
    for raw in (b"\xff\xfe{}", b'{"condition": "above",', b""):
        response = client.post("/api/alerts", headers={**csrf, **JSON}, data=raw)
        assert response.status_code == 400 and response.get_json()["field"] is None, raw


# ----- a disk that refuses the write --------------------------------------------------------
def memory(engine) -> tuple:
    rules = {key: (r.active, r.armed) for key, r in engine.alerts.rules.items()}
    return (engine.state, engine.pause_reason, dict(engine.manager.enabled), rules,
            engine.facade.journal.entries(), engine.version)


def test_every_write_answers_503_and_changes_nothing_when_the_disk_is_full(client, engine, csrf):
    rule = client.post("/api/alerts", headers=csrf, json={"condition": "drawdown", "pct": 50}).get_json()["rule"]
    entry = client.post("/api/journal/entry", headers=csrf, json={"entry_reason": "kept"}).get_json()["entry"]
    files = data_files(engine)
    faults = pytest.MonkeyPatch()
    attempts = refuse_writes(faults)
    writes = [
        ("post", "/api/bot/pause", None, "running"), ("post", "/api/bot/stop", None, "running"),
        ("post", "/api/bot/start", None, "paused"), ("post", "/api/strategies/momentum/toggle", None, "running"),
        ("post", "/api/alerts", {"condition": "whale", "min_usd": 1e6}, "running"),
        ("delete", f"/api/alerts/{rule['id']}", None, "running"),
        ("post", f"/api/alerts/{rule['id']}/toggle", None, "running"),
        ("post", "/api/journal/entry", {"entry_reason": "lost"}, "running"),
        ("put", f"/api/journal/entry/{entry['id']}", {"rating": 2}, "running"),
    ]
    for method, path, body, state in writes:
        with engine.lock:
            engine.state = state  # where the command has something to do
        before = memory(engine)
        response = getattr(client, method)(path, headers=csrf, json=body if body is not None else {})
        assert response.status_code == 503, (path, response.get_json())
        assert response.get_json()["error"].startswith(f"storage: {NO_SPACE}"), path
        assert memory(engine) == before, path
    assert len(attempts) == len(writes)
    faults.undo()
    assert data_files(engine) == files
    # The rule whose delete failed is still in memory and in the file, so no restart brings back a ghost.
    assert [r["id"] for r in client.get("/api/alerts").get_json()["rules"]] == [rule["id"]]
    assert json.loads((Path(engine.data_dir) / "alerts.json").read_text())["rules"][0]["active"] is True


def test_a_manual_notification_the_log_refuses_is_503_and_not_in_history(client, engine, csrf):
    def log_full(records):
        raise OSError(28, NO_SPACE)

    faults = pytest.MonkeyPatch()
    faults.setattr(engine.notifications._writer, "append_many", log_full)
    before = list(engine.notifications.history)
    response = client.post("/api/notifications/send", headers=csrf, json={"message": "lost"})
    faults.undo()
    assert response.status_code == 503 and NO_SPACE in response.get_json()["error"]
    assert list(engine.notifications.history) == before
    assert client.post("/api/notifications/send", headers=csrf, json={"message": "kept"}).status_code == 200
