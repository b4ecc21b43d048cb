"""Market realism: the simulated market's stylised facts next to the bands measured on real crypto.

Prints a table; asserts nothing. Run: .venv/bin/python bench/market_realism.py [--seeds 1-5] [--ticks N]
For each seed it steps the default simulated market (market.seed = seed) through its public
interface, keeps every tick's quotes, and measures from them:
  - 1-minute returns of the quoted mid (the candle closes) of the liquid majors (BTC/USDT and
    ETH/USDT on the first exchange): excess kurtosis (scipy), ACF of |r| at lags 1 and 60 and of
    r at lag 1 (statsmodels);
  - BTC-ETH 1-minute return correlation, and the lowest correlation of one coin across exchanges;
  - fee-beating gaps, recomputed here from the quotes and the markets' taker fees: a symbol whose
    best bid after its fee beats another exchange's ask plus its fee, or a triangle
    (X/USDT, Y/X, Y/USDT on one exchange) that returns more than it costs after three fees.
    Share of ticks with any, episodes (runs of ticks of one group) per hour and their length, by
    the market's spell (calm / normal / volatile, from SimulatedMarket.volatility_regime);
  - quoted spread (bps) and top-of-book depth (USDT) by coin and exchange;
  - news information coefficient (hook owned by the news work: Spearman correlation of a
    headline's true tone with its coin's next-hour return; reported, no band here).
Targets (R. Cont 2001; Makarov and Schoar 2020; issue #10): kurtosis >= 10; ACF(|r|) >= 0.15 at
lag 1 and >= 0.05 at lag 60; |ACF(r)| <= 0.05 at lag 1; BTC-ETH 0.7-0.9; same coin across
exchanges >= 0.95; fee-beating gaps on <= 0.1 % of normal-spell ticks, median episode <= 2 ticks.
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import yaml  # noqa: E402
from scipy.stats import kurtosis, spearmanr  # noqa: E402
from statsmodels.tsa.stattools import acf  # noqa: E402

from bot.config import parse_config  # noqa: E402
from bot.market.simulator import SimulatedMarket  # noqa: E402
from bot.models import split_symbol  # noqa: E402

SPELLS = ("calm", "normal", "volatile")
MAJORS = ("BTC/USDT", "ETH/USDT")


def parse_seeds(text: str) -> list[int]:
    """'1-5' or '1,3,7' -> [1, 2, 3, 4, 5] or [1, 3, 7]."""
    seeds: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        seeds += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    return seeds


def record(seed: int, ticks: int, base: dict | None = None) -> dict:
    """Step the market (base: a config dict to start from) and keep what the measurements need."""
    data = copy.deepcopy(base or {})
    data.setdefault("market", {})["seed"] = seed
    config = parse_config(data).market
    market = SimulatedMarket(config)
    keys = list(market.markets)
    bids, asks = np.empty((ticks, len(keys))), np.empty((ticks, len(keys)))
    sizes = []  # (tick, bid_size, ask_size) every 60th tick
    spells = np.empty(ticks, dtype=np.int8)
    news = []
    for t in range(ticks):
        snap = market.next_snapshot()
        quotes = [snap.quotes[key] for key in keys]
        bids[t] = [q.bid for q in quotes]
        asks[t] = [q.ask for q in quotes]
        spells[t] = SPELLS.index(market.volatility_regime())
        if t % 60 == 0:
            sizes.append([q.bid_size for q in quotes])
        for item in snap.news:
            news.append((t, item.symbols, market.news_sentiment(item.id)))
    return {"market": market, "keys": keys, "bids": bids, "asks": asks, "spells": spells,
            "bid_sizes": np.array(sizes), "news": news, "dt": config.tick_seconds}


def minute_returns(data: dict) -> tuple[np.ndarray, int]:
    """1-minute log returns of every market's quoted mid (rows are minutes) and ticks per minute."""
    per_minute = max(1, round(60.0 / data["dt"]))
    mid = (data["bids"] + data["asks"]) / 2.0
    closes = mid[per_minute - 1 :: per_minute]
    return np.diff(np.log(closes), axis=0), per_minute


