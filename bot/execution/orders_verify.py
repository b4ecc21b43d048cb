"""`run_bot.py verify` for resting orders: data/orders.jsonl replayed and held against the ledger.

Every fill an order event names is a ledger trade of that order (signal_id = order id), each
order's filled quantity is what its ledger trades add up to, and what the open orders reserve
is covered by the wallets the ledger rebuilds. Reads only.
"""
from __future__ import annotations

from pathlib import Path

from bot.execution.order_log import ORDERS_FILE
from bot.execution.resting import QTY_TOLERANCE, RestingOrder, reserve_of
from bot.models import split_symbol
from bot.storage_reading import iter_jsonl


def verify_orders(data_dir: str | Path, records, balances: dict, markets_fees=None, max_slippage_pct: float = 0.5
                  ) -> tuple[list[str], list[str]]:
    """(summary lines, problems) for data_dir's orders.jsonl against the ledger records and rebuilt balances.

    markets_fees: (exchange, symbol) -> (maker, taker) for the reserves; unknown markets use 0.
    """
    path = Path(data_dir) / ORDERS_FILE
    if not path.exists():
        return ["orders: none (no orders.jsonl)"], []
    by_order: dict[str, dict[str, float]] = {}
    for record in records:
        if getattr(record, "entry", None) is None:
            by_order.setdefault(record.signal_id, {})[record.id] = record.qty
    orders: dict[str, RestingOrder] = {}
    problems: list[str] = []
    count = 0
    for number, line in enumerate(iter_jsonl(path), start=1):
        count += 1
        order = RestingOrder.from_dict(line["order"])
        trades = by_order.get(order.id, {})
        for trade_id in line.get("trade_ids", []):
            if trade_id not in trades:
                problems.append(f"{ORDERS_FILE} line {number}: order {order.id} names trade {trade_id}, "
                                f"which is not a ledger trade of that order")
        orders[order.id] = order
    reserved: dict[tuple[str, str], float] = {}
    for order in orders.values():
        in_ledger = sum(by_order.get(order.id, {}).values())
        if in_ledger < order.filled - QTY_TOLERANCE:
            problems.append(f"order {order.id}: {ORDERS_FILE} says {order.filled:g} filled, the ledger only "
                            f"{in_ledger:g}")
        if order.is_open:
            base, quote = split_symbol(order.symbol)
            maker, taker = (markets_fees or {}).get((order.exchange, order.symbol), (0.0, 0.0))
            asset, amount = reserve_of(order, base, quote, maker, taker, max_slippage_pct)
            key = (order.exchange, asset)
            reserved[key] = reserved.get(key, 0.0) + amount
    for (exchange, asset), amount in sorted(reserved.items()):
        have = balances.get(exchange, {}).get(asset, 0.0)
        if amount > have + 1e-9:
            problems.append(f"open orders reserve {amount:.8g} {asset} on {exchange}, the wallet holds {have:.8g}")
    open_count = sum(1 for o in orders.values() if o.is_open)
    held = ", ".join(f"{amount:.8g} {asset} on {exchange}" for (exchange, asset), amount in sorted(reserved.items()))
    summary = [f"orders: {count} events, {len(orders)} orders ({open_count} open"
               + (f", reserving {held}" if held else "") + ")"]
    return summary, problems
