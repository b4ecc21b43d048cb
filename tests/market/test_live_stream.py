"""The live market on exchange streams: a real ccxt.pro binance client against a local fake that
speaks binance's stream protocol (tests/market/fake_stream_exchange.py), on loopback.

The oracle is the fake server's own book (it applies nothing the client sends; book_levels()
reads its state): a client that applied every diff in order holds exactly that book.
"""
from __future__ import annotations

import pytest

from bot.config import ConfigError, LiveConfig, MarketConfig, load_config
from bot.config_streams import StreamsConfig
from bot.market.live_source import LiveMarket
from tests.market.fake_stream_exchange import FakeBinanceStream
from tests.polling import wait_for

SYMBOLS = ("BTC/USDT", "ETH/USDT")
DEPTH = 20


class RecordingMarket(LiveMarket):
    """LiveMarket that records the order of what its streams hand over (book updates, invalidations)."""

    def __init__(self, config):
        self.log: list[tuple] = []
        super().__init__(config)

    def stream_book(self, exchange, symbol, book):
        self.log.append(("book", symbol, book))
        super().stream_book(exchange, symbol, book)

    def book_invalid(self, exchange, symbol, reason):
        super().book_invalid(exchange, symbol, reason)
        # the fourth field: could a snapshot still walk a book of this market now? (it must not)
        self.log.append(("invalid", symbol, reason, symbol in self._books[exchange]))


def config(fake: FakeBinanceStream, max_quote_age_seconds: float = 3.0, **streams) -> MarketConfig:
    settings = dict(max_quote_age_seconds=min(5.0, max_quote_age_seconds) if max_quote_age_seconds < 60 else 60.0,
                    silence_seconds=1.0, reconnect_base_seconds=0.1, reconnect_max_seconds=0.8, trades_kept=50)
    poll_seconds = streams.pop("poll_seconds", 0.2)
    settings.update(streams)
    return MarketConfig(source="live", exchanges=["binance"], symbols=list(SYMBOLS),
                        exchange_options={"binance": fake.stream_options()},
                        max_quote_age_seconds=max_quote_age_seconds, max_book_age_seconds=15.0,
                        live=LiveConfig(poll_seconds=poll_seconds, order_book_depth=DEPTH, candle_backfill=30,
                                        retry_attempts=0, streams=StreamsConfig(**settings)))


@pytest.fixture
def fake():
    with FakeBinanceStream(SYMBOLS, depth=DEPTH) as server:
        yield server


def open_market(fake, **settings) -> RecordingMarket:
    market = RecordingMarket(config(fake, **settings))
    wait_for(lambda: market.health()["binance"]["feed"] == "stream", 10, "the stream up")
    return market


def status(market) -> dict:
    return market.health()["binance"]


def states(market) -> list[tuple[str, str]]:
    return [(e["state"], e["reason"]) for e in tuple(market.events) if e["kind"] == "market_status"]


def served_book(market, symbol: str):
    return market.next_snapshot().order_book("binance", symbol)


def matches_server(market, fake, symbol: str) -> bool:
    """The served book is the server's book now (the server is silenced first, so it holds still)."""
    book = served_book(market, symbol)
    bids, asks = fake.book_levels(symbol)
    return book is not None and list(book.bids) == bids[:DEPTH] and list(book.asks) == asks[:DEPTH]


def hold_still_and_compare(market, fake, symbol="BTC/USDT") -> None:
    fake.silence(True)
    try:
        wait_for(lambda: matches_server(market, fake, symbol), 3, f"the served {symbol} book to equal the server's")
    finally:
        fake.silence(False)


def test_streamed_books_are_the_servers_book_with_both_timestamps_and_stream_status(fake):
    market = open_market(fake, silence_seconds=5.0)
    try:
        hold_still_and_compare(market, fake, "BTC/USDT")
        hold_still_and_compare(market, fake, "ETH/USDT")
        # The exchange's stamp (the frame's E, whole ms) and our receive time are both kept.
        book = wait_for(lambda: (lambda b: b if b is not None and b.ts != b.received else None)(
            served_book(market, "ETH/USDT")), 5, "a streamed book stamped by the exchange")
        assert round(book.ts * 1000) == pytest.approx(book.ts * 1000, abs=1e-3) and abs(book.received - book.ts) < 1.0
        quote = market.next_snapshot().quotes[("binance", "ETH/USDT")]
        assert quote.received > 0 and quote.bid < quote.ask
        wait_for(lambda: status(market)["messages_per_second"] > 0, 15, "a message rate")
        now = status(market)
        assert now["feed"] == "stream" and now["state"] == "live" and now["reconnects"] == 0
        assert now["last_message_age_seconds"] is not None and now["messages"] > 0
    finally:
        market.close()


