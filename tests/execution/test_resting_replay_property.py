"""Property: whatever orders were placed, cancelled and filled, a restart restores every order
(queue place and reserves included) from data/orders.jsonl, and the wallets equal the starting
balances plus the fills of data/trades.jsonl. Oracles: the files on disk, read here with json."""
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.commands import CancelOrder, PlaceOrder
from bot.engine import BotEngine
from bot.requests import CommandError, validate_request
from bot.requests_orders import OrderRequest
from tests.execution.test_resting_orders import EX, SYM, make_config

# One action: (kind, side, steps away from the touch, amount, ticks to run after it).
actions = st.lists(st.tuples(st.sampled_from(["limit", "limit", "market", "cancel"]), st.sampled_from(["buy", "sell"]),
                             st.integers(0, 40), st.sampled_from([0.001, 0.004, 0.02]), st.integers(0, 4)),
                   min_size=1, max_size=6)


def wallets_from_files(data_dir: Path, starting: dict) -> dict[str, float]:
    """binance's USDT and BTC: the starting balances plus every fill of trades.jsonl there."""
    usdt, btc = starting["USDT"], starting["BTC"]
    path = data_dir / "trades.jsonl"
    for line in (path.read_text().splitlines() if path.exists() else []):
        trade = json.loads(line)
        assert "entry" not in trade, "no transfers or borrow fees with every strategy off"
        if trade["exchange"] != EX:
            continue
        sign = 1 if trade["side"] == "buy" else -1
        usdt -= sign * trade["qty"] * trade["price"]
        btc += sign * trade["qty"]
        if trade["fee_asset"] == "USDT":
            usdt -= trade["fee"]
        else:
            btc -= trade["fee"]
    return {"USDT": usdt, "BTC": btc}


def last_event_per_order(data_dir: Path) -> dict[str, dict]:
    path = data_dir / "orders.jsonl"
    out = {}
    for line in (path.read_text().splitlines() if path.exists() else []):
        event = json.loads(line)
        out[event["order"]["id"]] = event["order"]
    return out


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=actions)
def test_a_restart_restores_orders_fills_and_balances_whatever_happened(tmp_path_factory, plan):
    root = tmp_path_factory.mktemp("replay")
    config = make_config(root)
    first = BotEngine(config)
    first.open()
    first.run_fast(3)
    step = first.source.markets[(EX, SYM)].price_step
    for kind, side, steps, amount, ticks in plan:
        quote = first.last_snapshot.quotes[(EX, SYM)]
        try:
            if kind == "cancel":
                open_ids = [o.id for o in first.desk.open_orders()]
                if open_ids:
                    first.commands.handle(CancelOrder(open_ids[steps % len(open_ids)]))
            else:
                body = {"exchange": EX, "symbol": SYM, "side": side, "type": kind, "amount": amount}
                if kind == "limit":  # resting: at or behind the touch
                    body["price"] = round((quote.bid - steps * step) if side == "buy" else (quote.ask + steps * step), 2)
                first.commands.handle(PlaceOrder(validate_request(OrderRequest, body)))
        except CommandError:
            pass  # refused (e.g. nothing to sell): refusals change nothing, which other tests check
        first.run_fast(ticks)
    before = {order.id: order.to_dict() for order in first.desk.orders.values()}
    reserved = {asset: first.desk.reserved(EX, asset) for asset in ("USDT", "BTC")}
    balances = {asset: first.portfolio.balance(EX, asset) for asset in ("USDT", "BTC")}
    first.close()

    data_dir = root / "data"
    on_disk = last_event_per_order(data_dir)
    again = BotEngine(config)
    again.open()
    try:
        restored = {order.id: order.to_dict() for order in again.desk.orders.values()}
        # Every order the file names comes back as its last event says, queue place included
        # (seen_ms may be older: prints before the restart are not told again).
        assert set(restored) == set(on_disk) == set(before)
        for order_id, order in restored.items():
            assert {**order, "seen_ms": 0} == {**on_disk[order_id], "seen_ms": 0} == {**before[order_id], "seen_ms": 0}
        for asset in ("USDT", "BTC"):
            assert abs(again.desk.reserved(EX, asset) - reserved[asset]) <= 1e-9
        oracle = wallets_from_files(data_dir, config.portfolio.starting_balances)
        for asset in ("USDT", "BTC"):
            assert abs(again.portfolio.balance(EX, asset) - oracle[asset]) <= 1e-6
            assert abs(balances[asset] - oracle[asset]) <= 1e-6
    finally:
        again.close()
