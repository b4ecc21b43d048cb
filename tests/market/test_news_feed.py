"""The RSS/Atom reader: parsing, plain-text titles, dedup across polls, broken feeds, files."""
from __future__ import annotations

import calendar
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.market.news_feed import NewsFeedReader, plain_text
from tests.polling import wait_for

DATA = Path(__file__).parent / "data"

ITEM_A = """<item><title>&lt;b&gt;Bitcoin&lt;/b&gt; rallies as ETF inflows &amp;amp; hit record</title>
<link>http://news.test/a</link><guid>a-1</guid><pubDate>Tue, 03 Feb 2026 10:00:00 GMT</pubDate></item>"""
ITEM_B = """<item><title>Ether &lt; 3000? Analysts split</title><link>http://news.test/b</link>
<pubDate>Tue, 03 Feb 2026 11:00:00 GMT</pubDate></item>"""
ITEM_C = """<item><title><![CDATA[<i>Solana</i>   outage
 &amp; restart]]></title><link>http://news.test/c</link><guid>c-1</guid></item>"""
# Same story as A under another id and link: deduplicated by its title.
ITEM_A_AGAIN = """<item><title>&lt;b&gt;Bitcoin&lt;/b&gt; rallies as ETF inflows &amp;amp; hit record</title>
<link>http://mirror.test/a</link><guid>mirror-a</guid></item>"""


def rss(*items: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            "<title>Crypto &amp; Markets Wire</title><link>http://news.test/</link><description>d</description>"
            + "".join(items) + "</channel></rss>")


class FeedServer:
    """A local HTTP server whose one feed answer (status, body) the test sets."""

    def __init__(self):
        self.status, self.body, self.hits = 200, rss(ITEM_A, ITEM_B), 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                server.hits += 1
                data = server.body.encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/feed.xml"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def feed_server():
    server = FeedServer()
    yield server
    server.close()


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


def test_plain_text_strips_tags_and_entities():
    assert plain_text("<b>Bitcoin</b>  rallies &amp; <i>holds</i>") == "Bitcoin rallies & holds"
    assert plain_text("BTC < 50k & falling", is_html=False) == "BTC < 50k & falling"


def test_rss_over_http_becomes_news_items(feed_server):
    reader = NewsFeedReader([feed_server.url], 300, start=False)
    assert reader.poll_once() == 2
    items = reader.drain()
    assert [item.title for item in items] == ["Bitcoin rallies as ETF inflows & hit record",
                                              "Ether < 3000? Analysts split"]
    first = items[0]
    assert first.ts == calendar.timegm((2026, 2, 3, 10, 0, 0))
    assert first.source == "Crypto & Markets Wire"
    assert first.url == "http://news.test/a"
    assert first.symbols == ()  # tagging is the news strategy's job
    assert first.id.startswith("rss-") and first.id != items[1].id
    assert reader.drain() == ()  # drained
    reader.close()


def test_items_are_deduplicated_across_polls(feed_server):
    clock = Clock()
    reader = NewsFeedReader([feed_server.url], 60, start=False, clock=clock)
    assert reader.poll_once() == 2
    reader.drain()
    assert reader.poll_once() == 0  # not due yet: no request
    assert feed_server.hits == 1
    clock.now += 60
    feed_server.body = rss(ITEM_A_AGAIN, ITEM_C, ITEM_A, ITEM_B)
    assert reader.poll_once() == 1
    (item,) = reader.drain()
    assert item.title == "Solana outage & restart"
    assert item.ts == clock.now  # no date in the feed: stamped when read
    reader.close()


def test_a_failing_feed_is_logged_retried_and_never_raises(feed_server, caplog):
    clock = Clock()
    reader = NewsFeedReader([feed_server.url], 300, retry_seconds=30, start=False, clock=clock)
    feed_server.status, feed_server.body = 500, "oops"
    with caplog.at_level(logging.WARNING, logger="bot.market.news_feed"):
        assert reader.poll_once() == 0
    assert "HTTP 500" in caplog.text
    assert reader.status[feed_server.url]["ok"] is False
    assert reader.status[feed_server.url]["failures"] == 1
    feed_server.status, feed_server.body = 200, "<html><body><p>not a feed <<<"
    clock.now += 30  # retried after retry_seconds, not after the full poll interval
    assert reader.poll_once() == 0
    assert "not an RSS/Atom feed" in reader.status[feed_server.url]["error"]
    assert reader.status[feed_server.url]["failures"] == 2
    feed_server.body = rss(ITEM_A)
    clock.now += 30
    assert reader.poll_once() == 1
    assert reader.status[feed_server.url] | {"last_success": None} == {
        "ok": True, "error": "", "failures": 0, "last_success": None, "items": 1}
    reader.close()


def test_feeds_can_be_files_and_a_bad_feed_does_not_stop_the_others(tmp_path):
    missing = tmp_path / "missing.xml"
    garbage = tmp_path / "garbage.xml"
    garbage.write_bytes(b"\x00\x01 this is <<< not xml")
    reader = NewsFeedReader([str(missing), str(garbage), str(DATA / "news_atom.xml")], 300, start=False)
    assert reader.poll_once() == 2
    items = reader.drain()
    assert [item.title for item in items] == ["XRP volume surges", "Ethereum upgrade & fees fall"]  # oldest first
    assert items[1].ts == calendar.timegm((2026, 2, 3, 11, 30, 0))  # published, not updated
    assert items[1].source == "Chain Desk" and items[1].url == "https://chain-desk.test/eth-upgrade"
    assert reader.status[str(missing)]["ok"] is False
    assert reader.status[str(garbage)]["ok"] is False
    reader.close()


def test_background_thread_reads_on_its_own_and_closes_promptly(feed_server):
    # An hour between polls: after the first read the thread waits an hour, so close() ends it
    # only by waking that wait (an Event), never by the wait running out (join gives up at 11 s).
    reader = NewsFeedReader([feed_server.url], 3600.0)
    items = wait_for(reader.drain, timeout=30, what="the background thread's first read")
    assert len(items) == 2
    thread = reader._thread
    reader.close()
    assert not thread.is_alive(), "close() returned with the reader's thread still waiting"
