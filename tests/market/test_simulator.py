"""The simulated market: determinism, seek, books, candles, exchange deviations, the cointegrated pair
and the ccxt-shaped reads (news and whales: test_sim_news.py)."""
from __future__ import annotations

import hashlib
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.config import MarketConfig, SimulatorConfig
from bot.models import Quote
from bot.market.simulator import SimulatedMarket

ROOT = Path(__file__).resolve().parents[2]


def make(seed: int = 42, **changes) -> SimulatedMarket:
    simulator = changes.pop("simulator", {})
    return SimulatedMarket(MarketConfig(seed=seed, simulator=SimulatorConfig(**simulator), **changes))


def run(market: SimulatedMarket, ticks: int) -> list:
    return [market.next_snapshot() for _ in range(ticks)]


def advance(market: SimulatedMarket, ticks: int) -> None:
    """Step without keeping snapshots (keeping thousands makes the garbage collector the bottleneck)."""
    for _ in range(ticks):
        market.next_snapshot()


def digest(snapshots: list) -> str:
    """A byte-level fingerprint of quotes, a few books, news and whales."""
    h = hashlib.sha256()
    for snap in snapshots:
        h.update(repr(sorted(snap.quotes.items())).encode())
        h.update(repr((snap.news, snap.whales, snap.new_candle)).encode())
        if snap.tick % 97 == 0:
            h.update(repr(snap.order_book("kraken", "ETH/BTC")).encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def default_market() -> SimulatedMarket:
    return make()


# ---- determinism and seek ----------------------------------------------------------------------

def test_same_seed_gives_identical_snapshots_and_another_seed_differs():
    # 1200 ticks cross at least one chunk boundary with the default warm-up.
    a, b, c = run(make(7), 1200), run(make(7), 1200), run(make(8), 1200)
    assert [s.tick for s in a] == list(range(1200))
    assert digest(a) == digest(b)
    assert all(x.quotes == y.quotes for x, y in zip(a, b))
    assert a[500].order_book("binance", "BTC/USDT") == b[500].order_book("binance", "BTC/USDT")
    assert digest(a) != digest(c)
    assert a[0].quotes != c[0].quotes


def test_determinism_does_not_depend_on_the_process_hash_seed():
    # str hashes are salted per process: a simulator that used hash() would differ here.
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
            "from tests.market.test_simulator import digest, make, run\n"
            "print(digest(run(make(3), 300)))\n")
    env = dict(os.environ, PYTHONHASHSEED=str(os.getpid() % 1000 + 1))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == digest(run(make(3), 300))


def test_seek_equals_stepping_quotes_and_candles():
    stepped = make(11)
    first = run(stepped, 5)
    advance(stepped, 5996)
    closes_before = stepped.closes("binance", "SOL/USDT", 800).tolist()
    at_6001 = stepped.next_snapshot()
    advance(stepped, 2997)
    at_8999 = stepped.next_snapshot()  # the run crossed two chunk boundaries
    sought = make(11)
    sought.seek(6001)
    assert sought.closes("binance", "SOL/USDT", 800).tolist() == closes_before
    nxt = sought.next_snapshot()
    assert nxt.tick == 6001 and nxt.quotes == at_6001.quotes and nxt.ts == at_6001.ts
    assert nxt.order_book("coinbase", "XRP/USDT") == at_6001.order_book("coinbase", "XRP/USDT")
    # Backwards, within the chunk and to the start.
    stepped.seek(8999)
    assert stepped.next_snapshot().quotes == at_8999.quotes
    stepped.seek(0)
    again = run(stepped, 5)
    assert [s.quotes for s in again] == [s.quotes for s in first]
    assert [s.new_candle for s in again] == [s.new_candle for s in first]


def test_seek_far_ahead_matches_stepping():
    stepped, sought = make(5), make(5)
    advance(stepped, 20_000)
    sought.seek(20_000)
    assert sought.candles("kraken", "ETH/USDT", 50) == stepped.candles("kraken", "ETH/USDT", 50)
    assert sought.volatility_regime() == stepped.volatility_regime()
    assert sought.next_snapshot().quotes == stepped.next_snapshot().quotes
    with pytest.raises(ValueError):
        sought.seek(-1)


