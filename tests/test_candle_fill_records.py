"""A candle backtest's fill records, read back from disk and checked by hand: each exit's realized
P&L is (sell - buy) x qty of its round trip (fees apart), each entry's is 0.0, seq and ids run on,
and every trade has its activity line (in ledger order) naming its signal.

The fill path sets a draft's realized P&L in place and encodes the lines itself (bot/data_flow.py,
bot/models.py Trade.to_dict); this is the oracle from the files, not from that code.
"""
from __future__ import annotations

import copy
import json

import pytest

from bot.cli_candles import prepare_backtest
from bot.config import parse_config
from bot.engine import BotEngine
from tests.candle_files import write_walk
from tests.test_textbook_backtest import QTY, textbook_config


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fill-records")
    write_walk(folder / "candles", "binance", "BTC/USDT", bars=1500, seed=21)
    config = copy.deepcopy(textbook_config(folder / "candles"))
    config["market"]["source"] = "candles"
    config["storage"] = {"data_dir": str(folder / "data"), "log_dir": str(folder / "logs"), "fsync": False}
    parsed, _ = prepare_backtest(parse_config(config))
    engine = BotEngine(parsed)
    engine.open()
    try:
        engine.run_fast(None)
    finally:
        engine.close()
    trades = [json.loads(line) for line in (folder / "data" / "trades.jsonl").read_text().splitlines()]
    activity = [json.loads(line) for line in (folder / "logs" / "activity.jsonl").read_text().splitlines()]
    return trades, activity


def test_realized_pnl_of_each_round_trip_by_hand(run):
    trades, _ = run
    assert len(trades) >= 6
    assert [t["seq"] for t in trades] == list(range(1, len(trades) + 1))
    assert [t["id"] for t in trades] == [f"T{n:08d}" for n in range(1, len(trades) + 1)]
    entry = None
    for trade in trades:
        assert trade["qty"] == QTY
        if trade["side"] == "buy":
            assert entry is None, "the textbook crossover holds one position at a time"
            assert repr(trade["realized_pnl"]) == "0.0"
            entry = trade
        else:
            assert entry is not None
            assert trade["realized_pnl"] == pytest.approx((trade["price"] - entry["price"]) * QTY, rel=1e-12, abs=1e-9)
            assert trade["realized_pnl"] != 0.0
            entry = None


def test_every_trade_has_its_activity_line_in_order(run):
    trades, activity = run
    executed = [line for line in activity if line["event"] == "trades_executed"]
    assert [line["trades"] for line in executed] == [[t["id"]] for t in trades]
    assert [line["signal_id"] for line in executed] == [t["signal_id"] for t in trades]
    assert [line["reason"] for line in executed] == [t["reason"] for t in trades]