def test_a_sequence_gap_resyncs_from_a_snapshot_and_the_gapped_book_is_never_served(fake):
    market = open_market(fake, silence_seconds=5.0)
    try:
        snapshots_before = fake.depth_requests
        fake.gap("BTC/USDT")
        wait_for(lambda: status(market)["resyncs"] >= 1, 5, "a resync")
        wait_for(lambda: fake.depth_requests > snapshots_before, 5, "a fresh depth snapshot")
        market.health()  # drains what the stream handed over
        entries = [entry for entry in market.log if entry[1] == "BTC/USDT"]
        first_invalid = next(i for i, entry in enumerate(entries) if entry[0] == "invalid")
        assert "sequence gap" in entries[first_invalid][2]
        assert entries[first_invalid][3] is False, "the gapped book stays walkable"
        hold_still_and_compare(market, fake, "BTC/USDT")  # consistent again after snapshot + replay
        assert status(market)["reconnects"] == 0
    finally:
        market.close()


def test_a_book_that_crosses_after_an_update_is_dropped_and_resynced_never_served(fake):
    market = open_market(fake, silence_seconds=5.0)
    try:
        fake.cross("ETH/USDT")
        wait_for(lambda: market.health() and any(e[0] == "invalid" and "crossed" in e[2] for e in market.log), 5,
                 "the crossed book dropped")
        assert not any(e[0] == "book" and e[2].crossed for e in market.log)
        assert not any(e[0] == "invalid" and e[3] for e in market.log), "an invalid book stayed walkable"
        for _ in range(20):  # whatever moment a tick looks, it never sees a crossed book
            book = served_book(market, "ETH/USDT")
            assert book is None or not book.crossed
        wait_for(lambda: status(market)["state"] == "live", 5, "live again (the crossed ticker replaced too)")
        hold_still_and_compare(market, fake, "ETH/USDT")
    finally:
        market.close()


def test_a_dropped_socket_reconnects_on_the_backoff_schedule_with_rest_meanwhile(fake):
    market = open_market(fake, reconnect_base_seconds=0.2, reconnect_max_seconds=1.0)
    try:
        fake.refuse(True)
        fake.drop()
        wait_for(lambda: status(market)["reconnects"] >= 3, 15, "three refused reconnects")
        now = status(market)
        assert now["feed"] == "rest" and now["state"] == "degraded" and "stream down" in now["reason"]
        # REST fallback: the exchange still has fresh quotes and books from polling.
        wait_for(lambda: ("binance", "BTC/USDT") in market.next_snapshot().quotes, 5, "a REST quote")
        fake.refuse(False)
        wait_for(lambda: status(market)["feed"] == "stream", 10, "the stream back")
        assert status(market)["reconnects"] >= 3
        # Equal jitter: the k-th wait is at least half of base * 2**k (capped): lower bounds only.
        attempts = []  # one attempt opens several connections at once (one per watched stream)
        for t in sorted(fake.refused_times):
            if not attempts or t - attempts[-1] > 0.05:
                attempts.append(t)
        gaps = [b - a for a, b in zip(attempts, attempts[1:])]
        for k, gap in enumerate(gaps[:3]):
            assert gap >= 0.5 * min(1.0, 0.2 * 2 ** (k + 1)) * 0.9, (k, gaps)
        reported = states(market)
        assert any(s == "degraded" and "stream down" in r for s, r in reported), reported
        assert reported[-1][0] == "live"
    finally:
        market.close()


def test_a_silent_stream_is_detected_and_without_rest_fallback_the_exchange_is_down(fake):
    market = open_market(fake, silence_seconds=1.0, rest_fallback=False)
    try:
        fake.silence(True)
        wait_for(lambda: status(market)["state"] == "down", 5, "the silent stream reported down")
        assert "silent" in status(market)["reason"]
        snapshot = market.next_snapshot()
        assert not any(key[0] == "binance" for key in snapshot.quotes)
        assert snapshot.order_book("binance", "BTC/USDT") is None
        fake.silence(False)
        wait_for(lambda: status(market)["state"] == "live", 10, "live again")
    finally:
        market.close()


