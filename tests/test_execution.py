"""PaperExecutor: book walking, fees, slippage cap, partial fills, rounding, wallet checks."""
import pytest

from bot.config import ExecutionConfig
from bot.execution.executor import PaperExecutor
from bot.models import Leg, Signal
from bot.accounting.portfolio import PortfolioTracker
from tests.builders import market, snapshot


def wallets(**assets):
    return PortfolioTracker({"ex": dict(assets), "other": dict(assets)})


def signal(*legs, kind="test"):
    return Signal("momentum", kind, tuple(Leg(*leg) for leg in legs), "test")


BOOK = {("ex", "BTC/USDT"): ([(99.0, 1.0), (98.0, 2.0), (97.0, 5.0)], [(100.0, 1.0), (101.0, 2.0), (102.0, 5.0)])}


def executor(**kwargs):
    return PaperExecutor(ExecutionConfig(**kwargs), short_margin_ratio=1.5)


def test_buy_walks_the_book_level_by_level_and_pays_the_taker_fee():
    snap = snapshot(BOOK, markets={("ex", "BTC/USDT"): market("ex", "BTC/USDT", taker_fee=0.001, amount_step=0.001)})
    result = executor(max_slippage_pct=5).execute(signal(("ex", "BTC/USDT", "buy", 2.0, 100.0)), snap, wallets(USDT=1000.0))
    assert result.status == "filled"
    (fill,) = result.fills
    assert fill.qty == 2.0
    assert fill.price == pytest.approx((100.0 * 1 + 101.0 * 1) / 2)
    assert fill.fee == pytest.approx(201.0 * 0.001)
    assert fill.fee_asset == "USDT"
    assert fill.levels_used == 2
    assert fill.slippage_pct == pytest.approx(0.5)


def test_sell_walks_the_bids():
    snap = snapshot(BOOK)
    from tests.test_portfolio import trade

    tracker = wallets(USDT=300.0)
    tracker.apply(trade(1, "buy", 3.0, 100.0))  # momentum's own 3 BTC (it does not short)
    result = executor(max_slippage_pct=5).execute(signal(("ex", "BTC/USDT", "sell", 3.0, 99.0)), snap, tracker)
    (fill,) = result.fills
    assert fill.price == pytest.approx((99.0 + 98.0 * 2) / 3)


def test_slippage_cap_gives_a_partial_fill():
    snap = snapshot(BOOK)
    result = executor(max_slippage_pct=1.5).execute(signal(("ex", "BTC/USDT", "buy", 5.0, 100.0)), snap, wallets(USDT=10_000.0))
    assert result.status == "partial"
    (fill,) = result.fills
    assert fill.qty == pytest.approx(3.0)  # 100 and 101 are within 1.5%; 102 is not
    assert fill.requested_qty == 5.0


def test_partial_fills_off_rejects_instead():
    snap = snapshot(BOOK)
    result = executor(max_slippage_pct=1.5, allow_partial_fills=False).execute(
        signal(("ex", "BTC/USDT", "buy", 5.0, 100.0)), snap, wallets(USDT=10_000.0))
    assert result.status == "rejected"
    assert "partial fills are off" in result.reason


def test_amount_is_rounded_down_to_the_market_step():
    snap = snapshot(BOOK, markets={("ex", "BTC/USDT"): market("ex", "BTC/USDT", amount_step=0.01)})
    result = executor().execute(signal(("ex", "BTC/USDT", "buy", 0.456789, 100.0)), snap, wallets(USDT=1000.0))
    assert result.fills[0].qty == 0.45


def test_minimum_notional_is_respected():
    snap = snapshot(BOOK, markets={("ex", "BTC/USDT"): market("ex", "BTC/USDT", amount_step=0.001, min_notional=10.0)})
    result = executor().execute(signal(("ex", "BTC/USDT", "buy", 0.05, 100.0)), snap, wallets(USDT=1000.0))
    assert result.status == "rejected"
    assert "below the minimum" in result.reason


def test_an_order_the_wallet_cannot_pay_for_is_rejected_with_a_reason():
    snap = snapshot(BOOK)
    tracker = wallets(USDT=150.0)
    result = executor(max_slippage_pct=5).execute(signal(("ex", "BTC/USDT", "buy", 2.0, 100.0)), snap, tracker)
    assert result.status == "rejected"
    assert "insufficient USDT on ex" in result.reason
    assert tracker.balance("ex", "USDT") == 150.0


def test_selling_what_the_wallet_does_not_hold_is_rejected_unless_short_is_declared():
    snap = snapshot(BOOK)
    result = executor().execute(signal(("ex", "BTC/USDT", "sell", 1.0, 99.0)), snap, wallets(USDT=1000.0))
    assert result.status == "rejected" and "insufficient BTC" in result.reason
    allowed = executor().execute(signal(("ex", "BTC/USDT", "sell", 1.0, 99.0)), snap, wallets(USDT=1000.0), allows_short=True)
    assert allowed.status == "filled"


