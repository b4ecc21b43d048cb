"""The server's network edges in threading mode (no eventlet in pytest): chunked and oversized
bodies through the real werkzeug server, the warning on a non-loopback address, and the
connection caps of dashboard/connections.py over real sockets."""
from __future__ import annotations

import json
import logging
import re
import socket

import pytest
import requests

from dashboard import server as server_module
from dashboard.connections import REFUSED_RESPONSE, ConnectionLimits, GuardedListener
from dashboard.server import DashboardServer
from tests import raw_http
from tests.dashboard.serving import serve_in_thread

TOO_LARGE = {"error": "request body too large (limit 65536 bytes)", "field": None}


@pytest.fixture
def served(engine):
    """A DashboardServer (werkzeug, threaded) on a free port; yields (port, csrf headers)."""
    running = serve_in_thread(engine)
    page = requests.get(running.base + "/", timeout=5).text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    yield running.port, {"Host": f"127.0.0.1:{running.port}", "X-CSRF-Token": token,
                         "Content-Type": "application/json"}
    running.stop(engine)


def test_chunked_bodies_in_threading_mode(served, engine):
    port, headers = served
    chunked = {**headers, "Transfer-Encoding": "chunked"}
    entry = json.dumps({"entry_reason": "sent in chunks", "confidence_level": 4}).encode()
    response = raw_http.request(port, "POST", "/api/journal/entry", chunked, raw_http.chunked(entry, 7))
    assert response.status in (200, 201), response.body
    assert any(e["entry_reason"] == "sent in chunks" for e in engine.facade.journal_entries())

    ten_megabytes = b"[" + b"1," * (5 * 1024 * 1024 - 1) + b"1]"
    count = len(engine.facade.journal_entries())
    enabled_before = dict(engine.manager.enabled)
    for path in ("/api/journal/entry", "/api/bot/pause", "/api/strategies/momentum/toggle"):
        response = raw_http.request(port, "POST", path, chunked, raw_http.chunked(ten_megabytes))
        assert response.status == 413, (path, response.body)
        assert response.json() == TOO_LARGE
        assert response.headers["content-security-policy"].count("connect-src 'self';") == 1
    assert engine.state == "running" and len(engine.facade.journal_entries()) == count
    assert engine.manager.enabled == enabled_before


def test_content_length_over_the_limit_on_a_control(served, engine):
    port, headers = served
    body = b" " * 70_000
    response = raw_http.request(port, "POST", "/api/bot/pause", {**headers, "Content-Length": str(len(body))},
                                [body])
    assert response.status == 413 and response.json() == TOO_LARGE
    assert engine.state == "running"


