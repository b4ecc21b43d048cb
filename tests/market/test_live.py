"""The live source: real ccxt binance and kraken classes against a local fake exchange server.

Every wait polls a condition against a deadline; timings are configured small (poll 50 ms,
ccxt time-out 300 ms, breaker cooldown 0.4 s) so each test takes a couple of seconds.
"""
from __future__ import annotations

import time
from pathlib import Path

import ccxt
import pytest

from bot.config import BotConfig, ConfigError, LiveConfig, MarketConfig
from bot.market.live import make_client, translate_error
from bot.market.live_source import LiveMarket
from bot.market.live_parsing import market_from_ccxt
from bot.market.resilience import MarketUnavailableError, PermanentMarketError, TemporaryMarketError, UnknownSymbolError
from tests.market.fake_exchange import FakeExchangeServer
from tests.polling import wait_for

EXCHANGES = ("binance", "kraken")
DATA = Path(__file__).parent / "data"
MAX_AGE = 1.5  # market.max_quote_age_seconds in these tests


def market_config(fake: FakeExchangeServer, symbols=("BTC/USDT", "ETH/USDT", "BNB/USDT"),
                  timeouts_ms: dict | None = None, **live) -> MarketConfig:
    """Small timings; ccxt time-outs of 1 s (the fake holds a "timeout" request for 1 s, so a
    test of that fault gives the faulted exchange a shorter one)."""
    settings = dict(poll_seconds=0.05, candle_backfill=60, retry_attempts=1, backoff_base_seconds=0.01,
                    backoff_max_seconds=0.05, rate_limit_backoff_seconds=0.05, breaker_failures=2,
                    breaker_cooldown_seconds=0.4)
    settings.update(live)
    return MarketConfig(source="live", exchanges=list(EXCHANGES), symbols=list(symbols),
                        exchange_options={ex: fake.exchange_options(ex, timeout_ms=(timeouts_ms or {}).get(ex, 1000))
                                          for ex in EXCHANGES},
                        max_quote_age_seconds=MAX_AGE, live=LiveConfig(**settings))


def events(market: LiveMarket, kind: str) -> list[dict]:
    """The market's recorded events of one kind, oldest first, read without draining them."""
    return [event for event in tuple(market.events) if event["kind"] == kind]


def states(market: LiveMarket, exchange: str) -> list[str]:
    """The states one exchange was reported in, oldest first."""
    return [event["state"] for event in events(market, "market_status") if event["exchange"] == exchange]


@pytest.fixture
def fake():
    # No scheduled gaps: the tests open them with set_offset() when they want one.
    with FakeExchangeServer(candle_seconds=0.25, step_seconds=0.05, timeout_delay_seconds=1.0,
                            gap_every_seconds=0) as server:
        yield server


@pytest.fixture
def market(fake):
    source = LiveMarket(market_config(fake))
    yield source
    source.close()


def state_of(market: LiveMarket, exchange: str) -> str:
    return market.health()[exchange]["state"]


# ---- data ----------------------------------------------------------------------------------
def test_snapshots_carry_quotes_books_and_candles_of_both_exchanges(market, fake):
    snapshot = market.next_snapshot()
    assert snapshot.tick == 0 and snapshot.exchanges == EXCHANGES
    assert set(snapshot.quotes) == {("binance", "BTC/USDT"), ("binance", "ETH/USDT"), ("binance", "BNB/USDT"),
                                    ("kraken", "BTC/USDT"), ("kraken", "ETH/USDT")}
    assert not snapshot.stale
    for (exchange, symbol), quote in snapshot.quotes.items():
        bid, ask = fake.top(exchange, symbol)
        assert 0 < quote.bid < quote.ask
        assert abs(quote.mid / ((bid + ask) / 2) - 1) < 0.002  # the fake's price, a few ticks of drift at most
        assert abs(quote.ts - snapshot.ts) < 1.0
        book = snapshot.order_book(exchange, symbol)
        assert book is not None and not book.crossed and len(book.bids) == 20
        assert book.bids[0][0] > book.bids[1][0] and book.asks[0][0] < book.asks[1][0]
    assert market.next_snapshot().tick == 1
    # Candles: backfilled, then new closed ones as (compressed) minutes pass.
    history = wait_for(lambda: all((s := market.next_snapshot()).history.closes(*key, 500).size >= 60
                                   for key in market.markets) and s.history, what="candle backfill")
    candles = history.candles("binance", "BTC/USDT", 1000)
    assert [b.ts - a.ts for a, b in zip(candles, candles[1:])] == [60.0] * (len(candles) - 1)
    seen = wait_for(lambda: market.next_snapshot().new_candle, what="a new closed candle")
    assert seen
    later = wait_for(lambda: (c := market.next_snapshot().history.candles("binance", "BTC/USDT", 1000))[-1].ts
                     > candles[-1].ts and c, what="candles to advance")
    assert later[-1].ts > candles[-1].ts
    with pytest.raises(KeyError):
        history.closes("kraken", "BNB/USDT", 10)  # not a market there


