"""Public trade prints for the simulated market: what other traders did at each price level.

Resting orders (bot/execution/resting.py) fill only as trade volume at their price consumes the
queue ahead of them, so the simulator must say what traded where. The prints of a tick derive
from its quotes and the tick before, on a random stream of their own (seed, 7, market, tick):
reading them draws nothing from the streams the prices, books and news come from, so a run
that never asks for prints is the same, byte for byte, as one that does.

A tick's prints: when the bid fell, a sell sweep through the levels that vanished (one print
at the deepest of them); when the ask rose, a buy sweep; then a few ordinary trades, sells at
the bid and buys at the ask. Sizes follow the market's volume per tick. Shaped as ccxt's
fetch_trades answers: {"id", "timestamp" (ms), "price", "amount", "side" (the aggressor's)}.
"""
from __future__ import annotations

import math

import numpy as np

# Ordinary trades per tick (Poisson mean) and how much of the previous top a sweep prints.
TRADES_PER_TICK = 2.0
SWEEP_SHARE = (0.6, 1.6)
PRINT_STREAM = 7


def tick_prints(seed: int, market: int, tick: int, ts: float, previous, quote, price_step: float,
                volume_per_tick: float) -> list[dict]:
    """The public trades of one market at one tick (previous and quote: the Quote before and now)."""
    if tick < 0 or quote is None:
        return []
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(PRINT_STREAM, market, tick)))
    ms = int(round(ts * 1000))
    prints: list[dict] = []

    def add(price: float, amount: float, side: str) -> None:
        if amount > 0:
            prints.append({"id": f"{tick}-{market}-{len(prints)}", "timestamp": ms, "price": price,
                           "amount": float(amount), "side": side})

    digits = max(0, math.ceil(-math.log10(price_step)))
    low, high = SWEEP_SHARE
    if previous is not None and quote.bid < previous.bid - price_step * 0.5:
        add(round(quote.bid + price_step, digits), previous.bid_size * rng.uniform(low, high), "sell")
    if previous is not None and quote.ask > previous.ask + price_step * 0.5:
        add(round(quote.ask - price_step, digits), previous.ask_size * rng.uniform(low, high), "buy")
    count = int(rng.poisson(TRADES_PER_TICK))
    if count:
        sizes = rng.exponential(volume_per_tick / TRADES_PER_TICK, count)
        sides = rng.random(count)
        for size, side in zip(sizes.tolist(), sides.tolist()):
            if side < 0.5:
                add(quote.bid, size, "sell")
            else:
                add(quote.ask, size, "buy")
    return prints
