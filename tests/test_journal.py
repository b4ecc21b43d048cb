"""TradeJournal: validation, persistence through storage, refusals that change nothing."""
from __future__ import annotations

import json

import pytest

from bot.journal import JOURNAL_FILE, JournalError, TradeJournal, validate
from bot.storage import CorruptFileError

TRADES = {"T00000001": {"id": "T00000001", "strategy": "momentum", "symbol": "BTC/USDT"}}


def lookup(trade_id):
    return TRADES.get(trade_id)


def test_add_fills_every_field_and_copies_the_trade(tmp_path):
    journal = TradeJournal(tmp_path, fsync=False)
    entry = journal.add({"trade_id": "T00000001", "entry_reason": "breakout", "confidence_level": 8}, lookup)
    assert entry["id"] == "J000001"
    assert entry["strategy"] == "momentum" and entry["symbol"] == "BTC/USDT"
    assert entry["exit_reason"] is None and entry["rating"] is None
    document = json.loads((tmp_path / JOURNAL_FILE).read_text())
    assert document["schema_version"] == 1 and document["entries"] == [entry]


def test_ids_continue_after_reopening(tmp_path):
    TradeJournal(tmp_path, fsync=False).add({"entry_reason": "a"}, lookup)
    journal = TradeJournal(tmp_path, fsync=False)
    assert journal.add({"entry_reason": "b"}, lookup)["id"] == "J000002"
    assert [e["entry_reason"] for e in journal.entries()] == ["b", "a"]


def test_update_is_partial_and_keeps_created_at(tmp_path):
    journal = TradeJournal(tmp_path, fsync=False)
    entry = journal.add({"trade_id": "T00000001", "entry_reason": "a"}, lookup)
    changed = journal.update(entry["id"], {"rating": 5, "trade_id": None}, lookup)
    assert changed["rating"] == 5 and changed["entry_reason"] == "a"
    assert changed["trade_id"] is None and changed["strategy"] is None
    assert changed["created_at"] == entry["created_at"]


def test_filters(tmp_path):
    journal = TradeJournal(tmp_path, fsync=False)
    a = journal.add({"trade_id": "T00000001", "entry_reason": "Breakout on volume"}, lookup)
    b = journal.add({"lessons_learned": "patience"}, lookup)
    assert journal.entries(trade_id="T00000001") == [a]
    assert journal.entries(strategy="momentum") == [a]
    assert journal.entries(query="VOLUME") == [a]
    assert journal.entries(query="patience") == [b]


@pytest.mark.parametrize("fields, field", [
    ({"entry_reason": "x" * 2001}, "entry_reason"),
    ({"entry_reason": "x", "confidence_level": 10.0}, "confidence_level"),
    ({"entry_reason": "x", "rating": 0}, "rating"),
    ({"entry_reason": "x", "trade_id": "T404"}, "trade_id"),
    ({"entry_reason": "x", "extra": 1}, "extra"),
    ({"entry_reason": "x", "updated_at": "now"}, "updated_at"),
    ({"entry_reason": "   "}, "entry_reason"),
])
def test_refusals_name_the_field_and_leave_the_file(tmp_path, fields, field):
    journal = TradeJournal(tmp_path, fsync=False)
    journal.add({"entry_reason": "kept"}, lookup)
    before = (tmp_path / JOURNAL_FILE).read_bytes()
    with pytest.raises(JournalError) as refused:
        journal.add(fields, lookup)
    assert refused.value.field == field
    with pytest.raises(JournalError):
        journal.update("J000001", fields, lookup)
    assert (tmp_path / JOURNAL_FILE).read_bytes() == before
    assert len(journal.entries()) == 1


def test_validate_rejects_non_objects():
    with pytest.raises(JournalError):
        validate(["a"], lookup, partial=False)


def test_a_corrupt_journal_is_not_overwritten(tmp_path):
    (tmp_path / JOURNAL_FILE).write_text("{not json")
    with pytest.raises(CorruptFileError):
        TradeJournal(tmp_path, fsync=False)
    assert (tmp_path / JOURNAL_FILE).read_text() == "{not json"


def test_update_of_unknown_entry_is_404(tmp_path):
    with pytest.raises(JournalError) as refused:
        TradeJournal(tmp_path, fsync=False).update("J000009", {"rating": 3}, lookup)
    assert refused.value.status == 404
