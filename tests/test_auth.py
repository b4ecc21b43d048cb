"""bot/auth.py and `run_bot.py set-password` / `token`: what lands in data/auth.json, read back
independently (hashlib, werkzeug, pyotp), and bad input refused with one line, nothing changed."""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat

import pyotp
import pytest
from werkzeug.security import check_password_hash

from bot import cli_auth
from bot.auth import AuthError, AuthStore
from bot.config import parse_config

PASSWORD = "correct horse battery"


def document(tmp_path) -> dict:
    return json.loads((tmp_path / "auth.json").read_text(encoding="utf-8"))


def test_password_is_stored_as_a_salted_scrypt_hash(tmp_path):
    store = AuthStore(tmp_path, fsync=False)
    assert not store.password_set and not store.check_password(PASSWORD)
    store.set_password(PASSWORD)
    saved = document(tmp_path)
    assert saved["password_hash"].startswith("scrypt:") and PASSWORD not in json.dumps(saved)
    assert check_password_hash(saved["password_hash"], PASSWORD)  # werkzeug, read from the file
    assert stat.S_IMODE(os.stat(tmp_path / "auth.json").st_mode) == 0o600
    assert store.check_password(PASSWORD) and not store.check_password(PASSWORD + "!")
    first = saved["password_hash"]
    store.set_password(PASSWORD)
    assert document(tmp_path)["password_hash"] != first  # a new salt each time


@pytest.mark.parametrize("password", ["short", "", " padded password "])
def test_bad_passwords_change_nothing(tmp_path, password):
    store = AuthStore(tmp_path, fsync=False)
    with pytest.raises(AuthError, match="^password: "):
        store.set_password(password)
    assert not (tmp_path / "auth.json").exists()


def test_tokens_are_shown_once_and_stored_as_digests(tmp_path):
    store = AuthStore(tmp_path, fsync=False)
    token = store.create_token("ci")
    reader = store.create_token("grafana", read_only=True)
    saved = document(tmp_path)
    assert token not in json.dumps(saved)
    assert [t["digest"] for t in saved["tokens"]] == [hashlib.sha256(t.encode()).hexdigest() for t in (token, reader)]
    assert store.principal_for_token(token).may_write
    assert not store.principal_for_token(reader).may_write
    assert store.principal_for_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    with pytest.raises(AuthError, match="exists already"):
        store.create_token("ci")
    with pytest.raises(AuthError, match="^token name: "):
        store.create_token("bad name!")
    store.revoke_token("ci")
    assert store.principal_for_token(token) is None and store.principal_for_token(reader) is not None
    with pytest.raises(AuthError, match="no token named"):
        store.revoke_token("ci")


def test_a_change_by_another_process_is_seen(tmp_path):
    running = AuthStore(tmp_path, fsync=False)
    assert not running.password_set
    token = AuthStore(tmp_path, fsync=False).create_token("ci")  # the CLI, another store
    assert running.principal_for_token(token) is not None
    AuthStore(tmp_path, fsync=False).revoke_token("ci")
    assert running.principal_for_token(token) is None


def test_a_damaged_file_locks_everything_and_is_never_overwritten(tmp_path):
    store = AuthStore(tmp_path, fsync=False)
    token = store.create_token("ci")
    (tmp_path / "auth.json").write_text("{not json", encoding="utf-8")
    assert store.password_set and store.principal_for_token(token) is None and not store.check_password("x" * 8)
    with pytest.raises(Exception, match="not valid JSON"):
        store.create_token("other")
    assert (tmp_path / "auth.json").read_text(encoding="utf-8") == "{not json"


