"""NotificationService: every notification to the dashboards at once, to logs/notifications.jsonl,
and, when configured, to a webhook and to Telegram chats from one background queue that never
blocks the tick loop.

The webhook body carries both "text" (Slack-style) and "content" (Discord-style) so either kind
of incoming webhook accepts it. 5xx, 429 and no answer are retried with doubling backoff; other
4xx are not. A dead webhook is logged and counted, never fatal. Telegram (bot/notify/telegram.py)
gets the same notes from the same queue, one message per allowed chat, with Telegram's own
retry_after honoured on a 429.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path
from typing import Callable

from bot.config import NOTIFICATION_KINDS, NotificationsConfig
from bot.timestamps import iso_utc
from bot.notify.telegram import TelegramClient, TelegramError, note_text
from bot.storage import JsonlWriter, StorageError

log = logging.getLogger(__name__)

LEVELS = ("info", "success", "warning", "error")
NOTIFICATIONS_FILE = "notifications.jsonl"
_EMOJI = {"info": "i", "success": "+", "warning": "!", "error": "x"}


class NotificationService:
    """Fans notifications out; rate-limited per kind; webhook delivery in the background."""

    def __init__(self, config: NotificationsConfig, log_dir: str | Path,
                 emit: Callable[[dict], None] | None = None, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] | None = None):
        self.config = config
        self.emit = emit
        self.clock = clock
        self._writer = JsonlWriter(Path(log_dir) / NOTIFICATIONS_FILE, fsync=False)
        self._recent_by_kind: dict[str, deque[float]] = {}
        self.history: deque[dict] = deque(maxlen=config.history_size)
        self.stats = {"sent": 0, "suppressed": 0, "disabled": 0, "webhook_sent": 0, "webhook_failed": 0,
                      "webhook_retries": 0, "webhook_dropped": 0, "log_failed": 0,
                      "telegram_sent": 0, "telegram_failed": 0, "telegram_retries": 0}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._queue: queue.Queue | None = None
        self._worker: threading.Thread | None = None
        self._sequence = 0
        self._telegram = TelegramClient(config.telegram) if config.telegram.enabled else None
        if config.webhook_url or self._telegram is not None:
            self._queue = queue.Queue(maxsize=config.webhook_queue_size)
            self._worker = threading.Thread(target=self._deliver_loop, name="notify-delivery", daemon=True)
            self._worker.start()

    def notify(self, kind: str, message: str, level: str = "info", must_log: bool = False, **data) -> dict | None:
        """Send one notification; returns it, or None if switched off or rate-limited.

        must_log (a user's command): a note the log file refuses raises and changes nothing;
        otherwise (the engine's own notes, a storage fault among them) it is counted and still sent.
        """
        return self._send(kind, level, must_log, lambda: (message, data))

    def notify_composed(self, kind: str, compose: Callable[[], tuple[str, dict]], level: str = "info") -> dict | None:
        """notify(kind, message, level, **fields) with (message, fields) = compose(), called only once
        the note is sure to go out: a switched-off or rate-limited one costs no formatting."""
        return self._send(kind, level, False, compose)

    def _send(self, kind: str, level: str, must_log: bool, compose: Callable[[], tuple[str, dict]]) -> dict | None:
        if kind not in NOTIFICATION_KINDS:
            raise ValueError(f"unknown notification kind {kind!r}")
        if level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)} (got {level!r})")
        with self._lock:
            if not self.config.kinds.get(kind, True):
                self.stats["disabled"] += 1
                return None
            now = self.clock()
            recent = self._recent_by_kind.get(kind)
            if recent is None:  # (not setdefault: that builds a deque on every note)
                recent = self._recent_by_kind[kind] = deque()
            while recent and now - recent[0] >= 60.0:
                recent.popleft()
            if len(recent) >= self.config.rate_limit_per_minute:
                self.stats["suppressed"] += 1
                return None
            message, data = compose()
            note = {"id": f"N{int(now * 1000)}-{self._sequence + 1}", "ts": iso_utc(now), "kind": kind,
                    "level": level, "message": message, **data}
            try:
                self._writer.append(note)
            except (StorageError, ValueError) as exc:
                if must_log:
                    raise  # first: a note the log refused changes nothing here
                # A full disk must not stop the dashboards hearing of it (the storage fault above all).
                self.stats["log_failed"] += 1
                if self.stats["log_failed"] == 1 or self.stats["log_failed"] % 100 == 0:
                    log.error("notifications log: %s (%d lost so far)", exc, self.stats["log_failed"])
            recent.append(now)
            self._sequence += 1
            self.history.append(note)
            self.stats["sent"] += 1
        if self.emit is not None:
            try:
                self.emit(note)
            except Exception:  # noqa: BLE001 - a dashboard problem must not stop notifications
                log.exception("notification listener failed")
        if self._queue is not None:
            self._enqueue(note)
        return note

    def _enqueue(self, note: dict) -> None:
        while True:
            try:
                self._queue.put_nowait(note)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()  # the oldest waiting notification makes room
                    self.stats["webhook_dropped"] += 1
                except queue.Empty:
                    pass

    # ----- webhook delivery (background thread) -------------------------------------------------
    def webhook_body(self, note: dict) -> bytes:
        """The JSON posted to the webhook: text for Slack, content for Discord, and the note's fields."""
        text = f"[{_EMOJI[note['level']]}] {note['message']}"
        body = {"text": text, "content": text, "kind": note["kind"], "level": note["level"], "ts": note["ts"],
                "id": note["id"]}
        return json.dumps(body).encode("utf-8")

    def _deliver_loop(self) -> None:
        while not self._stop.is_set():
            try:
                note = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if note is None:
                break
            if self.config.webhook_url:
                self._deliver(note)
            if self._telegram is not None:
                for chat_id in self.config.telegram.chat_ids:
                    self._deliver_telegram(note, chat_id)

    def _deliver(self, note: dict) -> bool:
        url = self.config.webhook_url
        delay = self.config.webhook_backoff_seconds
        for attempt in range(self.config.webhook_retries + 1):
            if attempt:
                self.stats["webhook_retries"] += 1
                self._sleep(delay)
                delay *= 2
                if self._stop.is_set():
                    break
            request = urllib.request.Request(url, data=self.webhook_body(note), method="POST",
                                             headers={"Content-Type": "application/json",
                                                      "User-Agent": "paper-trading-bot"})
            try:
                with urllib.request.urlopen(request, timeout=self.config.webhook_timeout_seconds) as response:
                    response.read()
                self.stats["webhook_sent"] += 1
                return True
            except urllib.error.HTTPError as exc:
                retry = exc.code >= 500 or exc.code == 429
                reason = f"HTTP {exc.code}"
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                retry = True
                reason = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
            log.warning("webhook delivery of %s failed (attempt %d): %s", note["id"], attempt + 1, reason)
            if not retry:
                break
        self.stats["webhook_failed"] += 1
        log.error("webhook gave up on notification %s after %d attempt(s)", note["id"], attempt + 1)
        return False

    def _deliver_telegram(self, note: dict, chat_id: int) -> bool:
        settings = self.config.telegram
        delay = settings.backoff_seconds
        for attempt in range(settings.retries + 1):
            try:
                self._telegram.send_message(chat_id, note_text(note))
                self.stats["telegram_sent"] += 1
                return True
            except TelegramError as exc:
                log.warning("telegram delivery of %s to chat %s failed (attempt %d): %s", note["id"], chat_id,
                            attempt + 1, exc)
                if not exc.retry or attempt == settings.retries or self._stop.is_set():
                    break
                wait = min(exc.retry_after if exc.retry_after is not None else delay, settings.max_backoff_seconds)
                self.stats["telegram_retries"] += 1
                self._sleep(wait)
                delay *= 2
        self.stats["telegram_failed"] += 1
        log.error("telegram gave up on notification %s for chat %s after %d attempt(s)", note["id"], chat_id,
                  attempt + 1)
        return False

    def pending(self) -> int:
        """Notifications queued for the webhook and not yet delivered."""
        return self._queue.qsize() if self._queue is not None else 0

    def close(self, timeout: float = 2.0) -> None:
        """Stop the webhook worker (waiting briefly for what is queued) and close the log."""
        if self._worker is not None:
            deadline = time.monotonic() + timeout
            while self.pending() and time.monotonic() < deadline:
                time.sleep(0.02)
            self._stop.set()
            self._queue.put(None) if not self._queue.full() else None
            self._worker.join(timeout=timeout)
            self._worker = None
        self._writer.close()
