"""JSON errors, and the checks every state-changing API request must pass.

A POST/PUT/DELETE under /api must carry the X-CSRF-Token header with the token rendered into
each page, must come from this server's own pages when the browser says where it comes from
(Origin or Referer, compared with the allowed host, never with whatever Host was sent), and
must send its body as JSON. Pages never take form posts. The Host allow-list, the body limit
and the response headers are applied to every request by the WSGI edge (dashboard/edge.py).
"""
from __future__ import annotations

import hmac
import secrets
from flask import Flask, current_app, g, jsonify, request, session
from werkzeug.exceptions import HTTPException

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; "
       "form-action 'self'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"
CROSS_SITE = "cross-site request refused"
# Endpoints whose POST carries no body (start/pause/stop, toggle): an empty body is fine there.
BODYLESS_ENDPOINTS = frozenset({"api.bot_start", "api.bot_pause", "api.bot_stop", "api.toggle_strategy",
                                "alerts_api.delete_alert", "alerts_api.toggle_alert", "orders_api.cancel_order"})


def json_error(message: str, status: int, field: str | None = None):
    """The API's error shape: {"error": message, "field": name-or-null} with a 4xx/5xx status."""
    response = jsonify({"error": message, "field": field})
    response.status_code = status
    return response


def csrf_token() -> str:
    """The token pages send back on writes: one per session once a password is set
    (dashboard/auth.py), else one per process."""
    auth = current_app.extensions.get("auth")
    if auth is not None and auth.enabled:
        token = session.get("csrf")
        if not token:
            token = session["csrf"] = secrets.token_urlsafe(32)
        return token
    return current_app.config["DASHBOARD_CSRF_TOKEN"]


def _bearer_request() -> bool:
    # A browser never adds an Authorization: Bearer header by itself, so a request carrying a
    # valid token cannot be a cross-site forgery: no CSRF token or Origin check for it.
    principal = g.get("principal")
    return principal is not None and principal.kind == "token"


def _same_origin(url: str) -> bool:
    policy = current_app.extensions["host_policy"]
    return policy.allows_origin(url, request.headers.get("Host"))


def refusal():
    """None when the request may go on, else the error response to send."""
    if request.method not in MUTATING_METHODS or not request.path.startswith("/api/"):
        return None
    if request.routing_exception is not None:
        return None  # let the 404/405 through unchanged
    if not _bearer_request():
        forged = _cross_site()
        if forged is not None:
            return forged
    has_body = bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if has_body or request.endpoint not in BODYLESS_ENDPOINTS:
        if not request.is_json:
            return json_error("the request body must be JSON (Content-Type: application/json)", 415)
    return None


def _cross_site():
    origin = request.headers.get("Origin")
    referer = request.headers.get("Referer")
    if origin is not None and not _same_origin(origin):
        return json_error(CROSS_SITE, 403)
    if origin is None and referer is not None and not _same_origin(referer):
        return json_error(CROSS_SITE, 403)
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent.encode(), csrf_token().encode()):
        return json_error(CROSS_SITE, 403)
    return None


def init_security(app: Flask, host_policy, token: str | None = None) -> None:
    """Install the CSRF token, the request checks, the cache header and the JSON error pages."""
    app.config["DASHBOARD_CSRF_TOKEN"] = token or secrets.token_urlsafe(32)
    app.extensions["host_policy"] = host_policy
    app.before_request(refusal)

    @app.after_request
    def _headers(response):
        if request.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not request.path.startswith("/api/") and request.path != "/api":
            return exc
        messages = {
            404: f"no such API endpoint: {request.path}",
            405: f"{request.method} is not allowed on {request.path}",
            413: f"request body too large (limit {app.config.get('MAX_CONTENT_LENGTH')} bytes)",
            415: "the request body must be JSON (Content-Type: application/json)",
        }
        response = json_error(messages.get(exc.code, exc.description or exc.name), exc.code or 500)
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if request.path.startswith("/api/"):
            return json_error(f"internal error: {type(exc).__name__}", 500)
        return "Internal error; see logs/bot.log", 500
