"""The real server (run_bot.py, eventlet) at its network edges: spoofed Host headers (DNS
rebinding), cross-origin Socket.IO handshakes, security headers on /socket.io/, and request
bodies sent chunked or over the limit, through a raw socket client."""
from __future__ import annotations

import json
import re

import pytest
import requests
import socketio

from tests import raw_http

pytestmark = pytest.mark.e2e

TOO_LARGE = {"error": "request body too large (limit 65536 bytes)", "field": None}
HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


@pytest.fixture(scope="module")
def edge(bot_server):
    """(bot, headers a page's script sends: the right Host, the CSRF token, JSON)."""
    page = bot_server.get_text("/")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    return bot_server, {"Host": f"127.0.0.1:{bot_server.port}", "X-CSRF-Token": token,
                        "Content-Type": "application/json"}


def _spoofed(bot) -> dict:
    return {"Host": f"rebound.example:{bot.port}"}


@pytest.mark.parametrize("path", ["/", "/analytics", "/metrics", HANDSHAKE, "/api/health", "/api/portfolio",
                                  "/api/export/trades"])
def test_spoofed_host_is_refused_everywhere(edge, path):
    bot, _ = edge
    response = requests.get(bot.base_url + path, headers=_spoofed(bot), timeout=10)
    assert response.status_code == 400
    message = f"host not allowed: 'rebound.example:{bot.port}' (add the name to dashboard.allowed_hosts to serve it)"
    if path.startswith("/api/"):
        assert response.json() == {"error": message, "field": None}
    else:
        assert response.text == message + "\n"
    assert "connect-src 'self';" in response.headers["Content-Security-Policy"]


def test_dns_rebinding_cannot_write(edge):
    bot, headers = edge
    rebinding = {**headers, **_spoofed(bot), "Origin": f"http://rebound.example:{bot.port}"}
    journal_before = bot.get_json("/api/journal/entries")
    response = requests.post(bot.base_url + "/api/journal/entry", headers=rebinding,
                             data=json.dumps({"entry_reason": "rebound"}), timeout=10)
    assert response.status_code == 400
    assert requests.post(bot.base_url + "/api/bot/pause", headers=rebinding, timeout=10).status_code == 400
    assert bot.get_json("/api/health")["state"] == "running"
    assert bot.get_json("/api/journal/entries") == journal_before
    # A Socket.IO client naming the rebound host does not get a session either.
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(bot.base_url, headers=_spoofed(bot), transports=["polling"], wait_timeout=10)


def test_socketio_handshakes_by_origin(edge):
    bot, headers = edge
    same = requests.get(bot.base_url + HANDSHAKE, timeout=10,
                        headers={"Host": headers["Host"], "Origin": f"http://127.0.0.1:{bot.port}"})
    assert same.status_code == 200 and same.text.startswith("0{")
    for header in ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"):
        assert header in same.headers, header
    assert "connect-src 'self';" in same.headers["Content-Security-Policy"]
    for origin in ("http://evil.example", f"http://localhost:{bot.port + 1}", "null"):
        cross = requests.get(bot.base_url + HANDSHAKE, headers={"Origin": origin}, timeout=10)
        assert cross.status_code == 400, origin
        assert "Content-Security-Policy" in cross.headers


def test_chunked_body_within_the_limit_is_read(edge):
    bot, headers = edge
    entry = json.dumps({"entry_reason": "chunked entry", "confidence_level": 6}).encode()
    response = raw_http.request(bot.port, "POST", "/api/journal/entry", {**headers, "Transfer-Encoding": "chunked"},
                                raw_http.chunked(entry, 5))
    assert response.status in (200, 201), response.body
    assert any(e["entry_reason"] == "chunked entry" and e["confidence_level"] == 6
               for e in bot.get_json("/api/journal/entries")["entries"])


def test_ten_megabyte_chunked_body_gets_413(edge):
    bot, headers = edge
    ten_megabytes = b'{"entry_reason": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    journal_before = bot.get_json("/api/journal/entries")
    for path in ("/api/journal/entry", "/api/bot/pause", "/api/bot/stop"):
        response = raw_http.request(bot.port, "POST", path, {**headers, "Transfer-Encoding": "chunked"},
                                    raw_http.chunked(ten_megabytes), close_within=5.0)
        assert response.status == 413, (path, response.body)
        assert response.json() == TOO_LARGE
        assert response.send_error is None  # the whole body was read: no reset for the client
        # As its Connection: close says (the idle timeout would take 10 s).
        assert response.closed_by_server, path
    assert bot.get_json("/api/health")["state"] == "running"
    assert bot.get_json("/api/journal/entries") == journal_before


def test_bodyless_control_with_a_large_content_length_gets_413(edge):
    bot, headers = edge
    body = b" " * 70_000

    def enabled():
        return {s["strategy"]: s["enabled"] for s in bot.get_json("/api/strategies/performance")["strategies"]}

    before = enabled()
    for path in ("/api/bot/pause", "/api/strategies/momentum/toggle"):
        response = raw_http.request(bot.port, "POST", path, {**headers, "Content-Length": str(len(body))}, [body])
        assert response.status == 413 and response.json() == TOO_LARGE
    assert bot.get_json("/api/health")["state"] == "running"
    assert enabled() == before and before["momentum"] is True


def test_endless_chunked_body_is_cut_off(edge):
    """Beyond the 16 MiB the server drains after a 413 it stops reading and closes."""
    bot, headers = edge

    def endless():
        block = b"x" * (1024 * 1024)
        for _ in range(200):  # 200 MiB: far more than the server will read
            yield b"%x\r\n" % len(block) + block + b"\r\n"

    response = raw_http.request(bot.port, "POST", "/api/bot/pause", {**headers, "Transfer-Encoding": "chunked"},
                                endless(), timeout=30.0)
    assert response.status == 413 and response.json() == TOO_LARGE
    assert response.send_error is not None, "the server read all 200 MiB"
    assert bot.get_json("/api/health")["state"] == "running"
