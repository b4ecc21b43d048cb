"""Telegram: a plain HTTP client of the Bot API, and the long-polling thread that answers commands.

Written on urllib rather than a Telegram framework: the maintained frameworks
(python-telegram-bot, aiogram) are asyncio and would need an event loop inside eventlet's hub,
and the three Bot API methods used here (getMe, getUpdates, sendMessage) are each one POST.
Notifications reach Telegram from NotificationService's background queue (notifications.py);
commands arrive here, on a thread of their own, and go through the engine's command path
(bot/notify/telegram_commands.py). Nothing here runs on the tick path.
"""
from __future__ import annotations

import json
import logging
import random
import threading
import urllib.error
import urllib.request
from typing import Callable

from bot.config_telegram import TelegramConfig

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 4096  # characters Telegram accepts in one message


class TelegramError(Exception):
    """A Bot API call failed; retry says whether trying again may help, retry_after is Telegram's ask."""

    def __init__(self, reason: str, retry: bool, retry_after: float | None = None):
        super().__init__(reason)
        self.retry = retry
        self.retry_after = retry_after


class TelegramClient:
    """The Bot API over HTTPS (or the local fake server in tests): one JSON POST per call."""

    def __init__(self, config: TelegramConfig):
        self.config = config
        self._base = f"{config.api_base_url}/bot{config.bot_token}/"

    def call(self, method: str, params: dict, timeout: float | None = None):
        """POST one method; returns its "result" or raises TelegramError (the token never appears in it)."""
        request = urllib.request.Request(self._base + method, data=json.dumps(params).encode("utf-8"), method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "User-Agent": "paper-trading-bot"})
        wait = self.config.request_timeout_seconds if timeout is None else timeout
        try:
            with urllib.request.urlopen(request, timeout=wait) as response:
                body = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise self._http_error(method, exc) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise TelegramError(f"{method}: {type(exc).__name__}: {getattr(exc, 'reason', exc)}", retry=True) from None
        except ValueError:
            raise TelegramError(f"{method}: the answer is not JSON", retry=True) from None
        if not isinstance(body, dict) or not body.get("ok"):
            raise TelegramError(f"{method}: {body.get('description') if isinstance(body, dict) else body!r}",
                                retry=False)
        return body.get("result")

    @staticmethod
    def _http_error(method: str, exc: urllib.error.HTTPError) -> TelegramError:
        retry_after = None
        description = f"HTTP {exc.code}"
        try:
            body = json.loads(exc.read().decode("utf-8"))
            description = f"HTTP {exc.code}: {body.get('description', '')}".rstrip(": ")
            retry_after = (body.get("parameters") or {}).get("retry_after")
        except (ValueError, AttributeError, OSError):
            pass
        return TelegramError(f"{method}: {description}", retry=exc.code >= 500 or exc.code == 429,
                             retry_after=float(retry_after) if retry_after is not None else None)

    def send_message(self, chat_id: int, text: str) -> None:
        """Send plain text (no markup to escape), cut to Telegram's limit."""
        if len(text) > MESSAGE_LIMIT:
            text = text[:MESSAGE_LIMIT - 2] + " …"
        self.call("sendMessage", {"chat_id": chat_id, "text": text, "disable_web_page_preview": True})

    def get_updates(self, offset: int | None, timeout_seconds: int) -> list[dict]:
        """Long-poll for new messages after `offset` (Telegram then forgets the earlier ones)."""
        params = {"timeout": timeout_seconds, "allowed_updates": ["message"]}
        if offset is not None:
            params["offset"] = offset
        result = self.call("getUpdates", params, timeout=timeout_seconds + self.config.request_timeout_seconds)
        return result if isinstance(result, list) else []


