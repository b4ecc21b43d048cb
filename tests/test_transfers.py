"""Transfers between exchanges: a hand-computed transfer (fee, transit, arrival), coins in transit
not spendable, a destination down or not listing the asset, restart with coins in transit on
real files (byte-identical with an uninterrupted run), and verify catching a tampered line."""
from __future__ import annotations

import json
import shutil

import pytest

from bot.accounting.ledger import TradeLedger
from bot.accounting.portfolio import PortfolioTracker
from bot.accounting.reconcile import compare_books
from bot.cli import verify
from bot.config import ArbitrageConfig
from bot.engine import BotEngine
from bot.storage_reading import CorruptFileError
from tests.books_setup import ScriptedMarket, ScriptedStrategy, books_on, market_at, signal
from tests.builders import T0

START = {"a": {"USDT": 1000.0, "BTC": 1.0}, "b": {"USDT": 1000.0, "BTC": 1.0}}
MIDS = {("a", "BTC/USDT"): 100.0, ("b", "BTC/USDT"): 100.0}
FEES = {"transfers": {"withdrawal_fees": {"BTC": 0.0002}, "minutes": {"BTC": 30}}}


def drained(tmp_path, **sections):
    """Books where arbitrage sold 0.9 BTC on a and bought it on b: a has 0.1 BTC, b 1.9."""
    books = books_on(tmp_path, START, **{**FEES, **sections})
    arb = signal("arbitrage", ("a", "BTC/USDT", "sell", 0.9, 99.99), ("b", "BTC/USDT", "buy", 0.9, 100.01))
    assert books.flow.process_signal(arb, market_at(MIDS, ts=T0 - 5), allows_short=False).status == "filled"
    assert books.tracker.balance("a", "BTC") == pytest.approx(0.1)
    return books


def file_lines(path):
    return [json.loads(line) for line in (path / "trades.jsonl").read_text().splitlines()]


def test_a_transfer_pays_its_fee_spends_its_transit_time_and_then_lands(tmp_path):
    books = drained(tmp_path)
    books.tracker.mark(market_at(MIDS, ts=T0))
    equity_before = books.tracker.equity()
    books.keeper.on_tick(market_at(MIDS, ts=T0), trading=True)
    # Free BTC 0.1 + 1.9 = 2.0, half each: target 1.0; 0.1 < 25% of it. b keeps its target 1.0 and pays
    # the 0.0002 fee on top, so 1.9 - 1.0 - 0.0002 = 0.8998 moves (less than the 0.9 shortfall).
    out = file_lines(tmp_path)[-1]
    assert out["entry"] == "transfer_out" and out["seq"] == 3 and out["id"] == "E00000003"
    assert (out["strategy"], out["exchange"], out["asset"]) == ("arbitrage", "b", "BTC")  # arbitrage drained a
    assert out["amount"] == pytest.approx(-0.9) and out["fee"] == 0.0002
    assert out["fee_usdt"] == pytest.approx(0.0002 * 100.0)
    assert out["detail"]["to"] == "a" and out["detail"]["moved"] == pytest.approx(0.8998)
    assert out["detail"]["sent_ts"] == "2026-01-01T00:00:00.000Z"
    assert out["detail"]["arrival_ts"] == "2026-01-01T00:30:00.000Z"
    tracker = books.tracker
    assert tracker.balance("b", "BTC") == pytest.approx(1.0)
    assert tracker.balance("a", "BTC") == pytest.approx(0.1)  # nothing lands before the arrival time
    (transit,) = tracker.in_transit.values()
    assert transit.amount == pytest.approx(0.8998) and transit.destination == "a"
    assert tracker.equity() == pytest.approx(equity_before - 0.02, abs=1e-9)  # only the fee is gone
    stats = tracker.stats["arbitrage"]
    assert stats.transfer_fees_usdt == pytest.approx(0.02) and stats.transfers == 1
    # In transit: spendable nowhere. Arbitrage's sell of 0.5 BTC on a (bought back on b) is refused;
    # on arrival it fills.
    sell = signal("arbitrage", ("a", "BTC/USDT", "sell", 0.5, 99.99), ("b", "BTC/USDT", "buy", 0.5, 100.01),
                  number=2)
    assert tracker.available("a", "BTC", "momentum") == pytest.approx(0.1)
    assert tracker.available("a", "BTC", "arbitrage") == pytest.approx(0.1)
    assert books.flow.process_signal(sell, market_at(MIDS, ts=T0 + 1799), allows_short=False).status == "rejected"
    books.keeper.on_tick(market_at(MIDS, ts=T0 + 1799), trading=True)
    assert len(tracker.in_transit) == 1 and len(file_lines(tmp_path)) == 3  # no second transfer either
    books.keeper.on_tick(market_at(MIDS, ts=T0 + 1800), trading=True)
    landed = file_lines(tmp_path)[-1]
    assert landed["entry"] == "transfer_in" and landed["ref"] == out["ref"] and landed["exchange"] == "a"
    assert landed["amount"] == pytest.approx(0.8998) and landed["ts"] == "2026-01-01T00:30:00.000Z"
    assert tracker.balance("a", "BTC") == pytest.approx(0.9998) and not tracker.in_transit
    assert books.flow.process_signal(sell, market_at(MIDS, ts=T0 + 1801), allows_short=False).status == "filled"
    # The ledger on disk replays to the same books.
    replayed = PortfolioTracker.from_ledger(START, TradeLedger(tmp_path).load())
    assert compare_books(replayed.to_state(), tracker.to_state()) == []


