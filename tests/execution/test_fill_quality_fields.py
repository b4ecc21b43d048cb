"""Trade's fill-quality fields: written in the ledger line, read back, None in old ledgers."""
from __future__ import annotations

import json

import pytest

from bot.accounting.ledger import REQUIRED_FIELDS, TradeLedger
from bot.models import OPTIONAL_TRADE_FIELDS, Trade, format_levels, parse_levels
from bot.storage_reading import CorruptFileError
from tests.builders import T0

BASE = dict(id="T00000001", seq=1, ts=T0 + 1, tick=1, strategy="momentum", signal_id="momentum-0-1",
            kind="entry", exchange="binance", symbol="BTC/USDT", side="buy", qty=0.3, price=100.4,
            fee=0.03, fee_asset="USDT", quote_usdt_rate=1.0, realized_pnl=0.0, status="filled", reason="r")


def test_the_fields_go_into_the_ledger_line_and_come_back(tmp_path):
    trade = Trade(**BASE, decision_ts=T0, decision_mid=100.05, latency_ms=1000.0, liquidity_taken_pct=12.5,
                  levels_taken=((100.1, 0.1), (100.5, 0.2)))
    ledger = TradeLedger(tmp_path, fsync=False)
    ledger.append([trade])
    ledger.close()
    line = json.loads((tmp_path / "trades.jsonl").read_text(encoding="utf-8"))
    assert line["decision_ts"] == "2026-01-01T00:00:00.000Z" and line["ts"] == "2026-01-01T00:00:01.000Z"
    assert (line["decision_mid"], line["latency_ms"], line["liquidity_taken_pct"]) == (100.05, 1000.0, 12.5)
    assert line["levels_taken"] == "0.1@100.1 0.2@100.5"
    assert list(TradeLedger(tmp_path).load()) == [trade]


def test_an_old_ledger_line_reads_with_the_fields_as_none(tmp_path):
    old = {**BASE, "ts": "2026-01-01T00:00:01.000Z"}  # written before the fields existed
    (tmp_path / "trades.jsonl").write_text(json.dumps(old) + "\n", encoding="utf-8")
    (trade,) = TradeLedger(tmp_path).load()
    assert all(getattr(trade, name) is None for name in OPTIONAL_TRADE_FIELDS)
    assert trade.price == 100.4 and trade.ts == T0 + 1
    assert not set(OPTIONAL_TRADE_FIELDS) & set(REQUIRED_FIELDS)


def test_a_missing_required_field_is_still_named(tmp_path):
    broken = {key: value for key, value in BASE.items() if key != "fee"}
    (tmp_path / "trades.jsonl").write_text(json.dumps({**broken, "ts": "2026-01-01T00:00:01.000Z"}) + "\n")
    with pytest.raises(CorruptFileError, match="lacks field"):
        TradeLedger(tmp_path).load()


def test_levels_text_round_trips_exactly():
    levels = ((2973.12, 0.9412), (2973.38, 0.16049999999999986), (0.00001234, 123456.0))
    assert parse_levels(format_levels(levels)) == levels
    with pytest.raises(ValueError, match="qty@price"):
        parse_levels("0.5-100")