def test_a_short_beyond_the_margin_rule_is_rejected():
    snap = snapshot(BOOK)
    result = executor(max_slippage_pct=5).execute(signal(("ex", "BTC/USDT", "sell", 3.0, 99.0)), snap,
                                                  wallets(USDT=100.0), allows_short=True)
    assert result.status == "rejected"
    assert "margin rule" in result.reason


def test_multi_leg_fills_all_or_nothing():
    books = dict(BOOK)
    books[("other", "BTC/USDT")] = ([(103.0, 0.5)], [(104.0, 0.5)])
    snap = snapshot(books)
    tracker = wallets(USDT=1000.0, BTC=2.0)
    result = executor(max_slippage_pct=5).execute(
        signal(("ex", "BTC/USDT", "buy", 1.0, 100.0), ("other", "BTC/USDT", "sell", 1.0, 103.0)), snap, tracker)
    assert result.status == "rejected"
    assert "leg 2" in result.reason and "no leg was filled" in result.reason
    assert result.fills == ()


def test_multi_leg_uses_what_earlier_legs_bought():
    books = {("ex", "BTC/USDT"): ([(99.0, 5.0)], [(100.0, 5.0)]), ("ex", "ETH/BTC"): ([(0.05, 100.0)], [(0.051, 100.0)])}
    snap = snapshot(books, markets={("ex", "ETH/BTC"): market("ex", "ETH/BTC", amount_step=0.001, min_notional=0.0001)})
    tracker = PortfolioTracker({"ex": {"USDT": 200.0}})
    # Spend USDT on BTC, then that BTC on ETH: the second leg only works with the first leg's BTC.
    result = executor().execute(signal(("ex", "BTC/USDT", "buy", 1.0, 100.0), ("ex", "ETH/BTC", "buy", 19.0, 0.051)),
                                snap, tracker)
    assert result.status == "filled", result.reason
    assert result.fills[1].fee_asset == "BTC"
    assert result.fills[1].quote_usdt_rate == pytest.approx(99.5)


@pytest.mark.parametrize("books, stale, expected", [
    ({("ex", "BTC/USDT"): ([(101.0, 1.0)], [(100.0, 1.0)])}, (), "crossed"),
    (BOOK, (("ex", "BTC/USDT"),), "no fresh order book"),
])
def test_crossed_or_stale_books_are_not_traded(books, stale, expected):
    snap = snapshot(books, stale=stale)
    result = executor().execute(signal(("ex", "BTC/USDT", "buy", 0.5, 100.0)), snap, wallets(USDT=1000.0))
    assert result.status == "rejected" and expected in result.reason


def test_unknown_market_is_rejected():
    result = executor().execute(signal(("ex", "DOGE/USDT", "buy", 1.0, 1.0)), snapshot(BOOK), wallets(USDT=1000.0))
    assert result.status == "rejected" and "not traded" in result.reason


def test_another_strategys_holdings_are_reserved_cash_is_shared():
    from tests.test_portfolio import trade

    tracker = PortfolioTracker({"ex": {"USDT": 1000.0, "BTC": 0.5}})
    tracker.apply(trade(1, "buy", 1.0, 100.0, exchange="ex", strategy="momentum"))  # momentum now holds 1 BTC
    assert tracker.balance("ex", "BTC") == 1.5
    assert tracker.available("ex", "BTC", "arbitrage") == 0.5   # only the unowned inventory
    assert tracker.available("ex", "BTC", "momentum") == 1.5
    assert tracker.available("ex", "USDT", "arbitrage") == tracker.balance("ex", "USDT")
    assert tracker.view_for("arbitrage").balance("ex", "BTC") == 0.5
    snap = snapshot(BOOK)
    other = Signal("arbitrage", "test", (Leg("ex", "BTC/USDT", "sell", 1.0, 99.0),), "test")
    result = executor(max_slippage_pct=5).execute(other, snap, tracker)
    assert result.status == "rejected" and "insufficient BTC on ex: need 1, have 0.5" in result.reason
    own = Signal("momentum", "test", (Leg("ex", "BTC/USDT", "sell", 1.0, 99.0),), "test")
    assert executor(max_slippage_pct=5).execute(own, snap, tracker).status == "filled"