def test_malformed_frames_are_counted_logged_once_per_burst_and_the_stream_stays_up(fake, caplog):
    market = open_market(fake, silence_seconds=5.0)
    try:
        caplog.set_level("WARNING", logger="bot.market.live_streamed")
        fake.malformed(2)
        wait_for(lambda: status(market)["malformed"] >= 6, 5, "malformed frames counted (3 a burst, 2 bursts)")
        hold_still_and_compare(market, fake, "BTC/USDT")
        assert status(market)["reconnects"] == 0 and status(market)["feed"] == "stream"
        logged = [r for r in caplog.records if "malformed frame dropped" in r.getMessage()]
        assert len(logged) == 1, [r.getMessage() for r in logged]
    finally:
        market.close()


def test_duplicated_and_out_of_order_updates_never_corrupt_the_served_book(fake):
    market = open_market(fake, silence_seconds=5.0)
    try:
        fake.duplicate("BTC/USDT")  # a repeat is ignored by its update ids (applying it twice would corrupt sizes)
        wait_for(lambda: not fake._pending_duplicate, 5, "the repeated diff sent")
        hold_still_and_compare(market, fake, "BTC/USDT")
        resyncs = status(market)["resyncs"]
        fake.swap("ETH/USDT")  # the later diff first: a gap, so a resync; the late one is then stale and ignored
        wait_for(lambda: status(market)["resyncs"] > resyncs, 5, "a resync on the out-of-order diff")
        market.health()
        assert not any(e[0] == "invalid" and e[3] for e in market.log), "an invalid book stayed walkable"
        hold_still_and_compare(market, fake, "ETH/USDT")
        assert status(market)["reconnects"] == 0
    finally:
        market.close()


def test_public_trades_are_kept_per_market_bounded_and_filtered_by_time(fake):
    market = open_market(fake, trades_kept=20)
    try:
        wait_for(lambda: len(market.recent_trades("binance", "BTC/USDT")) == 20, 10, "a full tape")
        tape = market.recent_trades("binance", "BTC/USDT")
        ids = [int(t["id"]) for t in tape]
        assert ids == list(range(ids[0], ids[0] + 20))  # consecutive: none lost, none repeated
        assert all(t["side"] in ("buy", "sell") and t["price"] > 0 and t["amount"] > 0 for t in tape)
        cut = tape[10]["timestamp"]
        assert all(t["timestamp"] >= cut for t in market.recent_trades("binance", "BTC/USDT", cut))
        assert len(market.recent_trades("binance", "BTC/USDT", cut)) >= 10
        assert market.recent_trades("binance", "XRP/USDT") == []
    finally:
        market.close()


def test_rest_trades_stand_in_while_the_stream_is_down_and_no_print_is_doubled(fake):
    market = open_market(fake, trades_kept=100_000, reconnect_base_seconds=0.2, reconnect_max_seconds=0.4)
    try:
        assert market.has_trade_feed_for("binance", "BTC/USDT")
        wait_for(lambda: len(market.recent_trades("binance", "BTC/USDT")) >= 20, 10, "streamed trades")
        before = set(fake.rest_trade_ids)  # REST read trades at start, before the stream was up
        held = len(market.recent_trades("binance", "BTC/USDT"))
        wait_for(lambda: len(market.recent_trades("binance", "BTC/USDT")) >= held + 20, 10, "more streamed trades")
        assert set(fake.rest_trade_ids) == before  # and none while it is up
        fake.refuse(True)
        fake.drop()
        wait_for(lambda: status(market)["feed"] == "rest", 10, "the stream down")
        assert market.has_trade_feed_for("binance", "BTC/USDT")  # REST stands in
        wait_for(lambda: len({i for s, i in set(fake.rest_trade_ids) if s == "BTC/USDT"}) >= 40, 15, "REST trades")
        fake.refuse(False)
        wait_for(lambda: status(market)["feed"] == "stream", 10, "the stream back")
        held = len(market.recent_trades("binance", "BTC/USDT"))
        wait_for(lambda: len(market.recent_trades("binance", "BTC/USDT")) >= held + 20, 10, "streamed trades again")
        ids = [int(t["id"]) for t in market.recent_trades("binance", "BTC/USDT")]
        assert ids == sorted(set(ids)), "each print once, in order"
        by_rest = {i for s, i in set(fake.rest_trade_ids) if s == "BTC/USDT" and i >= ids[0]}
        assert by_rest <= set(ids)  # every print REST read during the outage is on the tape
        assert by_rest - before, "REST brought prints during the outage"
    finally:
        market.close()


