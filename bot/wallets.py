"""The wallets view: balances per exchange and asset, who holds what, shorts, transit, drift.

Everything is read from the PortfolioTracker (bot/accounting/portfolio.py) under the engine's
lock, with the books' own rules: an open position holds what it bought on each exchange
(Position.by_exchange; a net short's long leg on another exchange too), a short reserves USDT
collateral (bot/accounting/margin.py), and what no one holds is the house inventory
(PortfolioTracker.unreserved). Drift is each asset's amount now (every wallet plus coins in
transit) less the amount at the start.
"""
from __future__ import annotations

from bot.accounting.margin import collateral_of, margin_level, short_qty
from bot.models import PORTFOLIO_QUOTE


def wallets_view(portfolio) -> dict:
    """{"exchanges": [...], "shorts": [...], "in_transit": [...], "inventory": [...]} in USDT at the marks."""
    marks = portfolio.marks()
    margin = portfolio.margin
    exchanges = []
    for exchange in sorted(set(portfolio.balances) | set(portfolio.starting_balances)):
        wallet = portfolio.balances.get(exchange, {})
        start = portfolio.starting_balances.get(exchange, {})
        rows = []
        for asset in sorted(set(wallet) | set(start)):
            balance = wallet.get(asset, 0.0)
            reserved = _reserved_by(portfolio, exchange, asset)
            mark = 1.0 if asset == PORTFOLIO_QUOTE else marks.get(asset)
            rows.append({"asset": asset, "balance": balance, "start": start.get(asset, 0.0),
                         "change": balance - start.get(asset, 0.0), "reserved": reserved,
                         "reserved_total": sum(r["amount"] for r in reserved),
                         "free": portfolio.unreserved(exchange, asset), "mark": mark,
                         "value_usdt": balance * mark if mark is not None else None})
        exchanges.append({"exchange": exchange, "assets": rows,
                          "value_usdt": sum(r["value_usdt"] or 0.0 for r in rows)})
    shorts = []
    for position in portfolio.open_positions():
        if position.qty >= 0 or margin is None:
            continue
        for exchange in sorted(position.by_exchange):
            qty = short_qty(position, exchange)
            if not qty:
                continue
            collateral = collateral_of(position, margin, exchange)
            mark = marks.get(position.asset, 0.0)
            level = margin_level(collateral, qty, mark)
            shorts.append({"strategy": position.strategy, "asset": position.asset, "exchange": exchange, "qty": qty,
                           "avg_price": position.avg_cost, "mark": mark, "value_usdt": qty * mark,
                           "collateral_usdt": collateral, "margin_level": level if level != float("inf") else None,
                           "maintenance_ratio": margin.maintenance_ratio, "initial_ratio": margin.initial_ratio})
    transit = [t.to_dict() for _, t in sorted(portfolio.in_transit.items())]
    return {"exchanges": exchanges, "shorts": shorts, "in_transit": transit,
            "inventory": _inventory(portfolio, marks)}


def _reserved_by(portfolio, exchange: str, asset: str) -> list[dict]:
    """Who holds part of this wallet: strategies' long positions, and for USDT the shorts' collateral."""
    reserved = []
    margin = portfolio.margin
    for (strategy, position_asset), position in sorted(portfolio.positions.items()):
        if not position.is_open:
            continue
        if position_asset == asset:
            held = max(0.0, position.by_exchange.get(exchange, 0.0))
            if held:
                kind = "long position" if position.qty > 0 else "holding of a net short position"
                reserved.append({"by": strategy, "kind": kind, "amount": held})
        if asset == PORTFOLIO_QUOTE and margin is not None and position.qty < 0 and strategy in margin.shorting:
            collateral = collateral_of(position, margin, exchange)
            if collateral:
                reserved.append({"by": strategy, "kind": f"{position_asset} short collateral", "amount": collateral})
    return reserved


def _inventory(portfolio, marks: dict) -> list[dict]:
    """Per asset: the amount at the start, now (wallets and transit), the drift and its value."""
    start: dict[str, float] = {}
    for wallet in portfolio.starting_balances.values():
        for asset, amount in wallet.items():
            start[asset] = start.get(asset, 0.0) + amount
    now: dict[str, float] = {}
    for wallet in portfolio.balances.values():
        for asset, amount in wallet.items():
            now[asset] = now.get(asset, 0.0) + amount
    in_transit: dict[str, float] = {}
    for transit in portfolio.in_transit.values():
        in_transit[transit.asset] = in_transit.get(transit.asset, 0.0) + transit.amount
    rows = []
    for asset in sorted(set(start) | set(now) | set(in_transit)):
        total = now.get(asset, 0.0) + in_transit.get(asset, 0.0)
        drift = total - start.get(asset, 0.0)
        mark = 1.0 if asset == PORTFOLIO_QUOTE else marks.get(asset)
        rows.append({"asset": asset, "start": start.get(asset, 0.0), "in_wallets": now.get(asset, 0.0),
                     "in_transit": in_transit.get(asset, 0.0), "now": total, "drift": drift,
                     "drift_pct": drift / start[asset] * 100.0 if start.get(asset) else None,
                     "drift_value_usdt": drift * mark if mark is not None else None})
    return rows
