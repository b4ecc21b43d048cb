"""Market impact on the simulator: our fills move the quotes they trade against.

A fill that takes a share s (0-1) of the visible depth within the slippage cap moves prices in
its direction (a buy up, a sell down) in two parts (config execution.impact):
- temporary: the traded market's quotes, on that exchange only, by temporary_bps * s; it decays
  with temporary_half_life_seconds (other traders refill and re-price);
- permanent: the asset's true price by permanent_bps * s, so every exchange's quotes of every
  symbol with that asset move together and no lasting gap between exchanges is created. For a
  USDT pair the base asset moves; for a cross pair (ETH/BTC) the base and the quote move half
  each, in opposite directions.
Both show from the first snapshot after the fill. Prices stay on the market's price step (a move
smaller than half a step shows as none) and the ask above the bid. The state is a function of
the fills alone (note_fill in ledger order rebuilds it exactly after a restart).
"""
from __future__ import annotations

import math
from typing import Sequence

from bot.config_execution import ImpactConfig
from bot.models import split_symbol

USDT = "USDT"
# A temporary move this many half-lives old is gone (below one millionth of its size, a small
# fraction of any price step); the cut-off depends on time alone, so a restart sees the same.
CUTOFF_HALF_LIVES = 20.0


class ImpactOverlay:
    """What our fills have done to the simulated prices; shift() applies it to one tick's quote fields."""

    def __init__(self, config: ImpactConfig | None, keys: Sequence[tuple[str, str]], price_inv: Sequence[float]):
        config = config or ImpactConfig(enabled=False)
        self.enabled = config.enabled and (config.temporary_bps > 0 or config.permanent_bps > 0)
        self._temporary = config.temporary_bps * 1e-4
        self._permanent = config.permanent_bps * 1e-4
        self._rate = math.log(2.0) / config.temporary_half_life_seconds
        self._cutoff = CUTOFF_HALF_LIVES * config.temporary_half_life_seconds
        self._index = {key: m for m, key in enumerate(keys)}
        self._assets = [split_symbol(symbol) for _, symbol in keys]
        self._inv = [float(value) for value in price_inv]
        self._markets_of: dict[str, list[int]] = {}
        for m, (base, quote) in enumerate(self._assets):
            self._markets_of.setdefault(base, []).append(m)
            self._markets_of.setdefault(quote, []).append(m)
        self._temp: dict[int, tuple[float, float]] = {}  # market -> (relative move at t_ref, t_ref)
        self._log_shift: dict[str, float] = {}  # asset -> lasting log move of its true price
        self._lasting: dict[int, float] = {}  # market -> price factor of the lasting moves (!= 1)

    def note_fill(self, exchange: str, symbol: str, side: str, qty: float, price: float, ts: float,
                  depth_share: float = 0.0) -> None:
        """Our fill of qty at price on a market at ts, which took depth_share of the visible depth."""
        m = self._index.get((exchange, symbol))
        if not self.enabled or m is None or depth_share <= 0 or qty <= 0:
            return
        sign = 1.0 if side == "buy" else -1.0
        if self._temporary > 0:
            move, since = self._temp.get(m, (0.0, ts))
            self._temp[m] = (self._decayed(move, ts - since) + sign * self._temporary * depth_share, ts)
        if self._permanent > 0:
            base, quote = self._assets[m]
            step = sign * self._permanent * depth_share
            moves = ((base, step),) if quote == USDT else ((base, step / 2.0), (quote, -step / 2.0))
            for asset, move in moves:
                self._log_shift[asset] = self._log_shift.get(asset, 0.0) + move
            for asset, _ in moves:
                for market in self._markets_of[asset]:
                    b, q = self._assets[market]
                    factor = math.exp(self._log_shift.get(b, 0.0) - self._log_shift.get(q, 0.0))
                    if factor == 1.0:
                        self._lasting.pop(market, None)
                    else:
                        self._lasting[market] = factor

    def _decayed(self, move: float, age: float) -> float:
        if age <= 0:
            return move
        return move * math.exp(-self._rate * age) if age <= self._cutoff else 0.0

    def shift(self, row: list, ts: float) -> None:
        """Move one tick's bid, ask and last in place (row[0], row[1], row[2]: lists, one entry per market)."""
        if not self._temp and not self._lasting:
            return
        factors = self._lasting
        if self._temp:
            factors = dict(factors)
            for m, (move, since) in list(self._temp.items()):
                if ts <= since:
                    continue  # shows from the first snapshot after the fill
                now = self._decayed(move, ts - since)
                if now == 0.0:
                    del self._temp[m]  # gone for good: _decayed gives 0 beyond the cut-off for any later ts
                    continue
                factors[m] = factors.get(m, 1.0) * (1.0 + max(now, -0.5))
        bid, ask, last, inv = row[0], row[1], row[2], self._inv
        # A plain loop: for a few dozen markets it is several times faster than numpy's per-call cost.
        for m, factor in factors.items():
            step = inv[m]
            if abs(factor - 1.0) * ask[m] * step < 0.49:
                continue  # less than half a price step at the ask (and so at the bid): nothing moves
            old_bid, old_ask, old_last = bid[m], ask[m], last[m]
            new_bid = max(round(old_bid * factor * step), 1.0) / step
            new_ask = round(old_ask * factor * step) / step
            if new_ask <= new_bid:
                new_ask = new_bid + 1.0 / step
            last[m] = new_ask if old_last == old_ask else new_bid if old_last == old_bid else old_last * factor
            bid[m], ask[m] = new_bid, new_ask
