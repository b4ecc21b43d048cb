"""Limit orders at the best bid for one simulated hour: honest queue fills against "fill on touch".

Every --every simulated seconds a limit buy of --qty at the best bid goes through the real
engine (latency, queue at the back of its level, fills only from the simulator's trade prints,
bot/execution/resting.py). At the end of the hour it prints how many filled in full, partly or
not at all, how long the filled ones waited, and the fill ratio (quantity filled / placed);
beside it, what a "fill on touch" paper mode (filled in full the first tick the last trade
price is at or below the limit) would have claimed for the same orders.

Run: .venv/bin/python bench/resting_orders.py [--seed 11] [--minutes 60] [--every 60] [--qty 0.002 1.0]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.commands import PlaceOrder  # noqa: E402
from bot.config import KNOWN_STRATEGIES, parse_config  # noqa: E402
from bot.engine import BotEngine  # noqa: E402
from bot.requests import validate_request  # noqa: E402
from bot.requests_orders import OrderRequest  # noqa: E402


def run(seed: int, minutes: float, every: int, qty: float, exchange: str, symbol: str, folder: str) -> dict:
    """Place the orders, run the hour, and gather both accounts of it."""
    config = parse_config({"market": {"seed": seed}, "dashboard": {"enabled": False},
                           "portfolio": {"starting_balances": {"USDT": 1e8}},  # never the wallet's limit
                           "strategies": {name: {"enabled": False} for name in KNOWN_STRATEGIES},
                           "storage": {"data_dir": f"{folder}/data", "log_dir": f"{folder}/logs", "fsync": False}})
    engine = BotEngine(config)
    engine.open()
    engine.run_fast(1)
    ticks = int(minutes * 60 / config.market.tick_seconds)
    placed: list[tuple[str, float, float]] = []  # (order id, price, placed ts)
    touched: dict[str, float] = {}  # order id -> ts of the first touch
    for tick in range(ticks):
        snapshot = engine.last_snapshot
        quote = snapshot.quotes[(exchange, symbol)]
        for order_id, price, _ in placed:
            if order_id not in touched and quote.last <= price:
                touched[order_id] = snapshot.ts
        if tick % every == 0:
            body = {"exchange": exchange, "symbol": symbol, "side": "buy", "type": "limit", "amount": qty,
                    "price": quote.bid}
            order = engine.commands.handle(PlaceOrder(validate_request(OrderRequest, body)))
            placed.append((order["id"], quote.bid, snapshot.ts))
        engine.run_fast(1)
    end = engine.last_snapshot.ts
    orders = [engine.desk.orders[order_id] for order_id, _, _ in placed]
    fill_ts = {}
    for trade in engine.ledger.iter_all():
        if trade.signal_id in engine.desk.orders and engine.desk.orders[trade.signal_id].remaining <= 1e-12:
            fill_ts[trade.signal_id] = trade.ts  # the last fill completes the order
    engine.close()
    waits = [fill_ts[o.id] - ts for (oid, _, ts), o in zip(placed, orders) if o.id in fill_ts]
    touch_waits = [touched[oid] - ts for oid, _, ts in placed if oid in touched]
    return {"orders": len(orders), "full": sum(1 for o in orders if o.remaining <= 1e-12),
            "partial": sum(1 for o in orders if 0 < o.filled and o.remaining > 1e-12),
            "none": sum(1 for o in orders if o.filled <= 0),
            "ratio": sum(o.filled for o in orders) / sum(o.qty for o in orders),
            "waits": waits, "touch": len(touched), "touch_waits": touch_waits, "hour_end": end}


def _describe(waits: list[float]) -> str:
    if not waits:
        return "-"
    return (f"median {statistics.median(waits):.0f} s, mean {statistics.fmean(waits):.0f} s, "
            f"max {max(waits):.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--every", type=int, default=60, help="simulated seconds between orders")
    parser.add_argument("--qty", type=float, nargs="+", default=[0.002, 1.0], help="order sizes, one run each")
    parser.add_argument("--exchange", default="binance")
    parser.add_argument("--symbol", default="BTC/USDT")
    args = parser.parse_args()
    for qty in args.qty:
        with tempfile.TemporaryDirectory() as folder:
            r = run(args.seed, args.minutes, args.every, qty, args.exchange, args.symbol, folder)
        report(r, args, qty)
        print()


def report(r: dict, args, qty: float) -> None:
    """Print one run's two accounts side by side."""
    n = r["orders"]
    print(f"{n} limit buys of {qty:g} at the best bid, {args.symbol} on {args.exchange}, seed {args.seed}, "
          f"{args.minutes:g} simulated minutes (orders still open at the end count as unfilled)")
    print(f"{'':18}{'queue + prints':>22}{'fill on touch':>22}")
    print(f"{'filled in full':18}{r['full']:>22}{r['touch']:>22}")
    print(f"{'partly filled':18}{r['partial']:>22}{0:>22}")
    print(f"{'not filled':18}{r['none']:>22}{n - r['touch']:>22}")
    print(f"{'fill ratio':18}{r['ratio']:>22.1%}{r['touch'] / n if n else 0:>22.1%}")
    print(f"wait to full fill, queue + prints: {_describe(r['waits'])}")
    print(f"wait to full fill, fill on touch:  {_describe(r['touch_waits'])}")


if __name__ == "__main__":
    main()
