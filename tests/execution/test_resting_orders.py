"""Resting orders in a real engine on the simulated market: queue, fills from the trade prints,
reserves, refusals, cancels, stops, restart and replay. Oracles: hand arithmetic from the Market's
fee rates, the prints the source reports, and the files on disk read here with json."""
import json
from pathlib import Path

import pytest

from bot.commands import CancelOrder, ClosePosition, EstimateOrder, PlaceOrder
from bot.config import parse_config
from bot.engine import BotEngine
from bot.models import Leg, Signal
from bot.requests import CommandError, validate_request
from bot.requests_orders import ClosePositionRequest, OrderRequest

EX, SYM = "binance", "BTC/USDT"
OFF = {name: {"enabled": False} for name in ("arbitrage", "momentum", "news", "stat_arb")}


def make_config(root: Path, **execution):
    return parse_config({"storage": {"data_dir": str(root / "data"), "log_dir": str(root / "logs"), "fsync": False},
                         "dashboard": {"enabled": False}, "strategies": OFF,
                         "execution": execution})


@pytest.fixture
def engine(tmp_path):
    bot = BotEngine(make_config(tmp_path))
    bot.open()
    bot.run_fast(3)
    yield bot
    if bot.state != "closed":
        bot.close()


@pytest.fixture(scope="module")
def refusing_engine(tmp_path_factory):
    """One engine for every refusal case: a refused order changes nothing, so they can share it."""
    bot = BotEngine(make_config(tmp_path_factory.mktemp("refusals")))
    bot.open()
    bot.run_fast(3)
    yield bot
    bot.close()


def place(engine, **fields):
    body = {"exchange": EX, "symbol": SYM, "side": "buy", "type": "limit", "amount": 0.01, **fields}
    return engine.commands.handle(PlaceOrder(validate_request(OrderRequest, body)))


def quote(engine):
    return engine.last_snapshot.quotes[(EX, SYM)]


def events(engine):
    path = Path(engine.data_dir) / "orders.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def ledger(engine):
    return [json.loads(line) for line in (Path(engine.data_dir) / "trades.jsonl").read_text().splitlines()]


def run_until(engine, done, ticks=3000):
    for _ in range(ticks):
        engine.run_fast(1)
        if done():
            return True
    return False


def test_a_limit_at_the_bid_rests_behind_the_queue_and_fills_only_from_prints_at_its_price(engine):
    market = engine.source.markets[(EX, SYM)]
    price = quote(engine).bid
    order = place(engine, price=price, amount=0.05)
    assert order["status"] == "pending" and order["queue_ahead"] is None  # on its way (latency)
    usdt = engine.portfolio.balance(EX, "USDT")
    hold = 0.05 * price * (1 + market.maker_fee)
    assert engine.portfolio.available(EX, "USDT", "momentum") == pytest.approx(usdt - hold, abs=1e-9)
    live = engine.desk.orders[order["id"]]
    prints, queue0 = [], None

    def step():
        nonlocal queue0
        if live.queue_ahead is not None and queue0 is None:
            queue0 = live.queue_ahead
            book = engine.last_snapshot.order_book(EX, SYM)
            visible = sum(size for level, size in book.bids if level == price)
            assert queue0 == pytest.approx(visible), "the back of the queue: the visible size at its price"
        if queue0 is not None:
            prints.extend(t for t in engine.source.recent_trades(EX, SYM, int(engine.last_snapshot.ts * 1000) - 1))
        return not live.is_open

    assert run_until(engine, step), "a limit at the best bid should fill within 3000 simulated seconds"
    fills = [t for t in ledger(engine) if t["signal_id"] == order["id"]]
    assert sum(t["qty"] for t in fills) == pytest.approx(0.05)
    for trade in fills:
        assert trade["price"] == price and trade["strategy"] == "manual"
        assert trade["fee"] == pytest.approx(trade["qty"] * price * market.maker_fee), "maker fee on resting fills"
    # Never more than the sells at or below its price carried beyond the queue it joined.
    reaching = sum(p["amount"] for p in prints if p["side"] == "sell" and p["price"] <= price)
    assert 0.05 <= reaching + 1e-9
    spent = usdt - engine.portfolio.balance(EX, "USDT")
    assert spent == pytest.approx(sum(t["qty"] * t["price"] + t["fee"] for t in fills), abs=1e-9)
    assert engine.desk.reserved(EX, "USDT") == 0.0, "the reserve is released on the fill"
    assert [e["event"] for e in events(engine)][0] == "placed" and events(engine)[-1]["event"] == "filled"
    # Cancelling it now answers with the fill.
    answer = engine.commands.handle(CancelOrder(order["id"]))
    assert answer["status"] == "filled" and answer["trade_ids"] == [t["id"] for t in fills]


