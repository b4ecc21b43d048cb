"""LiquidityMemory: hand-computed books after our takes, refill, stale books, moved books, rollback."""
import math

import pytest

from bot.config_execution import ExecutionConfig, LiquidityConfig
from bot.execution.executor import PaperExecutor
from bot.execution.liquidity import CUTOFF_HALF_LIVES, LiquidityMemory, LiquidityView
from bot.models import Leg, OrderBook, Signal
from bot.accounting.portfolio import PortfolioTracker
from tests.builders import T0, snapshot

HALF_LIFE = 10.0
ASKS = ((100.0, 1.0), (101.0, 2.0), (102.0, 5.0))
BIDS = ((99.0, 1.0), (98.0, 2.0), (97.0, 5.0))


def memory(enabled=True):
    return LiquidityMemory(LiquidityConfig(enabled=enabled, refill_half_life_seconds=HALF_LIFE))


def book(ts=T0, bids=BIDS, asks=ASKS):
    return OrderBook("ex", "BTC/USDT", tuple(bids), tuple(asks), ts)


def test_a_take_is_gone_from_the_same_book_read_again():
    mem = memory()
    mem.record("ex", "BTC/USDT", "buy", [(100.0, 1.0), (101.0, 0.5)], T0)
    after = mem.adjust(book())
    assert after.asks == ((101.0, 1.5), (102.0, 5.0))
    assert after.bids == BIDS  # a buy takes asks only


def test_the_take_refills_exponentially_with_the_half_life():
    mem = memory()
    mem.record("ex", "BTC/USDT", "buy", [(100.0, 1.0), (101.0, 0.5)], T0)
    one = mem.adjust(book(ts=T0 + HALF_LIFE))
    # Half of each piece is still missing after one half-life: 0.5 at 100, 0.25 at 101.
    assert [price for price, _ in one.asks] == [100.0, 101.0, 102.0]
    assert [qty for _, qty in one.asks] == pytest.approx([0.5, 1.75, 5.0])
    three = mem.adjust(book(ts=T0 + 3 * HALF_LIFE))
    assert three.asks[0][1] == pytest.approx(1.0 - 1.0 / 8)
    assert three.asks[1][1] == pytest.approx(2.0 - 0.5 / 8)
    seven_seconds = mem.adjust(book(ts=T0 + 7.0))
    assert seven_seconds.asks[0][1] == pytest.approx(1.0 - 2 ** (-7.0 / HALF_LIFE))


def test_a_book_not_newer_than_the_fill_has_not_refilled():
    mem = memory()
    mem.record("ex", "BTC/USDT", "sell", [(99.0, 1.0), (98.0, 1.0)], T0 + 5.0)
    for ts in (T0, T0 + 5.0):  # a live book fetched before our fill, or the same tick's
        assert mem.adjust(book(ts=ts)).bids == ((98.0, 1.0), (97.0, 5.0))


def test_a_moved_book_loses_the_take_at_prices_not_beyond_it_nearest_first():
    mem = memory()
    mem.record("ex", "BTC/USDT", "buy", [(100.0, 1.0), (101.0, 0.5)], T0)
    moved = book(asks=((99.0, 1.0), (100.5, 1.0), (103.0, 1.0)))
    # The piece at 100 comes out of 99 (the only ask at or below 100), the piece at 101 out of 100.5.
    assert mem.adjust(moved).asks == ((100.5, 0.5), (103.0, 1.0))
    higher = book(asks=((101.5, 1.0), (102.0, 1.0)))
    assert mem.adjust(higher).asks == higher.asks  # every ask is dearer than what we took: new offers
    deeper = book(asks=((98.0, 0.3), (99.0, 0.3), (100.0, 3.0)))
    # 1.0 at 100: the level at 100 first; 0.5 at 101: nearest at or below 101 is 100 again.
    assert mem.adjust(deeper).asks == ((98.0, 0.3), (99.0, 0.3), (100.0, 1.5))


def test_rollback_forgets_exactly_the_takes_it_is_given():
    mem = memory()
    kept = mem.record("ex", "BTC/USDT", "buy", [(100.0, 0.4)], T0)
    undone = [mem.record("ex", "BTC/USDT", "buy", [(100.0, 0.6)], T0),
              mem.record("ex", "BTC/USDT", "sell", [(99.0, 1.0)], T0)]
    mem.rollback(undone)
    assert mem.adjust(book()).asks == ((100.0, 0.6), (101.0, 2.0), (102.0, 5.0))
    assert mem.adjust(book()).bids == BIDS
    mem.rollback([kept])
    plain = book()
    assert mem.adjust(plain) is plain
    assert not mem


def test_disabled_memory_records_nothing():
    mem = memory(enabled=False)
    assert mem.record("ex", "BTC/USDT", "buy", [(100.0, 1.0)], T0) is None
    plain = book()
    assert mem.adjust(plain) is plain


