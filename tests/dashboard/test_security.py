"""Security headers on every response; CSRF, Origin/Referer, JSON and size checks on writes."""
from __future__ import annotations

import pytest

from dashboard.security import CSP

CROSS_SITE = {"error": "cross-site request refused", "field": None}


@pytest.mark.parametrize("path", ["/api/health", "/api/nothing", "/metrics", "/vendor/unknown.js", "/nowhere"])
def test_every_response_has_the_security_headers(client, path):
    response = client.get(path)
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_csp_is_strict():
    parts = dict(p.strip().split(" ", 1) for p in CSP.split(";"))
    assert parts["default-src"] == "'self'"
    assert parts["script-src"] == "'self'" and "unsafe" not in CSP
    assert parts["object-src"] == "'none'" and parts["frame-ancestors"] == "'none'"


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
