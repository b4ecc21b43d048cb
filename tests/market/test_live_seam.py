"""The seam between ExchangeFeed (bot/market/live.py) and LiveMarket (bot/market/live_source.py).

The feed hands its data to a FeedSink through public methods and owns its stop event; the two
modules do not reach into each other's private members and do not import each other both ways.
The static checks read the source with ast; the behavioural ones run a real feed (a real ccxt
client against the local fake exchange) into a sink that is not LiveMarket.
"""
from __future__ import annotations

import ast
import inspect
import threading
import time
from pathlib import Path

import pytest

from bot.config import LiveConfig
from bot.market.live import ExchangeFeed, make_client
from bot.market.live_sink import FeedSink
from bot.market.live_source import LiveMarket
from tests.market.fake_exchange import FakeExchangeServer
from tests.polling import wait_for

MARKET = Path(__file__).resolve().parents[2] / "bot" / "market"
PACKAGE = "bot.market"


# ---- the import graph of bot/market ---------------------------------------------------------
def market_imports(source: str, module: str, known: set[str]) -> set[str]:
    """The bot.market modules `module` imports anywhere in `source`, TYPE_CHECKING and function bodies included."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import x, from .x import y
                base = ".".join(module.split(".")[:-node.level])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # from bot.market import live
    return {name for name in found if name in known and name != module}


def import_graph(folder: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports."""
    files = {f"{PACKAGE}.{path.stem}": path for path in sorted(folder.glob("*.py")) if path.stem != "__init__"}
    return {module: market_imports(path.read_text(), module, set(files)) for module, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that ends where it starts, or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return path[path.index(module):] + [module]
        if module in done:
            return None
        for imported in sorted(graph.get(module, ())):
            cycle = visit(imported, path + [module])
            if cycle:
                return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module, [])
        if cycle:
            return cycle
    return None


def test_the_market_package_has_no_import_cycle_not_even_a_type_only_one():
    graph = import_graph(MARKET)
    assert "bot.market.live" in graph["bot.market.live_source"]  # the graph sees the one arrow that is there
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_finder_sees_type_only_and_relative_imports():
    known = {"bot.market.a", "bot.market.b", "bot.market.c"}
    typed = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot.market.b import B\n"
    assert market_imports(typed, "bot.market.a", known) == {"bot.market.b"}
    assert market_imports("from . import c\nfrom .b import x\n", "bot.market.a", known) == {"bot.market.b",
                                                                                           "bot.market.c"}
    assert market_imports("def f():\n    import bot.market.c\n", "bot.market.a", known) == {"bot.market.c"}
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


# ---- no private member of another object ----------------------------------------------------
def foreign_private_uses(source: str) -> list[str]:
    """`obj._name` where obj is not self or cls (dunders like __name__ are not private)."""
    uses = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
            continue
        if node.attr.startswith("__") and node.attr.endswith("__"):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            continue
        uses.append((node.lineno, node.col_offset, ast.unparse(node)))
    return [f"line {line}: {text}" for line, _, text in sorted(uses)]


@pytest.mark.parametrize("module", ["live.py", "live_source.py", "live_sink.py", "live_stream.py", "live_streamed.py",
                                    "live_threads.py"])
def test_the_live_modules_touch_only_their_own_private_members(module):
    assert [use for use in foreign_private_uses((MARKET / module).read_text())
            if not any(allowed in use for allowed in STDLIB_PRIVATE_ALLOWED.get(module, ()))] == []


# The stdlib's poll selector base: under eventlet the original selectors module's own classes
# were built on the green select, so live_threads.py builds a poll selector on the real one.
STDLIB_PRIVATE_ALLOWED = {"live_threads.py": ("patcher.original('selectors')._PollLikeSelector",)}


def test_the_private_member_check_sees_what_it_should():
    source = ("class A:\n    def f(self, other):\n        self._mine = type(other).__name__\n"
              "        other._theirs()\n        self.feed._lock\n        self._x._y\n")
    assert foreign_private_uses(source) == ["line 4: other._theirs", "line 5: self.feed._lock",
                                            "line 6: self._x._y"]


# ---- the sink contract ----------------------------------------------------------------------
SINK_METHODS = sorted(name for name, member in vars(FeedSink).items()
                      if inspect.isfunction(member) and not name.startswith("_"))


def test_live_market_implements_every_sink_method_with_the_same_parameters():
    assert len(SINK_METHODS) == 8  # trades_received: public trades polled over REST
    for name in SINK_METHODS:
        expected = list(inspect.signature(getattr(FeedSink, name)).parameters)
        assert list(inspect.signature(getattr(LiveMarket, name)).parameters) == expected, name


