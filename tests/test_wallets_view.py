"""bot/wallets.py: who holds what on each exchange, a net short's long leg included."""
from bot.accounting.portfolio import PortfolioTracker
from bot.wallets import wallets_view
from tests.test_portfolio import trade


def test_a_net_short_positions_coins_on_one_exchange_show_as_held_and_are_not_free():
    """stat_arb buys 1 ETH on alpha and sells 2 on beta (net -1): alpha's 4 ETH are 1 of stat_arb's and
    3 starting coins (hand-computed), whatever the position's sign over all exchanges."""
    tracker = PortfolioTracker({"alpha": {"USDT": 1000.0, "ETH": 3.0}, "beta": {"USDT": 1000.0, "ETH": 3.0}})
    tracker.apply(trade(1, "buy", 1.0, 100.0, symbol="ETH/USDT", exchange="alpha", strategy="stat_arb"))
    tracker.apply(trade(2, "sell", 2.0, 100.0, symbol="ETH/USDT", exchange="beta", strategy="stat_arb"))
    view = wallets_view(tracker)
    (alpha,) = [row for e in view["exchanges"] if e["exchange"] == "alpha" for row in e["assets"] if row["asset"] == "ETH"]
    assert alpha["balance"] == 4.0
    assert alpha["reserved"] == [{"by": "stat_arb", "kind": "holding of a net short position", "amount": 1.0}]
    assert alpha["free"] == 3.0
    (beta,) = [row for e in view["exchanges"] if e["exchange"] == "beta" for row in e["assets"] if row["asset"] == "ETH"]
    assert beta["balance"] == 1.0 and beta["reserved"] == [] and beta["free"] == 1.0
