"""Waiting for a condition in tests: poll with a deadline, never a bare sleep standing in for it."""
from __future__ import annotations

import time


def wait_for(condition, timeout: float = 30.0, what: str = "condition", interval: float = 0.02):
    """condition()'s first truthy value, polled every interval; AssertionError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def http_ok(url: str) -> bool:
    """True when GET url answers 200 within a second (a wait_for condition for a server starting)."""
    import requests

    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False
