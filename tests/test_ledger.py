"""TradeLedger: append-only, sequence-checked, torn tails tolerated, corruption refused."""
import pytest

from bot.ledger import TradeLedger
from bot.models import Trade
from bot.storage import CorruptFileError


def make(seq):
    return Trade(f"T{seq:08d}", seq, "2026-01-01T00:00:00.000Z", seq * 10, "momentum", f"momentum-{seq}-1",
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
    ledger.append([make(1), make(3)])
    ledger.close()
    with pytest.raises(CorruptFileError, match="sequence number 3 where 2"):
        TradeLedger(tmp_path).load()


def test_a_record_missing_a_field_is_corruption(tmp_path):
    (tmp_path / "trades.jsonl").write_text('{"id": "T1", "seq": 1}\n{"id": "T2", "seq": 2}\n')
    with pytest.raises(CorruptFileError, match="lacks field"):
        TradeLedger(tmp_path).load()
