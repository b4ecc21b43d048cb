"""TradeLedger: append-only, sequence-checked, torn tails tolerated, corruption refused, disk full lossless."""
import json

import pytest

from bot.accounting.ledger import TradeLedger
from bot.models import Trade
from bot.storage_reading import CorruptFileError


def make(seq):
    return Trade(f"T{seq:08d}", seq, 1_767_225_600.0, seq * 10, "momentum", f"momentum-{seq}-1",
                 "momentum_entry", "binance", "BTC/USDT", "buy", 0.01, 60_000.0, 0.6, "USDT", 1.0, 0.0, "filled", "why")


def test_append_then_load_returns_the_same_trades(tmp_path):
    ledger = TradeLedger(tmp_path, fsync=False)
    ledger.append([make(1), make(2)])
    ledger.append([make(3)])
    ledger.close()
    again = TradeLedger(tmp_path)
    assert again.load() == [make(1), make(2), make(3)]
    assert again.last_seq == 3 and again.last_tick == 30
    assert [t.seq for t in again.recent(2)] == [3, 2]
    assert [t.seq for t in again.iter_all()] == [1, 2, 3]


def test_torn_last_line_is_ignored_and_nothing_else_lost(tmp_path, caplog):
    ledger = TradeLedger(tmp_path, fsync=False)
    ledger.append([make(1), make(2)])
    ledger.close()
    with open(tmp_path / "trades.jsonl", "a") as handle:
        handle.write('{"id": "T00000003", "seq": 3, "ts": "2026-')
    again = TradeLedger(tmp_path)
    assert [t.seq for t in again.load()] == [1, 2]
    assert "torn" in caplog.text
    again.append([make(3)])
    again.close()
    assert [t.seq for t in TradeLedger(tmp_path).load()] == [1, 2, 3]


def test_corrupt_line_in_the_middle_is_refused_and_the_file_untouched(tmp_path):
    ledger = TradeLedger(tmp_path, fsync=False)
    ledger.append([make(1), make(2), make(3)])
    ledger.close()
    path = tmp_path / "trades.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    lines[1] = '{"id": "T00000002", garbage\n'
    path.write_text("".join(lines))
    before = path.read_bytes()
    with pytest.raises(CorruptFileError) as info:
        TradeLedger(tmp_path).load()
    assert info.value.line == 2
    assert path.read_bytes() == before


def test_a_gap_in_sequence_numbers_is_corruption(tmp_path):
    ledger = TradeLedger(tmp_path, fsync=False)
    ledger.append([make(1), make(2), make(3)])
    ledger.close()
    path = tmp_path / "trades.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + lines[2])  # seq 2 lost
    with pytest.raises(CorruptFileError, match="sequence number 3 where 2"):
        TradeLedger(tmp_path).load()


def test_append_refuses_a_reused_or_skipped_sequence_number_and_writes_nothing(tmp_path):
    ledger = TradeLedger(tmp_path, fsync=False)
    ledger.append([make(1), make(2)])
    before = (tmp_path / "trades.jsonl").read_bytes()
    for bad in ([make(2)], [make(4)], [make(3), make(5)]):
        with pytest.raises(ValueError, match="continue the ledger at seq 3"):
            ledger.append(bad)
    assert (tmp_path / "trades.jsonl").read_bytes() == before
    assert (ledger.count, ledger.last_seq) == (2, 2)


def test_a_failed_append_leaves_the_file_and_the_ledger_as_they_were(tmp_path, monkeypatch):
    import bot.storage
    from bot.storage import StorageError
    from tests.disk import FullDisk

    ledger = TradeLedger(tmp_path, fsync=False)
    ledger.append([make(1), make(2)])
    path = tmp_path / "trades.jsonl"
    before = path.read_bytes()
    # Room for trade 3's whole line and part of trade 4's: the worst case, a complete record landed.
    disk = FullDisk(room=len(bot.storage.dumps(make(3).to_dict())) + 10)
    monkeypatch.setattr(bot.storage, "os", disk)
    with pytest.raises(StorageError, match="No space left on device") as info:
        ledger.append([make(3), make(4)])
    assert info.value.cause == "No space left on device" and info.value.path == path
    assert path.read_bytes() == before, "the half-written block was cut back"
    assert (ledger.count, ledger.last_seq, ledger.last_tick) == (2, 2, 20)
    assert [t.seq for t in ledger.recent(10)] == [2, 1]
    assert ledger.next_seq() == 3
    assert disk.refused == 1
    disk.free()  # space is back: the same seq is taken again, once
    ledger.append([make(3)])
    ledger.close()
    seqs = [json.loads(line)["seq"] for line in path.read_text().splitlines()]
    assert seqs == [1, 2, 3]
    assert [t.seq for t in TradeLedger(tmp_path).load()] == [1, 2, 3]


def test_a_record_missing_a_field_is_corruption(tmp_path):
    (tmp_path / "trades.jsonl").write_text('{"id": "T1", "seq": 1}\n{"id": "T2", "seq": 2}\n')
    with pytest.raises(CorruptFileError, match="lacks field"):
        TradeLedger(tmp_path).load()


def test_a_line_carries_ts_as_iso_8601_and_reads_back_to_the_same_float(tmp_path):
    ledger = TradeLedger(tmp_path, fsync=False)
    trade = Trade(**{**{name: getattr(make(1), name) for name in Trade.__slots__}, "ts": 1_767_225_601.25})
    ledger.append([trade])
    ledger.close()
    line = json.loads((tmp_path / "trades.jsonl").read_text().splitlines()[0])
    assert line["ts"] == "2026-01-01T00:00:01.250Z"  # DESIGN: ts is ISO 8601 UTC in the file
    assert TradeLedger(tmp_path).load()[0].ts == 1_767_225_601.25


def test_a_line_with_an_unreadable_ts_is_named(tmp_path):
    good = make(1).to_dict()
    (tmp_path / "trades.jsonl").write_text(json.dumps({**good, "ts": "yesterday"}) + "\n" + json.dumps(
        {**make(2).to_dict()}) + "\n")
    with pytest.raises(CorruptFileError, match=r"trades.jsonl:1: trade record has an unreadable ts"):
        TradeLedger(tmp_path).load()
