"""Login, sessions, bearer tokens and failed-login limits, through the Flask test client over the
whole WSGI stack (edge, Socket.IO gate, Flask). The password is set in the engine's data dir
before the app is built, as `run_bot.py set-password` does."""
from __future__ import annotations

import json
import re
from pathlib import Path

import limits.storage.memory
import pyotp
import pytest

from bot.auth import AuthStore
from dashboard import create_app
from dashboard.openapi import OPERATIONS

PASSWORD = "correct horse battery"
PAGES = ("/", "/analytics", "/leaderboard", "/journal", "/alerts", "/market", "/trades", "/wallets", "/logs")
NEEDS_QUERY = {"/api/candles"}
HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


def build(engine, **dashboard):
    config = engine.config.dashboard.model_copy(update=dashboard)
    app, _ = create_app(engine, config, testing=True)
    return app


@pytest.fixture
def store(engine):
    store = AuthStore(engine.data_dir, fsync=False)
    store.set_password(PASSWORD)
    return store


@pytest.fixture
def locked(engine, store):
    app = build(engine)
    yield app
    app.extensions["dashboard"].close()


def form_token(client) -> str:
    page = client.get("/login")
    assert page.status_code == 200, page.status_code
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def login(client, password=PASSWORD, code="", **kwargs):
    return client.post("/login", data={"csrf_token": form_token(client), "password": password, "code": code,
                                       "next": "/journal"}, **kwargs)


def page_csrf(client) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").text).group(1)


def activity(engine) -> list[dict]:
    path = Path(engine.log_dir) / "activity.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def concrete(rule) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: {"name": "momentum"}.get(m[1], "x1"), rule.rule)


def test_an_anonymous_client_gets_nothing(locked, engine):
    client = locked.test_client()
    state_before = engine.state
    seen = set()
    for rule in locked.url_map.iter_rules():
        if rule.endpoint in ("static", "auth.login_page", "auth.login_submit"):
            continue
        seen.add(rule.endpoint)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(concrete(rule), method=method, json={} if method != "GET" else None)
            where = f"{method} {rule.rule}"
            if rule.rule.startswith("/api/") or rule.rule == "/metrics" or method != "GET":
                assert response.status_code == 401, where
                assert response.get_json()["error"].startswith("login required"), where
                assert response.headers["WWW-Authenticate"].startswith("Bearer"), where
            else:
                assert response.status_code == 303, where
                assert response.headers["Location"].startswith("/login?next="), where
    assert set(OPERATIONS) <= seen and {"prometheus_metrics", "pages.overview", "auth.logout"} <= seen
    assert client.get(HANDSHAKE).status_code == 401
    assert client.get("/api/no-such-thing").status_code == 401  # no hint of what exists
    assert engine.state == state_before
    # The login page and its stylesheet are served; no script on it (the CSP stays intact).
    page = client.get("/login")
    assert page.status_code == 200 and "<script" not in page.text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert client.get("/static/css/app.css").status_code == 200


def test_a_signed_in_browser_gets_everything_and_keeps_csrf(locked, engine):
    client = locked.test_client()
    response = login(client)
    assert response.status_code == 303 and response.headers["Location"] == "/journal"
    cookie = response.headers["Set-Cookie"]
    assert "ptb_session=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain http here
    for path in PAGES:
        assert client.get(path).status_code == 200, path
    for rule in locked.url_map.iter_rules():
        if rule.rule.startswith("/api/") and "GET" in rule.methods and "<" not in rule.rule:
            # /api/candles names its market in the query: signed in, a bare call is a 400, not a 401.
            expected = (400,) if rule.rule in NEEDS_QUERY else (200, 503)
            assert client.get(rule.rule).status_code in expected, rule.rule
    assert client.get("/metrics").status_code == 200
    assert client.get(HANDSHAKE).text.startswith("0{")
    assert client.post("/api/bot/pause").status_code == 403  # no CSRF token: refused
    assert engine.state.value != "paused"
    assert client.post("/api/bot/pause", headers={"X-CSRF-Token": page_csrf(client)}).status_code == 200
    assert engine.state.value == "paused"
    # Sign out: the same cookie jar is anonymous again.
    logout = client.post("/logout", data={"csrf_token": page_csrf(client)})
    assert logout.status_code == 303
    assert client.get("/api/portfolio").status_code == 401


