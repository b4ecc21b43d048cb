"""Requests for trading by hand: an order, an estimate, a position to close; and the checks they need.

The models hold the shape (bot/requests.py's style: strict, unknown fields refused, the first
problem named). check_order() holds the rules that need the running bot: the exchange and
symbol are traded here, price and amount sit on the market's steps, the order is above the
minimum amount and notional, the wallet covers it (less what other orders hold), a stop is on
the right side of the last price, a take-profit and stop-loss on the right sides of the entry.
A refusal is a CommandError naming the field; nothing is reserved or written before it passes.
"""
from __future__ import annotations

from typing import ClassVar, Literal, Optional

from pydantic import Field

from bot.execution.resting import MANUAL_CLOSE_REASON, MANUAL_STRATEGY, RestingOrder
from bot.models import Market, Snapshot, round_step
from bot.requests import MAX_AMOUNT, MAX_NOTE_CHARS, CommandError, RequestModel

_PRICE = dict(gt=0, le=MAX_AMOUNT, allow_inf_nan=False)


class OrderRequest(RequestModel):
    """POST /api/orders (and /api/orders/estimate): one paper order of the manual strategy."""

    extra_message: ClassVar[str] = ("{field} is not a field of an order (exchange, symbol, side, type, amount, "
                                    "amount_in, price, stop_price, tif, take_profit, stop_loss, reason)")
    exchange: str = Field(min_length=1, max_length=40, description="one of the market's exchanges")
    symbol: str = Field(min_length=1, max_length=40, description="one of the traded symbols, such as BTC/USDT")
    side: Literal["buy", "sell"] = Field(description="buy or sell")
    type: Literal["market", "limit", "stop-market", "stop-limit"] = Field(
        "limit", description="one of market, limit, stop-market, stop-limit")
    amount: float = Field(description="a positive number (at most 1e15)", **_PRICE)
    amount_in: Literal["base", "quote"] = Field("base", description="base or quote (the asset amount is counted in)")
    price: Optional[float] = Field(None, description="a positive limit price (limit and stop-limit orders)", **_PRICE)
    stop_price: Optional[float] = Field(None, description="a positive trigger price (stop orders)", **_PRICE)
    tif: Literal["GTC", "IOC", "post-only"] = Field("GTC", description="one of GTC, IOC, post-only")
    take_profit: Optional[float] = Field(None, description="a positive take-profit price, or null", **_PRICE)
    stop_loss: Optional[float] = Field(None, description="a positive stop-loss price, or null", **_PRICE)
    reason: str = Field("", max_length=MAX_NOTE_CHARS, description=f"text of at most {MAX_NOTE_CHARS} characters")


class ClosePositionRequest(RequestModel):
    """POST /api/positions/close: close or reduce any strategy's position at market or with a limit."""

    extra_message: ClassVar[str] = ("{field} is not a field of a close (strategy, asset, exchange, fraction, "
                                    "type, price)")
    strategy: str = Field(min_length=1, max_length=40, description="the strategy holding the position")
    asset: str = Field(min_length=1, max_length=20, description="the position's asset, such as BTC")
    exchange: str = Field(min_length=1, max_length=40, description="the exchange whose part of the position to close")
    fraction: float = Field(1.0, gt=0, le=1, allow_inf_nan=False, description="a share above 0 and at most 1")
    type: Literal["market", "limit"] = Field("market", description="market or limit")
    price: Optional[float] = Field(None, description="a positive limit price (limit closes)", **_PRICE)


def _refuse(message: str, field: str) -> CommandError:
    return CommandError(message, field)


def market_of(snapshot: Snapshot, markets: dict, exchange: str, symbol: str, exchanges, symbols) -> Market:
    """The market an order names, or a refusal naming the exchange or the symbol."""
    if exchange not in exchanges:
        raise _refuse(f"exchange must be one of {', '.join(exchanges)} (got {exchange!r})", "exchange")
    market = markets.get((exchange, symbol))
    if symbol not in symbols or market is None:
        raise _refuse(f"symbol must be one of the traded symbols: {', '.join(symbols)} (got {symbol!r})", "symbol")
    return market


def on_step(value: float, step: float) -> bool:
    """True when value is a whole number of steps (within float noise)."""
    units = value / step
    return abs(units - round(units)) <= 1e-6