@pytest.mark.parametrize("fields, field", [
    ({"exchange": "mtgox"}, "exchange"),
    ({"symbol": "DOGE/USDT"}, "symbol"),
    ({"amount": 0.0000001}, "amount"),            # below the minimum amount
    ({"amount": 0.012345678}, "amount"),          # off the amount step
    ({"amount": 0.0001, "price": 1000.0}, "amount"),  # below the minimum notional
    ({"amount": 1000.0}, "amount"),               # more than the wallet holds
    ({"price": 60000.005}, "price"),              # off the price step
    ({"type": "stop-market", "side": "sell", "stop_price": 1e9}, "stop_price"),  # a sell stop above the market
    ({"type": "limit"}, "price"),
])
def test_bad_orders_are_refused_naming_the_field_and_change_nothing(refusing_engine, fields, field):
    engine = refusing_engine
    body = {"price": round(quote(engine).bid - 100, 2), **fields}
    body = {k: v for k, v in body.items() if not (k == "price" and body.get("type") == "stop-market")}
    if fields.get("type") == "limit":
        body.pop("price")
    before = engine.portfolio.available(EX, "USDT", "manual"), engine.desk.reserved(EX, "USDT")
    with pytest.raises(CommandError) as refused:
        place(engine, **body)
    assert refused.value.field == field, refused.value
    assert not (Path(engine.data_dir) / "orders.jsonl").exists(), "nothing written"
    assert (engine.portfolio.available(EX, "USDT", "manual"), engine.desk.reserved(EX, "USDT")) == before
    assert engine.desk.orders == {}


def test_post_only_that_would_cross_is_refused_and_a_crossing_limit_fills_as_taker(engine):
    market = engine.source.markets[(EX, SYM)]
    ask = quote(engine).ask
    refused = place(engine, price=round(ask + 50, 2), tif="post-only")
    engine.run_fast(1)
    assert engine.desk.orders[refused["id"]].status == "rejected"
    assert "post-only" in engine.desk.orders[refused["id"]].note
    taker = place(engine, price=round(quote(engine).ask + 50, 2), tif="IOC")
    engine.run_fast(1)
    done = engine.desk.orders[taker["id"]]
    assert done.status == "filled"
    trade = [t for t in ledger(engine) if t["signal_id"] == taker["id"]][0]
    assert trade["fee"] == pytest.approx(trade["qty"] * trade["price"] * market.taker_fee), "taker fee when crossing"
    assert trade["price"] <= round(ask + 50, 2)
    below = place(engine, price=round(quote(engine).bid - 500, 2), tif="IOC")
    engine.run_fast(1)
    assert engine.desk.orders[below["id"]].status == "expired"
    assert engine.desk.reserved(EX, "USDT") == 0.0


def test_a_stop_rests_untriggered_reserves_and_cancels_cleanly(engine):
    last = quote(engine).last
    stop = place(engine, type="stop-market", stop_price=round(last + 5000, 2))
    engine.run_fast(2)
    live = engine.desk.orders[stop["id"]]
    assert live.status == "open" and not live.triggered
    assert engine.desk.reserved(EX, "USDT") > 0
    cancelled = engine.commands.handle(CancelOrder(stop["id"]))
    assert cancelled["status"] == "cancelled" and engine.desk.reserved(EX, "USDT") == 0.0
    assert events(engine)[-1]["event"] == "cancelled"
    # Without a public trades feed (live, until streams bring one) an order rests, marked stale, and never fills.
    engine.source.has_trade_feed = False
    price = quote(engine).bid
    waiting = place(engine, price=price)
    engine.run_fast(30)
    live = engine.desk.orders[waiting["id"]]
    assert live.stale and live.status == "open" and live.filled == 0