class RecordingSink:
    """A FeedSink that keeps every call: shows the feed needs nothing of LiveMarket's."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.lock = threading.Lock()

    def __getattr__(self, name: str):
        if name not in SINK_METHODS:
            raise AttributeError(name)

        def record(*args):
            with self.lock:
                self.calls.append((name, *args))
        return record

    def of(self, name: str) -> list[tuple]:
        with self.lock:
            return [call[1:] for call in self.calls if call[0] == name]


@pytest.fixture
def fake():
    with FakeExchangeServer(candle_seconds=0.25, step_seconds=0.05, gap_every_seconds=0) as server:
        yield server


def feed_of(fake: FakeExchangeServer, exchange: str, sink: RecordingSink, **settings) -> ExchangeFeed:
    live = LiveConfig(**{"poll_seconds": 0.05, "candle_backfill": 60, "retry_attempts": 1,
                         "backoff_base_seconds": 0.01, "backoff_max_seconds": 0.05, **settings})
    client = make_client(exchange, fake.exchange_options(exchange, timeout_ms=1000))
    return ExchangeFeed(exchange, client, ("BTC/USDT", "BNB/USDT"), live, sink)


def test_a_feed_hands_markets_quotes_books_and_candles_to_any_sink(fake):
    sink = RecordingSink()
    feed = feed_of(fake, "kraken", sink)  # kraken lists no BNB/USDT in the fake
    feed.start()
    try:
        wait_for(lambda: sink.of("quotes_received") and sink.of("book_received") and sink.of("candles_closed"),
                 what="quotes, a book and candles")
    finally:
        feed.stop()
        feed.join(5.0)
        feed.close()
    assert not feed.thread.is_alive()
    ((exchange, markets, listings),) = sink.of("markets_changed")
    assert exchange == "kraken" and set(markets) == set(listings) == {"BTC/USDT"}
    assert listings["BTC/USDT"]["id"] == "XBTUSDT" and markets["BTC/USDT"].taker_fee == 0.0026
    ((exchange, symbol, message),) = sink.of("symbol_warning")
    assert (exchange, symbol) == ("kraken", "BNB/USDT") and "not listed on kraken" in message
    exchange, quotes = sink.of("quotes_received")[0]
    bid, ask = fake.top("kraken", "BTC/USDT")
    assert exchange == "kraken" and set(quotes) == {"BTC/USDT"}
    assert abs(quotes["BTC/USDT"].mid / ((bid + ask) / 2) - 1) < 0.002
    exchange, symbol, book = sink.of("book_received")[0]
    assert (exchange, symbol) == ("kraken", "BTC/USDT") and not book.crossed and len(book.bids) == 20
    exchange, symbol, candles = sink.of("candles_closed")[0]
    assert (exchange, symbol) == ("kraken", "BTC/USDT") and len(candles) >= 59
    assert [b.ts - a.ts for a, b in zip(candles, candles[1:])] == [60.0] * (len(candles) - 1)
    assert ("kraken",) in sink.of("feed_changed") and feed.link_status() is None


def test_each_feed_owns_its_stop_event(fake):
    """Stopping one feed (even in a long rate-limit backoff) leaves the other polling."""
    sinks = {exchange: RecordingSink() for exchange in ("binance", "kraken")}
    feeds = {exchange: feed_of(fake, exchange, sinks[exchange], retry_attempts=3, rate_limit_backoff_seconds=60.0)
             for exchange in sinks}
    for feed in feeds.values():
        feed.start()
    try:
        wait_for(lambda: all(sink.of("quotes_received") for sink in sinks.values()), what="both feeds polling")
        fake.set_fault("binance", "http_429")
        wait_for(lambda: fake.count("binance", since=time.time() - 0.5) == 0, what="binance backing off")
        feeds["binance"].stop()
        feeds["binance"].join(5.0)
        assert not feeds["binance"].thread.is_alive()  # the 60 s backoff ended with the stop
        seen = len(sinks["kraken"].of("quotes_received"))
        wait_for(lambda: len(sinks["kraken"].of("quotes_received")) > seen + 2, what="kraken to keep polling")
        assert feeds["kraken"].thread.is_alive()
    finally:
        for feed in feeds.values():
            feed.stop()
        for feed in feeds.values():
            feed.join(5.0)
            feed.close()
    assert not any(feed.thread.is_alive() for feed in feeds.values())
