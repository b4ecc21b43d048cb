"""Headlines from RSS/Atom feeds, read on a slow schedule in a background thread.

Each feed is a URL (fetched with a time-out) or a file path. Items are deduplicated by id,
link and title, turned into NewsItems with plain-text titles, and handed out by drain(),
which never waits on the network. A failing feed is logged, retried later and skipped
meanwhile; symbol tagging is left to the news strategy.
"""
from __future__ import annotations

import calendar
import hashlib
import html
import logging
import re
import threading
import time
from collections import deque
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import urlparse

import feedparser
import requests

from bot.models import NewsItem

log = logging.getLogger(__name__)

USER_AGENT = "paper-trading-bot/1 (+news reader)"
SEEN_KEYS_KEPT = 20_000
PENDING_ITEMS_KEPT = 2_000
HTML_TYPES = ("text/html", "application/xhtml+xml")


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(text: str, is_html: bool = True) -> str:
    """Text of an HTML fragment (tags dropped, entities resolved, whitespace collapsed)."""
    if is_html and "<" in text:
        extractor = _TextExtractor()
        extractor.feed(text)
        extractor.close()
        text = " ".join(extractor.parts)
    text = html.unescape(text)
    return re.sub(r"\s+", " ", text).strip()


class FeedError(Exception):
    """A feed could not be read or is not a feed."""


class NewsFeedReader:
    """Polls feeds every poll_seconds (failed ones after retry_seconds) and queues new headlines."""

    def __init__(self, feeds: Iterable[str], poll_seconds: float = 300.0, *, timeout_seconds: float = 10.0,
                 retry_seconds: float | None = None, start: bool = True, clock: Callable[[], float] = time.time):
        self.feeds = tuple(feeds)
        self.poll_seconds = float(poll_seconds)
        self.retry_seconds = float(retry_seconds if retry_seconds is not None else min(self.poll_seconds, 60.0))
        self.timeout_seconds = float(timeout_seconds)
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: deque[NewsItem] = deque(maxlen=PENDING_ITEMS_KEPT)
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()
        self._next_due = {feed: 0.0 for feed in self.feeds}
        self.status = {feed: {"ok": None, "error": "", "failures": 0, "last_success": None, "items": 0}
                       for feed in self.feeds}
        self._stop = threading.Event()
        self._session = requests.Session()
        self._thread: threading.Thread | None = None
        if start and self.feeds:
            self._thread = threading.Thread(target=self._run, name="news-feeds", daemon=True)
            self._thread.start()

    # ---- reading -----------------------------------------------------------------------------
    def drain(self) -> tuple[NewsItem, ...]:
        """Headlines that arrived since the last call, oldest first."""
        with self._lock:
            items = tuple(self._pending)
            self._pending.clear()
        return items

    def poll_once(self, force: bool = False) -> int:
        """Read every feed that is due (all of them with force); returns how many new items came."""
        added = 0
        for feed in self.feeds:
            if self._stop.is_set():
                break
            if force or self._clock() >= self._next_due[feed]:
                added += self._poll_feed(feed)
        return added

    def close(self) -> None:
        """Stop the background thread (it waits on an Event, so this is prompt)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_seconds + 1.0)
            self._thread = None
        self._session.close()

    # ---- internals ---------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # noqa: BLE001 - the reader must outlive any surprise in a feed
                log.exception("news feed poll failed")
            now = self._clock()
            wake = min(self._next_due.values(), default=now + self.poll_seconds)
            self._stop.wait(max(0.2, wake - now))

    def _poll_feed(self, feed: str) -> int:
        status = self.status[feed]
        try:
            parsed = self._parse(feed)
            items = self._items(feed, parsed)
        except FeedError as exc:
            status["failures"] += 1
            status["ok"], status["error"] = False, str(exc)
            self._next_due[feed] = self._clock() + self.retry_seconds
            level = logging.WARNING if status["failures"] == 1 or status["failures"] % 20 == 0 else logging.DEBUG
            log.log(level, "news feed %s failed (%d in a row, retrying in %gs): %s",
                    feed, status["failures"], self.retry_seconds, exc)
            return 0
        if status["failures"]:
            log.info("news feed %s recovered after %d failures", feed, status["failures"])
        status.update(ok=True, error="", failures=0, last_success=self._clock())
        self._next_due[feed] = self._clock() + self.poll_seconds
        new = []
        with self._lock:
            for keys, item in items:
                if any(key in self._seen for key in keys):
                    continue
                for key in keys:
                    self._remember(key)
                new.append(item)
            new.sort(key=lambda item: item.ts)
            self._pending.extend(new)
        status["items"] += len(new)
        return len(new)

    def _remember(self, key: str) -> None:
        self._seen.add(key)
        self._seen_order.append(key)
        while len(self._seen_order) > SEEN_KEYS_KEPT:
            self._seen.discard(self._seen_order.popleft())

    def _parse(self, feed: str):
        scheme = urlparse(feed).scheme.lower()
        try:
            if scheme in ("http", "https"):
                response = self._session.get(feed, timeout=self.timeout_seconds,
                                             headers={"User-Agent": USER_AGENT})
                if response.status_code != 200:
                    raise FeedError(f"HTTP {response.status_code}")
                content = response.content
                headers = {"content-type": response.headers.get("Content-Type", "")}
            else:
                path = Path(feed[len("file://"):] if scheme == "file" else feed)
                content, headers = path.read_bytes(), {}
        except requests.RequestException as exc:
            raise FeedError(f"{type(exc).__name__}: {exc}") from None
        except OSError as exc:
            raise FeedError(f"cannot read {feed}: {exc.strerror or exc}") from None
        parsed = feedparser.parse(content, response_headers=headers)
        if not parsed.entries and (parsed.bozo or not parsed.get("version")):
            problem = parsed.get("bozo_exception")
            raise FeedError(f"not an RSS/Atom feed ({problem or 'no entries'})")
        return parsed

    def _items(self, feed: str, parsed) -> list[tuple[tuple[str, ...], NewsItem]]:
        """(dedup keys, item) per usable entry."""
        source = plain_text(parsed.feed.get("title", "")) or urlparse(feed).netloc or Path(feed).name
        now = self._clock()
        out = []
        for entry in parsed.entries:
            detail = entry.get("title_detail") or {}
            title = plain_text(entry.get("title", ""), is_html=detail.get("type", "text/html") in HTML_TYPES)
            if not title:
                continue
            link = entry.get("link", "") or ""
            entry_id = entry.get("id", "") or ""
            keys = tuple(k for k in (f"id:{entry_id}" if entry_id else "", f"link:{link}" if link else "",
                                     "title:" + hashlib.sha1(title.lower().encode()).hexdigest()) if k)
            stamp = entry.get("published_parsed") or entry.get("updated_parsed")
            ts = float(calendar.timegm(stamp)) if stamp else now
            digest = hashlib.sha1((entry_id or link or title).encode()).hexdigest()[:16]
            out.append((keys, NewsItem(id=f"rss-{digest}", ts=ts, title=title, source=source, url=link)))
        return out
