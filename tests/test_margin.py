"""Short margin: collateral reserved against every other spend, a hand-computed borrow fee accrual
(hourly, pro rata on close, across a rebuild from the ledger), a margin call triggered by a price
move (it spends the short's own collateral), retried every tick when it cannot fill, and config
errors naming the key."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.accounting.ledger import TradeLedger
from bot.accounting.portfolio import PortfolioTracker
from bot.accounting.reconcile import compare_books
from bot.config import ConfigError, parse_config
from tests.books_setup import books_on, market_at, signal
from tests.builders import T0

ROOT = Path(__file__).resolve().parents[1]
XRP = ("a", "XRP/USDT")
RATES = {"margin": {"borrow_rate_hourly_pct": {"XRP": 0.01}}}


def short_books(tmp_path, usdt=1000.0, **sections):
    books = books_on(tmp_path, {"a": {"USDT": usdt, "XRP": 0.0}}, **{**RATES, **sections})
    short = signal("stat_arb", ("a", "XRP/USDT", "sell", 100.0, 2.0))
    result = books.flow.process_signal(short, market_at({XRP: 2.0}, ts=T0), allows_short=True)
    assert result.status == "filled", result.reason
    return books


def lines(path):
    return [json.loads(line) for line in (path / "trades.jsonl").read_text().splitlines()]


def tick(books, mid, ts, **market):
    snap = market_at({XRP: mid}, ts=ts, **market)
    books.tracker.mark(snap)
    books.keeper.on_tick(snap, trading=True)
    return snap


def test_the_collateral_is_reserved_against_every_other_spend(tmp_path):
    books = short_books(tmp_path)
    (sold,) = lines(tmp_path)
    entry_value = 100.0 * sold["price"]
    reserved = 1.5 * entry_value
    cash = books.tracker.balance("a", "USDT")
    assert cash == pytest.approx(1000.0 + entry_value - sold["fee"])
    for strategy in ("momentum", "stat_arb"):  # other strategies, and the short's own for anything else
        assert books.tracker.available("a", "USDT", strategy) == pytest.approx(cash - reserved)
    too_much = signal("momentum", ("a", "XRP/USDT", "buy", 450.0, 2.0), number=2)
    result = books.flow.process_signal(too_much, market_at({XRP: 2.0}, ts=T0 + 1), allows_short=False)
    assert result.status == "rejected" and "insufficient USDT" in result.reason
    fits = signal("momentum", ("a", "XRP/USDT", "buy", 300.0, 2.0), number=3)
    assert books.flow.process_signal(fits, market_at({XRP: 2.0}, ts=T0 + 2), allows_short=False).status == "filled"
    # A second short must bring its own collateral: the first one's is not there to count twice.
    # 400 more XRP need 1,200 of collateral; free cash ~299 + proceeds ~800 fall short (~1,399 if the first
    # short's 300 were spendable).
    more = signal("stat_arb", ("a", "XRP/USDT", "sell", 400.0, 2.0), number=4)
    result = books.flow.process_signal(more, market_at({XRP: 2.0}, ts=T0 + 3), allows_short=True)
    assert result.status == "rejected" and "margin rule" in result.reason


def test_a_borrow_fee_accrues_hourly_and_pro_rata_on_close_and_survives_a_rebuild(tmp_path):
    books = short_books(tmp_path)
    more = signal("stat_arb", ("a", "XRP/USDT", "sell", 50.0, 2.0), number=2)
    assert books.flow.process_signal(more, market_at({XRP: 2.0}, ts=T0 + 1800), allows_short=True).status == "filled"
    tick(books, 2.2, T0 + 3599)
    assert books.tracker.stats["stat_arb"].borrow_fees_usdt == 0.0  # not an hour yet
    cash = books.tracker.balance("a", "USDT")
    tick(books, 2.2, T0 + 3600)
    bill = lines(tmp_path)[-1]
    # 100 XRP for half an hour, then 150 for the other half: 125 XRP-hours, valued at the mid 2.2,
    # at 0.01% an hour.
    assert bill["entry"] == "borrow_fee" and bill["strategy"] == "stat_arb" and bill["asset"] == "USDT"
    assert bill["fee"] == pytest.approx(125 * 2.2 * 0.0001) == pytest.approx(-bill["amount"])
    assert bill["detail"]["borrowed_asset"] == "XRP" and bill["detail"]["qty_hours"] == pytest.approx(125.0)
    assert (bill["detail"]["from_ts"], bill["detail"]["to_ts"]) == ("2026-01-01T00:00:00.000Z", "2026-01-01T01:00:00.000Z")
    assert books.tracker.balance("a", "USDT") == pytest.approx(cash - 0.0275)
    # Half an hour later the bot restarts: the books rebuilt from the ledger owe exactly what the live ones do.
    rebuilt = PortfolioTracker.from_ledger({"a": {"USDT": 1000.0, "XRP": 0.0}}, TradeLedger(tmp_path).load(),
                                           margin=books.tracker.margin)
    live = books.tracker.accruals[("stat_arb", "XRP", "a")]
    again = rebuilt.accruals[("stat_arb", "XRP", "a")]
    assert again.qty_seconds_until(T0 + 5400) == live.qty_seconds_until(T0 + 5400) == pytest.approx(150 * 1800)
    cover = signal("stat_arb", ("a", "XRP/USDT", "buy", 150.0, 2.0), closes=True, number=3)
    assert books.flow.process_signal(cover, market_at({XRP: 2.0}, ts=T0 + 5400), allows_short=True).status == "filled"
    tick(books, 2.1, T0 + 5401)
    last = lines(tmp_path)[-1]
    # The close bills the half hour since the last bill at once: 150 x 0.5 h x 2.1 x 0.01%.
    assert last["entry"] == "borrow_fee" and last["detail"]["closed"] is True
    assert last["fee"] == pytest.approx(150 * 0.5 * 2.1 * 0.0001)
    assert books.tracker.stats["stat_arb"].borrow_fees_usdt == pytest.approx(0.0275 + 0.01575)
    assert not books.tracker.accruals
    tick(books, 2.1, T0 + 9000)
    assert lines(tmp_path)[-1] == last  # nothing more to bill


def test_a_price_rise_margin_calls_the_short_which_spends_its_own_collateral(tmp_path):
    books = short_books(tmp_path, usdt=300.0)  # 300 USDT backs the 200 USDT short at 1.5x, nothing more
    (sold,) = lines(tmp_path)
    collateral = 1.5 * 100 * sold["price"]
    tick(books, 2.3, T0 + 10)  # level 299.97 / 230 = 1.30: above 1.25
    assert len(lines(tmp_path)) == 1
    free = books.tracker.available("a", "USDT", "stat_arb")
    tick(books, 2.45, T0 + 11)  # level 299.97 / 245 = 1.224: below
    *_, call, bill = lines(tmp_path)
    assert bill["entry"] == "borrow_fee" and bill["detail"]["closed"] is True  # billed at once, pro rata
    assert bill["fee"] == pytest.approx(100 * 11 / 3600 * 2.45 * 0.0001)
    assert call["kind"] == "margin_call" and call["strategy"] == "stat_arb" and call["side"] == "buy"
    assert call["qty"] == pytest.approx(100.0) and call["reason"].startswith("margin call:")
    assert f"{collateral / 245.0:.3f}" in call["reason"]
    # It cost more than the free cash: the buy-back spent the collateral reserved for it.
    assert call["qty"] * call["price"] + call["fee"] > free
    assert books.tracker.positions[("stat_arb", "XRP")].qty == 0.0
    assert books.tracker.available("a", "USDT", "momentum") == books.tracker.balance("a", "USDT") > 0


def test_a_margin_call_that_cannot_fill_is_retried_every_tick_and_told(tmp_path):
    books = short_books(tmp_path)
    for second in range(3):  # the book is all but empty: nothing within the slippage cap
        tick(books, 2.5, T0 + 20 + second, depth=1e-7)
    assert books.keeper.desk.failed == 3 and len(lines(tmp_path)) == 1
    errors = [message for level, message in books.notes if level == "error"]
    assert len(errors) == 1 and "could not fill" in errors[0] and "retrying every tick" in errors[0]
    assert "no liquidity" in errors[0]
    assert books.keeper.desk.status()["open"][0]["failures"] == 3
    tick(books, 2.5, T0 + 23)
    assert lines(tmp_path)[-2]["kind"] == "margin_call" and lines(tmp_path)[-1]["entry"] == "borrow_fee"
    assert any(level == "success" and "resolved after 3" in message for level, message in books.notes)
    assert books.keeper.desk.status()["open"] == []


def test_a_margin_call_answered_later_is_not_sent_twice(tmp_path):
    books = short_books(tmp_path)
    sent = []

    def in_flight(signal, snapshot, *, allows_short):
        sent.append(signal.id)
        return SimpleNamespace(status="pending", reason="")

    books.keeper.desk.process = in_flight
    for second in range(5):
        tick(books, 2.5, T0 + 40 + second)
    assert len(sent) == 1  # the order is in flight: not sent again
    tick(books, 2.5, T0 + 40 + 31)
    assert len(sent) == 2  # no answer for 30 s of market time: sent again



def test_a_margin_call_missed_on_arrival_is_sent_again_next_tick(tmp_path):
    books = short_books(tmp_path)
    sent = []

    def missed(signal, snapshot, *, allows_short):
        sent.append(signal.id)
        return SimpleNamespace(status="missed", reason="price moved before the order arrived")

    books.keeper.desk.process = missed
    for second in range(3):
        tick(books, 2.5, T0 + 40 + second)
    assert len(sent) == 3 and books.keeper.desk.failed == 3
    assert any("price moved" in message for level, message in books.notes if level == "error")


def test_margin_off_reserves_nothing_and_bills_nothing(tmp_path):
    books = short_books(tmp_path, margin={"enabled": False})
    assert books.tracker.margin is None
    cash = books.tracker.balance("a", "USDT")
    assert books.tracker.available("a", "USDT", "momentum") == cash
    tick(books, 3.0, T0 + 7200)
    assert len(lines(tmp_path)) == 1 and books.keeper.desk is None


@pytest.mark.parametrize("section, message", [
    ({"margin": {"maintenance_ratio": 1.5}}, "margin.maintenance_ratio: must be below portfolio.short_margin_ratio"),
    ({"margin": {"maintenance_ratio": 1.0}}, "margin.maintenance_ratio: Input should be greater than 1"),
    ({"margin": {"borrow_rate_hourly_pct": {"XRP": -0.01}}}, "margin.borrow_rate_hourly_pct.XRP: the borrow rate must be >= 0"),
    ({"transfers": {"withdrawal_fees": {"BTC": -0.1}}}, "transfers.withdrawal_fees.BTC: the withdrawal fee must be >= 0"),
    ({"transfers": {"min_share_pct": 120}}, "transfers.min_share_pct: Input should be less than or equal to 100"),
    ({"transfers": {"minutes": {"ETH": -5}}}, "transfers.minutes.ETH: the transfer time must be >= 0"),
])
def test_bad_margin_and_transfer_settings_name_the_key(section, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(section)
    assert str(caught.value).startswith(message)


def test_a_bad_setting_exits_2_with_the_key(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("margin:\n  maintenance_ratio: 2.0\n")
    result = subprocess.run([sys.executable, "run_bot.py", "--config", str(config), "--no-dashboard", "--max-ticks",
                             "1", "--data-dir", str(tmp_path / "d"), "--log-dir", str(tmp_path / "l")],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "margin.maintenance_ratio: must be below portfolio.short_margin_ratio (got 2 >= 1.5)" in result.stderr
    assert not (tmp_path / "d" / "trades.jsonl").exists()


def test_the_replay_of_a_margin_call_reproduces_the_books(tmp_path):
    books = short_books(tmp_path, usdt=300.0)
    tick(books, 2.2, T0 + 3600)
    tick(books, 2.45, T0 + 3601)
    kinds = [line.get("entry") or line["kind"] for line in lines(tmp_path)]
    assert kinds == ["test", "borrow_fee", "margin_call", "borrow_fee"]
    replayed = PortfolioTracker.from_ledger({"a": {"USDT": 300.0, "XRP": 0.0}}, TradeLedger(tmp_path).load(),
                                            margin=books.tracker.margin)
    assert compare_books(replayed.to_state(), books.tracker.to_state()) == []