def test_a_sell_stop_triggers_on_the_last_price_and_sells_at_market(engine):
    # Buy first, at market, so there is something to sell; with a take-profit and stop-loss attached.
    ask = quote(engine).ask
    bought = place(engine, type="market", amount=0.02, take_profit=round(ask * 1.5, 2), stop_loss=round(ask * 0.5, 2))
    engine.run_fast(2)
    assert engine.desk.orders[bought["id"]].status == "filled"
    exits = [o for o in engine.desk.orders.values() if o.parent_id == bought["id"]]
    assert sorted((o.type, o.side, o.qty) for o in exits) == [("limit", "sell", 0.02), ("stop-market", "sell", 0.02)]
    assert engine.desk.reserved(EX, "BTC") == pytest.approx(0.02), "a take-profit/stop-loss pair holds its coins once"
    for child in exits:
        engine.commands.handle(CancelOrder(child.id))
    assert engine.desk.reserved(EX, "BTC") == 0.0
    market = engine.source.markets[(EX, SYM)]
    stop_price = round(quote(engine).last - market.price_step * 20, 2)
    stop = place(engine, side="sell", type="stop-market", stop_price=stop_price, amount=0.02)
    live = engine.desk.orders[stop["id"]]
    assert run_until(engine, lambda: not live.is_open), "the price should fall 20 steps within the run"
    assert live.triggered and live.status == "filled"
    names = [e["event"] for e in events(engine) if e["order"]["id"] == stop["id"]]
    assert "triggered" in names and names[-1] == "filled"


def test_restart_restores_resting_orders_with_their_queue_place_and_reserves(tmp_path, capsys):
    config = make_config(tmp_path)
    first = BotEngine(config)
    first.open()
    first.run_fast(3)
    bid = first.last_snapshot.quotes[(EX, SYM)].bid
    order = place(first, price=round(bid - 200, 2), amount=0.03)
    first.run_fast(2)
    before = first.desk.orders[order["id"]].to_dict()
    reserved = first.desk.reserved(EX, "USDT")
    assert before["queue_ahead"] is not None
    first.close()
    again = BotEngine(config)
    assert again.open() == []
    restored = again.desk.orders[order["id"]].to_dict()
    # seen_ms may be older (prints before the restart are not told again: the market resumes after them).
    assert {**restored, "seen_ms": 0} == {**before, "seen_ms": 0}, "queue place included"
    assert again.desk.reserved(EX, "USDT") == pytest.approx(reserved)
    # The file read on its own agrees: the last event of the order is what was restored.
    lines = [json.loads(line) for line in (tmp_path / "data" / "orders.jsonl").read_text().splitlines()]
    assert [line["order"] for line in lines if line["order"]["id"] == order["id"]][-1] == restored
    again.run_fast(1)
    filled = place(again, type="market", amount=0.01)
    again.run_fast(2)
    assert again.desk.orders[filled["id"]].status == "filled"
    # The wallets the restarted bot holds are the starting ones plus the fills of trades.jsonl, read here.
    usdt = config.portfolio.starting_balances["USDT"]
    for line in (tmp_path / "data" / "trades.jsonl").read_text().splitlines():
        trade = json.loads(line)
        if trade["exchange"] == EX:
            sign = -1 if trade["side"] == "buy" else 1
            usdt += sign * trade["qty"] * trade["price"] - trade["fee"]
    assert again.portfolio.balance(EX, "USDT") == pytest.approx(usdt, abs=1e-9)
    assert again.portfolio.available(EX, "USDT", "manual") == pytest.approx(usdt - again.desk.reserved(EX, "USDT"))
    again.close()
    from bot.cli import _verify_locked

    assert _verify_locked(tmp_path / "data", config) == 0
    out = capsys.readouterr().out
    assert "orders: " in out and "1 open" in out and "OK:" in out
    # An event naming a fill the ledger does not have: verify says so.
    path = tmp_path / "data" / "orders.jsonl"
    forged = json.loads(path.read_text().splitlines()[-1])
    forged["trade_ids"] = ["T99999999"]
    with path.open("a") as handle:
        handle.write(json.dumps(forged) + "\n")
    assert _verify_locked(tmp_path / "data", config) == 1
    assert "T99999999" in capsys.readouterr().out