# ---- quotes, markets, books --------------------------------------------------------------------

def test_snapshot_shape(default_market):
    snap = make().next_snapshot()
    assert snap.tick == 0 and snap.ts == pytest.approx(1767225600.0)
    assert snap.exchanges == ("binance", "kraken", "coinbase") and len(snap.quotes) == 18
    assert snap.history is not None and snap.markets[("binance", "BTC/USDT")].taker_fee == 0.001
    q = snap.quotes[("binance", "BTC/USDT")]
    assert type(q) is Quote and q == Quote(**{name: getattr(q, name) for name in Quote.__slots__})
    assert 40_000 < q.bid < q.ask < 80_000 and q.ask / q.bid - 1 < 0.002
    assert 0.0 < q.bid_size and 0.0 < q.ask_size and q.last in (q.bid, q.ask)
    assert default_market.kind == "simulated" and "paper" in default_market.description


def test_markets_fees_and_precision(default_market):
    markets = default_market.markets
    assert len(markets) == 18
    assert {ex: markets[(ex, "BTC/USDT")].taker_fee for ex in default_market.exchanges} == {
        "binance": 0.001, "kraken": 0.0016, "coinbase": 0.0012}
    for market in markets.values():
        assert market.maker_fee < market.taker_fee
        assert market.min_amount == market.amount_step
    steps = {sym: markets[("binance", sym)].amount_step for sym in default_market.symbols}
    assert steps == {"BTC/USDT": 1e-5, "ETH/USDT": 1e-4, "SOL/USDT": 1e-3, "XRP/USDT": 0.1, "ADA/USDT": 1.0,
                     "ETH/BTC": 1e-4}
    assert markets[("kraken", "BTC/USDT")].price_step == 0.01
    assert markets[("kraken", "XRP/USDT")].price_step == 0.0001
    assert markets[("kraken", "ETH/BTC")].price_step == 1e-6
    assert markets[("kraken", "ADA/USDT")].min_notional == 5.0
    assert 5e-5 < markets[("kraken", "ETH/BTC")].min_notional < 1.5e-4  # 5 USDT in BTC


def test_unknown_assets_and_exchanges_get_stable_parameters():
    market = make(exchanges=["okx", "binance"], symbols=["FOO/USDT", "BTC/USDT", "USDC/USDT"])
    again = make(exchanges=["okx", "binance"], symbols=["FOO/USDT", "BTC/USDT", "USDC/USDT"])
    assert market.markets == again.markets
    okx = market.markets[("okx", "FOO/USDT")]
    assert 0.001 <= okx.taker_fee <= 0.002
    snap = market.next_snapshot()
    foo = snap.quotes[("okx", "FOO/USDT")]
    assert okx.amount_step * foo.ask < 1.0
    assert abs(snap.quotes[("binance", "USDC/USDT")].mid - 1.0) < 0.01
    assert market.cointegrated_pairs == []


def on_step(value: float, step: float) -> bool:
    return abs(value / step - round(value / step)) < 1e-6


def test_order_books_are_deep_sorted_on_step_and_match_the_quote():
    market = make()
    for snap in run(market, 200)[::37]:
        for (exchange, symbol), quote in snap.quotes.items():
            book = snap.order_book(exchange, symbol)
            spec = snap.markets[(exchange, symbol)]
            assert len(book.bids) >= 10 and len(book.asks) >= 10
            assert book.bids[0] == (quote.bid, quote.bid_size) and book.asks[0] == (quote.ask, quote.ask_size)
            assert not book.crossed and book.ts == snap.ts
            bid_prices, ask_prices = [p for p, _ in book.bids], [p for p, _ in book.asks]
            assert bid_prices == sorted(bid_prices, reverse=True) and len(set(bid_prices)) == len(bid_prices)
            assert ask_prices == sorted(ask_prices) and len(set(ask_prices)) == len(ask_prices)
            for price, qty in book.bids + book.asks:
                assert on_step(price, spec.price_step) and on_step(qty, spec.amount_step) and qty > 0
            rate = snap.usdt_rate(exchange, spec.quote)
            top_usdt = quote.bid * quote.bid_size * rate
            depth_usdt = sum(p * q for p, q in book.bids) * rate
            # Top of book from about 1,000 USDT (a thin alt on kraken) to 100,000 (BTC on binance).
            assert 1_000 < top_usdt < 100_000 and 30 * top_usdt < depth_usdt < 300 * top_usdt
            assert book.bids[-1][1] * book.bids[-1][0] > 3 * top_usdt / rate  # sizes grow away from the top
    assert snap.order_book("binance", "DOGE/USDT") is None
    assert snap.order_book("binance", "BTC/USDT") is snap.order_book("binance", "BTC/USDT")