def test_the_cookie_is_secure_over_https(locked):
    client = locked.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/login", base_url="https://localhost").text).group(1)
    response = client.post("/login", base_url="https://localhost",
                           data={"csrf_token": token, "password": PASSWORD})
    assert response.status_code == 303 and "Secure" in response.headers["Set-Cookie"]


def test_wrong_password_expired_session_and_changed_password(locked, engine, store):
    client = locked.test_client()
    response = login(client, "wrong password!")
    assert response.status_code == 401 and "Wrong password." in response.text
    assert client.get("/api/portfolio").status_code == 401
    assert login(client).status_code == 303
    assert client.get("/api/portfolio").status_code == 200
    auth = locked.extensions["auth"]
    real_clock = auth.clock
    lifetime = engine.config.dashboard.session_hours * 3600
    auth.clock = lambda: real_clock() + lifetime + 5
    assert client.get("/api/portfolio").get_json()["error"].startswith("session expired")
    assert client.get("/market").headers["Location"] == "/login?next=/market"
    auth.clock = real_clock
    assert client.get("/api/portfolio").status_code == 200
    store.set_password("a brand new password")  # every session ends, even on a running bot
    assert client.get("/api/portfolio").status_code == 401


def test_bearer_tokens(locked, engine, store):
    client = locked.test_client()
    writer = store.create_token("script")
    reader = store.create_token("grafana", read_only=True)
    bearer = {"Authorization": f"Bearer {writer}"}
    assert client.get("/api/portfolio", headers=bearer).status_code == 200
    assert client.get("/api/export/trades", headers=bearer).status_code == 200
    assert client.get("/metrics", headers={"Authorization": f"Bearer {reader}"}).status_code == 200
    assert client.get(HANDSHAKE, headers=bearer).text.startswith("0{")
    refused = client.post("/api/bot/pause", headers={"Authorization": f"Bearer {reader}"})
    assert refused.status_code == 403 and "read-only" in refused.get_json()["error"]
    assert engine.state.value != "paused"
    # No CSRF token and no Origin: a bearer request needs neither.
    assert client.post("/api/bot/pause", headers=bearer).status_code == 200
    assert engine.state.value == "paused"
    assert client.post("/api/journal/entry", headers=bearer, data="x").status_code == 415  # still JSON only
    store.revoke_token("script")
    for header in (f"Bearer {writer}", "Bearer", "Bearer ptb_not-a-token", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 5000):
        response = client.get("/api/portfolio", headers={"Authorization": header})
        assert response.status_code in (401, 431) and response.status_code != 500, header
    assert client.get(HANDSHAKE, headers=bearer).status_code == 401
    assert client.get("/", headers=bearer).status_code == 401


def test_no_password_means_no_login_but_tokens_still_count(engine):
    app = build(engine)
    try:
        client = app.test_client()
        assert client.get("/").status_code == 200 and "Sign out" not in client.get("/").text
        assert client.get("/login").status_code == 303
        reader = AuthStore(engine.data_dir, fsync=False).create_token("reader", read_only=True)
        assert client.post("/api/bot/pause", headers={"Authorization": f"Bearer {reader}"}).status_code == 403
        assert client.get("/api/portfolio", headers={"Authorization": "Bearer ptb_wrong"}).status_code == 401
        assert client.post("/api/bot/pause").status_code == 403  # CSRF as before
    finally:
        app.extensions["dashboard"].close()


class FakeTime:
    def __init__(self, now: float):
        self.now = now

    def time(self) -> float:
        return self.now


