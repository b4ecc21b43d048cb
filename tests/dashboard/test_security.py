"""Security headers on every response; the Host allow-list; CSRF, Origin/Referer, JSON and size
checks on writes."""
from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.edge import HostPolicy
from dashboard.security import CSP

CROSS_SITE = {"error": "cross-site request refused", "field": None}


SOCKETIO_HANDSHAKE = "/socket.io/?EIO=4&transport=polling"
EXPECTED_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; "
                "form-action 'self'")


@pytest.mark.parametrize("path", ["/api/health", "/api/nothing", "/metrics", "/vendor/unknown.js", "/nowhere",
                                  SOCKETIO_HANDSHAKE, "/socket.io/?EIO=4&transport=polling&sid=unknown"])
def test_every_response_has_the_security_headers(client, path):
    response = client.get(path)
    assert response.headers["Content-Security-Policy"] == EXPECTED_CSP
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_csp_is_strict():
    parts = dict(p.strip().split(" ", 1) for p in CSP.split(";"))
    assert parts["default-src"] == "'self'"
    assert parts["script-src"] == "'self'" and "unsafe" not in CSP
    assert parts["object-src"] == "'none'" and parts["frame-ancestors"] == "'none'"
    assert parts["connect-src"] == "'self'"  # no websocket to any other host


def test_post_without_token_is_refused(client, engine):
    response = client.post("/api/bot/pause")
    assert response.status_code == 403 and response.get_json() == CROSS_SITE
    response = client.post("/api/bot/pause", headers={"X-CSRF-Token": "wrong"})
    assert response.status_code == 403 and response.get_json() == CROSS_SITE
    assert engine.state == "running"


def test_cross_origin_is_refused_even_with_the_token(client, csrf, engine):
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                    {"Referer": "http://evil.example/page"}, {"Origin": "http://localhost:9999"}):
        response = client.post("/api/bot/pause", headers={**csrf, **headers})
        assert response.status_code == 403, headers
        assert response.get_json() == CROSS_SITE
    assert engine.state == "running"


def test_same_origin_with_the_token_passes(client, csrf, engine):
    headers = {**csrf, "Origin": "http://localhost", "Referer": "http://localhost/journal"}
    assert client.post("/api/bot/pause", headers=headers).status_code == 200
    assert engine.state == "paused"


