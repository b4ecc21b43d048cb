"""End-to-end fixtures: run_bot.py as a real subprocess on a free port, with its own data dir.

`start_bot(tmp_dir, ...)` starts one and waits (with a deadline, no fixed sleeps) until
GET /api/health answers; `BotProcess.stop()` sends SIGTERM and returns the exit code.
`bot_server` is a module-scoped running bot tuned to trade often, stopped at the end with
an assertion that it exited 0.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 30.0

# Trades often: 10 simulated seconds per tick (a 1-minute candle every 6 ticks), 20 ticks a
# second, a fast momentum crossover without cooldown, and a broadcast twice a second.
FAST_CONFIG = {
    "market": {"tick_seconds": 10.0, "simulator": {"news_per_hour": 600.0, "whales_per_hour": 60.0}},
    "strategies": {"momentum": {"fast": 3, "slow": 8, "cooldown_seconds": 0.0, "max_open_positions": 20}},
    "engine": {"tick_interval_seconds": 0.05},
    "dashboard": {"broadcast_seconds": 0.5},
    "storage": {"fsync": False},
}


PORT_ATTEMPTS = 3  # a start that lost its port to another process is retried on a new one


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def merge(base: dict, extra: dict) -> dict:
    """A deep merge of two config dicts (extra wins)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


@dataclass
class BotProcess:
    """A running run_bot.py: its URL, directories and process."""

    process: subprocess.Popen
    base_url: str
    port: int
    data_dir: Path
    log_dir: Path
    config_path: Path
    stdout_path: Path
    stderr_path: Path
    exit_code: int | None = field(default=None)
    headers: dict = field(default_factory=dict)  # e.g. an API token once a password is set

    def get_json(self, path: str, timeout: float = 10.0):
        request = urllib.request.Request(self.base_url + path, headers=self.headers)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read().decode("utf-8"))

    def get_text(self, path: str, timeout: float = 30.0) -> str:
        request = urllib.request.Request(self.base_url + path, headers=self.headers)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read().decode("utf-8")

    def output(self) -> str:
        out = self.stdout_path.read_text(encoding="utf-8", errors="replace") if self.stdout_path.exists() else ""
        err = self.stderr_path.read_text(encoding="utf-8", errors="replace") if self.stderr_path.exists() else ""
        return f"--- stdout ---\n{out[-4000:]}\n--- stderr ---\n{err[-12000:]}"

    def wait_until(self, predicate, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
        """Poll predicate() until it returns something truthy; fail with the bot's output."""
        deadline = time.monotonic() + timeout
        last_error = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the bot exited with {self.process.returncode} while waiting for {what}\n{self.output()}")
            try:
                result = predicate()
                if result:
                    return result
            except (urllib.error.URLError, OSError, ValueError) as exc:
                last_error = exc
            time.sleep(interval)
        pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_error})\n{self.output()}")

    def stop(self) -> int:
        """SIGTERM, wait for the exit, return its code (kills and fails after a deadline)."""
        if self.exit_code is not None:
            return self.exit_code
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                # SIGABRT makes faulthandler (PYTHONFAULTHANDLER=1) print every thread's stack.
                self.process.send_signal(signal.SIGABRT)
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=10)
                pytest.fail(f"the bot did not stop within {STOP_TIMEOUT_SECONDS:.0f}s of SIGTERM\n{self.output()}")
        self.exit_code = self.process.returncode
        return self.exit_code


