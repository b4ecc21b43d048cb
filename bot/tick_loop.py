"""TickLoop: what drives the engine's ticks, back to back or paced in real time, until asked to stop.

It is the engine's one seam that needs nothing of the engine's books or state: only a tick to
call, a guarded tick for the real-time thread, and the count of ticks run. The stop request
lives here because both ways of running honour it, and signal handlers and the dashboard
server wait on it. In real time, ticks are due one interval_seconds apart from the clock's origin;
set_interval() changes the pace while running (the dashboard's speed control).
"""
from __future__ import annotations

import logging
import math
import threading
import time
from datetime import datetime, timezone
from typing import Callable

from bot.config_rules import MIN_TICK_INTERVAL_SECONDS

# The scheduler runs the tick job at most this often (bot/config_rules.py says why); a shorter
# tick interval runs several ticks per job.
MIN_JOB_SECONDS = MIN_TICK_INTERVAL_SECONDS
# A loop further behind than this (a slow machine, a long tick) drops the backlog instead of bursting.
MAX_CATCH_UP_SECONDS = 0.5
# A job stops running due ticks after this share of its period, so it ends before the next is due.
JOB_BUDGET_SHARE = 0.8



class _SkippedRunsAreExpected(logging.Filter):
    """A run skipped because the last one is still going is how the paced loop coalesces: the
    next run takes every tick still due, so it is no warning (a stall shows in the market clock)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


SCHEDULER_LOG = logging.getLogger("bot.tick_loop.scheduler")
SCHEDULER_LOG.addFilter(_SkippedRunsAreExpected())


class TickLoop:
    """Runs ticks until max_ticks or a stop request; owns the stop event and the scheduler."""

    def __init__(self, tick: Callable[[], object], tick_guarded: Callable[[], object],
                 ticks_run: Callable[[], int], interval_seconds: float, clock: Callable[[], float] = time.monotonic):
        self._tick = tick
        self._tick_guarded = tick_guarded  # never raises: a failed tick is counted, the loop goes on
        self._ticks_run = ticks_run
        self.interval_seconds = interval_seconds  # wall seconds per tick in real time, on average
        self.mode = "idle"  # "fast" or "realtime" once running
        self._stop_requested = threading.Event()
        self._scheduler = None
        self._clock = clock
        self._pace_lock = threading.Lock()
        self._paced = 0  # ticks the real-time loop has run
        # (clock time, ticks run by then): tick origin_count + n is due n intervals after that time.
        self._origin = (clock() - interval_seconds, 0)

    def request_stop(self) -> None:
        """Ask the loop to stop after the current tick (safe from a signal handler)."""
        self._stop_requested.set()

    def stop_requested(self) -> bool:
        """True once a stop was requested; without the wait's lock (a fast loop asks it every pass)."""
        return self._stop_requested.is_set()

    def wait_for_stop(self, timeout: float | None = None) -> bool:
        """Wait up to timeout seconds for a stop request; True once one was made."""
        return self._stop_requested.wait(timeout)

    def run_fast(self, max_ticks: int | None, progress: Callable[[int], None] | None = None,
                 cooperate: Callable[[], None] | None = None) -> int:
        """Run ticks back to back until max_ticks or a stop request; returns ticks run.

        cooperate() is called every 100 ticks so a green-threaded server can serve meanwhile.
        """
        done = 0
        self.mode = "fast"
        while not self._stop_requested.is_set() and (max_ticks is None or done < max_ticks):
            self._tick()
            done += 1
            if cooperate is not None and done % 100 == 0:
                cooperate()
            if progress is not None and done % 500 == 0:
                progress(done)
        if progress is not None:
            progress(done)
        return done

    # ----- real time: paced by a clock, run by APScheduler ----------------------------------
    def start_realtime(self, max_ticks: int | None = None) -> None:
        """Run guarded ticks on APScheduler, one every interval_seconds on average; stop after max_ticks.

        The job runs at most every MIN_JOB_SECONDS and runs the ticks that are due by then, so an
        interval shorter than the scheduler can keep still gives its rate.
        """
        from apscheduler.schedulers.background import BackgroundScheduler

        start = self._ticks_run()

        def job() -> None:
            self.run_due(self._clock(), stop_after=None if max_ticks is None else start + max_ticks)

        self.mode = "realtime"
        with self._pace_lock:
            self._origin = (self._clock() - self.interval_seconds, self._paced)  # the first tick is due now
        period = self._job_period()
        self._scheduler = BackgroundScheduler(timezone="UTC", logger=SCHEDULER_LOG)
        self._scheduler.add_job(job, "interval", seconds=period, max_instances=1, coalesce=True,
                                misfire_grace_time=max(1, int(period * 5)), id="tick",
                                next_run_time=datetime.now(timezone.utc))
        self._scheduler.start()

    def run_due(self, now: float, stop_after: int | None = None) -> int:
        """Run the ticks due at clock time `now` (at most MAX_CATCH_UP_SECONDS' worth); returns how many.

        Ticks are due every interval_seconds from the clock's origin. A run stops when it has used
        most of the job's period (the rest stay due), and a loop that fell further behind than the
        catch-up drops the backlog (the clock slips) instead of racing to catch up.
        """
        with self._pace_lock:
            origin_time, origin_count = self._origin
            due = origin_count + math.floor((now - origin_time) / self.interval_seconds) - self._paced
            cap = max(1, math.ceil(MAX_CATCH_UP_SECONDS / self.interval_seconds))
            if due > cap:
                self._origin = (now, self._paced + cap)
                due = cap
        done, deadline = 0, now + JOB_BUDGET_SHARE * self._job_period()
        while done < due and not self._stop_requested.is_set():
            self._tick_guarded()
            done += 1
            with self._pace_lock:
                self._paced += 1
            if stop_after is not None and self._ticks_run() >= stop_after:
                self.request_stop()
            if self._clock() > deadline:
                break  # the rest is still due at the next run; a job that overran would be skipped instead
        return done

    def set_interval(self, seconds: float) -> None:
        """Change the average wall seconds between ticks from now on (the clock restarts from here)."""
        if not seconds > 0:
            raise ValueError(f"interval must be > 0 (got {seconds})")
        with self._pace_lock:
            self.interval_seconds = seconds
            self._origin = (self._clock(), self._paced)
        scheduler = self._scheduler
        if scheduler is not None:
            scheduler.reschedule_job("tick", trigger="interval", seconds=self._job_period())

    def _job_period(self) -> float:
        return max(self.interval_seconds, MIN_JOB_SECONDS)

    def job_period_seconds(self) -> float | None:
        """How often the scheduler runs the tick job now (None when not running in real time)."""
        scheduler = self._scheduler
        job = scheduler.get_job("tick") if scheduler is not None else None
        return job.trigger.interval.total_seconds() if job is not None else None

    def shutdown(self) -> None:
        """Stop the real-time scheduler, waiting for a running tick to end (no-op when none runs)."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(True)
