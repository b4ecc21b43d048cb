"""FaultTracker: the engine's contained failures, counted and reported, and what health says of them.

Three kinds: a tick that raised (the real-time loop goes on), a storage fault (a write under
the data dir failed; trading pauses until a probe write succeeds), and a failure of per-tick
side work (alerts, equity marks, notifications, listeners), which is counted like a strategy
error while the strategies still run. Reports follow the strategy rule: the first with a
traceback, then one line every 100th, each with an activity record.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from itertools import repeat
from typing import Callable

from bot.storage import StorageError

log = logging.getLogger(__name__)

SIDE_PARTS = ("alerts", "equity", "notifications", "listeners", "misses", "impact", "books")  # books: transfers, margin
RECENT_TICKS = 100  # health looks at this many of the latest ticks
PROBE_SECONDS = 1.0  # wall seconds between probe writes while storage is failing
STORAGE_REASON_PREFIX = "storage: "


def storage_reason(exc: BaseException) -> str:
    """The pause reason for a storage fault: 'storage: No space left on device'."""
    cause = getattr(exc, "cause", None) or getattr(exc, "strerror", None) or str(exc)
    return f"{STORAGE_REASON_PREFIX}{cause}"


def _reported(count: int) -> bool:
    return count == 1 or count % 100 == 0


class FaultTracker:
    """Counters and the current storage fault; record(event, **fields) writes activity records."""

    def __init__(self, record: Callable[..., object], clock: Callable[[], float] = time.monotonic):
        self.record = record
        self.clock = clock
        self.tick_errors = 0
        self.last_tick_error = ""
        self._recent_ticks: deque[bool] = deque(maxlen=RECENT_TICKS)  # True: the tick failed
        self.storage_errors = 0
        self.storage_fault: dict | None = None
        self.side_errors = {part: 0 for part in SIDE_PARTS}
        self.last_side_error = {part: "" for part in SIDE_PARTS}
        self.on_storage_error: Callable[[StorageError], None] | None = None
        self._next_probe = 0.0

    # ----- side work ------------------------------------------------------------------------
    def guard(self, part: str, work: Callable, *args, default=None):
        """work(*args), or default when it raises (the failure is counted and reported as part's)."""
        try:
            return work(*args)
        except Exception as exc:  # noqa: BLE001 - side work must never stop the tick
            self.side_failed(part, exc)
            return default

    def side_failed(self, part: str, exc: BaseException) -> None:
        """Count one failure of part; report the first and every 100th."""
        self.side_errors[part] = self.side_errors.get(part, 0) + 1
        count = self.side_errors[part]
        message = f"{type(exc).__name__}: {exc}"
        self.last_side_error[part] = message
        if _reported(count):
            if count == 1:
                log.error("%s failed (tick work goes on)", part, exc_info=exc)
            else:
                log.error("%s has failed %d times; last: %s", part, count, message)
            self.record("errors", kind=part, message=message, count=count)
        if isinstance(exc, StorageError) and self.on_storage_error is not None:
            self.on_storage_error(exc)

    # ----- ticks ----------------------------------------------------------------------------
    def tick_succeeded(self) -> None:
        """Count a tick that ran without raising (health looks at the last ticks)."""
        self._recent_ticks.append(False)

    def ticks_succeeded(self, count: int) -> None:
        """tick_succeeded `count` times (a fast-forwarded stretch's ticks)."""
        self._recent_ticks.extend(repeat(False, min(count, RECENT_TICKS)))

    def tick_failed(self, exc: BaseException) -> None:
        """Count one failed tick; report the first and every 100th."""
        self.tick_errors += 1
        self._recent_ticks.append(True)
        self.last_tick_error = f"{type(exc).__name__}: {exc}"
        if _reported(self.tick_errors):
            if self.tick_errors == 1:
                log.error("tick failed (the next one runs)", exc_info=exc)
            else:
                log.error("%d ticks have failed; last: %s", self.tick_errors, self.last_tick_error)
            self.record("errors", kind="tick", message=self.last_tick_error, count=self.tick_errors)

    def recent_tick_failures(self) -> int:
        """How many of the latest RECENT_TICKS ticks failed."""
        return sum(self._recent_ticks)

    # ----- storage --------------------------------------------------------------------------
    def storage_failed(self, exc: BaseException) -> bool:
        """Count a storage error; True when it starts a fault (the engine then pauses and tells)."""
        self.storage_errors += 1
        self._next_probe = self.clock() + PROBE_SECONDS
        if self.storage_fault is not None:
            if _reported(self.storage_errors):
                log.error("storage still failing (%d errors): %s", self.storage_errors, exc)
            return False
        self.storage_fault = {"reason": storage_reason(exc), "error": str(exc), "since": time.time(),
                              "errors_at_start": self.storage_errors}
        log.error("storage failed, trading pauses until a probe write succeeds: %s", exc)
        self.record("errors", kind="storage", message=str(exc), count=self.storage_errors)
        return True

    def probe_due(self) -> bool:
        """True at most once per PROBE_SECONDS of wall time while a storage fault lasts."""
        if self.storage_fault is None:
            return False
        now = self.clock()
        if now < self._next_probe:
            return False
        self._next_probe = now + PROBE_SECONDS
        return True

    def storage_recovered(self) -> dict | None:
        """End the fault; returns what it was."""
        fault, self.storage_fault = self.storage_fault, None
        if fault is not None:
            lasted = time.time() - fault["since"]
            log.warning("storage writable again after %.1fs (%s)", lasted, fault["error"])
            self.record("storage_recovered", reason=fault["reason"], seconds=round(lasted, 3),
                        errors=self.storage_errors - fault["errors_at_start"] + 1)
        return fault

    def counters(self) -> dict:
        """Every counter, for health, status and metrics."""
        return {"tick_errors": self.tick_errors, "recent_tick_failures": self.recent_tick_failures(),
                "last_tick_error": self.last_tick_error, "storage_errors": self.storage_errors,
                "side_errors": dict(self.side_errors)}