def test_a_later_leg_sees_the_wallet_less_the_earlier_legs_fees():
    """Two buys on one exchange: USDT covers both notionals but not both plus fees (hand-computed)."""
    books = {("ex", "BTC/USDT"): ([(99.0, 5.0)], [(100.0, 5.0)]), ("ex", "ETH/USDT"): ([(49.0, 5.0)], [(50.0, 5.0)])}
    fees = 0.01  # 1% taker fee: leg 1 costs 100 + 1, leg 2 costs 50 + 0.5
    markets = {key: market(*key, taker_fee=fees) for key in books}
    legs = (("ex", "BTC/USDT", "buy", 1.0, 100.0), ("ex", "ETH/USDT", "buy", 1.0, 50.0))
    short = executor().execute(signal(*legs), snapshot(books, markets=markets), PortfolioTracker({"ex": {"USDT": 151.0}}))
    assert short.status == "rejected" and short.reason == "insufficient USDT on ex: need 50.5, have 50"
    enough = executor().execute(signal(*legs), snapshot(books, markets=markets), PortfolioTracker({"ex": {"USDT": 151.5}}))
    assert enough.status == "filled", enough.reason


# ----- a strategy that does not short sells only what it holds (DESIGN.md, Accounting) ------

def test_a_strategy_that_does_not_short_cannot_sell_the_wallets_other_coins():
    """The wallet holds 3 starting BTC; momentum holds 1 of its own: it may sell 1, not 1.5."""
    from tests.test_portfolio import trade

    tracker = wallets(USDT=1000.0, BTC=3.0)
    snap = snapshot(BOOK)
    none_held = executor(max_slippage_pct=5).execute(signal(("ex", "BTC/USDT", "sell", 1.0, 99.0)), snap, tracker)
    assert none_held.status == "rejected" and none_held.reason_key == "insufficient_funds"
    assert none_held.reason == ("momentum holds 0 BTC and does not short: it cannot give up 1 "
                                "(the rest of the wallet's BTC is not its own)")
    tracker.apply(trade(1, "buy", 1.0, 100.0))
    beyond = executor(max_slippage_pct=5).execute(signal(("ex", "BTC/USDT", "sell", 1.5, 99.0)), snap, tracker)
    assert beyond.status == "rejected" and "momentum holds 1 BTC" in beyond.reason
    own = executor(max_slippage_pct=5).execute(signal(("ex", "BTC/USDT", "sell", 1.0, 99.0)), snap, tracker)
    assert own.status == "filled" and own.fills[0].qty == 1.0
    shorting = Signal("stat_arb", "test", (Leg("ex", "BTC/USDT", "sell", 1.5, 99.0),), "test")
    assert executor(max_slippage_pct=5).execute(shorting, snap, tracker, allows_short=True).status == "filled"


def test_selling_on_one_exchange_what_a_later_leg_buys_on_another_is_not_a_short():
    """Arbitrage's shape: sell the inventory on one exchange, buy as much on the other; net zero."""
    books = {("ex", "BTC/USDT"): ([(101.0, 2.0)], [(102.0, 2.0)]), ("other", "BTC/USDT"): ([(99.0, 2.0)], [(100.0, 2.0)])}
    tracker = wallets(USDT=1000.0, BTC=1.0)
    legs = (("ex", "BTC/USDT", "sell", 1.0, 101.0), ("other", "BTC/USDT", "buy", 1.0, 100.0))
    assert executor().execute(signal(*legs), snapshot(books), tracker).status == "filled"
    uneven = (("ex", "BTC/USDT", "sell", 1.0, 101.0), ("other", "BTC/USDT", "buy", 0.5, 100.0))
    refused = executor().execute(signal(*uneven), snapshot(books), tracker)
    assert refused.status == "rejected" and "cannot give up 0.5 (" in refused.reason and refused.fills == ()


def test_spending_a_quote_coin_the_strategy_does_not_hold_is_refused():
    """ETH/BTC is paid in BTC: momentum, holding no BTC, may not pay with the wallet's starting BTC."""
    books = {("ex", "ETH/BTC"): ([(0.05, 100.0)], [(0.051, 100.0)]), ("ex", "BTC/USDT"): ([(99.0, 5.0)], [(100.0, 5.0)])}
    snap = snapshot(books, markets={("ex", "ETH/BTC"): market("ex", "ETH/BTC", amount_step=0.001, min_notional=0.0001)})
    result = executor().execute(signal(("ex", "ETH/BTC", "buy", 1.0, 0.051)), snap, PortfolioTracker({"ex": {"BTC": 1.0}}))
    assert result.status == "rejected" and "momentum holds 0 BTC" in result.reason


