"""notifications.telegram: the Telegram bot that sends notifications and answers commands."""
from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from bot.config_base import ConfigModel

# What BotFather hands out: "<bot id>:<secret>".
TOKEN_PATTERN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")
DEFAULT_API_BASE_URL = "https://api.telegram.org"


class TelegramConfig(ConfigModel):
    """notifications.telegram: bot token, the chats it talks to, and how it reaches the Bot API."""

    bot_token: str | None = None
    # Only these chats get notifications, and only their commands are answered.
    chat_ids: list[int] = Field(default_factory=list, max_length=100)
    # Answer /status, /pause... from the allowed chats (notifications are sent either way).
    commands: bool = True
    # The Bot API's address: the tests point it at a local fake server.
    api_base_url: str = DEFAULT_API_BASE_URL
    # getUpdates long-poll length; the answer comes at once when a message arrives.
    poll_timeout_seconds: int = Field(25, ge=0, le=50)
    # One HTTP request's limit beyond the long poll.
    request_timeout_seconds: float = Field(10.0, gt=0, le=120)
    # A notification Telegram refused with a 5xx, 429 or no answer is tried again this many times.
    retries: int = Field(3, ge=0, le=10)
    # After a failed poll or send: wait this long, doubling up to max_backoff_seconds, then start again.
    backoff_seconds: float = Field(1.0, gt=0, le=300)
    max_backoff_seconds: float = Field(60.0, gt=0, le=3600)
    # /stop waits this long for "/stop confirm".
    confirm_seconds: float = Field(60.0, gt=0, le=3600)

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: str | None) -> str | None:
        if value is not None and not TOKEN_PATTERN.match(value):
            raise ValueError("must look like '123456789:AA...' (the token BotFather gave you)")
        return value

    @field_validator("api_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http:// or https:// URL (got {value!r})")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _chats_with_token(self) -> "TelegramConfig":
        if self.bot_token and not self.chat_ids:
            raise ValueError("chat_ids: name at least one chat when bot_token is set (send /start to the bot, "
                             "then read your chat id from https://api.telegram.org/bot<token>/getUpdates)")
        if self.max_backoff_seconds < self.backoff_seconds:
            raise ValueError(f"max_backoff_seconds: must be >= backoff_seconds (got {self.max_backoff_seconds:g} < "
                             f"{self.backoff_seconds:g})")
        return self

    @property
    def enabled(self) -> bool:
        """A token and at least one chat: the bot is on."""
        return bool(self.bot_token and self.chat_ids)