def test_exchange_deviations_are_small_persistent_and_mean_reverting():
    # How often gaps beat the fees is tests/market/test_simulator_realism.py's business; here the
    # everyday deviation between two exchanges: a fraction of a bp to a few, slow to change, no drift.
    market = make(21)
    ticks = 4 * 3600
    deviation = np.empty(ticks)
    for t in range(ticks):
        quotes = market.next_snapshot().quotes
        deviation[t] = math.log(quotes[("binance", "BTC/USDT")].mid / quotes[("kraken", "BTC/USDT")].mid)
    centred = deviation - deviation.mean()
    lag1 = np.corrcoef(centred[:-1], centred[1:])[0, 1]
    lag600 = np.corrcoef(centred[:-600], centred[600:])[0, 1]
    assert abs(deviation.mean()) < 0.0002 and 0.00002 < deviation.std() < 0.0005
    assert lag1 > 0.9 and abs(lag600) < 0.3


def test_cointegrated_pair_is_detected_on_one_minute_closes():
    from statsmodels.tsa.stattools import coint  # imported here: the hash-seed test imports this module

    market = make(3, simulator={"warmup_candles": 2000})
    assert market.cointegrated_pairs == [("XRP/USDT", "ADA/USDT")]
    leader, follower = market.cointegrated_pairs[0]
    x = np.log(market.closes("binance", leader, 2000))
    y = np.log(market.closes("binance", follower, 2000))
    assert len(x) == 2000
    assert coint(y, x)[1] < 0.05


def test_pair_falls_back_to_the_last_two_non_btc_usdt_assets():
    market = make(symbols=["BTC/USDT", "ETH/USDT", "SOL/USDT", "DOGE/USDT", "ETH/BTC"])
    assert market.cointegrated_pairs == [("SOL/USDT", "DOGE/USDT")]


# ---- candles --------------------------------------------------------------------------------------

def test_warm_up_candles_exist_at_tick_zero():
    market = make(simulator={"warmup_candles": 120})
    closes = market.closes("coinbase", "ETH/USDT", 1000)
    candles = market.candles("coinbase", "ETH/USDT", 120)
    assert len(closes) >= 120 and closes.dtype == np.float64
    assert len(candles) == 120 and [c.close for c in candles] == closes[-120:].tolist()
    first = market.next_snapshot()
    assert candles[-1].ts + 60 <= first.ts
    assert all(np.diff([c.ts for c in candles]) == 60)
    assert all(c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high and c.volume > 0 for c in candles)
    assert market.closes("coinbase", "ETH/USDT", 0).size == 0


def test_candles_are_the_minute_bars_of_the_quoted_mid_across_chunk_boundaries():
    market = make()
    mids, closing_ticks = [], []
    for _ in range(1500):  # the default setup generates 4096 ticks at a time: this crosses a boundary
        snap = market.next_snapshot()
        mids.append(snap.quotes[("kraken", "ETH/BTC")].mid)
        if snap.new_candle:
            closing_ticks.append(snap.tick)
    assert closing_ticks == list(range(0, 1500, 60))
    bars = market.candles("kraken", "ETH/BTC", 24)  # minutes 0..23 after the start
    assert [bar.ts for bar in bars] == [1767225600.0 + 60 * k for k in range(24)]
    for k, bar in enumerate(bars):
        minute = mids[60 * k : 60 * k + 60]
        assert (bar.open, bar.high, bar.low, bar.close) == (minute[0], max(minute), min(minute), minute[-1])


