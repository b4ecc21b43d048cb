"""SocketTransport: the one place that touches python-socketio's and engineio's internals.

The Broadcaster encodes each event once and queues it to every client itself (measured with
bench/dashboard_load.py: socketio.emit re-encodes per client and one dropped client can abort
the round). That needs a few non-public parts of python-socketio; they are kept here, behind
three methods, so a version bump breaks one small file and a message-queue transport (Redis,
see DESIGN.md's scale-out direction) can replace this class without touching the Broadcaster.
"""
from __future__ import annotations

import logging

from engineio import packet as eio_packet
from socketio import packet as sio_packet

log = logging.getLogger(__name__)

NAMESPACE = "/"


class SocketTransport:
    """Sends pre-encoded events to the clients of one Flask-SocketIO server."""

    def __init__(self, socketio):
        self.socketio = socketio

    def encode(self, event: str, data) -> list:
        """The engineio packets for one event, built once for every recipient."""
        server = self.socketio.server
        encoded = server.packet_class(sio_packet.EVENT, namespace=NAMESPACE, data=[event, data]).encode()
        if not isinstance(encoded, list):
            encoded = [encoded]
        return [eio_packet.Packet(eio_packet.MESSAGE, part) for part in encoded]

    def send_packets(self, packets: list, to: str | None = None) -> int:
        """Queue the packets to every client (or to one sid); returns how many clients failed."""
        server = self.socketio.server
        failures = 0
        for sid, eio_sid in list(server.manager.get_participants(NAMESPACE, to)):
            try:
                for pkt in packets:
                    server._send_eio_packet(eio_sid, pkt)
            except Exception:  # noqa: BLE001 - a dropped client must not stop the others
                failures += 1
                log.debug("sending to %s failed", sid, exc_info=True)
        return failures

    def close_all(self) -> None:
        """Close every client session without waiting for its send queue to drain.

        engineio's disconnect() waits for each session's queue, which never drains for a
        browser that vanished a moment earlier: shutdown hung on SIGTERM.
        """
        eio = self.socketio.server.eio
        for sid, sock in list(eio.sockets.items()):
            try:
                sock.close(wait=False)
            except Exception:  # noqa: BLE001 - shutting down anyway
                log.debug("closing session %s failed", sid, exc_info=True)
        eio.sockets.clear()
