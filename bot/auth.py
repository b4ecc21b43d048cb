"""Who may use the dashboard, its API and any later front end: the password (werkzeug's scrypt),
the optional TOTP second factor with single-use recovery codes, and API tokens (stored as
SHA-256 digests), all in data/auth.json, written only through bot/storage.py.

No web framework here: the dashboard turns a request into a Principal with these checks, and
another front end (a chat bot) can build its own Principal and ask `may_write` the same way.
The file is re-read whenever it changes on disk, so `run_bot.py token revoke` and
`set-password` take effect on a running bot at its next request.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pyotp
from werkzeug.security import check_password_hash, generate_password_hash

from bot.timestamps import iso_utc
from bot.storage import atomic_write_json
from bot.storage_reading import CorruptFileError, read_json

log = logging.getLogger(__name__)

AUTH_FILE = "auth.json"
SCHEMA_VERSION = 1
TOKEN_PREFIX = "ptb_"
TOKEN_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MIN_PASSWORD_LENGTH = 8
RECOVERY_CODES = 10
TOTP_DIGITS = 6
# Codes of the step before and after the current one are accepted (clock drift of +-30 s).
TOTP_DRIFT_STEPS = 1
TOTP_ISSUER = "Paper Trading Bot"
# The file was unreadable: nothing verifies (fail closed) until it is fixed.
LOCKED = {"locked": True}


class AuthError(ValueError):
    """Bad input to an auth command (a short password, a token name taken or unknown)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a browser session, an API token, or anyone (no password set)."""

    kind: str  # "session", "token", "open" (or a later front end's own kind)
    name: str
    read_only: bool = False

    @property
    def may_write(self) -> bool:
        """True when this principal may change things (pause, toggle, journal...)."""
        return not self.read_only


OPEN = Principal("open", "anyone (no password set)")


@dataclass(frozen=True, slots=True)
class TotpSetup:
    """What set-password --totp shows once: the secret, its otpauth:// URI, the recovery codes."""

    secret: str
    uri: str
    recovery_codes: tuple[str, ...]