def test_closing_a_strategys_position_by_hand_is_its_exit_with_reason_manual_close(engine):
    snapshot = engine.last_snapshot
    signal = Signal("momentum", "momentum_entry", (Leg(EX, SYM, "buy", 0.02, quote(engine).ask),), "test entry",
                    id="S-test")
    engine.data_flow.process_signal(signal, snapshot, allows_short=False)
    run_until(engine, lambda: engine.portfolio.positions.get(("momentum", "BTC")) is not None, 10)
    held = engine.portfolio.positions[("momentum", "BTC")].by_exchange[EX]
    with pytest.raises(CommandError) as refused:
        engine.commands.handle(ClosePosition(validate_request(ClosePositionRequest, {
            "strategy": "news", "asset": "BTC", "exchange": EX})))
    assert refused.value.field == "asset"
    order = engine.commands.handle(ClosePosition(validate_request(ClosePositionRequest, {
        "strategy": "momentum", "asset": "BTC", "exchange": EX})))
    run_until(engine, lambda: not engine.desk.orders[order["id"]].is_open, 10)
    exit_trade = [t for t in ledger(engine) if t["signal_id"] == order["id"]][0]
    assert exit_trade["strategy"] == "momentum" and exit_trade["reason"] == "manual close"
    assert exit_trade["side"] == "sell" and exit_trade["qty"] == pytest.approx(held)
    position = engine.portfolio.positions.get(("momentum", "BTC"))
    assert position is None or abs(position.qty) < 1e-12


def test_the_estimate_walks_the_book_with_the_taker_fee_and_places_nothing(engine):
    market = engine.source.markets[(EX, SYM)]
    body = validate_request(OrderRequest, {"exchange": EX, "symbol": SYM, "side": "buy", "type": "market",
                                           "amount": 0.01})
    estimate = engine.commands.handle(EstimateOrder(body))
    book = engine.last_snapshot.order_book(EX, SYM)
    left, cost = 0.01, 0.0
    for price, size in book.asks:  # the walk by hand
        take = min(left, size)
        cost += take * price
        left -= take
        if left <= 1e-12:
            break
    assert estimate["action"] == "take"
    assert estimate["average_price"] == pytest.approx(cost / 0.01)
    assert estimate["fee"] == pytest.approx(cost * market.taker_fee)
    assert engine.desk.orders == {} and not (Path(engine.data_dir) / "orders.jsonl").exists()


def test_with_no_latency_a_limit_at_the_bid_joins_behind_the_whole_visible_level(tmp_path):
    bot = BotEngine(make_config(tmp_path, latency_ms={"default": 0}))
    bot.open()
    try:
        bot.run_fast(3)
        top = quote(bot)
        order = place(bot, price=top.bid)
        assert order["status"] == "open", "latency 0: it meets the book it was placed on"
        assert order["queue_ahead"] == pytest.approx(top.bid_size), "behind everything the best bid shows"
        on_disk = [e for e in events(bot) if e["order"]["id"] == order["id"]][-1]["order"]
        assert on_disk["queue_ahead"] == pytest.approx(top.bid_size)
    finally:
        bot.close()


def test_a_resting_close_sells_no_more_than_the_strategy_still_holds(tmp_path):
    """momentum buys 0.02 BTC; a limit close of it rests at the ask; momentum's own exit then sells
    0.015. The close's maker fills stop at the 0.005 left: momentum never goes short."""
    engine = BotEngine(make_config(tmp_path, latency_ms={"default": 0}))  # each fill on the tick it is sent
    engine.open()
    try:
        engine.run_fast(3)
        _close_after_own_exit(engine)
    finally:
        engine.close()