def test_the_base_source_answers_no_trades():
    from bot.market.base import MarketSource

    assert MarketSource.recent_trades(None, "binance", "BTC/USDT") == []


def test_a_bad_stream_setting_names_its_key(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("market:\n  live:\n    streams:\n      max_book_age_seconds: -1\n")
    with pytest.raises(ConfigError, match="market.live.streams.max_book_age_seconds"):
        load_config(path)


def test_a_streamed_book_past_the_stream_age_limit_is_not_served_though_the_rest_limit_allows_it(fake):
    # Books age out at streams.max_book_age_seconds (2 s), not at market.max_book_age_seconds (15 s);
    # quotes are allowed a minute here, so only the book's age can withdraw the pair.
    market = open_market(fake, silence_seconds=30.0, max_quote_age_seconds=60.0)
    try:
        assert served_book(market, "BTC/USDT") is not None
        fake.silence(True)
        wait_for(lambda: served_book(market, "BTC/USDT") is None, 8, "the silent stream's book aged out")
        assert status(market)["feed"] == "stream"  # the connection is still up: only the age withdrew it
    finally:
        fake.silence(False)
        market.close()


def test_the_age_counts_from_the_older_of_the_exchange_stamp_and_our_receive_time():
    from bot.market.live_source import _age
    from bot.models import OrderBook

    ahead = OrderBook("binance", "BTC/USDT", ((1.0, 1.0),), ((2.0, 1.0),), ts=1_000.0 + 60, received=997.0)
    assert _age(ahead, 1_000.0) == pytest.approx(3.0)  # an exchange clock ahead does not make it fresh
    behind = OrderBook("binance", "BTC/USDT", ((1.0, 1.0),), ((2.0, 1.0),), ts=990.0, received=999.5)
    assert _age(behind, 1_000.0) == pytest.approx(10.0)
    unknown = OrderBook("binance", "BTC/USDT", ((1.0, 1.0),), ((2.0, 1.0),), ts=996.0)
    assert _age(unknown, 1_000.0) == pytest.approx(4.0)


def test_reconnects_back_off_exponentially_with_equal_jitter_up_to_the_cap():
    from bot.market.live_stream import reconnect_delay

    lowest = [reconnect_delay(k, 0.5, 30.0, lambda: 0.0) for k in range(8)]
    highest = [reconnect_delay(k, 0.5, 30.0, lambda: 1.0) for k in range(8)]
    assert lowest == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0]  # half fixed ...
    assert highest == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]  # ... half random


def test_an_outage_over_before_anyone_looked_is_still_reported_down_then_live(fake):
    # A slow tick (or a loaded machine) may look only after the stream dropped *and* came back:
    # the outage must still be recorded, from what the stream handed over, in order.
    market = open_market(fake, poll_seconds=60.0, reconnect_base_seconds=0.1, reconnect_max_seconds=0.2)
    try:
        stream = market._streams["binance"]  # watched without draining: nobody looks meanwhile
        market.drain_events()
        fake.drop()
        wait_for(lambda: stream.outages >= 1 and stream.up, 10, "the stream down and up again, undrained")
        reported = []

        def live_again():
            market.health()
            reported.extend((e["state"], e["previous"], e["reason"]) for e in market.drain_events()
                            if e["kind"] == "market_status")
            return reported and reported[-1][0] == "live"
        wait_for(live_again, 10, "live again")
        assert [s for s, _, _ in reported] == ["degraded", "live"], reported
        assert "stream down (NetworkError" in reported[0][2] and "closed" in reported[0][2], reported  # why, as it was
        assert reported[1][1] == "degraded"
    finally:
        market.close()