def test_history_of_a_snapshot_does_not_change_afterwards(market):
    snapshot = wait_for(lambda: (s := market.next_snapshot()).history.closes("binance", "BTC/USDT", 10).size and s,
                        what="candles")
    before = snapshot.history.candles("binance", "BTC/USDT", 5000)
    wait_for(lambda: market.next_snapshot().history.candles("binance", "BTC/USDT", 5000)[-1].ts > before[-1].ts,
             what="newer candles")
    assert snapshot.history.candles("binance", "BTC/USDT", 5000) == before


def test_markets_carry_fees_and_step_sizes(market):
    markets = market.markets
    binance, kraken = markets[("binance", "BTC/USDT")], markets[("kraken", "BTC/USDT")]
    assert (binance.taker_fee, binance.maker_fee) == (0.001, 0.001)
    assert (binance.price_step, binance.amount_step) == (0.01, 1e-05)
    assert (binance.min_amount, binance.min_notional) == (1e-05, 5.0)
    assert (kraken.base, kraken.quote) == ("BTC", "USDT")  # XXBT -> BTC
    assert (kraken.taker_fee, kraken.maker_fee) == (0.0026, 0.0016)
    assert kraken.price_step == pytest.approx(0.1) and kraken.amount_step == pytest.approx(1e-8)
    assert (kraken.min_amount, kraken.min_notional) == (pytest.approx(1e-4), 0.5)
    assert market.next_snapshot().markets is markets  # the same object while nothing changes


@pytest.mark.parametrize("mode, precision, expected", [
    (ccxt.TICK_SIZE, {"price": 0.05, "amount": 0.001}, (0.05, 0.001)),
    (ccxt.DECIMAL_PLACES, {"price": 2, "amount": 4}, (0.01, 0.0001)),
    (ccxt.SIGNIFICANT_DIGITS, {"price": 5, "amount": 8}, (1.0, 1e-7)),  # price 60 000, 5 digits; amount ref 1.0
])
def test_precision_modes_become_step_sizes(mode, precision, expected):
    raw = {"symbol": "BTC/USDT", "base": "BTC", "quote": "USDT", "taker": None, "maker": None,
           "precision": precision, "limits": {"amount": {"min": None}, "cost": {"min": 10}}}
    market = market_from_ccxt("x", raw, mode, reference_price=60_000.0, default_taker=0.004, default_maker=0.002)
    assert (market.price_step, market.amount_step) == pytest.approx(expected)
    assert (market.taker_fee, market.maker_fee, market.min_notional) == (0.004, 0.002, 10.0)
    assert market.min_amount == pytest.approx(expected[1])


def test_a_symbol_missing_on_one_exchange_is_a_warning(market):
    assert ("binance", "BNB/USDT") in market.markets and ("kraken", "BNB/USDT") not in market.markets
    (warning,) = events(market, "market_warning")
    assert warning["exchange"] == "kraken" and warning["symbol"] == "BNB/USDT"
    assert "BNB/USDT" in warning["message"] and "kraken" in warning["message"]
    assert warning["level"] == "warning" and warning["ts"].endswith("Z")
    assert set(market.health()) == set(EXCHANGES)