def test_a_position_already_below_zero_may_trade_but_not_go_further_down():
    """Books from before the rule (or dust) can hold a small negative: a net-zero signal still fills."""
    from tests.test_portfolio import trade

    tracker = PortfolioTracker({"ex": {"USDT": 1000.0, "BTC": 2.0}, "other": {"USDT": 1000.0, "BTC": 2.0}})
    tracker.apply(trade(1, "sell", 0.5, 100.0, strategy="arbitrage"))  # arbitrage net -0.5 BTC
    books = {("ex", "BTC/USDT"): ([(101.0, 2.0)], [(102.0, 2.0)]), ("other", "BTC/USDT"): ([(99.0, 2.0)], [(100.0, 2.0)])}
    legs = (("ex", "BTC/USDT", "sell", 1.0, 101.0), ("other", "BTC/USDT", "buy", 1.0, 100.0))
    arb = Signal("arbitrage", "test", tuple(Leg(*leg) for leg in legs), "test")
    assert executor().execute(arb, snapshot(books), tracker).status == "filled"
    further = Signal("arbitrage", "test", (Leg("ex", "BTC/USDT", "sell", 0.1, 101.0),), "test")
    refused = executor().execute(further, snapshot(books), tracker)
    assert refused.status == "rejected"
    assert refused.reason == ("arbitrage is 0.5 BTC below zero already (books from before this rule) and does not "
                              "short: it cannot give up 0.1 (the rest of the wallet's BTC is not its own)")


def test_a_net_short_positions_coins_on_one_exchange_are_its_own():
    """stat_arb is short 2 ETH on beta and long 1 on alpha (net -1): its alpha coin is reserved."""
    from tests.test_portfolio import trade

    tracker = PortfolioTracker({"alpha": {"USDT": 1000.0, "ETH": 3.0}, "beta": {"USDT": 1000.0, "ETH": 3.0}})
    tracker.apply(trade(1, "buy", 1.0, 100.0, symbol="ETH/USDT", exchange="alpha", strategy="stat_arb"))
    tracker.apply(trade(2, "sell", 2.0, 100.0, symbol="ETH/USDT", exchange="beta", strategy="stat_arb"))
    assert tracker.positions[("stat_arb", "ETH")].qty == -1.0
    assert tracker.available("alpha", "ETH", "arbitrage") == 3.0  # 4 in the wallet, 1 of them stat_arb's
    assert tracker.available("alpha", "ETH", "stat_arb") == 4.0
    assert tracker.unreserved("alpha", "ETH") == 3.0


def test_a_short_is_borrowed_where_it_is_sold_not_covered_on_another_exchange():
    """stat_arb sells 0.25 BTC on ex, where it may spend 0.2 (the starting coins), and buys 0.25 on
    other: flat over both, it would owe 0.05 BTC on ex with no short on the books. A real short
    (no buy elsewhere) is fine, and so is the same pair when the wallet covers the sell."""
    books = {("ex", "BTC/USDT"): ([(101.0, 2.0)], [(102.0, 2.0)]), ("other", "BTC/USDT"): ([(99.0, 2.0)], [(100.0, 2.0)])}
    pair = (("ex", "BTC/USDT", "sell", 0.25, 101.0), ("other", "BTC/USDT", "buy", 0.25, 100.0))
    signal_of = lambda *legs: Signal("stat_arb", "test", tuple(Leg(*leg) for leg in legs), "test")  # noqa: E731
    refused = executor().execute(signal_of(*pair), snapshot(books), wallets(USDT=1000.0, BTC=0.2), allows_short=True)
    assert refused.status == "rejected" and refused.fills == ()
    assert refused.reason == ("stat_arb would borrow 0.05 BTC on ex while short only 0 over all exchanges: "
                              "a short is borrowed where it is sold")
    short = executor().execute(signal_of(pair[0]), snapshot(books), wallets(USDT=1000.0, BTC=0.2), allows_short=True)
    assert short.status == "filled"
    covered = executor().execute(signal_of(*pair), snapshot(books), wallets(USDT=1000.0, BTC=0.25), allows_short=True)
    assert covered.status == "filled"


def test_a_one_leg_short_may_borrow_only_as_far_as_the_position_is_short():
    """stat_arb holds 1 BTC on other; selling 1.2 on ex (0.2 spendable there) borrows 1.0 while the
    position is short 0.2 over both exchanges: refused. Selling 0.2 borrows nothing."""
    from tests.test_portfolio import trade

    tracker = wallets(USDT=1000.0, BTC=0.2)
    tracker.apply(trade(1, "buy", 1.0, 100.0, exchange="other", strategy="stat_arb"))
    sell = lambda qty: Signal("stat_arb", "test", (Leg("ex", "BTC/USDT", "sell", qty, 99.0),), "test")  # noqa: E731
    refused = executor(max_slippage_pct=5).execute(sell(1.2), snapshot(BOOK), tracker, allows_short=True)
    assert refused.status == "rejected" and "borrow 1 BTC on ex while short only 0.2" in refused.reason
    assert executor(max_slippage_pct=5).execute(sell(0.2), snapshot(BOOK), tracker, allows_short=True).status == "filled"
