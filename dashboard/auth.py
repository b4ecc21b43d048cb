"""Login, sessions and bearer tokens: on once `run_bot.py set-password` has stored a password.

Every request (pages, API, exports, /metrics unless dashboard.metrics_public, the Socket.IO
handshake) is turned into a bot.auth.Principal: a signed session cookie made by the login
page, or `Authorization: Bearer <token>`. Without one: 401 under /api, /metrics and
/socket.io, the login page for pages. A read-only token gets 403 on any write. Failed
logins are limited per client address by flask-limiter (tiers in dashboard.login_limits, so
the wait grows) and each is written to the activity log. With no password set nothing is
asked (the loopback default), but a bearer token sent is still checked.
"""
from __future__ import annotations

import logging
import secrets
import time
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, render_template, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse_many
from werkzeug.middleware.proxy_fix import ProxyFix

from bot.auth import OPEN, AuthStore, Principal
from dashboard.edge import error_response
from dashboard.security import MUTATING_METHODS, json_error

log = logging.getLogger(__name__)

SESSION_COOKIE = "ptb_session"
# Reachable without logging in: the login form itself and the stylesheet/icon it uses.
PUBLIC_ENDPOINTS = frozenset({"auth.login_page", "auth.login_submit", "static"})
SOCKETIO_PATH = "/socket.io"
LOGIN_REQUIRED = "login required: sign in on /login, or send 'Authorization: Bearer <token>' (run_bot.py token create)"
BAD_HEADER = "malformed Authorization header: expected 'Bearer <token>'"
BAD_TOKEN = "unknown or revoked API token"
EXPIRED = "session expired: sign in again"
READ_ONLY = "this API token is read-only: writes need a token created without --read-only"