def test_bodies_must_be_json(client, csrf):
    response = client.post("/api/journal/entry", headers=csrf, data="entry_reason=x",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415 and response.get_json()["field"] is None
    assert client.post("/api/journal/entry", headers=csrf).status_code == 415
    assert client.post("/api/bot/pause", headers=csrf, data="x", content_type="text/plain").status_code == 415
    assert client.post("/api/bot/pause", headers=csrf).status_code == 200  # bodyless control


def test_token_check_comes_before_the_content_type(client):
    response = client.post("/api/journal/entry", data="x", content_type="text/plain")
    assert response.status_code == 403


def test_too_large_body_is_413_json(client, csrf):
    response = client.post("/api/journal/entry", headers=csrf, json={"entry_reason": "x" * 70_000})
    assert response.status_code == 413
    assert response.get_json()["field"] is None


def test_reads_need_no_token(client):
    assert client.get("/api/portfolio").status_code == 200


# ----- the Host allow-list ----------------------------------------------------------------------

ALLOWED_ON_LOOPBACK = ["127.0.0.1", "127.0.0.1:5000", "localhost", "localhost:5000", "LocalHost:5000",
                       "localhost.:5000", "[::1]", "[::1]:5000", "bot.example.lan", "bot.example.lan:8443",
                       "BOT.example.lan"]
REFUSED_ON_LOOPBACK = [None, "", " ", "evil.example", "evil.example:5000", "127.0.0.1:5001", "localhost:9999",
                       "127.0.0.1.nip.io:5000", "localhost.evil.example", "localhost@evil.example",
                       "evil.example@localhost", "evil.example#@localhost", "localhost:5000/x", "[::1",
                       "127.0.0.1:99999", "localhost:abc", "127.0.0.2:5000", "example.lan", "bot.example.lan.evil"]


@pytest.mark.parametrize("header", ALLOWED_ON_LOOPBACK)
def test_host_policy_allows_our_names(header):
    assert HostPolicy("127.0.0.1", 5000, ["bot.example.lan"]).allows_host(header)


@pytest.mark.parametrize("header", REFUSED_ON_LOOPBACK)
def test_host_policy_refuses_other_names(header):
    assert not HostPolicy("127.0.0.1", 5000, ["bot.example.lan"]).allows_host(header)


def test_host_policy_by_bound_address():
    wildcard = HostPolicy("0.0.0.0", 8080)
    assert all(wildcard.allows_host(h) for h in ("0.0.0.0:8080", "127.0.0.1:8080", "localhost", "[::1]:8080"))
    assert not wildcard.allows_host("192.168.1.20:8080")  # the LAN name must be listed
    lan = HostPolicy("192.168.1.20", 8080, ["mybox.lan"])
    assert all(lan.allows_host(h) for h in ("192.168.1.20:8080", "192.168.1.20", "mybox.lan:8080", "localhost:8080"))
    assert not lan.allows_host("127.0.0.1:8080") and not lan.allows_host("192.168.1.21:8080")
    ipv6 = HostPolicy("::1", 5000)
    assert ipv6.allows_host("[::1]:5000") and ipv6.allows_host("127.0.0.1:5000")
    assert not ipv6.allows_host("::1")  # an IPv6 Host is always bracketed


def test_origin_must_be_this_server_as_allowed():
    policy = HostPolicy("127.0.0.1", 5000, ["bot.example.lan"])
    assert policy.allows_origin("http://127.0.0.1:5000", "127.0.0.1:5000")
    assert policy.allows_origin("http://localhost:5000/journal", "localhost:5000")  # a Referer
    assert policy.allows_origin("https://bot.example.lan", "bot.example.lan")
    # DNS rebinding: the hostile page's origin and the Host it makes the browser send agree.
    assert not policy.allows_origin("http://evil.example:5000", "evil.example:5000")
    assert not policy.allows_origin("http://localhost:5000", "127.0.0.1:5000")  # another origin
    assert not policy.allows_origin("http://localhost:9999", "localhost:9999")  # another port
    for origin in ("null", "", None, "ftp://127.0.0.1:5000", "http://user@127.0.0.1:5000", "127.0.0.1:5000"):
        assert not policy.allows_origin(origin, "127.0.0.1:5000"), origin


SPOOFED = {"Host": "evil.example:5000"}


@pytest.mark.parametrize("path", ["/", "/journal", "/alerts", "/vendor/chart.umd.min.js", "/nowhere", "/metrics",
                                  SOCKETIO_HANDSHAKE])
def test_spoofed_host_gets_400_text_outside_the_api(client, path):
    response = client.get(path, headers=SPOOFED)
    assert response.status_code == 400
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == ("host not allowed: 'evil.example:5000' "
                                               "(add the name to dashboard.allowed_hosts to serve it)\n")
    assert response.headers["Content-Security-Policy"] == EXPECTED_CSP


@pytest.mark.parametrize("path", ["/api/health", "/api/portfolio", "/api/export/trades", "/api/export/journal",
                                  "/api/nothing"])
def test_spoofed_host_gets_400_json_in_the_api(client, path):
    response = client.get(path, headers=SPOOFED)
    assert response.status_code == 400
    assert response.get_json() == {"error": "host not allowed: 'evil.example:5000' "
                                            "(add the name to dashboard.allowed_hosts to serve it)", "field": None}


def test_missing_host_gets_400(client):
    response = client.get("/api/health", environ_overrides={"HTTP_HOST": None})
    assert response.status_code == 400 and response.get_json()["error"].startswith("host not allowed: none")


def test_dns_rebinding_writes_change_nothing(client, csrf, engine):
    journal = Path(engine.data_dir) / "trade_journal.json"
    before = journal.read_bytes() if journal.exists() else None
    entries_before = client.get("/api/journal/entries").get_json()
    rebinding = {**csrf, **SPOOFED, "Origin": "http://evil.example:5000"}
    response = client.post("/api/journal/entry", headers=rebinding, json={"entry_reason": "rebinding"})
    assert response.status_code == 400 and response.get_json()["field"] is None
    assert client.post("/api/bot/pause", headers=rebinding).status_code == 400
    assert engine.state == "running"
    assert (journal.read_bytes() if journal.exists() else None) == before
    assert client.get("/api/journal/entries").get_json() == entries_before


def test_configured_name_is_served(engine):
    from dashboard import create_app

    config = engine.config.dashboard.model_copy(update={"allowed_hosts": ["bot.example.lan"]})
    app, _ = create_app(engine, config, testing=True)
    try:
        client = app.test_client()
        assert client.get("/api/health", headers={"Host": "bot.example.lan:8443"}).status_code == 200
        assert client.get("/api/health", headers={"Host": "other.example.lan"}).status_code == 400
        token = {"X-CSRF-Token": app.config["DASHBOARD_CSRF_TOKEN"]}
        response = client.post("/api/bot/pause", headers={**token, "Host": "bot.example.lan:8443",
                                                          "Origin": "https://bot.example.lan:8443"})
        assert response.status_code == 200 and engine.state == "paused"
    finally:
        app.extensions["dashboard"].close()


def test_socketio_refuses_cross_origin_handshakes(client):
    assert client.get(SOCKETIO_HANDSHAKE).status_code == 200  # no Origin: not a browser page
    assert client.get(SOCKETIO_HANDSHAKE, headers={"Origin": "http://localhost"}).status_code == 200
    for origin in ("http://evil.example", "http://localhost:9999", "null"):
        response = client.get(SOCKETIO_HANDSHAKE, headers={"Origin": origin})
        assert response.status_code == 400, origin
        assert response.get_data(as_text=True) == '"Not an accepted origin."'


# ----- body limits ------------------------------------------------------------------------------

def test_bodyless_controls_refuse_large_bodies(client, csrf, engine):
    rule = client.post("/api/alerts", headers=csrf, json={"symbol": "BTC/USDT", "condition": "above",
                                                           "price": 1e9}).get_json()
    rule_id = rule["rule"]["id"]
    alerts_before = client.get("/api/alerts").get_json()
    strategies_before = client.get("/api/strategies/performance").get_json()
    big = b"{" + b" " * 70_000 + b"}"
    for method, path in (("POST", "/api/bot/pause"), ("POST", "/api/bot/stop"), ("POST", "/api/bot/start"),
                         ("POST", "/api/strategies/momentum/toggle"), ("DELETE", f"/api/alerts/{rule_id}"),
                         ("POST", f"/api/alerts/{rule_id}/toggle")):
        response = client.open(path, method=method, headers=csrf, data=big, content_type="application/json")
        assert response.status_code == 413, path
        assert response.get_json() == {"error": "request body too large (limit 65536 bytes)", "field": None}
    assert engine.state == "running"
    assert client.get("/api/alerts").get_json() == alerts_before
    assert client.get("/api/strategies/performance").get_json() == strategies_before
    # At the limit itself a bodyless control still works.
    response = client.post("/api/bot/pause", headers=csrf, data=b"{" + b" " * (65536 - 2) + b"}",
                           content_type="application/json")
    assert response.status_code == 200 and engine.state == "paused"