def test_twenty_wrong_passwords_are_slowed_more_and_more_and_logged(engine, store, monkeypatch):
    clock = FakeTime(1_800_000_000.0)
    monkeypatch.setattr(limits.storage.memory, "time", clock)
    app = build(engine)
    app.extensions["auth"].clock = clock.time
    try:
        client = app.test_client()
        codes, waits = [], []
        for _ in range(20):
            response = login(client, "not the password")
            codes.append(response.status_code)
            waits.append(response.headers.get("Retry-After"))
        assert codes == [401] * 5 + [429] * 15
        first_wait = int(waits[5])
        assert 1 <= first_wait <= 61  # the minute tier (flask-limiter rounds the reset up a second)
        assert "Too many failed sign-ins" in response.text
        # Even the right password waits now.
        assert login(client).status_code == 429
        failed = [e for e in activity(engine) if e["event"] == "login_failed"]
        assert len(failed) == 21 and {e["address"] for e in failed} == {"127.0.0.1"}
        assert [e["reason"] for e in failed[:5]] == ["wrong password"] * 5
        assert all(e["reason"].startswith("rate-limited") for e in failed[5:])
        # A minute later five more tries, then the quarter-hour tier: a longer wait.
        clock.now += 61
        assert [login(client, "still wrong").status_code for _ in range(5)] == [401] * 5
        blocked = login(client, "still wrong")
        assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 61 >= first_wait
        clock.now += 15 * 60
        assert login(client).status_code == 303  # and the right password gets in once the wait is over
    finally:
        app.extensions["dashboard"].close()


def test_totp_wrong_replayed_and_recovery_codes(engine, store):
    now = 1_800_000_000.0
    setup = store.set_password(PASSWORD, totp=True)
    app = build(engine, login_limits="100 per minute")  # this test fails on purpose more than 5 times
    app.extensions["auth"].store.clock = lambda: now
    try:
        client = app.test_client()
        code = pyotp.TOTP(setup.secret).at(now)  # the authenticator app's code, computed independently
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        assert 'name="code"' in client.get("/login").text
        assert login(client, code="").status_code == 401
        assert login(client, code=wrong).status_code == 401
        assert login(client, "bad password", code=code).status_code == 401  # the code is not spent by this
        assert login(client, code=code).status_code == 303
        assert client.get("/api/portfolio").status_code == 200
        other = app.test_client()
        assert login(other, code=code).status_code == 401  # replayed
        old = pyotp.TOTP(setup.secret).at(now - 300)
        assert login(other, code=old).status_code == 401  # too old
        recovery = setup.recovery_codes[0]
        assert login(other, code=recovery).status_code == 303
        assert login(app.test_client(), code=recovery).status_code == 401  # single use
        assert AuthStore(engine.data_dir).recovery_codes_left() == len(setup.recovery_codes) - 1
        reasons = [e["reason"] for e in activity(engine) if e["event"] == "login_failed"]
        assert reasons.count("wrong password") == 1 and reasons.count("wrong, used or missing code") == 5
    finally:
        app.extensions["dashboard"].close()


def test_trusted_proxy_sets_address_and_scheme_and_only_then(engine, store):
    forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    for proxies, address, secure in ((1, "203.0.113.9", True), (0, "127.0.0.1", False)):
        app = build(engine, trusted_proxies=proxies)
        try:
            client = app.test_client()
            token = form_token(client)
            wrong = client.post("/login", headers=forwarded, data={"csrf_token": token, "password": "nope nope"})
            assert wrong.status_code == 401
            assert activity(engine)[-1]["address"] == address
            right = client.post("/login", headers=forwarded, data={"csrf_token": token, "password": PASSWORD})
            assert ("Secure" in right.headers["Set-Cookie"]) is secure
        finally:
            app.extensions["dashboard"].close()


def test_metrics_can_be_public(engine, store):
    app = build(engine, metrics_public=True)
    try:
        client = app.test_client()
        assert client.get("/metrics").status_code == 200
        assert client.get("/api/portfolio").status_code == 401
    finally:
        app.extensions["dashboard"].close()


def test_login_form_bad_input_never_500(locked):
    client = locked.test_client()
    assert client.post("/login", data={"password": PASSWORD}).status_code == 400  # no form token
    token = form_token(client)
    for data in ({"csrf_token": token}, {"csrf_token": token, "password": "x" * 10_000},
                 {"csrf_token": token, "password": PASSWORD, "next": "//evil.example/"}):
        response = client.post("/login", data=data)
        assert response.status_code in (303, 401), data
        if response.status_code == 303:
            assert response.headers["Location"] == "/"  # never off-site
    assert client.post("/logout", data={}).status_code == 400