class _SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over HTTPS (direct TLS, or a
    trusted proxy's X-Forwarded-Proto)."""

    def get_cookie_secure(self, app) -> bool:
        return request.is_secure


class DashboardAuth:
    """The store, the limiter and the checks of one dashboard app (app.extensions["auth"])."""

    def __init__(self, app, store: AuthStore, config, activity, clock=time.time):
        self.store = store
        self.config = config
        self.activity = activity
        self.clock = clock
        self.lifetime_seconds = config.session_hours * 3600.0
        self.limiter = Limiter(get_remote_address, app=app, storage_uri="memory://", headers_enabled=False,
                               key_prefix="login")

    @property
    def enabled(self) -> bool:
        """True once a password is set: then every request needs a session or a token."""
        return self.store.password_set

    # ----- who is asking ------------------------------------------------------------------
    def resolve(self) -> tuple[Principal | None, str]:
        """The current request's Principal, or (None, why) when it has none valid."""
        header = request.headers.get("Authorization")
        if header is not None:
            scheme, _, value = header.strip().partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                return None, BAD_HEADER
            principal = self.store.principal_for_token(value.strip())
            return (principal, "") if principal is not None else (None, BAD_TOKEN)
        if not self.enabled:
            return OPEN, ""
        signed_in = session.get("auth")
        if not isinstance(signed_in, dict) or signed_in.get("stamp") != self.store.session_stamp:
            return None, LOGIN_REQUIRED
        at = signed_in.get("at")
        if not isinstance(at, (int, float)) or self.clock() - at > self.lifetime_seconds:
            return None, EXPIRED
        return Principal("session", "browser"), ""

    def gate(self):
        """before_request: None to go on, else the 401/403 or the redirect to the login page."""
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if request.endpoint == "prometheus_metrics" and self.config.metrics_public:
            return None
        principal, why = self.resolve()
        if principal is None:
            return self._unauthorised(why)
        g.principal = principal
        if request.method in MUTATING_METHODS and not principal.may_write:
            return json_error(READ_ONLY, 403)
        return None

    @staticmethod
    def _unauthorised(why: str):
        headers = {"WWW-Authenticate": 'Bearer realm="dashboard"'}
        if request.path.startswith("/api/") or request.path == "/api" or request.method != "GET" \
                or request.path == "/metrics" or "Authorization" in request.headers:
            response = json_error(why, 401)
            response.headers.update(headers)
            return response
        target = request.full_path if request.query_string else request.path
        return redirect(f"/login?next={target}", code=303)

    def socketio_gate(self, wsgi_app, flask_app):
        """WSGI wrapper: the Socket.IO handshake (and every polling request) needs a principal too."""
        def gated(environ, start_response):
            path = environ.get("PATH_INFO", "")
            checked = self.enabled or "HTTP_AUTHORIZATION" in environ  # else nothing to check: no context pushed
            if checked and (path == SOCKETIO_PATH or path.startswith(SOCKETIO_PATH + "/")):
                with flask_app.request_context(environ):
                    principal, why = self.resolve()
                if principal is None:
                    return error_response(environ, start_response, "401 Unauthorized", why,
                                          [("WWW-Authenticate", 'Bearer realm="dashboard"')])
            return wsgi_app(environ, start_response)
        return gated

    # ----- failed logins ------------------------------------------------------------------
    def record_failure(self, reason: str) -> None:
        """One activity line per refused login (wrong password or code, or rate-limited)."""
        address = request.remote_addr or "unknown"
        log.warning("login refused from %s: %s", address, reason)
        try:
            self.activity.record("login_failed", address=address, reason=reason)
        except Exception:  # noqa: BLE001 - the refusal stands; the activity log is best effort
            log.exception("could not record a failed login")


def _auth() -> DashboardAuth:
    return current_app.extensions["auth"]


def safe_next(target: str | None) -> str:
    """Where to go after the login: a path on this server only (never //host or a URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def _login_csrf() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def _render_login(error: str | None, status: int, retry_after: int | None = None):
    auth = _auth()
    body = render_template("login.html", title="Sign in", error=error, totp=auth.store.totp_enabled,
                           next=safe_next(request.values.get("next")), csrf_token=_login_csrf())
    headers = {"Cache-Control": "no-store"}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return body, status, headers


def login_page():
    auth = _auth()
    if not auth.enabled:
        return redirect("/", code=303)
    principal, _ = auth.resolve()
    if principal is not None and principal.kind == "session":
        return redirect(safe_next(request.args.get("next")), code=303)
    return _render_login(None, 200)


def _on_breach(limit):
    auth = _auth()
    # flask-limiter names the first tier breached; the wait is that of the longest one spent.
    resets = [limit.reset_at]
    for item in parse_many(auth.config.login_limits):
        window = auth.limiter.limiter.get_window_stats(item, *limit.request_args)
        if window.remaining <= 0:
            resets.append(window.reset_time + 1)
    wait = max(int(max(resets) - auth.clock()), 1)
    auth.record_failure(f"rate-limited; retry in {wait} s")
    return current_app.make_response(_render_login(
        f"Too many failed sign-ins from your address: try again in {wait} seconds.", 429, wait))


def _failed(response) -> bool:
    return response.status_code == 401


def login_submit():
    auth = _auth()
    if not auth.enabled:
        return redirect("/", code=303)
    sent = request.form.get("csrf_token", "")
    if not sent or not secrets.compare_digest(sent, _login_csrf()):
        return _render_login("The sign-in form expired: please try again.", 400)
    password = request.form.get("password", "")
    if not auth.store.check_password(password):
        auth.record_failure("wrong password")
        return _render_login("Wrong password.", 401)
    if auth.store.totp_enabled and not auth.store.check_second_factor(request.form.get("code", "")):
        auth.record_failure("wrong, used or missing code")
        return _render_login("Wrong or already used code: enter the current 6-digit code or a recovery code.", 401)
    session.clear()  # a new session (and CSRF token) after signing in: no fixation
    session.permanent = True
    session["auth"] = {"stamp": auth.store.session_stamp, "at": auth.clock()}
    session["csrf"] = secrets.token_urlsafe(32)
    log.info("login from %s", request.remote_addr)
    return redirect(safe_next(request.form.get("next")), code=303)


def logout():
    sent = request.form.get("csrf_token", "")
    token = session.get("csrf", "")
    if not sent or not token or not secrets.compare_digest(sent, token):
        return "logout refused: the form expired; reload the page\n", 400, {"Content-Type": "text/plain"}
    session.clear()
    return redirect("/login", code=303)


def init_auth(app, engine, dashboard_config, clock=time.time) -> DashboardAuth:
    """Install the session settings, the gate (before any other check), the login pages and
    the limiter; returns the DashboardAuth (also app.extensions["auth"])."""
    store = AuthStore(engine.data_dir, fsync=engine.config.storage.fsync, clock=clock)
    app.secret_key = store.session_secret or secrets.token_urlsafe(32)
    app.session_interface = _SessionInterface()
    app.config.update(SESSION_COOKIE_NAME=SESSION_COOKIE, SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Strict",
                      PERMANENT_SESSION_LIFETIME=timedelta(hours=dashboard_config.session_hours))
    auth = DashboardAuth(app, store, dashboard_config, engine.activity, clock)
    app.extensions["auth"] = auth
    app.before_request(auth.gate)
    limited = auth.limiter.limit(dashboard_config.login_limits, deduct_when=_failed, on_breach=_on_breach)
    pages = Blueprint("auth", __name__)  # one per app: each app has its own limiter
    pages.add_url_rule("/login", endpoint="login_page", view_func=login_page, methods=["GET"])
    pages.add_url_rule("/login", endpoint="login_submit", view_func=limited(login_submit), methods=["POST"])
    pages.add_url_rule("/logout", endpoint="logout", view_func=logout, methods=["POST"])
    app.register_blueprint(pages)

    @app.context_processor
    def _signed_in():
        return {"auth_enabled": auth.enabled}

    return auth


def proxy_fix(wsgi_app, trusted_proxies: int):
    """werkzeug's ProxyFix for that many proxies (client address, scheme, host, port); none: as is."""
    if trusted_proxies <= 0:
        return wsgi_app
    return ProxyFix(wsgi_app, x_for=trusted_proxies, x_proto=trusted_proxies, x_host=trusted_proxies,
                    x_port=trusted_proxies)