def fee_beating(data: dict) -> dict[str, np.ndarray]:
    """Per group, True on the ticks where it beats the taker fees (an oracle independent of the simulator)."""
    market, keys, bids, asks = data["market"], data["keys"], data["bids"], data["asks"]
    column = {key: m for m, key in enumerate(keys)}
    fee = {key: market.markets[key].taker_fee for key in keys}
    groups = {}
    for symbol in market.symbols:
        cols = [column[(ex, symbol)] for ex in market.exchanges]
        sell = np.stack([bids[:, c] * (1.0 - fee[keys[c]]) for c in cols], axis=1)
        buy = np.stack([asks[:, c] * (1.0 + fee[keys[c]]) for c in cols], axis=1)
        groups[f"{symbol} across exchanges"] = sell.max(axis=1) > buy.min(axis=1)
    for ex in market.exchanges:
        for symbol in market.symbols:
            far, middle = split_symbol(symbol)
            one, far_usdt = (ex, f"{middle}/USDT"), (ex, f"{far}/USDT")
            if middle == "USDT" or one not in column or far_usdt not in column:
                continue
            f = fee[(ex, symbol)]
            c1, c2, c3 = column[one], column[(ex, symbol)], column[far_usdt]
            forward = bids[:, c3] * (1 - f) / (asks[:, c1] * (1 + f) * asks[:, c2] * (1 + f))
            reverse = bids[:, c2] * (1 - f) * bids[:, c1] * (1 - f) / (asks[:, c3] * (1 + f))
            groups[f"{ex} triangle via {symbol}"] = (forward > 1.0) | (reverse > 1.0)
    return groups


