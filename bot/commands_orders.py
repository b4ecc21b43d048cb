"""The handlers of the trading-by-hand commands (bot/commands.py names them; issue 17).

Each one checks against the running bot (bot/requests_orders.py), then places or cancels
through the engine's RestingDesk under the engine lock: the order's event is written to
data/orders.jsonl before it exists in memory, so a refused write leaves nothing behind.
"""
from __future__ import annotations

from bot.execution.estimate import estimate
from bot.execution.resting import RestingOrder
from bot.models import PORTFOLIO_QUOTE
from bot.requests import CommandError
from bot.requests_orders import check_order, close_order
from bot.storage import StorageError


def _storage_refusal(exc: Exception) -> CommandError:
    """A refused orders.jsonl write as bot/commands.py's storage_error answers it (503, nothing changed)."""
    cause = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return CommandError(f"storage: {cause}; nothing was changed", None, status=503)


def order_dict(order: RestingOrder) -> dict:
    """An order as the API shows it (its fields, plus remaining and average price)."""
    return {**order.to_dict(), "remaining": order.remaining, "average_price": order.average_price}


class OrderCommands:
    """PlaceOrder, EstimateOrder, CancelOrder and ClosePosition against one engine."""

    def __init__(self, engine):
        self.engine = engine

    def _snapshot(self):
        snapshot = self.engine.last_snapshot
        if snapshot is None:
            raise CommandError("the market has not produced a tick yet; try again in a moment", None, status=409)
        return snapshot

    def _checked(self, request) -> RestingOrder:
        engine = self.engine
        snapshot = self._snapshot()
        return check_order(request, snapshot, engine.source.markets, engine.source.exchanges, engine.source.symbols,
                           engine.portfolio.available, engine.config.execution.max_slippage_pct,
                           held=lambda strategy, asset: engine.portfolio.held(strategy, asset)
                           - engine.desk.committed(strategy, asset))

    def place(self, command) -> dict:
        """Check, write as placed, then send (it arrives after the exchange's latency)."""
        engine = self.engine
        with engine.lock:
            order = self._checked(command.request)
            self._place(order)
            engine.version += 1
        return order_dict(order)

    def _place(self, order: RestingOrder) -> None:
        try:
            self.engine.desk.place(order, self._snapshot())
        except StorageError as exc:
            raise _storage_refusal(exc) from exc

    def estimate(self, command) -> dict:
        """What the order would do now (nothing is placed)."""
        engine = self.engine
        with engine.lock:
            order = self._checked(command.request)
            snapshot = self._snapshot()
            book = snapshot.order_book(order.exchange, order.symbol)
            market = engine.source.markets[(order.exchange, order.symbol)]
            return estimate(order, market, book, engine.config.execution.max_slippage_pct)

    def cancel(self, command) -> dict:
        """Cancel an open order; a finished one (filled, say) is answered as it ended."""
        engine = self.engine
        with engine.lock:
            order = engine.desk.orders.get(command.order_id)
            if order is None:
                raise CommandError(f"no order {command.order_id!r}", "id", status=404)
            snapshot = engine.last_snapshot
            try:
                engine.desk.cancel(order.id, snapshot.ts if snapshot else order.updated_ts)
            except StorageError as exc:
                raise _storage_refusal(exc) from exc
            engine.version += 1
        return order_dict(order)

    def close(self, command) -> dict:
        """Close or reduce a strategy's position on one exchange, at market or with a limit."""
        engine = self.engine
        request = command.request
        with engine.lock:
            snapshot = self._snapshot()
            if request.exchange not in engine.source.exchanges:
                raise CommandError(f"exchange must be one of {', '.join(engine.source.exchanges)}", "exchange")
            position = engine.portfolio.positions.get((request.strategy, request.asset))
            qty = position.by_exchange.get(request.exchange, 0.0) if position is not None else 0.0
            if position is None or abs(qty) <= 1e-12:
                raise CommandError(f"{request.strategy} holds no {request.asset} on {request.exchange}", "asset",
                                   status=404)
            symbol = f"{request.asset}/{PORTFOLIO_QUOTE}"
            if (request.exchange, symbol) not in engine.source.markets:
                raise CommandError(f"{symbol} is not traded on {request.exchange}", "asset")
            if qty > 0 and request.strategy not in engine.desk.shorting:
                self._check_close(request, qty)
            order = close_order(request, qty, snapshot, engine.source.markets, symbol)
            self._place(order)
            engine.version += 1
        return order_dict(order)


    def _check_close(self, request, part: float) -> None:
        """A strategy that does not short sells only what it holds over all exchanges (the executor's
        rule): a close of one exchange's part larger than that is refused here, naming the fraction
        that fits, rather than at the fill."""
        engine = self.engine
        free = engine.portfolio.held(request.strategy, request.asset) - engine.desk.committed(request.strategy,
                                                                                              request.asset)
        if part * request.fraction > free + 1e-12:
            most = max(free, 0.0) / part
            raise CommandError(f"fraction: {request.strategy} holds {part:.8g} {request.asset} on {request.exchange} "
                               f"but {max(free, 0.0):.8g} over all exchanges (less its open orders) and does not "
                               f"short; close a fraction of at most {most:.6g}", "fraction")


def orders_listing(engine, finished: int = 50) -> dict:
    """GET /api/orders and orders_update: open orders (oldest first), the latest finished ones (newest
    first), what they reserve, and momentum's stop and take-profit levels beside its positions."""
    with engine.lock:
        desk = engine.desk
        orders = list(desk.orders.values())
        open_orders = [order_dict(o) for o in orders if o.is_open]
        done = [order_dict(o) for o in reversed(orders) if not o.is_open][:finished]
        reserved = {}
        for order in orders:
            if order.is_open:
                asset, _ = desk._reserve(order)
                amount = desk.reserved(order.exchange, asset)
                reserved.setdefault(order.exchange, {})[asset] = amount
        return {"open": open_orders, "finished": done, "reserved": reserved, "exits": strategy_exits(engine),
                "trade_feed": bool(engine.source.has_trade_feed)}


def strategy_exits(engine) -> list[dict]:
    """The stop and take-profit levels strategies hold for their open positions (momentum's, now)."""
    out = []
    manager = engine.manager
    if manager is None:
        return out
    for name, strategy in manager.strategies.items():
        levels = getattr(strategy, "exit_levels", None)
        if callable(levels):
            for row in levels():
                out.append({"strategy": name, **row})
    return out