def token_digest(token: str) -> str:
    """The stored form of an API token (tokens are 256 random bits: a plain digest suffices)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _code_digest(code: str) -> str:
    return hashlib.sha256(code.strip().lower().replace("-", "").encode("utf-8")).hexdigest()


class AuthStore:
    """data/auth.json: read on change, replaced atomically on every write."""

    def __init__(self, data_dir: str | Path, fsync: bool = True, clock=time.time):
        self.path = Path(data_dir) / AUTH_FILE
        self.fsync = fsync
        self.clock = clock
        self._lock = threading.RLock()
        self._seen: tuple | None = None
        self._document: dict = {}

    # ----- reading ------------------------------------------------------------------------
    def _current(self) -> dict:
        try:
            stat = self.path.stat()
            seen = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        except FileNotFoundError:
            seen = None
        except OSError as exc:
            log.error("auth: cannot read %s: %s; refusing every login and token", self.path, exc)
            return LOCKED
        with self._lock:
            if seen != self._seen:
                try:
                    self._document = read_json(self.path) or {}
                except CorruptFileError as exc:
                    log.error("auth: %s; refusing every login and token until it is fixed", exc)
                    self._document = dict(LOCKED)
                self._seen = seen
            return self._document

    def check_readable(self) -> None:
        """Raise CorruptFileError when data/auth.json exists but cannot be used (for start-up)."""
        read_json(self.path)

    @property
    def password_set(self) -> bool:
        """True once set-password ran (or the file is damaged: then nothing is open)."""
        document = self._current()
        return bool(document.get("password_hash")) or bool(document.get("locked"))

    @property
    def totp_enabled(self) -> bool:
        """True when the login also asks for a 6-digit code (or a recovery code)."""
        return bool(self._current().get("totp", {}).get("secret"))

    @property
    def session_secret(self) -> str | None:
        """The key that signs session cookies (kept in the file so a restart keeps sessions)."""
        return self._current().get("session_secret")

    @property
    def session_stamp(self) -> str:
        """Changes with the password: a session made under an old password is no longer valid."""
        return hashlib.sha256(str(self._current().get("password_hash", "")).encode("utf-8")).hexdigest()[:16]

    def check_password(self, password: str) -> bool:
        """True when password is the one set (constant-time scrypt comparison)."""
        stored = self._current().get("password_hash")
        if not stored or not isinstance(password, str):
            return False
        try:
            return check_password_hash(stored, password)
        except (ValueError, TypeError):  # a damaged hash string
            return False

    def check_second_factor(self, code: str) -> bool:
        """A current TOTP code not used before, or an unused recovery code (then spent)."""
        code = (code or "").strip().replace(" ", "")
        if not code:
            return False
        with self._lock:
            document = dict(self._current())
            totp = dict(document.get("totp") or {})
            if not totp.get("secret"):
                return False
            if code.isdigit() and len(code) == TOTP_DIGITS:
                step = self._totp_step(totp["secret"], code)
                if step is None or step <= int(totp.get("last_step", -1)):
                    return False  # wrong, or replayed
                totp["last_step"] = step
                self._write({**document, "totp": totp})
                return True
            digest = _code_digest(code)
            codes = list(totp.get("recovery_codes") or [])
            match = next((c for c in codes if hmac.compare_digest(c, digest)), None)
            if match is None:
                return False
            codes.remove(match)
            totp["recovery_codes"] = codes
            self._write({**document, "totp": totp})
            return True

    def _totp_step(self, secret: str, code: str) -> int | None:
        totp = pyotp.TOTP(secret, digits=TOTP_DIGITS)
        current = int(self.clock()) // totp.interval
        for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
            if hmac.compare_digest(totp.generate_otp(step), code):
                return step
        return None

    def recovery_codes_left(self) -> int:
        """How many recovery codes are still unused."""
        return len(self._current().get("totp", {}).get("recovery_codes") or [])

    def principal_for_token(self, token: str) -> Principal | None:
        """The token's Principal, or None for an unknown, revoked or malformed token."""
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = token_digest(token)
        found = None
        for entry in self._current().get("tokens") or []:
            if hmac.compare_digest(str(entry.get("digest", "")), digest):
                found = entry
        if found is None:
            return None
        return Principal("token", str(found["name"]), bool(found.get("read_only")))

    def tokens(self) -> list[dict]:
        """Every token's name, mode and creation time (never the token)."""
        return [{"name": t["name"], "read_only": bool(t.get("read_only")), "created_at": t.get("created_at")}
                for t in self._current().get("tokens") or []]

    # ----- writing ------------------------------------------------------------------------
    def _write(self, document: dict) -> None:
        document = {**document, "schema_version": SCHEMA_VERSION}
        document.pop("locked", None)
        atomic_write_json(self.path, document, fsync=self.fsync)  # mkstemp: the file is 0600
        self._seen = None  # re-read (and re-stat) on the next call

    def _editable(self) -> dict:
        self.check_readable()  # never overwrite a damaged file: CorruptFileError to the caller
        return dict(self._current())

    def set_password(self, password: str, totp: bool | None = None) -> TotpSetup | None:
        """Store a new password (every session ends); totp True: a new secret and recovery
        codes (returned once), False: the second factor off, None: left as it was."""
        if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
            raise AuthError(f"password: must be at least {MIN_PASSWORD_LENGTH} characters")
        if password != password.strip():
            raise AuthError("password: must not begin or end with a space")
        with self._lock:
            document = self._editable()
            document["password_hash"] = generate_password_hash(password, method="scrypt")
            document["session_secret"] = secrets.token_urlsafe(32)
            document["password_set_at"] = iso_utc(self.clock())
            setup = None
            if totp:
                secret = pyotp.random_base32()
                codes = tuple(f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES))
                document["totp"] = {"secret": secret, "recovery_codes": [_code_digest(c) for c in codes]}
                uri = pyotp.TOTP(secret).provisioning_uri(name="dashboard", issuer_name=TOTP_ISSUER)
                setup = TotpSetup(secret, uri, codes)
            elif totp is False:
                document.pop("totp", None)
            self._write(document)
            return setup

    def create_token(self, name: str, read_only: bool = False) -> str:
        """A new API token named name; returns it (the only time it is ever shown)."""
        if not isinstance(name, str) or not TOKEN_NAME.fullmatch(name):
            raise AuthError(f"token name: 1-64 letters, digits, '.', '_' or '-' (got {name!r})")
        with self._lock:
            document = self._editable()
            tokens = list(document.get("tokens") or [])
            if any(t.get("name") == name for t in tokens):
                raise AuthError(f"token name: {name!r} exists already (revoke it first)")
            token = TOKEN_PREFIX + secrets.token_urlsafe(32)
            tokens.append({"name": name, "digest": token_digest(token), "read_only": bool(read_only),
                           "created_at": iso_utc(self.clock())})
            document["tokens"] = tokens
            self._write(document)
            return token

    def revoke_token(self, name: str) -> None:
        """Forget the token named name (AuthError when there is none)."""
        with self._lock:
            document = self._editable()
            tokens = list(document.get("tokens") or [])
            kept = [t for t in tokens if t.get("name") != name]
            if len(kept) == len(tokens):
                raise AuthError(f"token name: no token named {name!r} (see 'run_bot.py token list')")
            document["tokens"] = kept
            self._write(document)