def test_start_up_errors_name_the_setting(fake):
    with pytest.raises(ConfigError, match=r"market\.symbols: DOGE/USDT not listed .*\(binance, kraken\)"):
        LiveMarket(market_config(fake, symbols=("BTC/USDT", "DOGE/USDT")))
    config = market_config(fake).model_copy(update={"exchanges": ["binance", "notanexchange"]})
    with pytest.raises(ConfigError, match=r"market\.exchanges: unknown ccxt exchange id 'notanexchange'") as info:
        LiveMarket(config)
    assert isinstance(info.value, PermanentMarketError)
    config = market_config(fake).model_copy(update={"exchanges": ["binance", "coincheck"]})
    with pytest.raises(ConfigError, match=r"market\.exchanges: coincheck does not offer fetchOHLCV"):
        LiveMarket(config)


def test_start_with_one_exchange_unreachable_then_it_joins(fake):
    fake.set_fault("kraken", "http_500")
    source = LiveMarket(market_config(fake))
    try:
        assert state_of(source, "binance") == "live"
        health = source.health()["kraken"]
        assert health["state"] in ("down", "degraded") and "cannot load markets" in health["reason"]
        assert not any(ex == "kraken" for ex, _ in source.markets)
        assert all(ex == "binance" for ex, _ in source.next_snapshot().quotes)
        fake.set_fault("kraken", None)
        wait_for(lambda: ("kraken", "BTC/USDT") in source.next_snapshot().quotes, what="kraken quotes")
        assert ("kraken", "BTC/USDT") in source.markets
        wait_for(lambda: state_of(source, "kraken") == "live", what="kraken to go live")
        assert states(source, "kraken")[-1] == "live"
    finally:
        source.close()


def test_no_exchange_reachable_at_start_is_an_error(fake):
    for exchange in EXCHANGES:
        fake.set_fault(exchange, "maintenance")
    with pytest.raises(MarketUnavailableError, match="could not load markets from any exchange"):
        LiveMarket(market_config(fake))


def test_spot_only_unless_the_user_says_otherwise():
    assert make_client("binance", {}).options["fetchMarkets"]["types"] == ["spot"]
    custom = make_client("binance", {"options": {"fetchMarkets": {"types": ["spot", "linear"]}}, "timeout": 1234})
    assert custom.options["fetchMarkets"]["types"] == ["spot", "linear"]
    assert custom.timeout == 1234 and custom.enableRateLimit is True
    assert make_client("binance", {"enableRateLimit": False}).enableRateLimit is False


def test_ccxt_shaped_reads_of_the_held_data(market):
    ticker = market.fetch_ticker("kraken", "BTC/USDT")
    assert 0 < ticker["bid"] < ticker["ask"] and ticker["timestamp"] > 0
    book = market.fetch_order_book("binance", "ETH/USDT", limit=5)
    assert len(book["bids"]) == len(book["asks"]) == 5 and book["bids"][0][0] < book["asks"][0][0]
    bars = wait_for(lambda: len(b := market.fetch_ohlcv("binance", "BTC/USDT", limit=10)) == 10 and b, what="bars")
    assert market.fetch_ohlcv("binance", "BTC/USDT", since=bars[3][0], limit=2) == bars[3:5]
    assert market.load_markets("kraken")["BTC/USDT"]["id"] == "XBTUSDT"
    assert set(market.load_markets("kraken")) == {"BTC/USDT", "ETH/USDT"}
    with pytest.raises(KeyError):
        market.fetch_ticker("kraken", "BNB/USDT")
    with pytest.raises(ValueError):
        market.fetch_ohlcv("binance", "BTC/USDT", "5m")


def test_headlines_from_the_configured_feeds_reach_the_snapshots(fake):
    source = LiveMarket(market_config(fake, news_feeds=[str(DATA / "news_atom.xml")]))
    try:
        news = wait_for(lambda: source.next_snapshot().news, what="headlines")
        assert [item.title for item in news] == ["XRP volume surges", "Ethereum upgrade & fees fall"]
        assert source.next_snapshot().news == ()  # each headline once
    finally:
        source.close()