def test_pruning_never_changes_an_answer():
    pruned, kept = memory(), memory()
    for mem in (pruned, kept):
        for k in range(40):
            mem.record("ex", "BTC/USDT", "buy", [(100.0, 0.02), (101.0, 0.01 * (k % 3))], T0 + 9.0 * k)
    cutoff = CUTOFF_HALF_LIVES * HALF_LIFE
    for now in (T0 + 100.0, T0 + cutoff, T0 + cutoff + 9.0, T0 + 2 * cutoff):
        pruned._pruned_at = -math.inf
        pruned.prune(now)
        for ts in (now, now + 1.0, now + 50.0):
            assert pruned.adjust(book(ts=ts)) == kept.adjust(book(ts=ts))
    assert len(pruned._markets[("ex", "BTC/USDT")]["asks"]) < len(kept._markets[("ex", "BTC/USDT")]["asks"])


def test_the_view_shows_books_net_of_takes_and_keeps_the_raw_reader():
    mem = memory()
    raw = book()
    view = LiquidityView(lambda ex, sym: raw if (ex, sym) == ("ex", "BTC/USDT") else None, mem)
    assert view("ex", "BTC/USDT") is raw  # nothing taken yet: the very same object
    mem.record("ex", "BTC/USDT", "buy", [(100.0, 1.0)], T0)
    assert view("ex", "BTC/USDT").asks == ASKS[1:]
    assert view("ex", "ETH/USDT") is None
    assert view.raw("ex", "BTC/USDT") is raw


# ----- through the executor ---------------------------------------------------------------------

def executor(enabled=True):
    return PaperExecutor(ExecutionConfig(max_slippage_pct=5, liquidity={"enabled": enabled,
                                                                       "refill_half_life_seconds": HALF_LIFE}))


def buy(qty, *more):
    legs = (Leg("ex", "BTC/USDT", "buy", qty, 100.0),) + tuple(Leg(*leg) for leg in more)
    return Signal("momentum", "test", legs, "test")


def test_two_orders_in_one_tick_never_take_the_same_level():
    snap = snapshot({("ex", "BTC/USDT"): (BIDS, ASKS)})
    wallets = PortfolioTracker({"ex": {"USDT": 10_000.0}})
    ex = executor()
    first = ex.execute(buy(1.5), snap, wallets)
    second = ex.execute(buy(1.5), snap, wallets)
    assert first.fills[0].levels_taken == ((100.0, 1.0), (101.0, 0.5))
    assert second.fills[0].levels_taken == ((101.0, 1.5),)
    assert second.fills[0].price == pytest.approx(101.0)
    plain = executor(enabled=False)
    assert plain.execute(buy(1.5), snap, wallets).fills[0].price == plain.execute(buy(1.5), snap, wallets).fills[0].price


def test_a_refused_atomic_signal_gives_its_takes_back():
    books = {("ex", "BTC/USDT"): (BIDS, ASKS), ("other", "BTC/USDT"): (((103.0, 0.5),), ((104.0, 0.5),))}
    snap = snapshot(books)
    wallets = PortfolioTracker({"ex": {"USDT": 10_000.0, "BTC": 2.0}, "other": {"USDT": 0.0, "BTC": 2.0}})
    ex = executor()
    refused = ex.execute(buy(1.0, ("other", "BTC/USDT", "sell", 1.0, 103.0)), snap, wallets)
    assert refused.status == "rejected" and "leg 2" in refused.reason
    assert refused.reason_key == "other"  # the other book is thin, not taken by us
    after = ex.execute(buy(1.0), snap, wallets)
    assert after.fills[0].levels_taken == ((100.0, 1.0),), "leg 1's take was rolled back"


def test_a_leg_that_our_own_takes_starve_is_a_liquidity_taken_miss():
    snap = snapshot({("ex", "BTC/USDT"): (BIDS, ASKS)})
    wallets = PortfolioTracker({"ex": {"USDT": 10_000.0}})
    ex = PaperExecutor(ExecutionConfig(max_slippage_pct=5, allow_partial_fills=False))
    assert ex.execute(buy(1.0), snap, wallets).status == "filled"  # the whole level at 100
    limited = Signal("momentum", "test", (Leg("ex", "BTC/USDT", "buy", 2.5, 100.0, limit_price=101.0),), "test")
    again = ex.execute(limited, snap, wallets)  # the exchange shows 3 up to 101; we left 2 of them
    assert again.status == "rejected" and again.reason_key == "liquidity_taken"
    fresh = PaperExecutor(ExecutionConfig(max_slippage_pct=5, allow_partial_fills=False))
    assert fresh.execute(limited, snap, wallets).status == "filled"


def test_a_fill_reports_the_share_of_visible_depth_it_took():
    snap = snapshot({("ex", "BTC/USDT"): (BIDS, ASKS)})
    wallets = PortfolioTracker({"ex": {"USDT": 10_000.0}})
    # Within 1.5% of 100: the levels at 100 and 101, 3 BTC; a fill of 1.5 takes half.
    fill = PaperExecutor(ExecutionConfig(max_slippage_pct=1.5)).execute(buy(1.5), snap, wallets).fills[0]
    assert fill.liquidity_taken_pct == pytest.approx(50.0)
    assert fill.book_ts == T0
