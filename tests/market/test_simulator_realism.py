"""The simulated market's realism: stylised facts on a fixed seed (floors, not timings), regimes,
seasonality, spreads and depth by coin, rare fee-beating gaps, and competition that closes them.

Fee-beating gaps are recomputed here from the quotes and the markets' taker fees, independently of
the simulator's own detection: a bid after its fee above another exchange's ask plus its fee, or a
triangle that returns more than it cost after three fees.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kurtosis
from statsmodels.tsa.stattools import acf

from bot.config import ConfigError, MarketConfig, SimCompetitionConfig, SimulatorConfig, parse_config
from bot.market.sim_competition import Competition
from bot.market.simulator import SimulatedMarket

DAY = 86_400


def make(seed: int = 42, **simulator) -> SimulatedMarket:
    return SimulatedMarket(MarketConfig(seed=seed, simulator=SimulatorConfig(**simulator)))


def record(market: SimulatedMarket, ticks: int) -> dict:
    keys = list(market.markets)
    bids, asks = np.empty((ticks, len(keys))), np.empty((ticks, len(keys)))
    spells = []
    for t in range(ticks):
        quotes = market.next_snapshot().quotes
        bids[t] = [quotes[k].bid for k in keys]
        asks[t] = [quotes[k].ask for k in keys]
        spells.append(market.volatility_regime())
    return {"market": market, "keys": keys, "bids": bids, "asks": asks, "spells": np.array(spells)}


def minute_returns(data: dict, exchange: str, symbol: str) -> np.ndarray:
    mid = (data["bids"] + data["asks"])[:, data["keys"].index((exchange, symbol))] / 2.0
    return np.diff(np.log(mid[59::60]))


def gap_groups(data: dict) -> np.ndarray:
    """(ticks, groups) fee-beating states, computed from the quotes alone."""
    market, keys, bids, asks = data["market"], data["keys"], data["bids"], data["asks"]
    fee = np.array([market.markets[k].taker_fee for k in keys])
    sell, buy = bids * (1 - fee), asks * (1 + fee)
    groups = []
    for symbol in market.symbols:
        cols = [keys.index((ex, symbol)) for ex in market.exchanges]
        groups.append(sell[:, cols].max(axis=1) > buy[:, cols].min(axis=1))
    for ex in market.exchanges:
        c1, c2, c3 = (keys.index((ex, s)) for s in ("BTC/USDT", "ETH/BTC", "ETH/USDT"))
        f = market.markets[(ex, "ETH/BTC")].taker_fee
        forward = bids[:, c3] * (1 - f) / (asks[:, c1] * (1 + f) * asks[:, c2] * (1 + f))
        reverse = bids[:, c2] * (1 - f) * bids[:, c1] * (1 - f) / (asks[:, c3] * (1 + f))
        groups.append((forward > 1) | (reverse > 1))
    return np.stack(groups, axis=1)


def episode_lengths(state: np.ndarray) -> list[int]:
    out = []
    for column in state.T:
        edges = np.diff(np.concatenate(([0], column.astype(np.int8), [0])))
        out += (np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).tolist()
    return out


@pytest.fixture(scope="module")
def two_days():
    """Two simulated days of the default market on seed 3, without news (the news drift is its own work)."""
    return record(make(3, news_per_hour=0), 2 * DAY)


# ---- stylised facts (R. Cont 2001) -------------------------------------------------------------

def test_returns_are_heavy_tailed_with_long_memory_volatility_and_no_linear_memory(two_days):
    for symbol in ("BTC/USDT", "ETH/USDT"):
        r = minute_returns(two_days, "binance", symbol)
        assert kurtosis(r, fisher=True) > 8.0, symbol
        abs_acf = acf(np.abs(r), nlags=60, fft=True)
        assert abs_acf[1] > 0.12 and abs_acf[60] > 0.03, symbol
        assert abs(acf(r, nlags=1, fft=True)[1]) < 0.08, symbol


def test_majors_move_together_and_one_coin_moves_together_across_exchanges(two_days):
    btc, eth = (minute_returns(two_days, "binance", s) for s in ("BTC/USDT", "ETH/USDT"))
    assert 0.65 < np.corrcoef(btc, eth)[0, 1] < 0.92
    market = two_days["market"]
    for symbol in market.symbols:
        series = np.array([minute_returns(two_days, ex, symbol) for ex in market.exchanges])
        assert np.corrcoef(series).min() > 0.95, symbol


def test_fee_beating_gaps_are_rare_short_and_more_frequent_in_volatile_spells(two_days):
    state = gap_groups(two_days)
    spells = two_days["spells"]
    any_gap = state.any(axis=1)
    assert set(spells.tolist()) == {"calm", "normal", "volatile"}  # seed 3 visits every spell in two days
    assert 0 < any_gap[spells == "normal"].mean() < 0.001
    assert any_gap[spells == "volatile"].mean() > 2 * any_gap[spells == "normal"].mean()
    lengths = episode_lengths(state)
    assert len(lengths) >= 10 and np.median(lengths) <= 2 and max(lengths) <= 6


def test_volatile_spells_are_more_volatile_and_calm_ones_less(two_days):
    r = minute_returns(two_days, "binance", "BTC/USDT")
    spell = two_days["spells"][60::60][: len(r)]
    sd = {name: r[spell == name].std() for name in ("calm", "normal", "volatile")}
    assert sd["calm"] < sd["normal"] < sd["volatile"]
    assert sd["volatile"] > 1.4 * sd["normal"]


def test_no_jumps_and_no_dislocations_means_no_fee_beating_gaps():
    # Everyday deviations are far inside the fees: gaps open only when a market is knocked out of line.
    quiet = make(5, news_per_hour=0, jumps={"market_per_hour": 0, "coin_per_hour": 0},
                 deviations={"dislocations_per_hour": 0})
    assert not gap_groups(record(quiet, 6 * 3600)).any()


def test_without_dislocations_gaps_open_on_the_jumps_that_markets_price_in_unevenly():
    # Makarov and Schoar: deviations open in fast markets. Here the only source left is the lag
    # with which each market prices a jump in, so every gap starts on a tick of a big move.
    jumpy = make(6, news_per_hour=0, jumps={"market_per_hour": 6, "coin_per_hour": 1},
                 deviations={"dislocations_per_hour": 0, "lag_share": 1.0})
    data = record(jumpy, 6 * 3600)
    state = gap_groups(data)
    starts = np.flatnonzero(state.any(axis=1) & ~np.vstack([[False], state.any(axis=1)[:-1, None]])[:, 0])
    assert len(starts) >= 5
    mid = np.log((data["bids"] + data["asks"]) / 2.0)
    move = np.abs(np.diff(mid, axis=0, prepend=mid[:1]))
    typical = np.median(move[move > 0])
    assert all(move[t].max() > 10 * typical for t in starts)


def test_volatility_follows_the_time_of_day():
    # With every other source of changing volatility off, 1-minute volatility at the configured
    # peak hour is (1 + a) / (1 - a) times the volatility twelve hours away.
    flat = make(2, news_per_hour=0, volatility={"log_sds": [0.0], "half_lives_seconds": [300], "intraday_amplitude": 0.3,
                                                "intraday_peak_hour_utc": 15},
                regimes={"calm_multiplier": 1.0, "volatile_multiplier": 1.0},
                jumps={"market_per_hour": 0, "coin_per_hour": 0})
    data = record(flat, DAY)
    r = minute_returns(data, "binance", "BTC/USDT")
    hour = (np.arange(len(r)) + 1) / 60.0 % 24  # the run starts at 00:00 UTC
    peak, trough = r[np.abs(hour - 15) < 1.5].std(), r[np.abs(hour - 3) < 1.5].std()
    assert 1.5 < peak / trough < 2.3  # 1.3 / 0.7 = 1.86, a little less over the three-hour windows


# ---- liquidity by coin and exchange ------------------------------------------------------------

def test_btc_is_tight_and_deep_alts_wider_and_thinner():
    market = make(4)
    snaps = [market.next_snapshot() for _ in range(300)]
    spread = {k: np.median([(s.quotes[k].ask - s.quotes[k].bid) / s.quotes[k].mid * 1e4 for s in snaps])
              for k in market.markets}
    depth = {k: np.median([s.quotes[k].bid * s.quotes[k].bid_size * s.usdt_rate(k[0], market.markets[k].quote)
                           for s in snaps]) for k in market.markets}
    for ex in market.exchanges:
        assert spread[(ex, "BTC/USDT")] < spread[(ex, "SOL/USDT")] < spread[(ex, "ADA/USDT")]
        assert depth[(ex, "BTC/USDT")] > depth[(ex, "SOL/USDT")] > depth[(ex, "ADA/USDT")]
    for symbol in market.symbols:
        assert spread[("binance", symbol)] < spread[("kraken", symbol)]
        assert depth[("binance", symbol)] > depth[("kraken", symbol)]
    assert spread[("binance", "BTC/USDT")] < 1.0 and depth[("binance", "BTC/USDT")] > 30_000


# ---- competition ----------------------------------------------------------------------------------

def cross_competition(mean_close_seconds: float = 3.0) -> Competition:
    """Two exchanges with 0.1 % taker fees quoting BTC/USDT."""
    return Competition(SimCompetitionConfig(mean_close_seconds=mean_close_seconds), 1.0,
                       [(0, "BTC", "USDT"), (1, "BTC", "USDT")], [0.001, 0.001])


def visible_cross_gap(dev: np.ndarray, half_spread: float, fee: float = 0.001) -> np.ndarray:
    """Hand-computed: exchange 0's bid after fee above exchange 1's ask plus fee (true price 1)."""
    bid0 = np.exp(dev[:, 0]) * (1 - half_spread) * (1 - fee)
    ask1 = np.exp(dev[:, 1]) * (1 + half_spread) * (1 + fee)
    return bid0 > ask1


def test_competition_closes_a_planted_gap_after_its_lifetime_and_leaves_the_rest_alone():
    competition = cross_competition()
    dev = np.zeros((60, 2))
    dev[10:40, 0] = 0.005  # 50 bps above the other exchange: beats 2 x 0.1 % fees for 30 ticks
    dev[:, 1] = 0.0001
    half = np.full(dev.shape, 1e-5)
    assert visible_cross_gap(dev, 1e-5)[10:40].all()
    closed = competition.apply(np.random.default_rng(1), dev, half)
    still = visible_cross_gap(closed, 1e-5)
    open_ticks = np.flatnonzero(still)
    assert open_ticks.size >= 1 and open_ticks[0] == 10 and np.all(np.diff(open_ticks) == 1)  # one episode
    lifetime = open_ticks.size
    assert lifetime < 30
    assert np.array_equal(closed[10 : 10 + lifetime], dev[10 : 10 + lifetime])  # untouched while it lives
    assert np.array_equal(closed[:10], dev[:10]) and np.array_equal(closed[40:], dev[40:])
    # Closed just inside the fees, not to zero: what is left is most of the fee band.
    gap = closed[10 + lifetime : 40, 0] - closed[10 + lifetime : 40, 1]
    assert np.all(gap > 0.0015) and np.all(gap < 0.002)


def test_lifetimes_are_random_with_the_configured_mean():
    lifetimes = []
    for seed in range(300):
        dev = np.zeros((40, 2))
        dev[5:35, 0] = 0.01
        closed = cross_competition(3.0).apply(np.random.default_rng(seed), dev, np.full(dev.shape, 1e-5))
        lifetimes.append(int(visible_cross_gap(closed, 1e-5).sum()))
    # ceil of an exponential of mean 3 ticks has mean 1 / (1 - exp(-1/3)) = 3.53
    assert 3.0 < np.mean(lifetimes) < 4.1 and min(lifetimes) == 1 and max(lifetimes) > 8


def test_a_run_that_spans_two_chunks_keeps_its_lifetime():
    # One 60-tick run from tick 30, generated in one chunk of 100 or in two of 50: the second chunk
    # draws fresh lifetimes, but a run carried in keeps the one it started with, and a run already
    # closed in the first chunk stays closed (it does not reopen with a fresh lifetime).
    dev = np.zeros((100, 2))
    dev[30:90, 0] = 0.01
    half = np.full(dev.shape, 1e-5)
    crossed = 0
    for seed in range(40):
        one_go = cross_competition(20.0).apply(np.random.default_rng(seed), dev, half)
        lifetime = int(visible_cross_gap(one_go, 1e-5).sum())
        split = cross_competition(20.0)
        first = split.apply(np.random.default_rng(seed), dev[:50], half[:50])  # same draws for ticks 0-49
        second = split.apply(np.random.default_rng(seed + 1000), dev[50:], half[50:])
        assert int(visible_cross_gap(np.vstack([first, second]), 1e-5).sum()) == lifetime, seed
        crossed += lifetime > 20
    assert 5 <= crossed < 40  # both cases were seen


def test_competition_closes_a_triangle_by_moving_the_cross():
    markets = [(0, "BTC", "USDT"), (0, "ETH", "BTC"), (0, "ETH", "USDT")]
    competition = Competition(SimCompetitionConfig(mean_close_seconds=1.0), 1.0, markets, [0.001])
    dev = np.zeros((30, 3))
    dev[5:25, 2] = 0.006  # ETH/USDT 60 bps rich: USDT -> BTC -> ETH -> USDT pays 0.3 % fees
    half = np.full(dev.shape, 1e-5)
    before = competition.fee_beating(dev, half)
    assert before[5:25, 0].all() and not before[:5].any()
    closed = competition.apply(np.random.default_rng(3), dev, half)
    after = competition.fee_beating(closed, half)[:, 0]
    assert 1 <= after.sum() < 20 and after[5]
    assert np.array_equal(closed[:, [0, 2]], dev[:, [0, 2]])  # the USDT legs are where they were
    # By hand: the cycle through the closed cross returns less than it costs.
    f, h = 0.001, 1e-5
    bid_eth, ask_btc = np.exp(closed[:, 2]) * (1 - h), np.exp(closed[:, 0]) * (1 + h)
    ask_cross = np.exp(closed[:, 1]) * (1 + h)
    cycle = bid_eth * (1 - f) / (ask_btc * (1 + f) * ask_cross * (1 + f))
    assert np.array_equal(cycle > 1, after)


def test_with_competition_off_gaps_live_as_the_deviations_make_them():
    # More and bigger dislocations than the default so that four hours hold many episodes.
    settings = dict(news_per_hour=0, deviations={"dislocations_per_hour": 20, "dislocation_bps": 80,
                                                 "lag_half_life_seconds": 10})
    on = record(make(8, **settings), 4 * 3600)
    off = record(make(8, competition={"enabled": False}, **settings), 4 * 3600)
    lengths_on, lengths_off = episode_lengths(gap_groups(on)), episode_lengths(gap_groups(off))
    assert len(lengths_off) >= 40
    assert np.median(lengths_off) >= 4 and max(lengths_off) >= 15
    # The same gaps open (about as many episodes), and others close them within seconds.
    assert abs(len(lengths_on) - len(lengths_off)) <= 0.1 * len(lengths_off)
    assert np.median(lengths_on) <= 2 and np.mean(lengths_on) < 0.5 * np.mean(lengths_off) and max(lengths_on) <= 10
    # Competition changes only the quotes of gaps it closes: the rest of the market is the same.
    differs = np.any((on["bids"] != off["bids"]) | (on["asks"] != off["asks"]), axis=1)
    assert 0 < differs.mean() < 0.05
    assert np.array_equal(on["spells"], off["spells"])


# ---- config ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("simulator, key", [
    ({"competition": {"mean_close_seconds": 0}}, "market.simulator.competition.mean_close_seconds"),
    ({"competition": {"enabled": "sometimes"}}, "market.simulator.competition.enabled"),
    ({"volatility": {"tail_df": 2}}, "market.simulator.volatility.tail_df"),
    ({"volatility": {"log_sds": [0.3, 0.3]}}, "market.simulator.volatility.log_sds"),
    ({"volatility": {"half_lives_seconds": [0.5, 60, 600]}}, "market.simulator.volatility.half_lives_seconds"),
    ({"volatility": {"intraday_amplitude": 1.0}}, "market.simulator.volatility.intraday_amplitude"),
    ({"regimes": {"volatile_multiplier": 0.5}}, "market.simulator.regimes.volatile_multiplier"),
    ({"jumps": {"market_per_hour": -1}}, "market.simulator.jumps.market_per_hour"),
    ({"deviations": {"lag_share": 1.5}}, "market.simulator.deviations.lag_share"),
    ({"exchange_deviation_bps": -1}, "market.simulator.exchange_deviation_bps"),
])
def test_simulator_settings_out_of_range_name_the_key(simulator, key):
    with pytest.raises(ConfigError) as error:
        parse_config({"market": {"simulator": simulator}})
    assert str(error.value).startswith(key + ":"), str(error.value)


def test_log_sds_must_match_the_half_lives():
    with pytest.raises(ConfigError, match=r"log_sds: must have one value per half_lives_seconds entry \(got 2 for 3\)"):
        parse_config({"market": {"simulator": {"volatility": {"log_sds": [0.3, 0.3]}}}})
