"""The WSGI edge: what every request meets before Flask or Socket.IO sees it.

- Host allow-list (DNS rebinding): a request whose Host header names anything but the bound
  address, localhost, the loopback literals (when bound to loopback or every address) or a
  name in dashboard.allowed_hosts gets 400, pages, API, exports, /metrics and /socket.io/ alike.
- Body limit: a Content-Length over the limit gets 413 before anything is read; a chunked
  body is read up to the limit, 413 beyond it, else handed on with its length (so Flask sees
  the same body whichever server decoded the chunks).
- Security headers on every response, Socket.IO's own (served by engineio outside Flask's
  after_request) included.
"""
from __future__ import annotations

import io
import ipaddress
import json
import re
import socket
from urllib.parse import urlsplit

from bot.config_rules import normalise_host_name

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
# A Host header: a name or IPv4 literal, or a bracketed IPv6 literal, then an optional port.
# Anything else (userinfo, paths, spaces) is refused before any parsing that could be fooled.
HOST_HEADER = re.compile(r"(?P<name>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(?P<port>[0-9]{1,5}))?")
# After a 413 the rest of the body is read and dropped, up to this much, so that the client
# (still sending) reads the answer instead of a connection reset; beyond it the server closes.
DRAIN_LIMIT_BYTES = 16 * 1024 * 1024
DRAIN_CHUNK_BYTES = 64 * 1024


def _parse_host(value: str) -> tuple[str, int | None] | None:
    match = HOST_HEADER.fullmatch(value.strip())
    if match is None:
        return None
    try:
        name = normalise_host_name(match["name"])
    except ValueError:
        return None
    port = int(match["port"]) if match["port"] else None
    if port is not None and not 0 < port < 65536:
        return None
    return name, port


def _is_loopback_or_wildcard(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


class HostPolicy:
    """Which Host headers and Origins the dashboard answers.

    Built-in names (the bound address, localhost, the loopback literals) must come without a
    port or with the bound one; names from dashboard.allowed_hosts may carry any port (a
    reverse proxy in front chooses the public one).
    """

    def __init__(self, host: str, port: int, extra_names=()):
        try:
            bound = normalise_host_name(host) if host else "127.0.0.1"
        except ValueError:  # an odd name the resolver may still accept: compare it as written
            bound = host.strip().lower()
        names = {bound, "localhost"}
        if _is_loopback_or_wildcard(bound):
            names.update(LOOPBACK_NAMES)
        self.port = port
        self.builtin_names = frozenset(names)
        self.extra_names = frozenset(normalise_host_name(name) for name in extra_names)

    def allows_host(self, header: str | None) -> bool:
        """True when a Host header names this server."""
        parsed = _parse_host(header) if header else None
        if parsed is None:
            return False
        name, port = parsed
        if name in self.extra_names:
            return True
        return name in self.builtin_names and port in (None, self.port)

    def allows_origin(self, origin: str | None, host_header: str | None) -> bool:
        """True when a browser's Origin (or Referer) is this server as the request names it.

        The request's Host must itself be allowed, so a spoofed Host (DNS rebinding) can no
        longer make a hostile page's origin look like our own.
        """
        if not origin or not self.allows_host(host_header):
            return False
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
            return False
        return parts.netloc.lower() == host_header.strip().lower()

    def socketio_origin_check(self, origin: str | None, environ: dict) -> bool:
        """engineio's cors_allowed_origins callable: the same rule as the API's writes."""
        return self.allows_origin(origin, environ.get("HTTP_HOST"))


def _is_api(environ: dict) -> bool:
    path = environ.get("PATH_INFO", "")
    return path == "/api" or path.startswith("/api/")


def error_response(environ, start_response, status: str, message: str, extra_headers=()):
    """The refusal in the API's shape under /api, as plain text elsewhere."""
    if _is_api(environ):
        body = json.dumps({"error": message, "field": None}).encode("utf-8")
        content_type = "application/json"
    else:
        body = (message + "\n").encode("utf-8")
        content_type = "text/plain; charset=utf-8"
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra_headers]
    start_response(status, headers)
    return [body]


