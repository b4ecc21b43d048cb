"""QualityFeed: trades.jsonl and misses.jsonl followed by byte offset (real files in a temp dir)."""
from __future__ import annotations

import json
import logging

import pytest

from bot.execution.quality_feed import QualityFeed


def trade_line(seq, signal_id, tick, side="buy", price=101.0, **extra) -> dict:
    return {"id": f"T{seq:08d}", "seq": seq, "ts": "2026-01-01T00:00:00.000Z", "tick": tick, "strategy": "arbitrage",
            "signal_id": signal_id, "kind": "cross_exchange", "exchange": "binance", "symbol": "BTC/USDT",
            "side": side, "qty": 1.0, "price": price, "fee": 0.1, "fee_asset": "USDT", "quote_usdt_rate": 1.0,
            "realized_pnl": 0.0, "status": "filled", "reason": "gap", "decision_mid": 100.0, **extra}


def miss_line(signal_id, reason_key="price_moved") -> dict:
    return {"ts": "2026-01-01T00:00:00.000Z", "tick": 5, "decision_ts": "2026-01-01T00:00:00.000Z",
            "strategy": "arbitrage", "signal_id": signal_id, "kind": "cross_exchange",
            "legs": [{"exchange": "kraken", "symbol": "BTC/USDT", "side": "sell", "qty": 1.0}],
            "reason_key": reason_key, "reason": "the gap closed", "latency_ms": 80.0}


def append(path, *records, tail: bytes = b"") -> None:
    with open(path, "ab") as handle:
        for record in records:
            handle.write((json.dumps(record) + "\n").encode())
        handle.write(tail)


def figures(feed) -> dict:
    (row,) = feed.report()
    return row


def test_sync_reads_only_what_was_appended_stopping_at_a_torn_line_and_at_the_size_given(tmp_path):
    trades, misses = tmp_path / "trades.jsonl", tmp_path / "misses.jsonl"
    append(trades, trade_line(1, "s1", 1), trade_line(2, "s2", 5, side="sell", price=99.0))
    feed = QualityFeed(tmp_path)
    feed.sync()
    assert (figures(feed)["fills"], figures(feed)["misses_total"]) == (2, 0)
    assert figures(feed)["slippage_bps"]["mean"] == pytest.approx(100.0)  # +100 bps each (buy above, sell below the mid)

    half = json.dumps(trade_line(3, "s3", 9)).encode()[:40]
    append(trades, tail=half)                         # an append in progress
    append(misses, miss_line("m1"), miss_line("m2", "no_book"))
    feed.sync()
    assert (figures(feed)["fills"], figures(feed)["misses"]) == (2, {"no_book": 1, "price_moved": 1})

    with open(trades, "ab") as handle:                 # the append completes
        handle.write(json.dumps(trade_line(3, "s3", 9)).encode()[40:] + b"\n")
    size_before_entry = trades.stat().st_size
    append(trades, {"id": "E1", "seq": 4, "entry": "transfer_out", "strategy": "arbitrage", "exchange": "binance",
                    "fee_usdt": 2.0})
    feed.sync((size_before_entry, misses.stat().st_size))  # a boundary taken before the entry was written
    assert (figures(feed)["fills"], figures(feed)["transfers"]) == (3, 0)
    feed.sync()
    assert (figures(feed)["fills"], figures(feed)["transfers"], figures(feed)["transfer_fees_usdt"]) == (3, 1, 2.0)
    assert figures(feed)["signals"] == 5  # s1 s2 s3 filled, m1 m2 missed


def test_a_file_that_shrank_is_read_again_and_a_bad_line_is_skipped_and_counted(tmp_path, caplog):
    trades = tmp_path / "trades.jsonl"
    append(trades, trade_line(1, "s1", 1), trade_line(2, "s2", 2))
    feed = QualityFeed(tmp_path)
    feed.sync()
    assert figures(feed)["fills"] == 2
    trades.write_text(json.dumps(trade_line(1, "s9", 1)) + "\n" + "{not json\n" + json.dumps({"seq": 3}) + "\n")
    with caplog.at_level(logging.WARNING):
        feed.sync()
    assert figures(feed)["fills"] == 1
    assert feed.skipped_lines == 2
    assert "skipped an unreadable line" in caplog.text and "shrank" in caplog.text


def test_no_files_yet_is_an_empty_report(tmp_path):
    feed = QualityFeed(tmp_path)
    feed.sync()
    assert feed.report() == []
    assert feed.report(include=("news",))[0]["signals"] == 0
