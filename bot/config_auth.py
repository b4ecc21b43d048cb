"""dashboard.* settings for remote access: session lifetime, failed-login limits, /metrics,
the reverse proxies trusted for the client address and scheme, and direct TLS.

DashboardConfig (bot/config.py) inherits these fields, so they read as dashboard.<key>.
"""
from __future__ import annotations

from limits import parse_many
from pydantic import Field, field_validator, model_validator

from bot.config_base import ConfigModel

# Per client address, counted on failed logins only: 5 a minute, then 10 per quarter hour,
# 20 an hour, 50 a day. Each tier passed waits longer (the growing delay).
DEFAULT_LOGIN_LIMITS = "5 per minute; 10 per 15 minutes; 20 per hour; 50 per day"


class DashboardAccessConfig(ConfigModel):
    """The dashboard's login and exposure settings (what each protects: README, Security note)."""

    session_hours: float = Field(12.0, gt=0, le=24 * 90)
    login_limits: str = DEFAULT_LOGIN_LIMITS
    # With a password set, /metrics needs a session or token too unless this is true.
    metrics_public: bool = False
    # How many reverse proxies in front set X-Forwarded-For/-Proto/-Host/-Port (0: none, and
    # those headers are ignored, so nobody can fake an address or HTTPS).
    trusted_proxies: int = Field(0, ge=0, le=5)
    tls_cert: str | None = None
    tls_key: str | None = None

    @field_validator("login_limits")
    @classmethod
    def _limits(cls, value: str) -> str:
        try:
            if not parse_many(value):
                raise ValueError("empty")
        except ValueError:
            raise ValueError(f"must be rate limits such as {DEFAULT_LOGIN_LIMITS!r} (got {value!r})") from None
        return value

    @model_validator(mode="after")
    def _tls_pair(self):
        if bool(self.tls_cert) != bool(self.tls_key):
            missing = "tls_key" if self.tls_cert else "tls_cert"
            raise ValueError(f"{missing}: tls_cert and tls_key go together (set both or neither)")
        return self
