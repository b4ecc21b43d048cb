"""Public trades over REST (market.live.rest_trades): real ccxt binance and kraken classes against
the local fake exchange, which serves only the trades a test adds (the oracle: fake.tapes)."""
from __future__ import annotations

import logging
import math
import time

import pytest

from bot.commands import PlaceOrder
from bot.config import BotConfig
from bot.market.live_source import LiveMarket
from bot.requests import validate_request
from bot.requests_orders import OrderRequest
from tests.market.fake_exchange import FakeExchangeServer
from tests.market.test_live import market_config
from tests.polling import wait_for


@pytest.fixture
def fake():
    with FakeExchangeServer(candle_seconds=0.25, step_seconds=0.05, timeout_delay_seconds=1.0,
                            gap_every_seconds=0) as server:
        yield server


def held(market: LiveMarket, exchange: str, symbol: str) -> list[tuple[str, int, float, float, str]]:
    return [(t["id"], t["timestamp"], t["price"], t["amount"], t["side"])
            for t in market.recent_trades(exchange, symbol)]


def served(fake: FakeExchangeServer, exchange: str, symbol: str) -> list[tuple[str, int, float, float, str]]:
    return [(str(i), ms, p, q, side) for i, ms, p, q, side in fake.tapes.get((exchange, symbol), ())]


def queries(fake: FakeExchangeServer, exchange: str, symbol: str) -> int:
    return sum(1 for ex, sym, _ in list(fake.trade_queries) if (ex, sym) == (exchange, symbol))


def test_rest_trades_arrive_per_symbol_once_each_and_none_is_missed(fake):
    market = LiveMarket(market_config(fake, symbols=("BTC/USDT", "ETH/USDT")))
    try:
        assert market.has_trade_feed_for("binance", "BTC/USDT") and market.has_trade_feed_for("kraken", "ETH/USDT")
        fake.add_trades("binance", "BTC/USDT", [(60_000.5, 0.01, "buy"), (60_001.0, 0.02, "sell"),
                                                (60_000.0, 0.5, "sell")])
        fake.add_trades("kraken", "ETH/USDT", [(3_000.1, 0.3, "buy"), (2_999.9, 0.4, "sell")])
        fake.add_trades("binance", "ETH/USDT", [(2_999.0, 0.1, "sell")])
        for exchange, symbol in (("binance", "BTC/USDT"), ("kraken", "ETH/USDT"), ("binance", "ETH/USDT")):
            wait_for(lambda: held(market, exchange, symbol) == served(fake, exchange, symbol), 10,
                     f"{exchange} {symbol} trades")
        assert market.recent_trades("kraken", "BTC/USDT") == []
        # Many more polls: each asks again from the newest trade's time (inclusive) and gets it back;
        # the tape still holds every print once.
        asked = queries(fake, "binance", "BTC/USDT")
        wait_for(lambda: queries(fake, "binance", "BTC/USDT") >= asked + 5, 30, "five more trade polls")
        assert held(market, "binance", "BTC/USDT") == served(fake, "binance", "BTC/USDT")
        assert held(market, "kraken", "ETH/USDT") == served(fake, "kraken", "ETH/USDT")
        # The same prints brought again by another feed (a stream coming back) are not doubled;
        # one without an id is told by its time, price and size.
        again = market.recent_trades("binance", "BTC/USDT")
        market.trades_received("binance", "BTC/USDT", [dict(t) for t in again[-2:]])
        market.trades_received("binance", "BTC/USDT", [{**again[-1], "id": None}, {**again[-1], "id": None}])
        assert held(market, "binance", "BTC/USDT") == served(fake, "binance", "BTC/USDT") + [
            (None, *served(fake, "binance", "BTC/USDT")[-1][1:])]
        # A burst bigger than one page (500): read page after page from the last time seen, none lost.
        fake.add_trades("binance", "ETH/USDT", [(3_000.0 + i / 100, 0.01, "buy") for i in range(700)])
        wait_for(lambda: len(market.recent_trades("binance", "ETH/USDT")) >= 701, 30, "the whole burst")
        asked = queries(fake, "binance", "ETH/USDT")
        wait_for(lambda: queries(fake, "binance", "ETH/USDT") >= asked + 2, 30, "two more polls")
        assert held(market, "binance", "ETH/USDT") == served(fake, "binance", "ETH/USDT")
        assert [since for ex, sym, since in fake.trade_queries if (ex, sym) == ("binance", "ETH/USDT")][-1] == \
            fake.tapes[("binance", "ETH/USDT")][-1][1]
    finally:
        market.close()


