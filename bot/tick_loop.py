"""TickLoop: what drives the engine's ticks, back to back or on a real-time interval, until asked to stop.

It is the engine's one seam that needs nothing of the engine's books or state: only a tick to
call, a guarded tick for the real-time thread, and the count of ticks run. The stop request
lives here because both ways of running honour it, and signal handlers and the dashboard
server wait on it.
"""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Callable


class TickLoop:
    """Runs ticks until max_ticks or a stop request; owns the stop event and the scheduler."""

    def __init__(self, tick: Callable[[], object], tick_guarded: Callable[[], object],
                 ticks_run: Callable[[], int], interval_seconds: float):
        self._tick = tick
        self._tick_guarded = tick_guarded  # never raises: a failed tick is counted, the loop goes on
        self._ticks_run = ticks_run
        self.interval_seconds = interval_seconds
        self._stop_requested = threading.Event()
        self._scheduler = None

    def request_stop(self) -> None:
        """Ask the loop to stop after the current tick (safe from a signal handler)."""
        self._stop_requested.set()

    def wait_for_stop(self, timeout: float | None = None) -> bool:
        """Wait up to timeout seconds for a stop request; True once one was made."""
        return self._stop_requested.wait(timeout)

    def run_fast(self, max_ticks: int | None, progress: Callable[[int], None] | None = None,
                 cooperate: Callable[[], None] | None = None) -> int:
        """Run ticks back to back until max_ticks or a stop request; returns ticks run.

        cooperate() is called every 100 ticks so a green-threaded server can serve meanwhile.
        """
        done = 0
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

    def start_realtime(self, max_ticks: int | None = None) -> None:
        """Schedule one guarded tick every interval_seconds on APScheduler; stop after max_ticks ticks run."""
        from apscheduler.schedulers.background import BackgroundScheduler

        interval = self.interval_seconds
        start = self._ticks_run()

        def job() -> None:
            if self._stop_requested.is_set():
                return
            self._tick_guarded()
            if max_ticks is not None and self._ticks_run() - start >= max_ticks:
                self.request_stop()

        self._scheduler = BackgroundScheduler(timezone="UTC")
        self._scheduler.add_job(job, "interval", seconds=interval, max_instances=1, coalesce=True,
                                misfire_grace_time=max(1, int(interval * 5)), id="tick",
                                next_run_time=datetime.now(timezone.utc))
        self._scheduler.start()

    def shutdown(self) -> None:
        """Stop the real-time scheduler, waiting for a running tick to end (no-op when none runs)."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(True)
