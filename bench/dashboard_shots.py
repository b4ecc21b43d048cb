"""Screenshots of every dashboard page at 1366 and 390 px, on a run where every strategy traded.

Starts run_bot.py as a subprocess (its own temp data dir, a free loopback port) with a market
that gives every strategy something to do quickly: gaps left open for arbitrage (no competition,
frequent dislocations, no latency), a fast momentum crossover, news every few simulated seconds
and a short stat-arb lookback. Polls GET /api/strategies/performance until each of arbitrage,
momentum, news and stat_arb has a fill (and, within a further grace, closed round trips), places
one resting manual limit order through POST /api/orders, then drives Debian's Chromium through
every page in the nav at each width, saving full-page screenshots to shots/ (git-ignored), and
prints the fills per strategy, console errors and CSP violations.

Run: .venv/bin/python bench/dashboard_shots.py [--out shots] [--timeout 600] [--only market trades]
Not a test (pytest does not collect bench/); look at the pictures it writes.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboard.pages import PAGES  # noqa: E402

STRATEGIES = ("arbitrage", "momentum", "news", "stat_arb")
WIDTHS = ((1366, 900), (390, 844))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CONFIG = {
    "market": {
        "tick_seconds": 10.0,
        "simulator": {"news_per_hour": 600.0, "whales_per_hour": 60.0,
                      "competition": {"enabled": False},
                      "deviations": {"dislocations_per_hour": 20, "dislocation_bps": 60}},
    },
    "execution": {"latency_ms": {"default": 0}},
    "strategies": {
        "momentum": {"fast": 3, "slow": 8, "cooldown_seconds": 0.0, "max_open_positions": 20},
        "stat_arb": {"lookback_candles": 60, "retest_minutes": 30.0, "cooldown_seconds": 0.0,
                     "entry_z": 1.5, "exit_z": 0.5},
    },
    "engine": {"tick_interval_seconds": 0.05},
    "dashboard": {"broadcast_seconds": 0.5},
    "storage": {"fsync": False},
}
PAGE_SETTLED = """() => document.documentElement.dataset.connection === 'connected'
    && document.querySelector('#status-updated').textContent !== '–'
    && ![...document.querySelectorAll('.panel[data-state]')].some(p => p.dataset.state === 'loading')"""
CSP_WATCH = """window.__csp = [];
document.addEventListener('securitypolicyviolation',
    e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sourceFile || '')));"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(base: str, path: str):
    with urllib.request.urlopen(base + path, timeout=10) as response:
        return json.loads(response.read().decode("utf-8"))


def wait_for(process, predicate, timeout: float, what: str):
    """Poll predicate() until truthy; raise with `what` when the bot exits or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"run_bot.py exited with {process.returncode} while waiting for {what}")
        try:
            result = predicate()
            if result:
                return result
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.5)
    return None


def performance(base: str) -> dict[str, dict]:
    return {row["strategy"]: row for row in get_json(base, "/api/strategies/performance")["strategies"]}


def place_manual_order(page) -> str:
    """A limit buy 10% under the best bid of the first quote, resting; returns what happened."""
    return page.evaluate(
        """async () => {
            const token = document.querySelector('meta[name="csrf-token"]').content;
            const live = await (await fetch('/api/market/live')).json();
            const q = live.quotes.find(x => x.symbol.startsWith('BTC/')) || live.quotes[0];
            const price = Math.floor(q.bid * 0.9);
            const r = await fetch('/api/orders', {method: 'POST',
                headers: {'Content-Type': 'application/json', 'X-CSRF-Token': token},
                body: JSON.stringify({exchange: q.exchange, symbol: q.symbol, side: 'buy', type: 'limit',
                                      amount: 0.001, price, reason: 'screenshot run: a resting manual order'})});
            return r.status + ' ' + JSON.stringify(await r.json()).slice(0, 300);
        }""")


def shoot(base: str, out: Path, only: list[str]) -> list[str]:
    from playwright.sync_api import sync_playwright

    findings: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for width, height in WIDTHS:
                context = browser.new_context(viewport={"width": width, "height": height})
                page = context.new_page()
                errors: list[str] = []
                page.add_init_script(CSP_WATCH)
                page.on("console", lambda m, e=errors: m.type == "error" and e.append(m.text))
                page.on("pageerror", lambda exc, e=errors: e.append(f"pageerror: {exc}"))
                if width == WIDTHS[0][0]:
                    page.goto(base + "/")
                    page.wait_for_function(PAGE_SETTLED, timeout=30_000)
                    print("manual order:", place_manual_order(page))
                for route in [r for r in PAGES if not only or (r.strip('/') or 'overview') in only]:
                    errors.clear()
                    page.goto(base + route)
                    page.wait_for_function(PAGE_SETTLED, timeout=30_000)
                    page.wait_for_load_state("networkidle")
                    page.evaluate("() => { const t = document.getElementById('toasts'); if (t) t.hidden = true; }")
                    name = (route.strip("/") or "overview")
                    path = out / f"{name}-{width}.png"
                    page.screenshot(path=str(path), full_page=True)
                    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
                    csp = page.evaluate("window.__csp || []")
                    note = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"
                    print(f"{note}: page overflow {overflow}px, console errors {len(errors)}, CSP {len(csp)}")
                    findings += [f"{route} @{width}: {text}" for text in errors + csp]
                context.close()
        finally:
            browser.close()
    return findings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "shots")
    parser.add_argument("--timeout", type=float, default=600.0, help="wall seconds to wait for every strategy's fills")
    parser.add_argument("--grace", type=float, default=120.0, help="further seconds to wait for closed round trips")
    parser.add_argument("--only", nargs="*", default=[], help="page names to shoot (overview, market, ...); default all")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dashboard-shots-") as folder:
        data, logs = Path(folder) / "data", Path(folder) / "logs"
        settings = json.loads(json.dumps(CONFIG))
        settings["storage"].update({"data_dir": str(data), "log_dir": str(logs)})
        config_path = Path(folder) / "config.yaml"
        config_path.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with open(Path(folder) / "stdout.txt", "wb") as out, open(Path(folder) / "stderr.txt", "wb") as err:
            process = subprocess.Popen([sys.executable, "run_bot.py", "--config", str(config_path), "--port", str(port)],
                                       cwd=ROOT, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                       env=dict(os.environ, PYTHONUNBUFFERED="1"))
        try:
            wait_for(process, lambda: get_json(base, "/api/health").get("status") == "ok", 90, "GET /api/health")
            started = time.monotonic()
            filled = wait_for(process, lambda: all(performance(base)[s]["trades"] > 0 for s in STRATEGIES),
                              args.timeout, "a fill in every strategy")
            print(f"every strategy filled: {bool(filled)} after {time.monotonic() - started:.0f} s wall")
            wait_for(process, lambda: all(performance(base)[s]["round_trips"] > 0 for s in STRATEGIES),
                     args.grace, "a closed round trip in every strategy")
            for name, row in performance(base).items():
                print(f"  {name:10} fills {row['trades']:4}  closed round trips {row['round_trips']:3}  "
                      f"open {row['open_round_trips']:3}  net P&L {row['net_pnl']}")
            findings = shoot(base, args.out, args.only)
            print("console errors / CSP violations:", findings or "none")
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
            print("run_bot.py exit code:", process.returncode)
            if process.returncode not in (0, None):
                print((Path(folder) / "stderr.txt").read_text(encoding="utf-8", errors="replace")[-3000:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
