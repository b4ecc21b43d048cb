"""Stat-arb's pairs: which pairs of symbols are candidates, and one round of cointegration tests.

pair_candidates reads params.pairs and, with auto_select, every pair of USDT-quoted symbols;
run_tests is what StatArbStrategy submits to its runner off the hot path (Engle-Granger per
candidate on copied close arrays, bot/strategies/cointegration.py). Pure: no snapshot, no state.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.config import StatArbConfig
from bot.models import PORTFOLIO_QUOTE, split_symbol
from bot.strategies.cointegration import EngleGrangerResult, engle_granger


@dataclass(frozen=True, slots=True)
class PairCandidate:
    """Two USDT-quoted symbols; y is the dependent series of the regression."""

    y: str
    x: str

    @property
    def y_asset(self) -> str:
        """The dependent leg's base asset."""
        return split_symbol(self.y)[0]

    @property
    def x_asset(self) -> str:
        """The independent leg's base asset."""
        return split_symbol(self.x)[0]

    @property
    def label(self) -> str:
        """'Y/USDT vs X/USDT', as reasons and the dashboard name the pair."""
        return f"{self.y} vs {self.x}"


@dataclass(frozen=True, slots=True)
class PairTest:
    """One pair's test in a round: result is None when the data could not be tested."""

    candidate: PairCandidate
    exchange: str
    result: EngleGrangerResult | None
    error: str = ""


def run_tests(jobs: tuple[tuple[PairCandidate, str, np.ndarray, np.ndarray], ...]) -> tuple[PairTest, ...]:
    """Engle-Granger for each (candidate, exchange, y closes, x closes); runs on the runner."""
    outcomes = []
    for candidate, exchange, y_closes, x_closes in jobs:
        try:
            outcomes.append(PairTest(candidate, exchange, engle_granger(y_closes, x_closes)))
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            outcomes.append(PairTest(candidate, exchange, None, str(exc)))
    return tuple(outcomes)


def pair_candidates(params: StatArbConfig, symbols: tuple[str, ...]) -> tuple[PairCandidate, ...]:
    """Configured pairs first, then (auto_select) every USDT pair; each unordered pair once."""
    usdt = [s for s in symbols if _is_usdt(s)]
    proposed = [tuple(pair) for pair in params.pairs]
    if params.auto_select:
        proposed += [(usdt[i], usdt[j]) for i in range(len(usdt)) for j in range(i + 1, len(usdt))]
    seen: set[frozenset] = set()
    candidates = []
    for y, x in proposed:
        key = frozenset((y, x))
        if y == x or key in seen or not (_is_usdt(y) and _is_usdt(x)):
            continue
        seen.add(key)
        candidates.append(PairCandidate(y, x))
    return tuple(candidates)


def _is_usdt(symbol: str) -> bool:
    base, _, quote = symbol.partition("/")
    return bool(base) and quote == PORTFOLIO_QUOTE
