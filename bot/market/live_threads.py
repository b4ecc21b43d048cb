"""What the exchange streams run on beside eventlet: OS threads, sockets and an asyncio loop.

run_bot.py monkey-patches threading, socket and select for the dashboard (eventlet); a stream's
asyncio loop inside a green thread would stall every dashboard client, so each StreamFeed
(bot/market/live_stream.py) runs in a real OS thread on the unpatched modules found here, with
name lookups in OS threads too. StreamStats holds the message counters that thread writes and
any other thread reads, under an OS lock. Nothing here imports ccxt or eventlet.
"""
from __future__ import annotations

import asyncio
import sys
import threading
from collections import deque

RATE_WINDOW_SECONDS = 10  # messages per second are counted over this many whole seconds


def os_threading():
    """The threading module that makes OS threads, even after eventlet's monkey patching.

    Looked up in sys.modules: bot/ never imports eventlet; only run_bot.py does, and patches.
    """
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None and patcher.is_monkey_patched("thread"):
        return patcher.original("threading")
    return threading


def os_socket():
    """The socket module before eventlet's patching (its getaddrinfo blocks only the calling thread)."""
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None and patcher.is_monkey_patched("socket"):
        return patcher.original("socket")
    import socket

    return socket


def new_event_loop() -> asyncio.AbstractEventLoop:
    """An asyncio loop on the unpatched selectors whose name lookups run in an OS thread.

    Under eventlet the default executor's threads would be green threads of a hub that never
    runs in this thread; here each getaddrinfo gets its own short-lived OS thread.
    """
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None and patcher.is_monkey_patched("select"):
        # The original selectors module's classes were built on the green select: a poll
        # selector on the real select.poll instead (what selectors.PollSelector is).
        real = patcher.original("select")

        class RealPoll(patcher.original("selectors")._PollLikeSelector):
            _selector_cls, _EVENT_READ, _EVENT_WRITE = real.poll, real.POLLIN, real.POLLOUT

        selector = RealPoll()
    else:
        import selectors

        selector = selectors.DefaultSelector()
    return _Loop(selector)


class _Loop(asyncio.SelectorEventLoop):
    async def getaddrinfo(self, host, port, *, family=0, type=0, proto=0, flags=0):
        future = self.create_future()
        lookup = os_socket().getaddrinfo

        def settle(result, error):
            if not future.done():
                future.set_exception(error) if error is not None else future.set_result(result)

        def work():
            try:
                result, error = lookup(host, port, family, type, proto, flags), None
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
                result, error = None, exc
            try:
                self.call_soon_threadsafe(settle, result, error)
            except RuntimeError:  # the loop closed meanwhile
                pass

        os_threading().Thread(target=work, name="stream-dns", daemon=True).start()
        return await future


class StreamStats:
    """Message counters, written by the stream thread and read by any other (under a lock)."""

    def __init__(self):
        self.lock = os_threading().Lock()
        self.messages = 0
        self.malformed = 0
        self.resyncs = 0
        self.reconnects = 0
        self.last_message_at = 0.0
        self.buckets: deque[list] = deque(maxlen=RATE_WINDOW_SECONDS + 1)  # [whole second, count]

    def count(self, now: float) -> None:
        """One message received at now (epoch seconds)."""
        second = int(now)
        with self.lock:
            self.messages += 1
            self.last_message_at = now
            if self.buckets and self.buckets[-1][0] == second:
                self.buckets[-1][1] += 1
            else:
                self.buckets.append([second, 1])

    def rate(self, now: float) -> float:
        """Messages per second over the last RATE_WINDOW_SECONDS whole seconds before now."""
        second = int(now)
        with self.lock:
            total = sum(n for s, n in self.buckets if second - RATE_WINDOW_SECONDS <= s < second)
        return total / RATE_WINDOW_SECONDS
