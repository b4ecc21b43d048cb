"""Remote access end to end: a real run_bot.py on 0.0.0.0 with a password set by the real
`set-password` command, driven by requests, python-socketio and Chromium (all over loopback).
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import requests
import socketio
import yaml
from playwright.sync_api import expect

from tests.e2e.conftest import (FAST_CONFIG, REPO_ROOT, SHOTS_COPY_DIR, WAIT_MS, Watched, api_call, free_port, merge,
                                start_bot)
from tests.polling import wait_for

PASSWORD = "a long test password"
PAGES = ("/", "/analytics", "/leaderboard", "/journal", "/alerts", "/market")


def run_cli(*args, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_bot.py", *args], cwd=REPO_ROOT, input=stdin, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """A bot on 0.0.0.0 with a password, a read-write and a read-only token."""
    root = tmp_path_factory.mktemp("secured")
    data = str(root / "data")
    done = run_cli("set-password", "--data-dir", data, stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    tokens = {}
    for name, extra in (("ci", ()), ("viewer", ("--read-only",))):
        made = run_cli("token", "create", name, *extra, "--data-dir", data)
        assert made.returncode == 0, made.stderr
        tokens[name] = made.stdout.strip().splitlines()[-1]
    listed = run_cli("token", "list", "--data-dir", data)
    assert "ci\tread-write" in listed.stdout and "viewer\tread-only" in listed.stdout
    assert tokens["ci"] not in (root / "data" / "auth.json").read_text()  # stored hashed
    bot = start_bot(root, extra_args=("--host", "0.0.0.0"), headers={"Authorization": f"Bearer {tokens['ci']}"})
    assert "over plain HTTP" in bot.stderr_path.read_text()  # a password but no TLS: said at start
    try:
        yield bot, tokens
    finally:
        code = bot.stop()
    assert code == 0, bot.output()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_no_password_on_every_address_refuses_to_start(tmp_path):
    settings = merge(FAST_CONFIG, {"storage": {"data_dir": str(tmp_path / "data"), "log_dir": str(tmp_path / "logs")}})
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    done = run_cli("--config", str(config), "--host", "0.0.0.0", "--port", str(free_port()))
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "set-password" in lines[0] and "--insecure-no-auth" in lines[0], lines
    # Refused before the engine opened the data dir (and so before anything was bound).
    assert not (tmp_path / "data" / "portfolio_state.json").exists()
    assert "Dashboard:" not in done.stdout


def test_an_anonymous_client_is_refused_everywhere(secured):
    bot, tokens = secured
    document = requests.get(bot.base_url + "/api/openapi.json", headers=bearer(tokens["ci"]), timeout=10).json()
    checked = 0
    for path, methods in document["paths"].items():
        url = bot.base_url + re.sub(r"\{[^}]+\}", "momentum", path)
        for method in methods:
            response = requests.request(method.upper(), url, json={}, timeout=10, allow_redirects=False)
            assert response.status_code == 401, f"{method} {path}: {response.status_code}"
            assert response.json()["error"].startswith("login required")
            checked += 1
    assert checked >= 25
    assert requests.get(bot.base_url + "/metrics", timeout=10).status_code == 401
    for page in PAGES:
        response = requests.get(bot.base_url + page, timeout=10, allow_redirects=False)
        assert response.status_code == 303 and response.headers["Location"].startswith("/login"), page
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(bot.base_url, transports=["polling"], wait_timeout=10)
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(bot.base_url, transports=["websocket"], wait_timeout=10)
    assert bot.get_json("/api/status")["state"] == "running"


def test_a_bearer_token_works_for_requests_and_socketio(secured):
    bot, tokens = secured
    portfolio = requests.get(bot.base_url + "/api/portfolio", headers=bearer(tokens["ci"]), timeout=10)
    assert portfolio.status_code == 200 and "equity" in json.dumps(portfolio.json())
    received = []
    client = socketio.Client(reconnection=False)
    client.on("portfolio_update", lambda data: received.append(data))
    client.connect(bot.base_url, headers=bearer(tokens["viewer"]), transports=["websocket"], wait_timeout=10)
    try:
        wait_for(lambda: received, timeout=20, what="a portfolio_update over the token's socket")
    finally:
        client.disconnect()
    # The read-only token cannot pause the bot; no CSRF token is needed by the other.
    refused = requests.post(bot.base_url + "/api/bot/pause", headers=bearer(tokens["viewer"]), timeout=10)
    assert refused.status_code == 403
    assert bot.get_json("/api/status")["state"] == "running"
    paused = requests.post(bot.base_url + "/api/bot/pause", headers=bearer(tokens["ci"]), timeout=10)
    assert paused.status_code == 200 and bot.get_json("/api/status")["state"] == "paused"
    assert requests.post(bot.base_url + "/api/bot/start", headers=bearer(tokens["ci"]), timeout=10).status_code == 200
    revoked = run_cli("token", "revoke", "viewer", "--data-dir", str(bot.data_dir))
    assert revoked.returncode == 0, revoked.stderr
    assert requests.get(bot.base_url + "/api/portfolio", headers=bearer(tokens["viewer"]), timeout=10).status_code == 401


def test_a_signed_in_chromium_works_through_every_page(secured, browser):
    bot, _ = secured
    w = Watched(browser.new_context(viewport={"width": 390, "height": 844}))
    try:
        page = w.page
        page.goto(bot.base_url + "/analytics")
        assert page.url.startswith(bot.base_url + "/login")
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        SHOTS_COPY_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS_COPY_DIR / "login-390.png"), full_page=True)
        page.fill("#password", "wrong password!")
        page.click("button[type=submit]")
        # The answer is a new page (a form post): wait for its text, not the old page's empty line.
        expect(page.locator("#login-error")).to_contain_text("Wrong password.", timeout=WAIT_MS)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(bot.base_url + "/analytics")
        for path in PAGES:
            w.open(bot.base_url, path)  # settled: the socket connected with the session cookie
            assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), path
        page.screenshot(path=str(SHOTS_COPY_DIR / "signed-in-390.png"))
        cookies = {c["name"]: c for c in w.context.cookies()}
        assert cookies["ptb_session"]["httpOnly"] and cookies["ptb_session"]["sameSite"] == "Strict"
        assert api_call(page, "POST", "/api/bot/pause")["status"] == 200
        assert api_call(page, "POST", "/api/bot/start")["status"] == 200
        page.click("#logout")
        page.wait_for_url(re.compile(r".*/login$"))
        w.errors = [e for e in w.errors if "401" not in e]  # the wrong password's answer
        w.assert_clean()
    finally:
        w.context.close()


def test_twenty_wrong_passwords_are_slowed_and_logged(secured):
    bot, _ = secured
    session = requests.Session()
    codes = []
    for _ in range(20):
        form = session.get(bot.base_url + "/login", timeout=10).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        codes.append(session.post(bot.base_url + "/login", data={"csrf_token": token, "password": "guess"},
                                  timeout=10, allow_redirects=False).status_code)
    # The browser test above spent one failure of this address's first tier.
    assert codes.count(401) <= 5 and codes[-15:] == [429] * 15 and set(codes) == {401, 429}
    lines = [json.loads(line) for line in (bot.log_dir / "activity.jsonl").read_text().splitlines() if line.strip()]
    failed = [line for line in lines if line["event"] == "login_failed"]
    # These twenty, and one more when the browser test ran first on this module's bot (xdist may
    # give it to the other worker, with its own bot).
    assert len(failed) >= 20 and all(line["address"] == "127.0.0.1" for line in failed)


def self_signed(directory) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and its key, made with cryptography (no openssl binary needed)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_direct_tls_serves_https_with_a_secure_cookie(tmp_path):
    cert, key = self_signed(tmp_path)
    data, logs = tmp_path / "data", tmp_path / "logs"
    assert run_cli("set-password", "--data-dir", str(data), stdin=PASSWORD + "\n").returncode == 0
    settings = merge(FAST_CONFIG, {"storage": {"data_dir": str(data), "log_dir": str(logs)},
                                   "dashboard": {"tls_cert": cert, "tls_key": key}})
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    port = free_port()
    base = f"https://127.0.0.1:{port}"
    with open(tmp_path / "out.txt", "wb") as out:
        process = subprocess.Popen([sys.executable, "run_bot.py", "--config", str(config), "--port", str(port)],
                                   cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        def login_page():
            try:
                return requests.get(base + "/login", verify=cert, timeout=2)
            except requests.RequestException:
                assert process.poll() is None, (tmp_path / "out.txt").read_text()
                return None

        page = wait_for(login_page, timeout=90, what="the HTTPS sign-in page", interval=0.2)
        assert page.status_code == 200
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        session = requests.Session()
        session.cookies.update(page.cookies)
        signed_in = session.post(base + "/login", data={"csrf_token": token, "password": PASSWORD}, verify=cert,
                                 timeout=10, allow_redirects=False)
        assert signed_in.status_code == 303 and "Secure" in signed_in.headers["Set-Cookie"]
        assert session.get(base + "/api/portfolio", verify=cert, timeout=10).status_code == 200
        with pytest.raises(requests.exceptions.ConnectionError):  # plain HTTP on the TLS port: no answer
            requests.get(f"http://127.0.0.1:{port}/api/health", timeout=5)
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0, (tmp_path / "out.txt").read_text()
    assert f"Dashboard: https://127.0.0.1:{port}" in (tmp_path / "out.txt").read_text()