def test_a_destination_down_waits_then_sends_the_coins_back_and_tells(tmp_path):
    books = drained(tmp_path, transfers={"retry_minutes": 60, **FEES["transfers"]})
    books.keeper.on_tick(market_at(MIDS, ts=T0), trading=True)
    tracker = books.tracker
    arrival = T0 + 1800
    for ts in (arrival, arrival + 60, arrival + 59 * 60):
        books.keeper.on_tick(market_at(MIDS, ts=ts, down=("a",)), trading=True)
    assert len(tracker.in_transit) == 1 and tracker.balance("a", "BTC") == pytest.approx(0.1)
    waits = [message for level, message in books.notes if level == "warning"]
    assert len(waits) == 1 and "is due but a is down" in waits[0]  # told once, not every tick
    books.keeper.on_tick(market_at(MIDS, ts=arrival + 60 * 60, down=("a",)), trading=True)
    back = file_lines(tmp_path)[-1]
    assert back["entry"] == "transfer_in" and back["exchange"] == "b" and back["detail"]["cancelled"] is True
    assert not tracker.in_transit
    # The coins are back on the source, the fee stays paid: 2.0 BTC less 0.0002, none twice.
    assert tracker.balance("b", "BTC") == pytest.approx(1.8998)
    assert tracker.balance("a", "BTC") + tracker.balance("b", "BTC") == pytest.approx(2.0 - 0.0002)
    assert any(level == "error" and "cancelled" in message for level, message in books.notes)
    replayed = PortfolioTracker.from_ledger(START, TradeLedger(tmp_path).load())
    assert compare_books(replayed.to_state(), tracker.to_state()) == []


def test_a_destination_that_no_longer_lists_the_asset_cancels_at_once(tmp_path):
    books = drained(tmp_path)
    books.keeper.on_tick(market_at(MIDS, ts=T0), trading=True)
    books.keeper.on_tick(market_at(MIDS, ts=T0 + 1800, unlisted=(("a", "BTC/USDT"),)), trading=True)
    back = file_lines(tmp_path)[-1]
    assert back["detail"]["cancelled"] is True and "does not list BTC" in back["detail"]["reason"]
    assert books.tracker.balance("b", "BTC") == pytest.approx(1.8998)


