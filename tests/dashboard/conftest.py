"""Fixtures: a real BotEngine on a temp data dir with trades, and the dashboard built over it.

The simulated market is run once per session into a template data dir; each test gets a
copy, so tests may change files freely. Apps are built in threading mode (never eventlet in
the pytest process).
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from bot.config import parse_config
from bot.engine import BotEngine
from bot.models import Leg, Signal
from dashboard import create_app

TEMPLATE_TICKS = 30_000


def make_config(root: Path, broadcast_seconds: float = 5.0):
    return parse_config({
        "storage": {"data_dir": str(root / "data"), "log_dir": str(root / "logs"), "fsync": False},
        "dashboard": {"async_mode": "threading", "broadcast_seconds": broadcast_seconds},
        # Latency 0: force_trade() below fills at once, on the snapshot it is given.
        "execution": {"latency_ms": {"default": 0}},
        # Gaps left open (no competition, frequent dislocations): the pages get arbitrage trades to show;
        # the default market's gaps close within a tick or two and arbitrage trades rarely.
        "market": {"simulator": {"competition": {"enabled": False},
                                 "deviations": {"dislocations_per_hour": 20, "dislocation_bps": 60}}},
    })


@pytest.fixture(scope="session")
def traded_template(tmp_path_factory) -> Path:
    """A data dir after a simulated run that made trades, closing ones included."""
    root = tmp_path_factory.mktemp("template")
    engine = BotEngine(make_config(root))
    engine.open()
    engine.run_fast(TEMPLATE_TICKS)
    assert engine.ledger.count > 0, "the simulated run made no trades"
    engine.close()
    return root


@pytest.fixture
def engine(traded_template, tmp_path):
    """An opened engine on a private copy of the traded data dir."""
    shutil.copytree(traded_template / "data", tmp_path / "data")
    bot = BotEngine(make_config(tmp_path, broadcast_seconds=0.05))
    bot.open()
    bot.run_fast(5)  # a snapshot, marks and a cache to read
    yield bot
    bot.close()


@pytest.fixture
def dashboard(engine):
    """(app, socketio) over the engine; the app's broadcast task is stopped afterwards."""
    app, socketio = create_app(engine, engine.config.dashboard, testing=True)
    yield app, socketio
    app.extensions["dashboard"].close()


@pytest.fixture
def app(dashboard):
    return dashboard[0]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def csrf(app) -> dict:
    """Headers a page's script sends with a state-changing request."""
    return {"X-CSRF-Token": app.config["DASHBOARD_CSRF_TOKEN"]}


def all_ledger_lines(engine) -> list[dict]:
    """Every line of the ledger as the file says, read independently of the bot."""
    path = Path(engine.data_dir) / "trades.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def ledger_lines(engine) -> list[dict]:
    """The ledger's trade lines as the file says (transfer and borrow fee lines carry an "entry" key)."""
    return [line for line in all_ledger_lines(engine) if "entry" not in line]


def state_file(engine) -> dict:
    return json.loads((Path(engine.data_dir) / "portfolio_state.json").read_text(encoding="utf-8"))


def force_trade(engine, side: str = "buy", symbol: str = "BTC/USDT", qty: float = 0.001,
                exchange: str | None = None, reason: str = "test fill", strategy: str = "momentum"):
    """Drive one fill through the real data flow with a hand-made signal; returns the result.

    exchange: by default the one whose wallet holds the most USDT (arbitrage drains some)."""
    with engine.lock:
        snapshot = engine.last_snapshot
        if exchange is None:
            exchange = max(engine.portfolio.balances, key=lambda ex: engine.portfolio.balance(ex, "USDT"))
        quote = snapshot.quotes[(exchange, symbol)]
        price = quote.ask if side == "buy" else quote.bid
        signal = Signal(strategy=strategy, kind="manual", legs=(Leg(exchange, symbol, side, qty, price),),
                        reason=reason, id=f"test-{time.monotonic_ns()}")
        result = engine.data_flow.process_signal(signal, snapshot,
                                                  allows_short=engine.manager.strategies[strategy].allows_short)
    assert result.status != "rejected", result.reason
    return result