def episodes(state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start tick, length) of each run of True."""
    edges = np.diff(np.concatenate(([0], state.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return starts, ends - starts


def measure(data: dict) -> dict:
    """Every fact of one seed."""
    market, keys = data["market"], data["keys"]
    returns, per_minute = minute_returns(data)
    ref = market.exchanges[0]
    out = {}
    for symbol in MAJORS:
        r = returns[:, keys.index((ref, symbol))]
        coin = symbol.split("/")[0]
        out[f"kurtosis {coin}"] = float(kurtosis(r, fisher=True))
        abs_acf = acf(np.abs(r), nlags=60, fft=True)
        out[f"acf|r| lag1 {coin}"], out[f"acf|r| lag60 {coin}"] = float(abs_acf[1]), float(abs_acf[60])
        out[f"acf r lag1 {coin}"] = float(acf(r, nlags=1, fft=True)[1])
    btc, eth = (returns[:, keys.index((ref, s))] for s in MAJORS)
    out["corr BTC-ETH"] = float(np.corrcoef(btc, eth)[0, 1])
    same = []
    for symbol in market.symbols:
        cols = [keys.index((ex, symbol)) for ex in market.exchanges]
        matrix = np.corrcoef(returns[:, cols].T)
        same.append((float(matrix[np.triu_indices(len(cols), 1)].min()), symbol))
    out["same coin min corr"], out["same coin worst"] = min(same)
    groups = fee_beating(data)
    spells = data["spells"]
    any_gap = np.any(np.stack(list(groups.values()), axis=1), axis=1)
    hours = {s: max(np.sum(spells == i) * data["dt"] / 3600.0, 1e-9) for i, s in enumerate(SPELLS)}
    for i, spell in enumerate(SPELLS):
        inside = spells == i
        out[f"gap share {spell}"] = float(any_gap[inside].mean()) if inside.any() else float("nan")
        out[f"hours {spell}"] = hours[spell]
    lengths = {s: [] for s in SPELLS}
    for state in groups.values():
        starts, runs = episodes(state)
        for start, run in zip(starts.tolist(), runs.tolist()):
            lengths[SPELLS[spells[start]]].append(run)
    for spell in SPELLS:
        runs = np.array(lengths[spell] or [0])
        out[f"episodes/h {spell}"] = len(lengths[spell]) / hours[spell]
        out[f"median episode {spell}"] = float(np.median(runs)) if lengths[spell] else 0.0
        out[f"p90 episode {spell}"] = float(np.percentile(runs, 90)) if lengths[spell] else 0.0
        out[f"max episode {spell}"] = int(runs.max())
    out["gap share all"] = float(any_gap.mean())
    out["liquidity"] = liquidity(data)
    out["news ic"] = news_ic(data, returns, per_minute)
    return out


def liquidity(data: dict) -> dict[tuple[str, str], tuple[float, float]]:
    """(median spread bps, median top-of-book bid notional USDT) per market."""
    keys, bids, asks = data["keys"], data["bids"], data["asks"]
    spread = np.median((asks - bids) / ((asks + bids) / 2.0) * 1e4, axis=0)
    sampled = bids[::60][: len(data["bid_sizes"])]
    out = {}
    for m, (ex, symbol) in enumerate(keys):
        quote = split_symbol(symbol)[1]
        rate = 1.0 if quote == "USDT" else np.median((bids + asks)[:, keys.index((ex, f"{quote}/USDT"))]) / 2.0
        out[(ex, symbol)] = (float(spread[m]), float(np.median(sampled[:, m] * data["bid_sizes"][:, m]) * rate))
    return out


def news_ic(data: dict, returns: np.ndarray, per_minute: int) -> float:
    """HOOK (news work): Spearman IC of a headline's true tone with its coin's next-hour 1-minute returns summed."""
    keys, ref = data["keys"], data["market"].exchanges[0]
    tones, moves = [], []
    for t, symbols, tone in data["news"]:
        usdt = [s for s in symbols if s.endswith("/USDT") and (ref, s) in keys]
        minute = t // per_minute + 1
        if not tone or not usdt or minute + 60 > len(returns):
            continue
        tones.append(tone)
        moves.append(returns[minute : minute + 60, keys.index((ref, usdt[0]))].sum())
    return float(spearmanr(tones, moves)[0]) if len(tones) > 10 else float("nan")


# fact label, key in measure(), band (low, high), format
FACTS = [
    ("excess kurtosis BTC 1m", "kurtosis BTC", (10.0, None), "{:.1f}"),
    ("excess kurtosis ETH 1m", "kurtosis ETH", (10.0, None), "{:.1f}"),
    ("ACF |r| lag 1 BTC", "acf|r| lag1 BTC", (0.15, None), "{:.3f}"),
    ("ACF |r| lag 1 ETH", "acf|r| lag1 ETH", (0.15, None), "{:.3f}"),
    ("ACF |r| lag 60 BTC", "acf|r| lag60 BTC", (0.05, None), "{:.3f}"),
    ("ACF |r| lag 60 ETH", "acf|r| lag60 ETH", (0.05, None), "{:.3f}"),
    ("ACF r lag 1 BTC", "acf r lag1 BTC", (-0.05, 0.05), "{:+.3f}"),
    ("ACF r lag 1 ETH", "acf r lag1 ETH", (-0.05, 0.05), "{:+.3f}"),
    ("corr BTC-ETH 1m", "corr BTC-ETH", (0.7, 0.9), "{:.3f}"),
    ("same coin x exch (min)", "same coin min corr", (0.95, None), "{:.3f}"),
    ("gap share, normal %", "gap share normal", (None, 0.1), "{:.3f}"),
    ("median episode, normal", "median episode normal", (None, 2.0), "{:.1f}"),
    ("gap share, calm %", "gap share calm", (None, None), "{:.3f}"),
    ("gap share, volatile %", "gap share volatile", (None, None), "{:.3f}"),
    ("gap share, all ticks %", "gap share all", (None, None), "{:.3f}"),
    ("episodes/h calm", "episodes/h calm", (None, None), "{:.2f}"),
    ("episodes/h normal", "episodes/h normal", (None, None), "{:.2f}"),
    ("episodes/h volatile", "episodes/h volatile", (None, None), "{:.2f}"),
    ("median episode volatile", "median episode volatile", (None, None), "{:.1f}"),
    ("p90 / max episode normal", ("p90 episode normal", "max episode normal"), (None, None), "{:.0f}/{}"),
    ("hours calm/normal/volatile", ("hours calm", "hours normal", "hours volatile"), (None, None),
     "{:.0f}/{:.0f}/{:.0f}"),
    ("news IC (hook: news)", "news ic", (None, None), "{:+.3f}"),
]
PERCENT = {"gap share normal", "gap share calm", "gap share volatile", "gap share all"}


def cell(result: dict, key, fmt: str) -> tuple[str, float | None]:
    if isinstance(key, tuple):
        return fmt.format(*(result[k] for k in key)), None
    value = result[key] * (100.0 if key in PERCENT else 1.0)
    return fmt.format(value), value


def band_text(band) -> str:
    low, high = band
    if low is None and high is None:
        return "(info)"
    if high is None:
        return f">= {low:g}"
    if low is None:
        return f"<= {high:g}"
    return f"{low:g} .. {high:g}"


def inside(value: float | None, band) -> bool:
    low, high = band
    return value is not None and value == value and (low is None or value >= low) and (high is None or value <= high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="1-5", help="seeds, e.g. 1-5 or 1,3,7 (default 1-5)")
    parser.add_argument("--ticks", type=int, default=345_600, help="ticks per seed (default 345600: four days at 1 s)")
    parser.add_argument("--config", help="a config file to start from (market.seed is set per seed); "
                                           "e.g. one with market.simulator.competition.enabled: false")
    args = parser.parse_args()
    seeds = parse_seeds(args.seeds)
    base = yaml.safe_load(Path(args.config).read_text(encoding="utf-8")) if args.config else None
    results = []
    for seed in seeds:
        results.append(measure(record(seed, args.ticks, base)))
        print(f"seed {seed}: done", file=sys.stderr, flush=True)
    print(f"Market realism, {args.config or 'default market'}, {args.ticks:,} ticks per seed, seeds {args.seeds}\n")
    header = f"{'fact':<28}{'target':>12}" + "".join(f"{'seed ' + str(s):>11}" for s in seeds) + "   verdict"
    print(header)
    print("-" * len(header))
    all_inside = True
    for label, key, band, fmt in FACTS:
        cells = [cell(r, key, fmt) for r in results]
        checked = band != (None, None)
        verdict = ""
        if checked:
            outside = [str(s) for s, (_, v) in zip(seeds, cells) if not inside(v, band)]
            verdict = "inside" if not outside else f"OUTSIDE (seed {', '.join(outside)})"
            all_inside &= not outside
        print(f"{label:<28}{band_text(band):>12}" + "".join(f"{text:>11}" for text, _ in cells) + f"   {verdict}")
    print(f"\nworst same-coin pair per seed: {', '.join(r['same coin worst'] for r in results)}")
    print("\nSpread (median bps) and top-of-book bid depth (median USDT) by market, first seed:")
    table = results[0]["liquidity"]
    exchanges = sorted({ex for ex, _ in table}, key=[ex for ex, _ in table].index)
    symbols = sorted({s for _, s in table}, key=[s for _, s in table].index)
    print(f"{'symbol':<10}" + "".join(f"{ex + ' bps':>14}{ex + ' USDT':>16}" for ex in exchanges))
    for symbol in symbols:
        print(f"{symbol:<10}" + "".join(f"{table[(ex, symbol)][0]:>14.2f}{table[(ex, symbol)][1]:>16,.0f}"
                                        for ex in exchanges))
    print(f"\nevery checked fact inside its band for every seed: {'yes' if all_inside else 'NO'}")


if __name__ == "__main__":
    main()