def start_bot(tmp_dir: Path, config: dict | None = None, extra_args: tuple[str, ...] = (),
              seed_trades: list[dict] | None = None, headers: dict | None = None) -> BotProcess:
    """Start run_bot.py with FAST_CONFIG merged with config; wait for /api/health.

    seed_trades are written to data/trades.jsonl before the start (a ledger to resume from);
    headers go with the bot's own requests (an Authorization header when a password is set).
    """
    tmp_dir = Path(tmp_dir)
    data_dir, log_dir = tmp_dir / "data", tmp_dir / "logs"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    if seed_trades:
        with open(data_dir / "trades.jsonl", "w", encoding="utf-8") as handle:
            for trade in seed_trades:
                handle.write(json.dumps(trade) + "\n")
    settings = merge(FAST_CONFIG, config or {})
    settings = merge(settings, {"storage": {"data_dir": str(data_dir), "log_dir": str(log_dir)}})
    config_path = tmp_dir / "config.yaml"
    config_path.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    stdout_path, stderr_path = tmp_dir / "bot.stdout.txt", tmp_dir / "bot.stderr.txt"
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="1")
    for attempt in range(PORT_ATTEMPTS):
        # free_port() lets the port go before the bot binds it: another process (a client's
        # ephemeral port on the other worker) can take it in between. Only that is retried.
        port = free_port()
        with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
            process = subprocess.Popen(
                [sys.executable, "run_bot.py", "--config", str(config_path), "--port", str(port), *extra_args],
                cwd=REPO_ROOT, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        bot = BotProcess(process, f"http://127.0.0.1:{port}", port, data_dir, log_dir, config_path,
                         stdout_path, stderr_path, headers=dict(headers or {}))
        try:
            bot.wait_until(lambda: bot.get_json("/api/health", timeout=2.0).get("status") == "ok",
                           timeout=START_TIMEOUT_SECONDS, interval=0.2, what="GET /api/health")
            return bot
        except BaseException:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
            taken = "Address already in use" in stderr_path.read_text(encoding="utf-8", errors="replace")
            if not taken or attempt == PORT_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def bot_server(tmp_path_factory):
    """A running bot for the whole module; at the end SIGTERM must end it with exit code 0."""
    bot = start_bot(tmp_path_factory.mktemp("bot"))
    try:
        yield bot
    finally:
        code = bot.stop()
    assert code == 0, f"run_bot.py exited with {code} after SIGTERM\n{bot.output()}"


# ----- the browser (Debian Chromium through Playwright) -------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS_COPY_DIR = Path("/tmp/dashboard-shots")
WAIT_MS = 30_000

# Page functions are always arrow functions: a bare expression would need eval, which the CSP forbids.
# The socket is connected, a live update has arrived, and every panel has left its loading state.
PAGE_SETTLED = """() => document.documentElement.dataset.connection === 'connected'
    && document.querySelector('#status-updated').textContent !== '–'
    && ![...document.querySelectorAll('.panel[data-state]')].some(p => p.dataset.state === 'loading')"""
# Collect CSP violations from the first script on (an init script is not subject to the page's CSP).
CSP_WATCH = """window.__csp = [];
document.addEventListener('securitypolicyviolation',
    e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sourceFile || '')));"""

# Every cell of the first row of tbody#id inside its table's scroll box, labelled with its column's header,
# and every number on one line: 'ok', or what is wrong.
ROW_IN_VIEW = """(id) => {
    const body = document.getElementById(id);
    const row = body && body.rows[0];
    if (!row) return 'no row';
    const box = body.closest('.table-wrap').getBoundingClientRect();
    const heads = [...body.closest('table').querySelectorAll('thead th')].map(th => th.textContent.trim());
    const bad = [];
    [...row.cells].forEach((cell, i) => {
        const r = cell.getBoundingClientRect();
        const name = heads[i] || 'cell ' + i;
        if (heads[i] && cell.dataset.label !== heads[i]) bad.push(name + ' labelled ' + cell.dataset.label);
        if (!(r.width > 0 && r.left >= box.left - 0.5 && r.right <= box.right + 0.5))
            bad.push(name + ' at ' + Math.round(r.left) + '..' + Math.round(r.right) + ' outside ' + Math.round(box.left) + '..' + Math.round(box.right));
        if (cell.classList.contains('num')) {
            const range = document.createRange();
            range.selectNodeContents(cell);
            const lines = new Set([...range.getClientRects()].map(rect => Math.round(rect.top))).size;
            if (lines > 1) bad.push(name + ' wraps over ' + lines + ' lines: ' + cell.textContent);
        }
    });
    return bad.length ? bad.join('; ') : 'ok';
}"""


def _ensure_chromium() -> None:
    if os.path.exists(CHROMIUM):
        return
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        try:
            subprocess.run(["apt-get", "update"], check=True, capture_output=True, timeout=600)
            subprocess.run(["apt-get", "install", "-y", "chromium"], check=True, capture_output=True, timeout=900)
        except (subprocess.SubprocessError, OSError):
            pass
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing and could not be installed (apt-get install chromium); "
                    "the browser tests need Debian's Chromium")


@pytest.fixture(scope="session")
def browser():
    """One Chromium per pytest process (xdist worker); every test opens its own context (own cookies,
    storage and pages) and closes it, so sharing the browser shares no state between tests."""
    _ensure_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    """Save a page's screenshot in the tmp dir and copy it to /tmp/dashboard-shots/."""
    directory = tmp_path_factory.mktemp("screenshots")
    SHOTS_COPY_DIR.mkdir(parents=True, exist_ok=True)

    def save(page, name: str) -> Path:
        # Toasts (one per trade on a busy bot) would cover the panels in the picture.
        page.evaluate("() => { document.getElementById('toasts').hidden = true; }")
        path = directory / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        page.evaluate("() => { document.getElementById('toasts').hidden = false; }")
        shutil.copy(path, SHOTS_COPY_DIR / path.name)
        return path

    return save


class Watched:
    """A page with its console errors, uncaught exceptions and CSP violations collected."""

    def __init__(self, context):
        self.context = context
        self.page = context.new_page()
        self.errors: list[str] = []
        self.page.add_init_script(CSP_WATCH)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"console.error: {message.text}")

    def open(self, base_url: str, path: str):
        self.page.goto(base_url + path)
        self.page.wait_for_function(PAGE_SETTLED, timeout=WAIT_MS)
        return self.page

    def csp_violations(self) -> list[str]:
        return self.page.evaluate("window.__csp || []")

    def assert_clean(self, expected: tuple[str, ...] = ()) -> None:
        """No console error (but those containing one of the expected texts), no CSP violation."""
        errors = [e for e in self.errors if not any(text in e for text in expected)]
        assert errors == [], f"console errors: {errors}"
        assert self.csp_violations() == [], f"CSP violations: {self.csp_violations()}"


@pytest.fixture
def watched(browser):
    contexts = []

    def make(width: int = 1280, height: int = 900) -> Watched:
        context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
        contexts.append(context)
        return Watched(context)

    yield make
    for context in contexts:
        context.close()


def api_call(page, method: str, path: str, body: dict | None = None) -> dict:
    """A same-origin API call from inside the page, with its CSRF token; returns {status, data}."""
    return page.evaluate(
        """async ([method, path, body]) => {
            const token = document.querySelector('meta[name="csrf-token"]').content;
            const r = await fetch(path, {method, headers: {'Content-Type': 'application/json', 'X-CSRF-Token': token},
                                         body: JSON.stringify(body || {})});
            return {status: r.status, data: await r.json()};
        }""",
        [method, path, body],
    )
