"""TradeJournal and the journal request model: checks, persistence through storage, refusals and
failed writes that change nothing (file and memory)."""
from __future__ import annotations

import errno
import json

import pytest

import bot.journal
from bot.journal import JOURNAL_FILE, TradeJournal
from bot.requests import CommandError, JournalEntryRequest, validate_request
from bot.storage_reading import CorruptFileError

TRADE = {"trade_id": "T00000001", "strategy": "momentum", "symbol": "BTC/USDT"}
GENERAL = {"trade_id": None, "strategy": None, "symbol": None}


def checked(partial=False, **fields) -> dict:
    return validate_request(JournalEntryRequest, fields).fields(partial)


def test_add_fills_every_field(tmp_path):
    journal = TradeJournal(tmp_path, fsync=False)
    entry = journal.add({**checked(entry_reason="breakout", confidence_level=8), **TRADE})
    assert entry["id"] == "J000001"
    assert entry["strategy"] == "momentum" and entry["symbol"] == "BTC/USDT"
    assert entry["exit_reason"] is None and entry["rating"] is None and entry["confidence_level"] == 8
    document = json.loads((tmp_path / JOURNAL_FILE).read_text())
    assert document["schema_version"] == 1 and document["entries"] == [entry]


def test_ids_continue_after_reopening(tmp_path):
    TradeJournal(tmp_path, fsync=False).add({**checked(entry_reason="a"), **GENERAL})
    journal = TradeJournal(tmp_path, fsync=False)
    assert journal.add({**checked(entry_reason="b"), **GENERAL})["id"] == "J000002"
    assert [e["entry_reason"] for e in journal.entries()] == ["b", "a"]


def test_update_is_partial_and_keeps_created_at(tmp_path):
    journal = TradeJournal(tmp_path, fsync=False)
    entry = journal.add({**checked(entry_reason="a"), **TRADE})
    changed = journal.update(entry["id"], {**checked(True, rating=5), **GENERAL})
    assert changed["rating"] == 5 and changed["entry_reason"] == "a"
    assert changed["trade_id"] is None and changed["strategy"] is None
    assert changed["created_at"] == entry["created_at"]


def test_filters(tmp_path):
    journal = TradeJournal(tmp_path, fsync=False)
    a = journal.add({**checked(entry_reason="Breakout on volume"), **TRADE})
    b = journal.add({**checked(lessons_learned="patience"), **GENERAL})
    assert journal.entries(trade_id="T00000001") == [a]
    assert journal.entries(strategy="momentum") == [a]
    assert journal.entries(query="VOLUME") == [a]
    assert journal.entries(query="patience") == [b]


@pytest.mark.parametrize("fields, field", [
    ({"entry_reason": "x" * 2001}, "entry_reason"),
    ({"entry_reason": "x", "confidence_level": 10.0}, "confidence_level"),
    ({"entry_reason": "x", "rating": 0}, "rating"),
    ({"entry_reason": "x", "trade_id": ""}, "trade_id"),
    ({"entry_reason": "x", "extra": 1}, "extra"),
    ({"entry_reason": "x", "updated_at": "now"}, "updated_at"),
    ({"entry_reason": "\ud800"}, "entry_reason"),
    ({"lessons_learned": "ok", "rating": 10 ** 400}, "rating"),
    ({"lessons_learned": "ok", "rating": float("nan")}, "rating"),
])
def test_the_model_refuses_naming_the_field(fields, field):
    with pytest.raises(CommandError) as refused:
        validate_request(JournalEntryRequest, fields)
    assert refused.value.field == field and refused.value.status == 400


def test_an_entry_without_content_is_refused_and_the_file_is_left(tmp_path):
    journal = TradeJournal(tmp_path, fsync=False)
    kept = journal.add({**checked(entry_reason="kept"), **GENERAL})
    before = (tmp_path / JOURNAL_FILE).read_bytes()
    with pytest.raises(CommandError) as refused:
        journal.add({**checked(entry_reason="   "), **GENERAL})
    assert refused.value.field == "entry_reason"
    with pytest.raises(CommandError):
        journal.update(kept["id"], checked(True, entry_reason=" "))
    assert (tmp_path / JOURNAL_FILE).read_bytes() == before
    assert journal.entries() == [kept]


def test_a_failed_write_changes_neither_file_nor_memory(tmp_path, monkeypatch):
    journal = TradeJournal(tmp_path, fsync=False)
    kept = journal.add({**checked(entry_reason="kept"), **GENERAL})
    before = (tmp_path / JOURNAL_FILE).read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    real_write = bot.journal.atomic_write_json
    monkeypatch.setattr(bot.journal, "atomic_write_json", full_disk)
    with pytest.raises(OSError):
        journal.add({**checked(entry_reason="lost"), **GENERAL})
    with pytest.raises(OSError):
        journal.update(kept["id"], checked(True, rating=2))
    assert journal.entries() == [kept]
    assert (tmp_path / JOURNAL_FILE).read_bytes() == before
    monkeypatch.setattr(bot.journal, "atomic_write_json", real_write)
    assert journal.add({**checked(entry_reason="next"), **GENERAL})["id"] == "J000002"  # no number was used up


def test_validate_rejects_non_objects():
    with pytest.raises(CommandError) as refused:
        validate_request(JournalEntryRequest, ["a"])
    assert refused.value.field is None


def test_a_corrupt_journal_is_not_overwritten(tmp_path):
    (tmp_path / JOURNAL_FILE).write_text("{not json")
    with pytest.raises(CorruptFileError):
        TradeJournal(tmp_path, fsync=False)
    assert (tmp_path / JOURNAL_FILE).read_text() == "{not json"


def test_update_of_unknown_entry_is_404(tmp_path):
    with pytest.raises(CommandError) as refused:
        TradeJournal(tmp_path, fsync=False).update("J000009", {"rating": 3})
    assert refused.value.status == 404 and refused.value.field == "id"