# ---- faults --------------------------------------------------------------------------------
@pytest.mark.parametrize("translated, kind, reason", [
    (ccxt.RequestTimeout("t"), TemporaryMarketError, "timed out"),
    (ccxt.NetworkError("n"), TemporaryMarketError, "network error"),
    (ccxt.ExchangeNotAvailable("x"), TemporaryMarketError, "exchange not available"),
    (ccxt.OnMaintenance("m"), TemporaryMarketError, "under maintenance"),
    (ccxt.DDoSProtection("418"), TemporaryMarketError, "rate limited"),
    (ccxt.RateLimitExceeded("429"), TemporaryMarketError, "rate limited"),
    (ccxt.InvalidNonce("n"), TemporaryMarketError, "invalid nonce"),
    (ccxt.BadResponse("b"), TemporaryMarketError, "malformed answer"),
    (TypeError("'NoneType' object is not subscriptable"), TemporaryMarketError, "malformed answer"),
    (KeyError("bids"), TemporaryMarketError, "malformed answer"),
    (ValueError("could not convert"), TemporaryMarketError, "malformed answer"),
    (ccxt.AuthenticationError("a"), PermanentMarketError, "access refused"),
    (ccxt.PermissionDenied("p"), PermanentMarketError, "access refused"),
    (ccxt.NotSupported("n"), PermanentMarketError, "not supported"),
    (ccxt.ExchangeError("{\"code\": -1}"), PermanentMarketError, "exchange error"),
    (ccxt.BadSymbol("b"), UnknownSymbolError, "unknown symbol"),
])
def test_ccxt_errors_translate_to_temporary_or_permanent(translated, kind, reason):
    error = translate_error(translated, "binance", "tickers", "BTC/USDT")
    assert type(error) is kind
    assert error.reason == f"tickers: {reason}" and error.exchange == "binance"
    assert getattr(error, "rate_limited", False) == (reason == "rate limited")


REQUEST_FAULTS = [("binance", "timeout"), ("kraken", "timeout"), ("binance", "http_429"), ("kraken", "http_418"),
                  ("binance", "http_418"), ("kraken", "http_500"), ("binance", "maintenance"),
                  ("kraken", "maintenance"), ("kraken", "rate_limit"), ("binance", "malformed"),
                  ("kraken", "malformed"), ("binance", "bad_shape"), ("kraken", "bad_shape")]


@pytest.mark.parametrize("exchange, fault", REQUEST_FAULTS)
def test_a_failing_exchange_degrades_goes_down_and_recovers_while_the_other_keeps_updating(
        fake, exchange, fault):
    other = "kraken" if exchange == "binance" else "binance"
    # The faulted exchange times out quickly; the other gets room for a slow machine.
    market = LiveMarket(market_config(fake, timeouts_ms={exchange: 300, other: 3000}))
    try:
        other_ts = market.next_snapshot().quotes[(other, "BTC/USDT")].ts
        fake.set_fault(exchange, fault)
        wait_for(lambda: state_of(market, exchange) == "down", what=f"{exchange} down")
        # Down means no data from it: nothing in quotes, no books, all its pairs stale.
        for _ in range(5):
            snapshot = market.next_snapshot()
            assert not any(ex == exchange for ex, _ in snapshot.quotes)
            assert snapshot.order_book(exchange, "BTC/USDT") is None
            assert (exchange, "BTC/USDT") in snapshot.stale
        # The other exchange keeps updating meanwhile.
        down_since = time.time()
        wait_for(lambda: market.next_snapshot().quotes[(other, "BTC/USDT")].ts > max(other_ts, down_since),
                 what=f"{other} to keep updating")
        assert market.health()[other]["state"] == "live" and state_of(market, exchange) == "down"
        fake.set_fault(exchange, None)
        wait_for(lambda: state_of(market, exchange) == "live", what=f"{exchange} live again")
        assert (exchange, "BTC/USDT") in market.next_snapshot().quotes
    finally:
        market.close()
    seen = states(market, exchange)
    assert seen[0] == "live"  # at start
    assert seen.index("degraded") < seen.index("down") < seen.index("recovering") < len(seen) - 1
    assert seen[-1] == "live"
    down = next(e for e in events(market, "market_status") if e["state"] == "down")
    assert down["level"] == "error" and down["health"] == "down" and down["reason"] in down["message"]
    assert states(market, other) == ["live"]


