"""`run_bot.py set-password [--totp|--no-totp]`, `run_bot.py token create|list|revoke`, and the
start-up check that refuses to expose a dashboard nobody has to sign in to.

Exit codes as everywhere: 0 ok, 2 bad input (one line naming it), 1 anything else.
"""
from __future__ import annotations

import argparse
import getpass
import ssl
import sys
from pathlib import Path

from bot.auth import AuthError, AuthStore
from bot.config import ConfigError
from bot.storage_reading import CorruptFileError

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
LOOPBACK_NAMES = ("localhost",)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", metavar="DIR", help="the bot's data dir (default: storage.data_dir)")
    parser.add_argument("--config", metavar="FILE", help="config file (default: config.yaml if present)")


def set_password_parser() -> argparse.ArgumentParser:
    """The arguments of `run_bot.py set-password`."""
    parser = argparse.ArgumentParser(
        prog="run_bot.py set-password",
        description="Set the dashboard password (asked twice on a terminal, else read from the first line of "
                    "stdin). It is stored as a salted scrypt hash in DATA_DIR/auth.json; every page, API call, "
                    "export, /metrics and Socket.IO connection then needs a session or an API token. Signs out "
                    "every browser. Works while the bot runs.")
    _common(parser)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--totp", action="store_true",
                       help="also ask for a 6-digit code from an authenticator app: prints a new secret, its QR "
                            "code and 10 single-use recovery codes (shown once)")
    group.add_argument("--no-totp", action="store_true", help="turn the second factor off")
    return parser


def token_parser() -> argparse.ArgumentParser:
    """The arguments of `run_bot.py token create|list|revoke`."""
    parser = argparse.ArgumentParser(
        prog="run_bot.py token",
        description="API tokens for scripts: send 'Authorization: Bearer TOKEN' to the API or the Socket.IO "
                    "handshake (no CSRF token needed). A token is shown once and stored as a SHA-256 digest.")
    commands = parser.add_subparsers(dest="action", required=True, metavar="create|list|revoke")
    create = commands.add_parser("create", help="make a token and print it (once)")
    create.add_argument("name", help="a label: 1-64 letters, digits, '.', '_' or '-'")
    create.add_argument("--read-only", action="store_true", help="reads only: every write gets 403")
    _common(create)
    listing = commands.add_parser("list", help="every token's name, mode and creation time")
    _common(listing)
    revoke = commands.add_parser("revoke", help="forget a token; it gets 401 from the next request on")
    revoke.add_argument("name")
    _common(revoke)
    return parser


def _store(args) -> AuthStore:
    from bot.cli import resolve_config

    config = resolve_config(args)
    return AuthStore(Path(args.data_dir or config.storage.data_dir), fsync=config.storage.fsync)


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("New dashboard password: ")
        second = getpass.getpass("Again: ")
        if first != second:
            raise AuthError("password: the two entries differ; nothing was changed")
        return first
    line = sys.stdin.readline()
    return line[:-1] if line.endswith("\n") else line


def show_totp(setup, out=None) -> None:
    """The secret as text and as a QR code for the terminal, then the recovery codes."""
    import qrcode

    out = out or sys.stdout

    print("Second factor on. Add this account to your authenticator app (Aegis, Google Authenticator, ...):",
          file=out)
    print(f"  secret: {setup.secret}", file=out)
    print(f"  or the link: {setup.uri}", file=out)
    code = qrcode.QRCode(border=1)
    code.add_data(setup.uri)
    code.make(fit=True)
    code.print_ascii(out=out, invert=True)
    print("Recovery codes (each works once instead of a 6-digit code; keep them somewhere safe, they are "
          "not shown again):", file=out)
    for recovery in setup.recovery_codes:
        print(f"  {recovery}", file=out)


def set_password(argv: list[str]) -> int:
    """The 'set-password' command."""
    args = set_password_parser().parse_args(argv)
    try:
        store = _store(args)
        password = _read_password()
        totp = True if args.totp else (False if args.no_totp else None)
        setup = store.set_password(password, totp)
    except (ConfigError, AuthError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CorruptFileError as exc:
        print(f"error: {exc}; nothing was changed (move the file away to start over)", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"error: {store.path}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"Password set in {store.path}; every browser must sign in again.")
    if setup is not None:
        show_totp(setup)
    elif store.totp_enabled:
        print("The second factor stays on (--no-totp turns it off).")
    return EXIT_OK


def token(argv: list[str]) -> int:
    """The 'token' command: create, list or revoke API tokens."""
    args = token_parser().parse_args(argv)
    try:
        store = _store(args)
        if args.action == "create":
            secret = store.create_token(args.name, args.read_only)
            mode = "read-only" if args.read_only else "read and write"
            print(f"Token {args.name!r} ({mode}); it is shown only now:")
            print(secret)
            if not store.password_set:
                print("note: no password is set, so the dashboard asks nobody to sign in; "
                      "'run_bot.py set-password' sets one.", file=sys.stderr)
        elif args.action == "list":
            tokens = store.tokens()
            if not tokens:
                print("no API tokens ('run_bot.py token create NAME' makes one)")
            for entry in tokens:
                print(f"{entry['name']}\t{'read-only' if entry['read_only'] else 'read-write'}\t{entry['created_at']}")
        else:
            store.revoke_token(args.name)
            print(f"Token {args.name!r} revoked.")
    except (ConfigError, AuthError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CorruptFileError as exc:
        print(f"error: {exc}; nothing was changed", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (0.0.0.0, :: and host names are not)."""
    import ipaddress

    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def startup_problem(config, insecure_no_auth: bool) -> str | None:
    """Before anything binds: why this dashboard must not start (one line), or None."""
    dashboard = config.dashboard
    if not dashboard.enabled:
        return None
    store = AuthStore(Path(config.storage.data_dir))
    try:
        store.check_readable()
    except CorruptFileError as exc:
        return f"{exc}; fix or move it (then run 'run_bot.py set-password')"
    if dashboard.tls_cert:
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(dashboard.tls_cert, dashboard.tls_key)
        except (OSError, ssl.SSLError) as exc:
            return f"dashboard.tls_cert / dashboard.tls_key: cannot load {dashboard.tls_cert} with {dashboard.tls_key}: {exc}"
    if is_loopback(dashboard.host) or store.password_set or insecure_no_auth:
        return None
    return (f"dashboard.host {dashboard.host} is reachable from other machines and no password is set: run "
            f"'python run_bot.py set-password --data-dir {config.storage.data_dir}' first "
            f"(or pass --insecure-no-auth to expose it without one)")
