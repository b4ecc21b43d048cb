"""Retry with backoff and the circuit breaker, on injected sleep, randomness and clock."""
from __future__ import annotations

import pytest

from bot.market.resilience import (CLOSED, HALF_OPEN, OPEN, CircuitBreaker, PermanentMarketError, RetryPolicy,
                                   TemporaryMarketError, call_with_retry)


class Flaky:
    """Fails with the given errors in order, then returns 'ok'."""

    def __init__(self, *errors):
        self.errors = list(errors)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def temporary(rate_limited=False):
    return TemporaryMarketError("boom", exchange="x", reason="tickers: timed out", rate_limited=rate_limited)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


# ---- retry -----------------------------------------------------------------------------------
def test_delays_double_up_to_the_cap_with_equal_jitter():
    policy = RetryPolicy(retries=6, base_seconds=0.5, max_seconds=4.0, rate_limit_seconds=10.0)
    assert [policy.delay(i, False, lambda: 1.0) for i in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    # Jitter takes away at most half, never adds.
    assert [policy.delay(i, False, lambda: 0.0) for i in range(4)] == [0.25, 0.5, 1.0, 2.0]
    assert policy.delay(1, False, lambda: 0.5) == pytest.approx(0.75)


def test_rate_limits_back_off_longer_from_their_own_base():
    policy = RetryPolicy(retries=3, base_seconds=0.5, max_seconds=30.0, rate_limit_seconds=10.0)
    assert [policy.delay(i, True, lambda: 1.0) for i in range(3)] == [10.0, 20.0, 30.0]
    # A rate-limit base above the cap is still honoured (never shorter than the base).
    tight = RetryPolicy(retries=3, base_seconds=0.5, max_seconds=2.0, rate_limit_seconds=10.0)
    assert tight.delay(2, True, lambda: 1.0) == 10.0


def test_retry_sleeps_the_schedule_and_returns_the_answer():
    slept, retried = [], []
    fn = Flaky(temporary(), temporary(), temporary(rate_limited=True))
    result = call_with_retry(fn, RetryPolicy(3, 0.1, 10.0, 5.0), sleep=slept.append, random=lambda: 1.0,
                             on_retry=lambda exc, n, delay: retried.append((n, delay)))
    assert result == "ok" and fn.calls == 4
    # The third retry is a rate limit: 5 s base at the third step is 20 s, capped at 10 s.
    assert slept == [0.1, 0.2, 10.0]
    assert retried == [(1, 0.1), (2, 0.2), (3, 10.0)]


def test_retry_gives_up_after_the_attempts_with_the_last_error():
    slept = []
    last = temporary()
    fn = Flaky(temporary(), temporary(), last)
    with pytest.raises(TemporaryMarketError) as info:
        call_with_retry(fn, RetryPolicy(2, 0.1, 1.0, 1.0), sleep=slept.append, random=lambda: 0.0)
    assert info.value is last and fn.calls == 3 and slept == [0.05, 0.1]


def test_zero_retries_means_one_attempt():
    fn = Flaky(temporary())
    with pytest.raises(TemporaryMarketError):
        call_with_retry(fn, RetryPolicy(0, 0.1, 1.0, 1.0), sleep=lambda s: pytest.fail("must not sleep"))
    assert fn.calls == 1


def test_permanent_errors_are_not_retried():
    fn = Flaky(PermanentMarketError("nope", reason="tickers: not supported"))
    with pytest.raises(PermanentMarketError):
        call_with_retry(fn, RetryPolicy(5, 0.1, 1.0, 1.0), sleep=lambda s: pytest.fail("must not sleep"))
    assert fn.calls == 1


def test_a_sleep_that_reports_a_stop_abandons_the_retries():
    fn = Flaky(temporary(), temporary())
    with pytest.raises(TemporaryMarketError):
        call_with_retry(fn, RetryPolicy(5, 0.1, 1.0, 1.0), sleep=lambda s: True)
    assert fn.calls == 1


# ---- circuit breaker -------------------------------------------------------------------------
def test_breaker_opens_after_consecutive_failures_and_a_success_resets_the_count():
    transitions = []
    breaker = CircuitBreaker(3, 10.0, clock=Clock(), on_transition=lambda *t: transitions.append(t))
    breaker.record_failure("a")
    breaker.record_failure("b")
    breaker.record_success()  # not consecutive any more
    breaker.record_failure("c")
    breaker.record_failure("d")
    assert breaker.state == CLOSED and breaker.allow()
    breaker.record_failure("e")
    assert breaker.state == OPEN and not breaker.allow()
    assert transitions == [(CLOSED, OPEN, "3 consecutive failures: e")]


def test_breaker_half_opens_after_the_cooldown_and_lets_one_probe_through():
    clock = Clock()
    transitions = []
    breaker = CircuitBreaker(1, 10.0, clock=clock, on_transition=lambda old, new, why: transitions.append((old, new)))
    breaker.record_failure("down")
    clock.now += 9.9
    assert not breaker.allow() and breaker.seconds_until_probe() == pytest.approx(0.1)
    clock.now += 0.1
    assert breaker.allow()  # the probe
    assert breaker.state == HALF_OPEN
    assert not breaker.allow()  # only one probe at a time
    breaker.record_success()
    assert breaker.state == CLOSED and breaker.allow() and breaker.consecutive_failures == 0
    assert transitions == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]


def test_a_failed_probe_reopens_for_a_full_cooldown():
    clock = Clock()
    transitions = []
    breaker = CircuitBreaker(2, 5.0, clock=clock, on_transition=lambda *t: transitions.append(t))
    breaker.record_failure("x")
    breaker.record_failure("x")
    clock.now += 5.0
    assert breaker.allow()
    clock.now += 1.0
    breaker.record_failure("still down")
    assert breaker.state == OPEN
    assert transitions[-1] == (HALF_OPEN, OPEN, "probe failed: still down")
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.allow() and breaker.state == HALF_OPEN


def test_breaker_rejects_a_zero_threshold():
    with pytest.raises(ValueError):
        CircuitBreaker(0, 1.0)