def test_socketio_polling_has_the_security_headers(served):
    port, headers = served
    response = requests.get(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling", timeout=5)
    assert response.status_code == 200 and response.text.startswith("0{")
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert response.headers["X-Frame-Options"] == "DENY"


def test_warning_on_a_non_loopback_address(engine, capsys, caplog):
    exposed = engine.config.dashboard.model_copy(update={"host": "0.0.0.0", "port": 5999})
    with caplog.at_level(logging.WARNING, logger="dashboard.server"):
        server = DashboardServer(engine, exposed)
    server.context.close()
    err = capsys.readouterr().err
    assert "warning: the dashboard listens on 0.0.0.0:5999" in err
    for exposed_part in ("every page", "the API with its controls", "CSV exports", "/metrics",
                         "no authentication", "dashboard.allowed_hosts", "set-password"):
        assert exposed_part in err, exposed_part
    assert [r.getMessage() for r in caplog.records if r.name == "dashboard.server"] == [err.strip()]


@pytest.mark.parametrize("host,exposed", [("127.0.0.1", False), ("127.0.0.2", False), ("localhost", False),
                                          ("::1", False), ("0.0.0.0", True), ("::", True),
                                          ("192.168.1.20", True), ("mybox.lan", True)])
def test_which_addresses_are_exposed(host, exposed):
    assert server_module.is_loopback(host) is not exposed


def test_loopback_gives_no_warning(engine, capsys):
    server = DashboardServer(engine, engine.config.dashboard)
    server.context.close()
    assert "warning" not in capsys.readouterr().err


# ----- connection caps over real sockets -------------------------------------------------------

def _connect(port: int, source: str) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    return client


def _read_all(client: socket.socket) -> bytes:
    data = b""
    while chunk := client.recv(4096):
        data += chunk
    return data


def test_guarded_listener_caps_each_address():
    limits = ConnectionLimits(per_address=3, total=10)
    with socket.socket() as raw_listener:
        raw_listener.bind(("127.0.0.1", 0))
        raw_listener.listen(64)
        port = raw_listener.getsockname()[1]
        listener = GuardedListener(raw_listener, limits)
        crowd = [_connect(port, "127.0.0.1") for _ in range(5)]
        other = _connect(port, "127.0.0.2")
        accepted = [listener.accept() for _ in range(4)]
        try:
            assert [peer[0] for _, peer in accepted] == ["127.0.0.1"] * 3 + ["127.0.0.2"]
            assert limits.open_by_address == {"127.0.0.1": 3, "127.0.0.2": 1} and limits.refused_total == 2
            # The two over the cap were answered 503 and closed; the first three are still open.
            assert [_read_all(client) for client in crowd[3:]] == [REFUSED_RESPONSE] * 2
            crowd[0].settimeout(0.2)
            with pytest.raises(socket.timeout):
                crowd[0].recv(1)
            # A released slot is free again.
            accepted[0][0].close()
            limits.release("127.0.0.1")
            again = _connect(port, "127.0.0.1")
            connection, peer = listener.accept()
            assert peer[0] == "127.0.0.1" and limits.open_by_address["127.0.0.1"] == 3
            connection.close()
            again.close()
        finally:
            for connection, _ in accepted:
                connection.close()
            for client in [*crowd, other]:
                client.close()


def test_total_cap_refuses_every_address():
    limits = ConnectionLimits(per_address=10, total=2)
    assert limits.admit("127.0.0.1") and limits.admit("127.0.0.2")
    assert not limits.admit("127.0.0.3") and limits.refused_total == 1
    limits.release("127.0.0.1")
    assert limits.admit("127.0.0.3")
    assert limits.open_by_address == {"127.0.0.2": 1, "127.0.0.3": 1} and limits.open_total == 2


def test_accept_survives_running_out_of_descriptors():
    class Exhausted:
        """A listener whose first two accepts fail with EMFILE, as under a descriptor flood."""

        def __init__(self, real):
            self.real = real
            self.failures = 2

        def accept(self):
            if self.failures:
                self.failures -= 1
                raise OSError(24, "Too many open files")
            return self.real.accept()

    pauses = []
    with socket.socket() as raw_listener:
        raw_listener.bind(("127.0.0.1", 0))
        raw_listener.listen(4)
        client = _connect(raw_listener.getsockname()[1], "127.0.0.1")
        listener = GuardedListener(Exhausted(raw_listener), ConnectionLimits(4, 4), pause=pauses.append)
        connection, peer = listener.accept()
        assert peer[0] == "127.0.0.1" and len(pauses) == 2
        connection.close()
        client.close()


def test_with_a_password_the_warning_is_about_clear_text_and_gone_with_tls(capsys):
    from bot.config import parse_config

    exposed = parse_config({"dashboard": {"host": "0.0.0.0"}}).dashboard
    assert server_module.warn_if_exposed(exposed, password_set=True)
    err = capsys.readouterr().err
    assert "over plain HTTP" in err and "no authentication" not in err
    proxied = exposed.model_copy(update={"trusted_proxies": 1})
    assert not server_module.warn_if_exposed(proxied, password_set=True)
    assert server_module.warn_if_exposed(proxied, password_set=False)  # no password: the loud one
    assert "there is no authentication" in capsys.readouterr().err