def test_a_failing_trades_endpoint_is_counted_and_logged_while_quotes_and_books_flow(fake, caplog):
    caplog.set_level(logging.INFO, logger="bot.market.live")
    market = LiveMarket(market_config(fake, symbols=("BTC/USDT",)))
    try:
        feed = market._feeds["binance"]
        fake.trades_failing = True
        started = time.time()
        wait_for(lambda: feed.trade_errors >= 5, 30, "failed trade reads")  # breaker_failures is 2
        snapshot = market.next_snapshot()
        assert not snapshot.stale and market.health()["binance"]["state"] == "live"
        assert ("binance", "BTC/USDT") in snapshot.quotes
        assert fake.count("binance", "/depth", since=started) >= 5 and market.has_trade_feed_for("binance", "BTC/USDT")
        assert "trades BTC/USDT" in feed.trades_error
        assert any("binance trades read failed" in r.getMessage() for r in caplog.records)
        fake.trades_failing = False
        fake.add_trades("binance", "BTC/USDT", [(60_000.0, 0.1, "sell")])
        wait_for(lambda: held(market, "binance", "BTC/USDT") == served(fake, "binance", "BTC/USDT"), 10,
                 "trades after the endpoint recovers")
        assert feed.trades_error == ""
        assert any("binance trades read again" in r.getMessage() for r in caplog.records)
    finally:
        market.close()


def test_rest_trades_can_be_switched_off(fake):
    market = LiveMarket(market_config(fake, symbols=("BTC/USDT",), rest_trades=False))
    try:
        fake.add_trades("binance", "BTC/USDT", [(60_000.0, 0.1, "sell")])
        started = time.time()
        wait_for(lambda: fake.count("binance", "/depth", since=started) >= 3, 30, "three polls")
        assert fake.count("binance", "aggTrades") == 0 and fake.count("kraken", "Trades") == 0
        assert market.recent_trades("binance", "BTC/USDT") == []
        assert not market.has_trade_feed and not market.has_trade_feed_for("binance", "BTC/USDT")
    finally:
        market.close()


def test_a_resting_limit_on_a_rest_polled_exchange_fills_from_its_public_trades(fake, tmp_path):
    from bot.engine import BotEngine

    off = {name: {"enabled": False} for name in ("arbitrage", "momentum", "news", "stat_arb")}
    config = BotConfig.model_validate({
        "market": market_config(fake, symbols=("BTC/USDT",)).model_dump(),
        "portfolio": {"starting_balances": {"USDT": 10_000.0, "BTC": 0.05}},
        "strategies": off, "dashboard": {"enabled": False},
        "storage": {"data_dir": str(tmp_path / "data"), "log_dir": str(tmp_path / "logs"), "fsync": False}})
    engine = BotEngine(config, data_dir=tmp_path / "data", log_dir=tmp_path / "logs")
    try:
        engine.open()
        snapshot = engine.tick()
        bid = snapshot.quotes[("binance", "BTC/USDT")].bid
        price = round(math.floor(bid * 0.99 / 0.01) * 0.01, 2)  # 1% under the bid: nobody queued there
        body = {"exchange": "binance", "symbol": "BTC/USDT", "side": "buy", "type": "limit", "amount": 0.01,
                "price": price}
        order = engine.commands.handle(PlaceOrder(validate_request(OrderRequest, body)))
        live = engine.desk.orders[order["id"]]

        def tick_until(done):
            def step():
                engine.tick()
                return done()
            return step
        wait_for(tick_until(lambda: live.status == "open" and live.queue_ahead is not None), 30, "resting")
        assert not live.stale and engine.ledger.count == 0
        # A print above its price does not fill it; one through it does, at the order's own price.
        fake.add_trades("binance", "BTC/USDT", [(price + 5.0, 0.02, "sell")])
        wait_for(tick_until(lambda: len(engine.source.recent_trades("binance", "BTC/USDT")) == 1), 30, "print 1")
        engine.tick()
        assert live.status == "open" and engine.ledger.count == 0
        fake.add_trades("binance", "BTC/USDT", [(price - 1.0, 0.02, "sell")])
        wait_for(tick_until(lambda: engine.ledger.count == 1), 30, "the fill")
        fill = engine.ledger.recent(1)[0]
        assert (fill.exchange, fill.symbol, fill.side) == ("binance", "BTC/USDT", "buy")
        assert fill.price == pytest.approx(price, abs=1e-9) and fill.qty == pytest.approx(0.01, abs=1e-12)
        assert live.status == "filled"
    finally:
        engine.close()
