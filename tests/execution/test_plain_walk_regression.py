"""With latency 0, the liquidity memory off and no impact, the executor is the plain book walk.

A seeded run of the default market with every strategy: each fill is compared with a walk of
the same tick's book taken from a second, independent simulator (same seed), done here by hand:
take levels best first up to the slippage cap (and the leg's limit price), round the quantity
down to the market's step, trim the last level, average price, taker fee on the notional.
"""
from __future__ import annotations

import pytest

from bot.config import parse_config
from bot.engine import BotEngine
from bot.market.simulator import SimulatedMarket
from bot.models import round_step

TICKS = 50_000
REALISM_OFF = {"latency_ms": {"default": 0}, "liquidity": {"enabled": False}, "impact": {"enabled": False}}


def plain_walk(market, levels, side, qty, max_slippage_pct, limit_price):
    """(qty, average price, fee) of a taker order walking levels, or None where nothing fills."""
    requested = round_step(qty, market.amount_step)
    best = levels[0][0]
    buy = side == "buy"
    cap = best * (1 + max_slippage_pct / 100) if buy else best * (1 - max_slippage_pct / 100)
    if limit_price is not None:
        cap = min(cap, limit_price) if buy else max(cap, limit_price)
    filled, cost, last_price = 0.0, 0.0, None
    for price, size in levels:
        if (price > cap) if buy else (price < cap):
            break
        take = min(size, requested - filled)
        if take <= 0:
            break
        filled += take
        cost += take * price
        last_price = price
        if filled >= requested:
            break
    kept = round_step(filled, market.amount_step)
    if kept <= 0:
        return None
    cost -= (filled - kept) * last_price
    price = cost / kept
    return kept, price, kept * price * market.taker_fee


@pytest.mark.slow
def test_realism_off_fills_are_the_plain_book_walk(tmp_path):
    # Gaps left open (no competition, frequent dislocations) so arbitrage's multi-leg walks are many.
    market = {"seed": 11, "simulator": {"competition": {"enabled": False},
                                        "deviations": {"dislocations_per_hour": 20, "dislocation_bps": 60}}}
    config = parse_config({"market": market, "execution": REALISM_OFF, "dashboard": {"enabled": False},
                           "storage": {"data_dir": str(tmp_path / "data"), "log_dir": str(tmp_path / "logs"),
                                       "fsync": False}})
    engine = BotEngine(config)
    engine.open()
    seen = []
    process = engine.manager.process

    def recording(signal, snapshot, *, allows_short):
        result = process(signal, snapshot, allows_short=allows_short)
        assert result.status != "pending"  # latency 0: at once, on the decision snapshot
        seen.append((signal, snapshot.tick, result))
        return result

    engine.manager.process = recording
    engine.run_fast(TICKS)
    engine.close()
    oracle_market = SimulatedMarket(config.market)  # no impact: the market as generated
    slip = config.execution.max_slippage_pct
    checked, multi_leg = 0, 0
    for signal, tick, result in seen:
        if result.status == "rejected":
            continue
        oracle_market.seek(tick)
        books = oracle_market.next_snapshot()
        multi_leg += len(signal.legs) > 1
        for leg, fill in zip(signal.legs, result.fills):
            book = books.order_book(leg.exchange, leg.symbol)
            levels = book.asks if leg.side == "buy" else book.bids
            expected = plain_walk(books.markets[(leg.exchange, leg.symbol)], levels, leg.side, leg.qty, slip,
                                  leg.limit_price)
            assert expected is not None, signal.id
            assert fill.qty == expected[0], signal.id
            assert fill.price == pytest.approx(expected[1], rel=1e-12), signal.id
            assert fill.fee == pytest.approx(expected[2], rel=1e-12), signal.id
            checked += 1
    assert checked > 150 and multi_leg > 40, (checked, multi_leg)
    assert [t.price for t in engine.ledger.iter_all()] == [f.price for _, _, r in seen for f in r.fills]