@pytest.mark.parametrize("tick_seconds", [7.0, 0.5, 300.0])
def test_odd_tick_lengths_close_candles_on_minute_boundaries(tick_seconds):
    market = make(tick_seconds=tick_seconds, simulator={"warmup_candles": 60})
    before = len(market.closes("kraken", "SOL/USDT", 5000))
    assert before >= 60
    snaps = run(market, 200)
    previous_minute = math.floor((snaps[0].ts - tick_seconds) / 60)
    for snap in snaps:
        minute = math.floor(snap.ts / 60)
        assert snap.new_candle == (minute != previous_minute)
        previous_minute = minute


def test_change_24h_and_bounded_history():
    market = make(tick_seconds=60.0, simulator={"warmup_candles": 50})
    advance(market, 2999)
    quote = market.next_snapshot().quotes[("binance", "BTC/USDT")]
    closes = market.closes("binance", "BTC/USDT", 10_000)
    assert len(closes) == 2000  # bounded window
    assert quote.change_24h_pct == pytest.approx((quote.last / closes[-1440] - 1) * 100)


# ---- ccxt-shaped reads ----------------------------------------------------------------------------

def test_fetch_ticker_and_order_book_are_ccxt_shaped():
    market = make()
    snap = market.next_snapshot()
    quote = snap.quotes[("kraken", "SOL/USDT")]
    ticker = market.fetch_ticker("kraken", "SOL/USDT")
    required = {"symbol", "timestamp", "datetime", "bid", "ask", "last", "bidVolume", "askVolume", "percentage"}
    assert required <= set(ticker)
    assert (ticker["bid"], ticker["ask"], ticker["last"]) == (quote.bid, quote.ask, quote.last)
    assert ticker["timestamp"] == int(snap.ts * 1000) and ticker["datetime"] == "2026-01-01T00:00:00.000Z"
    book = market.fetch_order_book("kraken", "SOL/USDT", limit=5)
    assert set(book) == {"symbol", "bids", "asks", "timestamp", "datetime", "nonce"}
    assert len(book["bids"]) == 5 and book["bids"][0] == [quote.bid, quote.bid_size] and book["nonce"] is None
    assert len(market.fetch_order_book("kraken", "SOL/USDT")["asks"]) == 20


def test_reads_before_the_first_snapshot_describe_the_last_warm_up_tick():
    market = make()
    ticker = market.fetch_ticker("binance", "BTC/USDT")
    assert ticker["timestamp"] == 1767225599000
    assert market.fetch_order_book("binance", "BTC/USDT")["bids"][0][0] == ticker["bid"]


def test_fetch_ohlcv_and_load_markets(default_market):
    bars = default_market.fetch_ohlcv("binance", "ETH/BTC", limit=10)
    assert len(bars) == 10 and all(len(bar) == 6 and isinstance(bar[0], int) for bar in bars)
    assert [bar[4] for bar in bars] == default_market.closes("binance", "ETH/BTC", 10).tolist()
    since = bars[3][0]
    assert default_market.fetch_ohlcv("binance", "ETH/BTC", since=since, limit=2) == bars[3:5]
    with pytest.raises(ValueError):
        default_market.fetch_ohlcv("binance", "ETH/BTC", timeframe="5m")
    markets = default_market.load_markets("coinbase")
    assert set(markets) == set(default_market.symbols)
    eth_btc = markets["ETH/BTC"]
    assert eth_btc["symbol"] == "ETH/BTC" and eth_btc["base"] == "ETH" and eth_btc["quote"] == "BTC"
    assert eth_btc["spot"] is True and eth_btc["taker"] == 0.0012 and eth_btc["maker"] < eth_btc["taker"]
    assert eth_btc["precision"] == {"amount": 1e-4, "price": 1e-6}
    assert eth_btc["limits"]["amount"]["min"] == 1e-4 and eth_btc["limits"]["cost"]["min"] < 0.001


def test_unknown_markets_raise_clear_key_errors(default_market):
    with pytest.raises(KeyError, match="unknown symbol 'DOGE/USDT'"):
        default_market.fetch_ticker("binance", "DOGE/USDT")
    with pytest.raises(KeyError, match="unknown exchange 'bitmex'"):
        default_market.fetch_order_book("bitmex", "BTC/USDT")
    with pytest.raises(KeyError):
        default_market.closes("binance", "BTC/EUR", 10)
    with pytest.raises(KeyError):
        default_market.load_markets("bitmex")