def test_totp_codes_once_each_and_recovery_codes(tmp_path):
    now = [1_800_000_000.0]
    store = AuthStore(tmp_path, fsync=False, clock=lambda: now[0])
    setup = store.set_password(PASSWORD, totp=True)
    app = pyotp.TOTP(setup.secret)
    assert not store.check_second_factor("000000" if app.at(now[0]) != "000000" else "111111")
    assert store.check_second_factor(app.at(now[0]))
    assert not store.check_second_factor(app.at(now[0]))  # replayed
    assert not store.check_second_factor(app.at(now[0] - 30))  # older than the last one used
    now[0] += 30
    assert store.check_second_factor(app.at(now[0] + 30))  # the next step (clock drift)
    assert not store.check_second_factor(app.at(now[0] + 300))
    assert len(setup.recovery_codes) == 10
    assert store.check_second_factor(setup.recovery_codes[3].upper())
    assert not store.check_second_factor(setup.recovery_codes[3])
    assert setup.recovery_codes[3] not in json.dumps(document(tmp_path))
    store.set_password(PASSWORD)  # without --totp / --no-totp: the second factor stays
    assert store.totp_enabled
    store.set_password(PASSWORD, totp=False)
    assert not store.totp_enabled and not store.check_second_factor(app.at(now[0]))


def run(monkeypatch, capsys, command, argv, stdin=""):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = command(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_set_password_from_stdin_with_totp(tmp_path, monkeypatch, capsys):
    code, out, err = run(monkeypatch, capsys, cli_auth.set_password, ["--data-dir", str(tmp_path), "--totp"],
                         PASSWORD + "\n")
    assert code == 0, err
    secret = re.search(r"secret: ([A-Z2-7]+)", out).group(1)
    assert "\u2588" in out or "\u2580" in out or "\u2584" in out  # the QR code, drawn in block characters
    recovery = re.findall(r"^  ([0-9a-f]{6}-[0-9a-f]{6})$", out, re.M)
    assert len(recovery) == 10
    store = AuthStore(tmp_path)
    assert store.check_password(PASSWORD) and store.check_second_factor(pyotp.TOTP(secret).now())
    assert store.check_second_factor(recovery[0])


def test_cli_bad_input_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    code, out, err = run(monkeypatch, capsys, cli_auth.set_password, ["--data-dir", str(tmp_path)], "short\n")
    assert code == 2 and err.strip().count("\n") == 0 and err.startswith("error: password:")
    assert not (tmp_path / "auth.json").exists()
    code, out, err = run(monkeypatch, capsys, cli_auth.token, ["create", "ci", "--data-dir", str(tmp_path)])
    assert code == 0
    token = out.strip().splitlines()[-1]
    assert AuthStore(tmp_path).principal_for_token(token).name == "ci"
    code, out, err = run(monkeypatch, capsys, cli_auth.token, ["revoke", "nobody", "--data-dir", str(tmp_path)])
    assert code == 2 and "no token named 'nobody'" in err and err.strip().count("\n") == 0
    code, out, err = run(monkeypatch, capsys, cli_auth.token, ["list", "--data-dir", str(tmp_path)])
    assert code == 0 and out.startswith("ci\tread-write\t")


def config_for(tmp_path, **dashboard):
    return parse_config({"storage": {"data_dir": str(tmp_path)}, "dashboard": dashboard})


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "mybox.lan"])
def test_exposed_without_a_password_is_refused_unless_insecure(tmp_path, host):
    problem = cli_auth.startup_problem(config_for(tmp_path, host=host), insecure_no_auth=False)
    assert "set-password" in problem and "\n" not in problem
    assert cli_auth.startup_problem(config_for(tmp_path, host=host), insecure_no_auth=True) is None
    AuthStore(tmp_path, fsync=False).set_password(PASSWORD)
    assert cli_auth.startup_problem(config_for(tmp_path, host=host), insecure_no_auth=False) is None


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_needs_no_password(tmp_path, host):
    assert cli_auth.startup_problem(config_for(tmp_path, host=host), insecure_no_auth=False) is None


def test_unusable_tls_files_are_named(tmp_path):
    missing = config_for(tmp_path, tls_cert=str(tmp_path / "no.pem"), tls_key=str(tmp_path / "no.key"))
    assert cli_auth.startup_problem(missing, False).startswith("dashboard.tls_cert / dashboard.tls_key: ")
    with pytest.raises(Exception, match="dashboard.tls_key: tls_cert and tls_key go together"):
        config_for(tmp_path, tls_cert="cert.pem")