def test_an_asset_without_a_known_fee_is_not_moved_and_the_user_is_told(tmp_path):
    books = drained(tmp_path, transfers={"withdrawal_fees": {}, "minutes": {"BTC": 30}})
    books.keeper.transfers = books.keeper.transfers.model_copy(update={"withdrawal_fees": {}})
    from bot.config_accounting import DEFAULT_WITHDRAWAL_FEES

    saved = DEFAULT_WITHDRAWAL_FEES.pop("BTC")
    try:
        books.keeper.on_tick(market_at(MIDS, ts=T0), trading=True)
    finally:
        DEFAULT_WITHDRAWAL_FEES["BTC"] = saved
    assert not books.tracker.in_transit
    assert any("no withdrawal fee" in message and "transfers.withdrawal_fees.BTC" in message
               for _, message in books.notes)


def test_no_transfer_while_trading_is_paused_or_when_switched_off(tmp_path):
    books = drained(tmp_path)
    books.keeper.on_tick(market_at(MIDS, ts=T0), trading=False)
    assert not books.tracker.in_transit
    off = drained(tmp_path / "off", transfers={"enabled": False, **FEES["transfers"]})
    off.keeper.on_tick(market_at(MIDS, ts=T0), trading=True)
    assert not off.tracker.in_transit


# ----- restart with coins in transit, on real files ----------------------------------------------

def arbitrage_engine(root, script):
    from tests.books_setup import config_with

    config = config_with(storage={"data_dir": str(root / "data"), "log_dir": str(root / "logs"), "fsync": False},
                         market={"exchanges": ["binance", "kraken"], "symbols": ["BTC/USDT"]},
                         portfolio={"starting_balances": {"USDT": 1000.0, "BTC": 1.0}},
                         transfers={"minutes": {"BTC": 2}},
                         execution={"latency_ms": {"default": 0}})  # the script's fills land on their own tick
    source = ScriptedMarket(("binance", "kraken"), ("BTC/USDT",),
                            lambda tick: {("binance", "BTC/USDT"): 100.0, ("kraken", "BTC/USDT"): 100.0})
    strategy = ScriptedStrategy("arbitrage", ArbitrageConfig(), script)
    engine = BotEngine(config, source=source, strategies=[strategy], strategy_configs={"arbitrage": ArbitrageConfig()})
    engine.open()
    return engine


SCRIPT = {1: [signal("arbitrage", ("binance", "BTC/USDT", "sell", 0.9, 99.99), ("kraken", "BTC/USDT", "buy", 0.9, 100.01))]}


def test_a_restart_with_coins_in_transit_lands_them_at_their_arrival_time(tmp_path):
    straight = arbitrage_engine(tmp_path / "straight", SCRIPT)
    straight.run_fast(200)
    straight.close()
    first = arbitrage_engine(tmp_path / "restarted", SCRIPT)
    first.run_fast(100)  # the check at tick 60 sends; it arrives at tick 180 (2 minutes)
    first.close()
    state = json.loads((tmp_path / "restarted" / "data" / "portfolio_state.json").read_text())
    assert len(state["in_transit"]) == 1 and state["in_transit"][0]["arrival_ts"] == "2026-01-01T00:03:00.000Z"
    # verify compares the coins in transit too: a state that says otherwise is a mismatch.
    shutil.copytree(tmp_path / "restarted" / "data", tmp_path / "tampered")
    state["in_transit"][0]["amount"] += 0.01
    (tmp_path / "tampered" / "portfolio_state.json").write_text(json.dumps(state))
    assert verify(["--data-dir", str(tmp_path / "tampered")]) == 1
    second = arbitrage_engine(tmp_path / "restarted", SCRIPT)
    assert len(second.portfolio.in_transit) == 1  # rebuilt from the ledger
    second.run_fast(100)
    second.close()
    lines = file_lines(tmp_path / "restarted" / "data")
    kinds = [(line.get("entry"), line["tick"]) for line in lines]
    assert kinds == [(None, 1), (None, 1), ("transfer_out", 60), ("transfer_in", 180)]
    assert lines[3]["ts"] == "2026-01-01T00:03:00.000Z" and lines[3]["exchange"] == "binance"
    # Interrupted or not, the same ledger byte for byte.
    restarted = (tmp_path / "restarted" / "data" / "trades.jsonl").read_bytes()
    assert restarted == (tmp_path / "straight" / "data" / "trades.jsonl").read_bytes()
    assert verify(["--data-dir", str(tmp_path / "restarted" / "data")]) == 0