def note_text(note: dict) -> str:
    """A notification as a Telegram message: level, kind, message and when (the note's own time)."""
    marker = {"info": "ℹ️", "success": "✅", "warning": "⚠️", "error": "❌"}.get(note.get("level"), "•")
    kind = str(note.get("kind", "")).replace("_", " ")
    return f"{marker} {note.get('message', '')}\n{kind} · {note.get('ts', '')} (wall clock, UTC)"


class TelegramPoller:
    """Long-polls getUpdates on a thread of its own and hands each message to `answer`.

    answer(chat_id, text) returns the reply text, or None for no reply. Only messages from
    config.chat_ids are answered; another chat is logged once and ignored. A failed poll waits
    with doubling backoff and jitter (up to max_backoff_seconds) and tries again, for ever.
    """

    def __init__(self, config: TelegramConfig, answer: Callable[[int, str], str | None],
                 client: TelegramClient | None = None, on_event: Callable[[str, dict], None] | None = None):
        self.config = config
        self.client = client or TelegramClient(config)
        self._answer = answer
        self._on_event = on_event
        self._allowed = frozenset(config.chat_ids)
        self._ignored_chats: set[int] = set()
        self._offset: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = {"polls": 0, "poll_failures": 0, "commands": 0, "answers_failed": 0, "ignored": 0}

    def start(self) -> None:
        """Begin polling in the background."""
        self._thread = threading.Thread(target=self._run, name="telegram-commands", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to end; a long poll in progress ends at its own timeout at the latest."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def _run(self) -> None:
        delay = self.config.backoff_seconds
        failing = False
        while not self._stop.is_set():
            try:
                updates = self.client.get_updates(self._offset, self.config.poll_timeout_seconds)
            except TelegramError as exc:
                self.stats["poll_failures"] += 1
                if not failing:
                    log.warning("telegram: polling failed (%s); retrying with backoff", exc)
                    self._event("telegram_poll_failed", {"error": str(exc)})
                failing = True
                wait = exc.retry_after if exc.retry_after is not None else delay * (1.0 + random.random() * 0.25)
                delay = min(delay * 2.0, self.config.max_backoff_seconds)
                self._stop.wait(wait)
                continue
            except Exception:  # noqa: BLE001 - the poller must outlive any surprise
                self.stats["poll_failures"] += 1
                log.exception("telegram: polling raised")
                self._stop.wait(delay)
                continue
            if failing:
                log.info("telegram: polling works again")
                self._event("telegram_poll_recovered", {})
            failing = False
            delay = self.config.backoff_seconds
            self.stats["polls"] += 1
            for update in updates:
                self._handle(update)

    def _handle(self, update: dict) -> None:
        update_id = update.get("update_id")
        if isinstance(update_id, int):
            self._offset = update_id + 1  # acknowledged, even if answering fails below
        message = update.get("message") or {}
        chat_id = (message.get("chat") or {}).get("id")
        text = message.get("text")
        if not isinstance(chat_id, int) or not isinstance(text, str):
            return
        if chat_id not in self._allowed:
            self.stats["ignored"] += 1
            if chat_id not in self._ignored_chats:
                self._ignored_chats.add(chat_id)
                log.warning("telegram: a message from chat %s, which is not in notifications.telegram.chat_ids; "
                            "ignored (logged once per chat)", chat_id)
                self._event("telegram_chat_refused", {"chat_id": chat_id})
            return
        self.stats["commands"] += 1
        try:
            reply = self._answer(chat_id, text)
        except Exception as exc:  # noqa: BLE001 - one bad command must not stop the poller
            log.exception("telegram: answering %r failed", text[:40])
            reply = f"That failed: {exc}"
        if reply:
            try:
                self.client.send_message(chat_id, reply)
            except TelegramError as exc:
                self.stats["answers_failed"] += 1
                log.warning("telegram: could not answer chat %s: %s", chat_id, exc)

    def _event(self, name: str, fields: dict) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(name, fields)
        except Exception:  # noqa: BLE001 - reporting must not stop the poller
            log.exception("telegram: recording %s failed", name)
