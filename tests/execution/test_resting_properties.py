"""Properties of the queue matching (bot/execution/resting.py), against oracles computed from the prints alone."""
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.execution.resting import RestingOrder, match_prints, reserve_of

PRICES = [99.0, 99.5, 100.0, 100.5, 101.0]

prints_strategy = st.lists(
    st.fixed_dictionaries({"price": st.sampled_from(PRICES), "amount": st.floats(0.001, 5.0),
                           "side": st.sampled_from(["buy", "sell"])}), max_size=40)


def _stamped(prints):
    return [{**p, "timestamp": 1000 + i, "id": str(i)} for i, p in enumerate(prints)]


def _resting(side, price, qty, queue):
    order = RestingOrder("O1", "manual", "x", "BTC/USDT", side, "limit", qty, price=price, status="open")
    order.queue_ahead, order.seen_ms = queue, 999
    return order


@settings(max_examples=150, deadline=None)
@given(side=st.sampled_from(["buy", "sell"]), price=st.sampled_from(PRICES), qty=st.floats(0.01, 10.0),
       queue=st.floats(0.0, 8.0), prints=prints_strategy)
def test_a_resting_limit_never_fills_beyond_the_volume_past_its_queue(side, price, qty, queue, prints):
    prints = _stamped(prints)
    order = _resting(side, price, qty, queue)
    fills = match_prints([order], prints)
    filled = sum(q for _, q, _, _ in fills)
    hitting = "sell" if side == "buy" else "buy"  # the aggressors that trade with a resting order of this side
    at_price = sum(p["amount"] for p in prints if p["side"] == hitting and p["price"] == price)
    through = [p for p in prints if p["side"] == hitting and (p["price"] < price if side == "buy" else p["price"] > price)]
    assert filled <= qty + 1e-9
    assert all(fill_price == price for _, _, fill_price, _ in fills), "no fill at any price but the limit"
    if not through:
        # Without a trade through the level, only volume at the price beyond the queue ahead can fill it.
        assert filled <= max(0.0, at_price - queue) + 1e-9
        # ...and it does fill with all of it (the queue model: FIFO behind the visible size, nothing else).
        assert abs(filled - min(qty, max(0.0, at_price - queue))) <= 1e-9
    else:
        assert filled <= at_price + sum(p["amount"] for p in through) + 1e-9
    # Aggressors of the same side never fill it, and prints at better prices for us (not reaching us) neither.
    if not any(p["side"] == hitting and (p["price"] == price or p in through) for p in prints):
        assert filled == 0


@settings(max_examples=100, deadline=None)
@given(qty_a=st.floats(0.01, 3.0), qty_b=st.floats(0.01, 3.0), queue=st.floats(0.0, 3.0), prints=prints_strategy)
def test_two_of_our_orders_at_one_price_never_share_more_than_was_traded(qty_a, qty_b, queue, prints):
    prints = _stamped(prints)
    first, second = _resting("buy", 100.0, qty_a, queue), _resting("buy", 100.0, qty_b, queue)
    second.id = "O2"
    fills = match_prints([first, second], prints)
    for stamp in {p["timestamp"] for p in prints}:
        traded = sum(p["amount"] for p in prints if p["timestamp"] == stamp)
        taken = sum(q for _, q, _, ms in fills if ms == stamp)
        assert taken <= traded + 1e-9
    # Time priority: with the same queue ahead, the later order fills only once the first has filled in full.
    got_first = sum(q for o, q, _, _ in fills if o is first)
    got_second = sum(q for o, q, _, _ in fills if o is second)
    if got_second > 0:
        assert got_first >= qty_a - 1e-9


@settings(max_examples=100, deadline=None)
@given(qty=st.floats(0.01, 10.0), price=st.floats(1.0, 1e5), fills=st.lists(st.floats(0.0, 1.0), max_size=6))
def test_a_buy_reserve_falls_by_exactly_what_each_maker_fill_costs(qty, price, fills):
    maker, taker = 0.0008, 0.001
    order = _resting("buy", price, qty, 0.0)
    asset, held = reserve_of(order, "BTC", "USDT", maker, taker, 0.5)
    assert asset == "USDT" and abs(held - qty * price * (1 + maker)) <= 1e-9 * held
    for share in fills:
        take = order.remaining * share
        before = reserve_of(order, "BTC", "USDT", maker, taker, 0.5)[1]
        order.filled += take
        after = reserve_of(order, "BTC", "USDT", maker, taker, 0.5)[1]
        cost = take * price + take * price * maker  # what the fill spends: notional plus the maker fee
        assert abs((before - after) - cost) <= 1e-9 * max(1.0, before)
    order.status = "cancelled"
    assert reserve_of(order, "BTC", "USDT", maker, taker, 0.5)[1] == 0.0, "a cancel releases the rest"