def test_a_crossed_book_is_stale_and_never_served(market, fake):
    fake.set_fault("kraken", "crossed")
    kraken = {("kraken", "BTC/USDT"), ("kraken", "ETH/USDT")}
    deadline = time.monotonic() + 30  # generous: a loaded CI machine
    while not kraken <= (snapshot := market.next_snapshot()).stale:  # books are re-read one by one
        assert time.monotonic() < deadline, "crossed books were never marked stale"
        for key in kraken & set(snapshot.quotes):
            assert not snapshot.order_book(*key).crossed
        time.sleep(0.01)
    assert state_of(market, "kraken") == "degraded" and "crossed book" in market.health()["kraken"]["reason"]
    for _ in range(10):
        snapshot = market.next_snapshot()
        assert not any(ex == "kraken" for ex, _ in snapshot.quotes)
        assert snapshot.order_book("kraken", "ETH/USDT") is None
        assert ("binance", "ETH/USDT") in snapshot.quotes
        time.sleep(0.02)
    fake.set_fault("kraken", None)
    wait_for(lambda: ("kraken", "BTC/USDT") in market.next_snapshot().quotes, what="kraken quotes back")
    assert not market.next_snapshot().order_book("kraken", "BTC/USDT").crossed
    wait_for(lambda: states(market, "kraken")[-1:] == ["live"], what="live event")
    assert states(market, "kraken") == ["live", "degraded", "live"]


def test_a_frozen_quote_goes_stale_after_max_quote_age(market, fake):
    fake.set_fault("binance", "frozen")
    snapshot = wait_for(lambda: ("binance", "BTC/USDT") in (s := market.next_snapshot()).stale and s,
                        what="frozen quote stale")
    held = market.fetch_ticker("binance", "BTC/USDT")
    assert snapshot.ts - held["timestamp"] / 1000 > MAX_AGE  # stale because older than max_quote_age_seconds
    health = market.health()["binance"]
    assert health["state"] == "degraded" and "old" in health["reason"] and health["age_seconds"] > MAX_AGE
    assert not any(ex == "binance" for ex, _ in market.next_snapshot().quotes)
    fake.set_fault("binance", None)
    wait_for(lambda: ("binance", "BTC/USDT") in market.next_snapshot().quotes, what="binance fresh again")
    wait_for(lambda: states(market, "binance")[-1:] == ["live"], what="live event")
    assert states(market, "binance") == ["live", "degraded", "live"]


def test_a_delisted_symbol_is_dropped_with_a_warning_not_a_failure(market, fake):
    fake.delist("binance", "ETH/USDT")
    wait_for(lambda: ("binance", "ETH/USDT") not in market.markets, what="ETH/USDT dropped on binance")
    wait_for(lambda: any(w["symbol"] == "ETH/USDT" and w["exchange"] == "binance"
                         for w in events(market, "market_warning")), what="the drop's warning")
    snapshot = market.next_snapshot()
    assert ("binance", "ETH/USDT") not in snapshot.quotes and ("kraken", "ETH/USDT") in snapshot.quotes
    assert ("binance", "BTC/USDT") in snapshot.quotes
    assert state_of(market, "binance") == "live" and "down" not in states(market, "binance")


def test_next_snapshot_never_waits_for_a_hung_exchange(fake):
    fake.timeout_delay_seconds = 30.0
    source = LiveMarket(market_config(fake, timeouts_ms={"binance": 20_000}))
    try:
        fake.set_fault("binance", "timeout")
        wait_for(lambda: fake.held > 0, what="a request held by the server")
        started = time.monotonic()
        snapshot = source.next_snapshot()
        assert time.monotonic() - started < 2.0  # far below the 20 s the held request may take
        assert ("kraken", "BTC/USDT") in snapshot.quotes
    finally:
        fake.set_fault("binance", None)
        fake.release()
        source.close()


def test_close_is_prompt_even_in_a_long_backoff(fake):
    source = LiveMarket(market_config(fake, rate_limit_backoff_seconds=60.0, retry_attempts=3))
    fake.set_fault("binance", "http_429")
    wait_for(lambda: fake.count("binance", since=time.time() - 0.5) == 0 or None, timeout=5,
             what="binance to back off")  # no request for half a second: it is sleeping
    started = time.monotonic()
    source.close()
    assert time.monotonic() - started < 2.0
    assert not any(feed.thread.is_alive() for feed in source._feeds.values())