def check_order(request: OrderRequest, snapshot: Snapshot, markets: dict, exchanges, symbols,
                available, max_slippage_pct: float, strategy: str = MANUAL_STRATEGY, held=None) -> RestingOrder:
    """The RestingOrder a request becomes, or a CommandError naming the first field at fault.

    available(exchange, asset, strategy) is what the strategy may spend (the wallet less reserves);
    held(strategy, asset) its net position less what its open orders already hold: the manual
    strategy does not short, so a sell may not give up more than that (the executor's rule,
    bot/execution/executor.py, told at once; a resting order's maker fill is not checked again).
    """
    market = market_of(snapshot, markets, request.exchange, request.symbol, exchanges, symbols)
    if request.type in ("limit", "stop-limit") and request.price is None:
        raise _refuse(f"price is required for a {request.type} order", "price")
    if request.type.startswith("stop") and request.stop_price is None:
        raise _refuse(f"stop_price is required for a {request.type} order", "stop_price")
    if request.type in ("market", "stop-market") and request.price is not None:
        raise _refuse(f"price is not used by a {request.type} order; leave it out", "price")
    quote = snapshot.quotes.get((market.exchange, market.symbol))
    if quote is None:
        raise _refuse(f"no quote for {market.symbol} on {market.exchange} right now; try again", "symbol")
    for name in ("price", "stop_price", "take_profit", "stop_loss"):
        value = getattr(request, name)
        if value is not None and not on_step(value, market.price_step):
            raise _refuse(f"{name} must be a multiple of the price step {market.price_step:g} on "
                          f"{market.exchange} (got {value:g})", name)
    buy = request.side == "buy"
    reference = request.price if request.type in ("limit", "stop-limit") else \
        (request.stop_price if request.type == "stop-market" else (quote.ask if buy else quote.bid))
    if request.amount_in == "quote":
        qty = round_step(request.amount / reference, market.amount_step)
    else:
        if not on_step(request.amount, market.amount_step):
            raise _refuse(f"amount must be a multiple of the amount step {market.amount_step:g} {market.base} "
                          f"(got {request.amount:g})", "amount")
        qty = round_step(request.amount, market.amount_step)
    if qty < market.min_amount or qty <= 0:
        raise _refuse(f"amount is below the minimum {market.min_amount:g} {market.base} on {market.exchange}", "amount")
    if qty * reference < market.min_notional:
        raise _refuse(f"amount: the notional {qty * reference:.8g} {market.quote} is below the minimum "
                      f"{market.min_notional:g} {market.quote} on {market.exchange}", "amount")
    if request.type.startswith("stop"):
        last = quote.last
        if buy and request.stop_price <= last or not buy and request.stop_price >= last:
            raise _refuse(f"stop_price {request.stop_price:g} must be {'above' if buy else 'below'} the last price "
                          f"{last:g} for a {request.side} stop", "stop_price")
    entry = reference
    if request.take_profit is not None and (request.take_profit <= entry if buy else request.take_profit >= entry):
        raise _refuse(f"take_profit must be {'above' if buy else 'below'} the entry price {entry:g}", "take_profit")
    if request.stop_loss is not None and (request.stop_loss >= entry if buy else request.stop_loss <= entry):
        raise _refuse(f"stop_loss must be {'below' if buy else 'above'} the entry price {entry:g}", "stop_loss")
    if buy:
        worst = reference * (1 + max_slippage_pct / 100.0) if request.type in ("market", "stop-market") else reference
        need = qty * worst * (1 + max(market.taker_fee, market.maker_fee))
        have = available(market.exchange, market.quote, strategy)
        asset = market.quote
    else:
        need, have, asset = qty, available(market.exchange, market.base, strategy), market.base
        own = held(strategy, asset) if held is not None else None
        if own is not None and need > max(own, 0.0) + 1e-12:
            raise _refuse(f"amount: {strategy} has {max(own, 0.0):.8g} {asset} to sell (its position less its open "
                          f"orders) and does not short; it cannot sell {need:.8g} (the wallet's other {asset} is the "
                          f"starting inventory or other strategies')", "amount")
    if need > have + 1e-12:
        raise _refuse(f"amount: the wallet on {market.exchange} cannot cover it (needs {need:.8g} {asset}, "
                      f"{have:.8g} {asset} free)", "amount")
    return RestingOrder("", strategy, market.exchange, market.symbol, request.side, request.type, qty,
                        price=request.price, stop_price=request.stop_price, tif=request.tif,
                        reason=request.reason or f"manual {request.type} {request.side}",
                        take_profit=request.take_profit, stop_loss=request.stop_loss)


def close_order(request: ClosePositionRequest, position_qty: float, snapshot: Snapshot, markets: dict,
                symbol: str) -> RestingOrder:
    """The order that closes (or reduces) a position: a sell of a long, a buy of a short, reason `manual close`."""
    market = markets[(request.exchange, symbol)]
    qty = round_step(abs(position_qty) * request.fraction, market.amount_step)
    if qty < market.min_amount or qty <= 0:
        raise _refuse(f"fraction: {qty:g} {market.base} is below the minimum {market.min_amount:g} on "
                      f"{market.exchange}", "fraction")
    if request.type == "limit":
        if request.price is None:
            raise _refuse("price is required for a limit close", "price")
        if not on_step(request.price, market.price_step):
            raise _refuse(f"price must be a multiple of the price step {market.price_step:g} (got {request.price:g})",
                          "price")
    side = "sell" if position_qty > 0 else "buy"
    return RestingOrder("", request.strategy, market.exchange, market.symbol, side, request.type, qty,
                        price=request.price, tif="GTC", reason=MANUAL_CLOSE_REASON)
