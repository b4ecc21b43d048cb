"""News information coefficient of the simulated market: does the news score predict returns?

The IC is the rank (Spearman) correlation, over the headlines the news strategy can map to a
symbol, between the strategy's score of the headline (SentimentScorer, at publication) and the
symbol's log return from the publication tick's mid to the mid horizon_seconds later, on the
first exchange. The publication tick's own move is not in it: a reader of the headline trades
after it. A small positive IC is the target (an honest edge); the IC of the simulator's
ground-truth tone is printed beside it as the most any scorer could get from these headlines.

news_ic() is the function bench/market_realism.py calls. Run alone:
  .venv/bin/python bench/news_ic.py [--seeds 1 2 3 4 5] [--hours 100] [--horizon-minutes 10]
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from bot.config import parse_config  # noqa: E402
from bot.market.simulator import SimulatedMarket  # noqa: E402
from bot.strategies.sentiment import SentimentScorer, SymbolMapper  # noqa: E402

DEFAULT_HOURS = 100.0


def news_ic(seed: int, hours: float = DEFAULT_HOURS, horizon_seconds: float = 600.0,
            market: dict | None = None) -> dict:
    """IC of the news score against the forward return, on `hours` of the simulated market.

    market: overrides of the `market:` config section (the default market otherwise). Returns
    {"seed", "headlines" (headline and symbol pairs; a headline naming two coins counts twice),
    "ic", "p_value", "ic_scored" (headlines scoring != 0 only), "ic_truth" (the ground-truth tone
    instead of the score), "horizon_seconds"}.
    """
    config = parse_config({"market": {**(market or {}), "seed": seed}}).market
    source = SimulatedMarket(config)
    exchange, dt = source.exchanges[0], float(config.tick_seconds)
    mapper, scorer = SymbolMapper(source.symbols), SentimentScorer()
    symbols = list(mapper.symbol_by_base.values())
    column = {symbol: j for j, symbol in enumerate(symbols)}
    ticks = int(hours * 3600.0 / dt)
    horizon = max(1, round(horizon_seconds / dt))
    mids = np.empty((ticks, len(symbols)))
    found = []  # (tick, column, score, tone)
    for t in range(ticks):
        snapshot = source.next_snapshot()
        quotes = snapshot.quotes
        mids[t] = [quotes[(exchange, symbol)].mid for symbol in symbols]
        for item in snapshot.news:
            score, tone = scorer.score(item.title), source.news_sentiment(item.id)
            for symbol in mapper.symbols_for(item.title, item.symbols):
                found.append((t, column[symbol], score, tone))
    rows = [(score, tone, math.log(mids[t + horizon, j] / mids[t, j]))
            for t, j, score, tone in found if t + horizon < ticks]
    scores, tones, forward = (np.array(values) for values in zip(*rows)) if rows else ([], [], [])
    ic, p_value = _spearman(scores, forward)
    scored = np.asarray(scores) != 0
    return {"seed": seed, "headlines": len(rows), "ic": ic, "p_value": p_value,
            "ic_scored": _spearman(np.asarray(scores)[scored], np.asarray(forward)[scored])[0],
            "ic_truth": _spearman(tones, forward)[0], "horizon_seconds": horizon * dt}


def _spearman(x, y) -> tuple[float, float]:
    if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
        return float("nan"), float("nan")
    result = spearmanr(x, y)
    return float(result.statistic), float(result.pvalue)


def print_table(results: list[dict]) -> None:
    """One line per seed and the mean."""
    print(f"news information coefficient (Spearman, score at publication vs {results[0]['horizon_seconds'] / 60:g}-minute "
          "forward return; target: small but positive)")
    print(f"{'seed':>4}  {'headlines':>9}  {'IC':>7}  {'p':>7}  {'IC scored':>9}  {'IC truth':>8}")
    for r in results:
        print(f"{r['seed']:>4}  {r['headlines']:>9}  {r['ic']:>+7.3f}  {r['p_value']:>7.3f}  {r['ic_scored']:>+9.3f}  "
              f"{r['ic_truth']:>+8.3f}")
    mean = float(np.mean([r["ic"] for r in results]))
    print(f"mean IC {mean:+.3f} over {sum(r['headlines'] for r in results)} headlines")


def main() -> None:
    """Print the IC table for the given seeds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--hours", type=float, default=DEFAULT_HOURS)
    parser.add_argument("--horizon-minutes", type=float, default=10.0)
    args = parser.parse_args()
    print_table([news_ic(seed, args.hours, args.horizon_minutes * 60.0) for seed in args.seeds])


if __name__ == "__main__":
    main()