def test_seek_sets_the_tick_counter_and_events_can_be_drained(market):
    market.seek(41)
    assert market.next_snapshot().tick == 41 and market.next_snapshot().tick == 42
    with pytest.raises(ValueError):
        market.seek(-1)
    drained = market.drain_events()
    assert {e["kind"] for e in drained} == {"market_status", "market_warning"}
    assert all("ts" in e and "message" in e for e in drained)
    assert market.drain_events() == []
    assert market.kind == "live" and "binance, kraken" in market.description


# ---- engine --------------------------------------------------------------------------------
def test_the_engine_trades_on_live_data_and_never_on_stale_or_crossed_quotes(fake, tmp_path):
    from bot.engine import BotEngine
    from bot.strategies.arbitrage import ArbitrageStrategy

    config = BotConfig.model_validate({
        "market": market_config(fake, symbols=("BTC/USDT", "ETH/USDT")).model_dump(),
        "portfolio": {"starting_balances": {"USDT": 10_000.0, "BTC": 0.05, "ETH": 1.0}},
        "strategies": {"arbitrage": {"triangular": False, "max_notional_usdt": 500.0}},
    })
    arbitrage = ArbitrageStrategy(config.strategies.arbitrage, ("binance", "kraken"), ("BTC/USDT", "ETH/USDT"),
                                  config.market, config.execution.max_slippage_pct)
    engine = BotEngine(config, data_dir=tmp_path / "data", log_dir=tmp_path / "logs", strategies=[arbitrage],
                       strategy_configs={"arbitrage": config.strategies.arbitrage})
    snapshots = {}

    def run(seconds: float, until=None) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            snapshot = engine.tick()
            snapshots[snapshot.tick] = snapshot
            if until is not None and until():
                return
            time.sleep(0.02)

    try:
        engine.open()
        assert engine.source.kind == "live"
        # A crossed kraken book with kraken's ticker 1% rich: a trap. Nothing may trade on it.
        fake.set_fault("kraken", "crossed")
        wait_for(lambda: ("kraken", "BTC/USDT") in engine.source.next_snapshot().stale, what="crossed -> stale")
        fake.set_offset("kraken", "BTC/USDT", 1.0)
        run(1.5)
        assert engine.ledger.count == 0
        # The book uncrosses with kraken still 1% rich: a real gap, net of both fees.
        fake.set_fault("kraken", None)
        # A deadline, not a wait: it returns at the fills (orders wait for a book fetched after their latency).
        run(30.0, until=lambda: engine.ledger.count >= 2)
        trades = engine.ledger.recent(100)
        assert {(t.exchange, t.side) for t in trades} == {("binance", "buy"), ("kraken", "sell")}
        # Binance freezes (stale after max_quote_age) and kraken turns 1% cheap: the only way to
        # "profit" is to sell at binance's stale price. Nothing may trade until binance is fresh.
        fake.set_fault("binance", "frozen")
        wait_for(lambda: ("binance", "BTC/USDT") in engine.source.next_snapshot().stale, what="frozen -> stale")
        fake.set_offset("kraken", "BTC/USDT", -1.0)
        before = engine.ledger.count
        run(1.5)
        assert engine.ledger.count == before
        fake.set_fault("binance", None)
        run(30.0, until=lambda: any(t.exchange == "kraken" and t.side == "buy" for t in engine.ledger.recent(100)))
        trades = engine.ledger.recent(1000)
        assert any(t.exchange == "kraken" and t.side == "buy" for t in trades)
        for trade in trades:  # every fill came from a fresh, uncrossed book at its tick
            snapshot = snapshots[trade.tick]
            assert (trade.exchange, trade.symbol) in snapshot.quotes
            assert (trade.exchange, trade.symbol) not in snapshot.stale
            assert not snapshot.order_book(trade.exchange, trade.symbol).crossed
            assert trade.strategy == "arbitrage" and trade.symbol == "BTC/USDT"
    finally:
        engine.close()
    state = (tmp_path / "data" / "portfolio_state.json").read_text()
    assert '"market_source": "live"' in state
    assert (tmp_path / "data" / "trades.jsonl").read_text().count("\n") == len(trades)
