"""The journal API: add, edit, list, filter; refusals name the field and leave the file as it was."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.dashboard.conftest import ledger_lines


@pytest.fixture
def journal_path(engine) -> Path:
    return Path(engine.data_dir) / "trade_journal.json"


def add(client, csrf, **fields):
    return client.post("/api/journal/entry", headers=csrf, json=fields)


def test_add_list_and_edit(client, csrf, engine, journal_path):
    trade = next(t for t in ledger_lines(engine) if t["strategy"] == "momentum")
    response = add(client, csrf, trade_id=trade["id"], entry_reason="EMA cross", confidence_level=7)
    assert response.status_code == 201
    entry = response.get_json()["entry"]
    assert entry["trade_id"] == trade["id"]
    assert entry["strategy"] == trade["strategy"] and entry["symbol"] == trade["symbol"]
    assert entry["confidence_level"] == 7 and entry["rating"] is None
    assert entry["created_at"] == entry["updated_at"]
    general = add(client, csrf, trade_id=None, lessons_learned="size down on Fridays").get_json()["entry"]
    assert general["trade_id"] is None and general["strategy"] is None

    listed = client.get("/api/journal/entries").get_json()["entries"]
    assert [e["id"] for e in listed] == [general["id"], entry["id"]]  # newest first
    assert [e["id"] for e in client.get(f"/api/journal/entries?trade_id={trade['id']}").get_json()["entries"]] \
        == [entry["id"]]
    assert [e["id"] for e in client.get("/api/journal/entries?strategy=momentum").get_json()["entries"]] \
        == [entry["id"]]
    assert [e["id"] for e in client.get("/api/journal/entries?q=FRIDAYS").get_json()["entries"]] == [general["id"]]

    edited = client.put(f"/api/journal/entry/{entry['id']}", headers=csrf,
                        json={"rating": 4, "exit_reason": "target hit"})
    assert edited.status_code == 200
    body = edited.get_json()["entry"]
    assert body["rating"] == 4 and body["exit_reason"] == "target hit" and body["entry_reason"] == "EMA cross"
    assert body["created_at"] == entry["created_at"]
    assert journal_path.is_file()
    assert '"target hit"' in journal_path.read_text(encoding="utf-8")


def test_entries_survive_a_restart_of_the_facade(client, csrf, engine):
    entry = add(client, csrf, entry_reason="kept").get_json()["entry"]
    from bot.journal import TradeJournal

    assert TradeJournal(engine.data_dir).get(entry["id"]) == entry


BAD_BODIES = [
    ({"entry_reason": 5}, "entry_reason"),
    ({"entry_reason": "x" * 2001}, "entry_reason"),
    ({"lessons_learned": ["a"]}, "lessons_learned"),
    ({"entry_reason": "x", "confidence_level": 0}, "confidence_level"),
    ({"entry_reason": "x", "confidence_level": 11}, "confidence_level"),
    ({"entry_reason": "x", "confidence_level": "7"}, "confidence_level"),
    ({"entry_reason": "x", "confidence_level": True}, "confidence_level"),
    ({"entry_reason": "x", "rating": 6}, "rating"),
    ({"entry_reason": "x", "rating": 2.5}, "rating"),
    ({"entry_reason": "x", "trade_id": "T99999999"}, "trade_id"),
    ({"entry_reason": "x", "trade_id": 3}, "trade_id"),
    ({"entry_reason": "x", "mood": "good"}, "mood"),
    ({"entry_reason": "x", "id": "J000001"}, "id"),
    ({"entry_reason": "x", "created_at": "2020-01-01"}, "created_at"),
    ({}, "entry_reason"),
]


@pytest.mark.parametrize("body, field", BAD_BODIES)
def test_bad_entries_are_refused_and_the_file_is_untouched(client, csrf, journal_path, body, field):
    add(client, csrf, entry_reason="first")  # the file exists
    before = journal_path.read_bytes()
    response = add(client, csrf, **body)
    assert response.status_code == 400
    assert response.get_json()["field"] == field
    assert journal_path.read_bytes() == before


def test_bad_edits_are_refused_and_the_file_is_untouched(client, csrf, journal_path):
    entry = add(client, csrf, entry_reason="first").get_json()["entry"]
    before = journal_path.read_bytes()
    for body, field in BAD_BODIES[:-1]:
        response = client.put(f"/api/journal/entry/{entry['id']}", headers=csrf, json=body)
        assert response.status_code == 400, body
        assert response.get_json()["field"] == field
    missing = client.put("/api/journal/entry/J999999", headers=csrf, json={"rating": 3})
    assert missing.status_code == 404
    not_object = client.put(f"/api/journal/entry/{entry['id']}", headers=csrf, json=[1, 2])
    assert not_object.status_code == 400
    assert journal_path.read_bytes() == before


def test_no_file_is_written_by_a_refused_first_entry(client, csrf, journal_path):
    assert add(client, csrf, rating=9).status_code == 400
    assert not journal_path.exists()


def test_journal_needs_the_token(client, journal_path):
    assert client.post("/api/journal/entry", json={"entry_reason": "x"}).status_code == 403
    assert not journal_path.exists()


def test_unknown_strategy_filter(client):
    response = client.get("/api/journal/entries?strategy=nope")
    assert response.status_code == 400 and response.get_json()["field"] == "strategy"
