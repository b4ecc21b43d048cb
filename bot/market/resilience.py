"""How market data reads fail and recover: error kinds, retry with backoff, circuit breaker.

Nothing here knows ccxt: bot/market/live.py translates ccxt's exceptions into the two kinds
below, and uses the retry and the breaker around every read. Sleep, randomness and the clock
are injectable so tests can replay a schedule without waiting for it.
"""
from __future__ import annotations

import random as _random
import threading
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

T = TypeVar("T")


class MarketError(Exception):
    """A market data read failed. reason is the short cause the dashboard shows."""

    def __init__(self, message: str, *, exchange: str = "", reason: str = ""):
        super().__init__(message)
        self.exchange = exchange
        self.reason = reason or message


class TemporaryMarketError(MarketError):
    """Worth retrying: network trouble, time-outs, maintenance, rate limits, malformed answers."""

    def __init__(self, message: str, *, exchange: str = "", reason: str = "", rate_limited: bool = False):
        super().__init__(message, exchange=exchange, reason=reason)
        self.rate_limited = rate_limited


class PermanentMarketError(MarketError):
    """Retrying the same call will not help: unknown symbol, not supported, authentication, bad request."""


class UnknownSymbolError(PermanentMarketError):
    """The exchange does not know (or no longer lists) a symbol; the caller drops that symbol."""

    def __init__(self, message: str, *, exchange: str = "", symbol: str = "", reason: str = ""):
        super().__init__(message, exchange=exchange, reason=reason)
        self.symbol = symbol


class MarketUnavailableError(TemporaryMarketError):
    """No configured exchange could be reached at start."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """retries after the first attempt; delays double from base_seconds up to max_seconds.

    Rate-limit answers (HTTP 429/418) start from rate_limit_seconds instead, since hammering a
    limit is how a temporary ban becomes a long one.
    """

    retries: int = 3
    base_seconds: float = 0.5
    max_seconds: float = 30.0
    rate_limit_seconds: float = 10.0

    def delay(self, retry_index: int, rate_limited: bool, random: Callable[[], float] = _random.random) -> float:
        """Seconds to wait before retry number retry_index + 1 (equal jitter: half fixed, half random)."""
        base = self.rate_limit_seconds if rate_limited else self.base_seconds
        ceiling = max(self.max_seconds, base)
        full = min(ceiling, base * (2.0 ** retry_index))
        return full * (0.5 + 0.5 * random())


def call_with_retry(fn: Callable[[], T], policy: RetryPolicy, *, sleep: Callable[[float], object] = time.sleep,
                    random: Callable[[], float] = _random.random,
                    on_retry: Callable[[TemporaryMarketError, int, float], None] | None = None) -> T:
    """fn(), retried on TemporaryMarketError with exponential backoff; other errors pass through.

    sleep may return True to abandon the remaining retries (threading.Event.wait does that when
    a stop was requested); the last error is raised then.
    """
    retry = 0
    while True:
        try:
            return fn()
        except TemporaryMarketError as exc:
            if retry >= policy.retries:
                raise
            delay = policy.delay(retry, exc.rate_limited, random)
            retry += 1
            if on_retry is not None:
                on_retry(exc, retry, delay)
            if sleep(delay) is True:
                raise


CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    """Stops calling a failing exchange for a while, then lets one probe through.

    closed: calls go through; `failure_threshold` consecutive failures open it.
    open: calls are refused for `cooldown_seconds`, then the next allow() turns it half-open.
    half_open: one probe; success closes it, failure opens it again for another cooldown.
    on_transition(old, new, reason) is called on every change, outside the breaker's lock.
    """

    def __init__(self, failure_threshold: int, cooldown_seconds: float, *,
                 clock: Callable[[], float] = time.monotonic,
                 on_transition: Callable[[str, str, str], None] | None = None):
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1 (got {failure_threshold})")
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = float(cooldown_seconds)
        self._clock = clock
        self._on_transition = on_transition
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self.last_failure = ""

    @property
    def state(self) -> str:
        """closed, open or half_open."""
        return self._state

    @property
    def consecutive_failures(self) -> int:
        """Failures since the last success."""
        return self._failures

    def seconds_until_probe(self) -> float:
        """0 unless open; then how long the cooldown still runs."""
        if self._state != OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.cooldown_seconds - self._clock())

    def allow(self) -> bool:
        """May a call go out now? Turns an open breaker half-open once its cooldown is over."""
        changes = []
        with self._lock:
            if self._state == CLOSED:
                allowed = True
            elif self._state == OPEN:
                allowed = self._clock() - self._opened_at >= self.cooldown_seconds
                if allowed:
                    changes.append(self._set(HALF_OPEN, f"probing after {self.cooldown_seconds:g}s cooldown"))
                    self._probing = True
            else:
                allowed = not self._probing
                self._probing = True
        self._notify(changes)
        return allowed

    def record_success(self) -> None:
        """A call succeeded: the failure count restarts and a probing breaker closes."""
        changes = []
        with self._lock:
            self._failures = 0
            self._probing = False
            if self._state != CLOSED:
                changes.append(self._set(CLOSED, "probe succeeded" if self._state == HALF_OPEN else "success"))
        self._notify(changes)

    def record_failure(self, reason: str) -> None:
        """A call failed: enough in a row (or a failed probe) open the breaker."""
        changes = []
        with self._lock:
            self._failures += 1
            self.last_failure = reason
            self._probing = False
            if self._state == HALF_OPEN:
                self._opened_at = self._clock()
                changes.append(self._set(OPEN, f"probe failed: {reason}"))
            elif self._state == CLOSED and self._failures >= self.failure_threshold:
                self._opened_at = self._clock()
                changes.append(self._set(OPEN, f"{self._failures} consecutive failures: {reason}"))
        self._notify(changes)

    def _set(self, state: str, reason: str) -> tuple[str, str, str]:
        old, self._state = self._state, state
        return old, state, reason

    def _notify(self, changes: list[tuple[str, str, str]]) -> None:
        if self._on_transition is not None:
            for old, new, reason in changes:
                self._on_transition(old, new, reason)