class _ClosingBody:
    """A refusal's body that, once sent, reads and drops up to drain_bytes of what the client
    still sends (so it reads the answer rather than a reset), then ends the connection."""

    def __init__(self, body: list[bytes], environ: dict, drain_bytes: int = 0):
        self.body = body
        self.environ = environ
        self.remaining = max(drain_bytes, 0)

    def __iter__(self):
        return iter(self.body)

    def close(self) -> None:
        stream = self.environ.get("wsgi.input")
        try:
            while stream is not None and self.remaining > 0:
                chunk = stream.read(min(DRAIN_CHUNK_BYTES, self.remaining))
                if not chunk:
                    break
                self.remaining -= len(chunk)
        except (OSError, ValueError):
            pass  # the client went away or sent broken chunks: nothing more to read
        _stop_reading(self.environ)


def _stop_reading(environ: dict) -> None:
    """Make the server close this connection after the response.

    werkzeug honours the response's Connection: close; eventlet ignores it and would read
    (and discard) whatever body is left, however long, then wait for the next request. Shutting
    the read side makes its next read see the end, so it closes the connection.
    """
    eventlet_input = environ.get("eventlet.input")
    if eventlet_input is None or not hasattr(eventlet_input, "get_socket"):
        return
    try:
        eventlet_input.get_socket().shutdown(socket.SHUT_RD)
    except OSError:
        pass  # already closed by the client


class EdgeMiddleware:
    """Wraps the whole WSGI app (Flask and engineio): host check, body limit, headers."""

    def __init__(self, app, policy: HostPolicy, max_body_bytes: int, headers: dict[str, str]):
        self.app = app
        self.policy = policy
        self.max_body_bytes = max_body_bytes
        self.headers = list(headers.items())

    def __call__(self, environ, start_response):
        start_response = self._with_headers(start_response)
        host = environ.get("HTTP_HOST")
        if not self.policy.allows_host(host):
            shown = "none" if host is None else repr(host[:100])
            return self._refuse(environ, start_response, "400 Bad Request",
                                f"host not allowed: {shown} (add the name to dashboard.allowed_hosts to serve it)")
        refused = self._limit_body(environ, start_response)
        if refused is not None:
            return refused
        return self.app(environ, start_response)

    def _with_headers(self, start_response):
        def start(status, response_headers, exc_info=None):
            present = {name.lower() for name, _ in response_headers}
            response_headers = list(response_headers) + [
                (name, value) for name, value in self.headers if name.lower() not in present]
            return start_response(status, response_headers, exc_info) if exc_info else \
                start_response(status, response_headers)
        return start

    @staticmethod
    def _refuse(environ, start_response, status: str, message: str, drain_bytes: int = 0):
        body = error_response(environ, start_response, status, message, [("Connection", "close")])
        return _ClosingBody(body, environ, drain_bytes)

    def _too_large(self, environ, start_response, already_read: int):
        return self._refuse(environ, start_response, "413 Request Entity Too Large",
                            f"request body too large (limit {self.max_body_bytes} bytes)",
                            DRAIN_LIMIT_BYTES - already_read)

    def _limit_body(self, environ, start_response):
        """None when the body may go on (a chunked one now read and given a length), else the 413."""
        stream = environ.get("wsgi.input")
        length = environ.get("CONTENT_LENGTH", "").strip()
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            try:
                body = self._read_at_most(stream, self.max_body_bytes + 1)
            except (OSError, ValueError):  # eventlet's ChunkReadError is a ValueError
                return self._refuse(environ, start_response, "400 Bad Request", "malformed chunked request body")
            if len(body) > self.max_body_bytes:
                return self._too_large(environ, start_response, len(body))
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            environ["wsgi.input_terminated"] = True
            return None
        if length.isdigit() and int(length) > self.max_body_bytes:
            return self._too_large(environ, start_response, 0)
        return None

    @staticmethod
    def _read_at_most(stream, limit: int) -> bytes:
        if stream is None:
            return b""
        parts, size = [], 0
        while size < limit:
            chunk = stream.read(min(DRAIN_CHUNK_BYTES, limit - size))
            if not chunk:
                break
            parts.append(chunk)
            size += len(chunk)
        return b"".join(parts)
