"""Connection limits for the eventlet WSGI server: per client address and in total.

eventlet.wsgi.server spawns one green thread per accepted connection from a fixed-size pool;
once the pool is full its accept loop waits for a free slot, so a few thousand idle sockets
from one address stopped every other client, /api/health included. Here the listener's
accept() closes at once (with a short 503) a connection over the per-address or the total cap,
so the pool never fills, and the pool wrapper counts a connection as gone when its green
thread ends. No eventlet import: the server passes its own pool and listener in.
"""
from __future__ import annotations

import errno
import logging
import resource
import socket
import threading
import time

log = logging.getLogger(__name__)

REFUSED_RESPONSE = (b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\n"
                    b"Content-Length: 38\r\n\r\ntoo many connections from your address\n")
# accept() failing for want of descriptors or memory: wait a moment and go on, instead of the
# accept loop dying (which would leave the dashboard deaf until a restart).
RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
RESOURCE_PAUSE_SECONDS = 0.1
REFUSAL_LOG_SECONDS = 10.0


class ConnectionLimits:
    """Open connections counted per client address, with a cap per address and in total."""

    def __init__(self, per_address: int, total: int):
        self.per_address = per_address
        self.total = total
        self.open_by_address: dict[str, int] = {}
        self.open_total = 0
        self.refused_total = 0
        self._lock = threading.Lock()
        self._last_refusal_log = float("-inf")

    def admit(self, address: str) -> bool:
        """Count a new connection from address; False (and not counted) when over a cap."""
        with self._lock:
            current = self.open_by_address.get(address, 0)
            if current >= self.per_address or self.open_total >= self.total:
                self.refused_total += 1
                self._log_refusal(address, current)
                return False
            self.open_by_address[address] = current + 1
            self.open_total += 1
            return True

    def release(self, address: str) -> None:
        """One connection from address has ended."""
        with self._lock:
            current = self.open_by_address.get(address, 0)
            if current <= 1:
                self.open_by_address.pop(address, None)
            else:
                self.open_by_address[address] = current - 1
            self.open_total = max(self.open_total - 1, 0)

    def _log_refusal(self, address: str, current: int) -> None:
        # One line per interval, not one per refused socket of a flood.
        now = time.monotonic()
        if now - self._last_refusal_log >= REFUSAL_LOG_SECONDS:
            self._last_refusal_log = now
            log.warning("refusing connections: %s has %d open (cap %d per address), %d open in all "
                        "(cap %d); %d refused so far", address, current, self.per_address,
                        self.open_total, self.total, self.refused_total)


def _address_of(peer) -> str:
    return peer[0] if isinstance(peer, tuple) else str(peer)


class GuardedListener:
    """A listening socket whose accept() only returns connections within the limits."""

    def __init__(self, listener, limits: ConnectionLimits, pause=time.sleep):
        self._listener = listener
        self._limits = limits
        self._pause = pause

    def accept(self):
        while True:
            try:
                connection, peer = self._listener.accept()
            except OSError as exc:
                if exc.errno not in RESOURCE_ERRNOS:
                    raise
                log.warning("accept failed (%s); retrying", exc.strerror)
                self._pause(RESOURCE_PAUSE_SECONDS)
                continue
            if self._limits.admit(_address_of(peer)):
                return connection, peer
            _refuse(connection)

    def __getattr__(self, name):
        return getattr(self._listener, name)


def _refuse(connection) -> None:
    try:
        connection.setblocking(False)
        connection.send(REFUSED_RESPONSE)  # a fresh socket's send buffer takes it at once
    except OSError:
        pass  # best effort: the client may already be gone
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    connection.close()


class ReleasingPool:
    """Wraps the server's green pool: each connection's thread releases its count when it ends."""

    def __init__(self, pool, limits: ConnectionLimits):
        self._pool = pool
        self._limits = limits

    def spawn(self, function, connection, *args):
        # eventlet.wsgi passes [client_address, client_socket, state] as the connection.
        return self._pool.spawn(self._run, function, connection, *args)

    def _run(self, function, connection, *args):
        try:
            return function(connection, *args)
        finally:
            self._limits.release(_address_of(connection[0]))

    def waitall(self):
        return self._pool.waitall()

    def __getattr__(self, name):
        return getattr(self._pool, name)


def raise_open_file_limit(wanted: int) -> int:
    """Raise this process's soft descriptor limit towards wanted (never past the hard one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-file limit from %d to %d: %s", soft, target, exc)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        log.warning("the open-file limit is %d, below the %d the connection caps allow; beyond it "
                    "new connections wait", soft, wanted)
    return soft
