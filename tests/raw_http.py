"""A raw-socket HTTP/1.1 client for the edge cases ordinary clients hide: chunked bodies without
a Content-Length, bodies the server refuses while they are still being sent, spoofed Hosts.

The body is sent from a thread while the answer is read, as a browser would: a server that
answers before reading everything must not make the client miss its answer.
"""
from __future__ import annotations

import json
import re
import socket
import threading
from dataclasses import dataclass


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    send_error: str | None  # the client's sending was cut short (the server stopped reading)
    closed_by_server: bool | None = None  # when asked: the server ended the connection after answering

    def json(self):
        return json.loads(self.body.decode("utf-8"))


def chunked(payload: bytes, chunk_bytes: int = 65536):
    """payload in Transfer-Encoding: chunked framing, ending with the zero-length chunk."""
    for start in range(0, len(payload), chunk_bytes):
        part = payload[start:start + chunk_bytes]
        yield b"%x\r\n" % len(part) + part + b"\r\n"
    yield b"0\r\n\r\n"


def request(port: int, method: str, path: str, headers: dict[str, str], body_parts=(), timeout: float = 20.0,
            source_address: str = "127.0.0.1", close_within: float | None = None) -> RawResponse:
    """Send one request on a new connection; read until the server closes it or the answer is complete.

    With close_within, also wait that long for the server to close the connection afterwards.
    """
    connection = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source_address, 0))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    send_error: list[str] = []

    def send():
        try:
            connection.sendall(head.encode("latin-1"))
            for part in body_parts:
                connection.sendall(part)
        except OSError as exc:
            send_error.append(str(exc))

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    received = b""
    closed = None
    try:
        while not _complete(received):
            chunk = connection.recv(65536)
            if not chunk:
                closed = True
                break
            received += chunk
        if close_within is not None and closed is None:
            closed = _closes(connection, close_within)
    finally:
        sender.join(timeout)
        connection.close()
    response = _parse(received, send_error[0] if send_error else None)
    response.closed_by_server = closed
    return response


def _closes(connection: socket.socket, seconds: float) -> bool:
    connection.settimeout(seconds)
    try:
        return connection.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True  # reset: closed as well


def _complete(received: bytes) -> bool:
    head, separator, body = received.partition(b"\r\n\r\n")
    if not separator:
        return False
    match = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    return match is not None and len(body) >= int(match.group(1))


def _parse(received: bytes, send_error: str | None) -> RawResponse:
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/"):
        raise AssertionError(f"no HTTP answer (got {received[:200]!r}; send error: {send_error})")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(int(lines[0].split(" ", 2)[1]), headers, body, send_error)