def test_verify_catches_a_tampered_transfer_line(tmp_path, capsys):
    engine = arbitrage_engine(tmp_path, SCRIPT)
    engine.run_fast(200)
    engine.close()
    data = tmp_path / "data"
    path = data / "trades.jsonl"
    original = path.read_text().splitlines()
    assert verify(["--data-dir", str(data)]) == 0
    assert "1 transfers (0 in transit, 0 cancelled" in capsys.readouterr().out

    def write(lines):
        path.write_text("\n".join(lines) + "\n")

    # A transfer_in landing more than was sent: ledger damage, named by line (exit 2).
    landed = json.loads(original[3])
    landed["amount"] += 0.1
    write(original[:3] + [json.dumps(landed)])
    assert verify(["--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert "trades.jsonl:4" in err and "receives" in err
    with pytest.raises(CorruptFileError):
        TradeLedger(data).load(repair=False)
    # Both legs changed alike (a smaller fee, the same coins moved): it adds up, but it is not what the
    # books recorded: the replay differs from the state file (exit 1).
    sent = json.loads(original[2])
    sent["fee"], sent["amount"] = 0.0001, sent["amount"] + 0.0001
    write(original[:2] + [json.dumps(sent)] + original[3:])
    assert verify(["--data-dir", str(data)]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH" in out and "balance kraken BTC" in out
    # A transfer landing twice.
    write(original + [json.dumps({**json.loads(original[3]), "seq": 5, "id": "E00000005"})])
    assert verify(["--data-dir", str(data)]) == 2
    assert "completed before" in capsys.readouterr().err
    write(original)
    assert verify(["--data-dir", str(data)]) == 0


def test_the_payer_is_the_strategy_that_took_the_most_out():
    from types import SimpleNamespace

    from bot.accounting.transfers import payer

    books = SimpleNamespace(flows={("a", "BTC"): {"arbitrage": -0.9, "momentum": 0.2, "news": -0.1},
                                   ("b", "BTC"): {"momentum": 0.9, "arbitrage": 0.5}})
    assert payer(books, "BTC", "a", "b") == "arbitrage"
    # Nobody took any out of the drained exchange: the one that brought the most to the source pays.
    books.flows[("a", "BTC")] = {"arbitrage": 0.2}
    assert payer(books, "BTC", "a", "b") == "momentum"
    books.flows = {}
    assert payer(books, "BTC", "a", "b") is None


def test_one_exchange_has_nothing_to_move_even_with_a_wallet_run_dry(tmp_path):
    """The keeper's one-exchange shortcut against plan_transfers itself: no transfer, no note, no line."""
    from bot.accounting.transfers import plan_transfers

    start = {"a": {"USDT": 1000.0, "BTC": 1.0}}
    books = books_on(tmp_path, start, transfers={"withdrawal_fees": {}, "minutes": {}})
    sell = signal("stat_arb", ("a", "BTC/USDT", "sell", 0.99, 99.99))  # a short: only a shorting strategy sells
    mids = {("a", "BTC/USDT"): 100.0}                                  # what it does not hold
    assert books.flow.process_signal(sell, market_at(mids, ts=T0 - 5), allows_short=True).status == "filled"
    lines = len(file_lines(tmp_path))
    for minute in range(3):
        snap = market_at(mids, ts=T0 + 60 * minute, tick=minute)
        assert plan_transfers(books.tracker, snap, books.keeper.transfers) == ([], set())  # the plain path agrees
        books.keeper.on_tick(snap, trading=True)
    assert len(file_lines(tmp_path)) == lines and not books.tracker.in_transit and books.notes == []
    assert books.keeper.counts["sent"] == 0