def _close_after_own_exit(engine):
    signal = Signal("momentum", "momentum_entry", (Leg(EX, SYM, "buy", 0.02, quote(engine).ask),), "test entry",
                    id="S-entry")
    engine.data_flow.process_signal(signal, engine.last_snapshot, allows_short=False)
    assert run_until(engine, lambda: engine.portfolio.held("momentum", "BTC") > 0, 10)
    order = engine.commands.handle(ClosePosition(validate_request(ClosePositionRequest, {
        "strategy": "momentum", "asset": "BTC", "exchange": EX, "type": "limit", "price": quote(engine).ask})))
    live = engine.desk.orders[order["id"]]
    assert run_until(engine, lambda: live.queue_ahead is not None, 10) and live.is_open and live.filled == 0
    own_exit = Signal("momentum", "momentum_exit", (Leg(EX, SYM, "sell", 0.015, quote(engine).bid),), "test exit",
                      id="S-exit", closes_position=True)
    assert engine.data_flow.process_signal(own_exit, engine.last_snapshot, allows_short=False).status == "filled"
    lowest = []
    assert run_until(engine, lambda: lowest.append(engine.portfolio.held("momentum", "BTC")) or not live.is_open)
    closing = [t for t in ledger(engine) if t["signal_id"] == order["id"]]
    assert sum(t["qty"] for t in closing) == pytest.approx(0.005)
    assert min(lowest) >= -1e-12 and engine.portfolio.held("momentum", "BTC") == pytest.approx(0.0, abs=1e-12)
    assert live.status == "expired" and live.note == "momentum no longer holds the BTC this order sells"


def test_closing_a_shorting_strategys_long_leg_by_hand_trades_under_its_short_rules(engine):
    """stat_arb holds +0.02 BTC on binance and -0.04 on another exchange (net short): a hand close of
    the binance part sells its own coins there, which its short rules allow (the manual rules would not:
    manual does not short, and the sale takes the net position further down)."""
    other = next(ex for ex in engine.source.exchanges if ex != EX)
    legs = (Leg(EX, SYM, "buy", 0.02, quote(engine).ask),
            Leg(other, SYM, "sell", 0.04, engine.last_snapshot.quotes[(other, SYM)].bid))
    for number, leg in enumerate(legs):
        result = engine.data_flow.process_signal(Signal("stat_arb", "stat_arb_entry", (leg,), "test", id=f"S-{number}"),
                                                 engine.last_snapshot, allows_short=True)
        assert result.status in ("filled", "pending"), result.reason
    assert run_until(engine, lambda: engine.portfolio.held("stat_arb", "BTC") == pytest.approx(-0.02), 20)
    order = engine.commands.handle(ClosePosition(validate_request(ClosePositionRequest, {
        "strategy": "stat_arb", "asset": "BTC", "exchange": EX})))
    assert run_until(engine, lambda: not engine.desk.orders[order["id"]].is_open, 20)
    assert engine.desk.orders[order["id"]].status == "filled", engine.desk.orders[order["id"]].note
    assert engine.portfolio.held("stat_arb", "BTC") == pytest.approx(-0.04)


def test_a_close_larger_than_what_the_strategy_holds_overall_is_refused_naming_the_fraction(engine):
    """arbitrage holds +0.02 BTC on binance and -0.01 on another exchange (net +0.01): closing all of
    the binance part would sell 0.01 BTC it does not own; half of it is what fits."""
    other = next(ex for ex in engine.source.exchanges if ex != EX)
    legs = (Leg(EX, SYM, "buy", 0.02, quote(engine).ask),
            Leg(other, SYM, "sell", 0.01, engine.last_snapshot.quotes[(other, SYM)].bid))
    result = engine.data_flow.process_signal(Signal("arbitrage", "arbitrage", legs, "test", id="S-arb"),
                                             engine.last_snapshot, allows_short=False)
    assert result.status in ("filled", "pending"), result.reason
    assert run_until(engine, lambda: engine.portfolio.held("arbitrage", "BTC") == pytest.approx(0.01), 20)
    request = {"strategy": "arbitrage", "asset": "BTC", "exchange": EX}
    with pytest.raises(CommandError) as refused:
        engine.commands.handle(ClosePosition(validate_request(ClosePositionRequest, request)))
    assert refused.value.field == "fraction"
    assert str(refused.value) == ("fraction: arbitrage holds 0.02 BTC on binance but 0.01 over all exchanges (less "
                                  "its open orders) and does not short; close a fraction of at most 0.5")
    assert not any(o.strategy == "arbitrage" for o in engine.desk.orders.values()), "nothing placed"
    order = engine.commands.handle(ClosePosition(validate_request(ClosePositionRequest, {**request, "fraction": 0.5})))
    assert run_until(engine, lambda: not engine.desk.orders[order["id"]].is_open, 20)
    assert engine.desk.orders[order["id"]].status == "filled"
    assert engine.portfolio.held("arbitrage", "BTC") == pytest.approx(0.0, abs=1e-12)
