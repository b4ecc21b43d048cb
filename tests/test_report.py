"""`run_bot.py report`: the tearsheet's figures against the files on disk read here (ledger, state,
equity samples, an independent round-trip oracle, empyrical), bad data dirs refused in one line
with exit 2 and no file, every data string escaped, nothing loaded from outside."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

import empyrical
import pandas as pd
import pytest

from bot.config import parse_config
from bot.engine import BotEngine
from bot.timestamps import parse_iso
from tests.dashboard.conftest import force_trade
from tests.report_figures import report_figures, report_outside_references
from tests.roundtrip_oracle import fee_usdt, oracle_figures, oracle_holdings_pnl, oracle_round_trips

ROOT = Path(__file__).resolve().parents[1]
TICKS = 6000
HOSTILE = '<img src=x onerror="alert(1)"> & </td>'


def engine_config(root: Path, **extra):
    data = {"market": {"seed": 7}, "storage": {"data_dir": str(root / "data"), "log_dir": str(root / "logs"),
                                                "fsync": False}, "dashboard": {"enabled": False}}
    data.update(extra)
    return parse_config(data)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A data dir after a 6,000-tick seed-7 run, with one round trip whose exit reason is markup."""
    root = tmp_path_factory.mktemp("report-run")
    engine = BotEngine(engine_config(root))
    engine.open()
    engine.run_fast(TICKS)
    exchange = max(engine.portfolio.balances, key=lambda ex: engine.portfolio.balance(ex, "USDT"))
    force_trade(engine, side="buy", strategy="news", qty=0.001, exchange=exchange, reason="entry")
    force_trade(engine, side="sell", strategy="news", qty=0.001, exchange=exchange, reason=HOSTILE)
    engine.run_fast(120)  # equity samples after the hostile round trip
    engine.close()
    return root / "data"


def report(data_dir: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_bot.py", "report", "--data-dir", str(data_dir), "--out", str(out),
                           *extra], cwd=ROOT, capture_output=True, text=True, timeout=300)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def made(run_dir, tmp_path_factory) -> tuple[str, dict]:
    out = tmp_path_factory.mktemp("report-out") / "report.html"
    result = report(run_dir, out)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"report: {out} (")
    html = out.read_text(encoding="utf-8")
    return html, report_figures(html)


def test_the_report_is_self_contained(made):
    html, _ = made
    scripts, external = report_outside_references(html)
    assert scripts == 0 and external == []
    assert "<style>" in html and "style=" not in html  # one stylesheet, no style attributes (CSP by hash)
    assert "default-src 'none'; style-src 'sha256-" in unescape(html)
    for heading in ("Equity, trading equity and buy and hold", "Drawdown", "Daily returns", "Risk figures",
                    "Round trips", "Best round trips", "Worst round trips", "Fees and costs by kind", "Settings"):
        assert f">{heading}<" in html, heading
    assert html.count("<svg") == 3 and 'class="calendar"' in html


def test_every_data_string_is_escaped(made):
    html, _ = made
    assert HOSTILE not in html and "<img" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; &lt;/td&gt;" in html


def test_the_balance_figures_equal_the_state_file_and_the_ledger(run_dir, made):
    _, figures = made
    state = json.loads((run_dir / "portfolio_state.json").read_text(encoding="utf-8"))
    marks, initial_marks = state["marks"], state["initial_marks"]
    equity = sum(qty * marks[asset] for wallet in state["balances"].values() for asset, qty in wallet.items())
    initial = sum(qty * initial_marks[asset] for wallet in state["starting_balances"].values()
                  for asset, qty in wallet.items())
    holdings = oracle_holdings_pnl(state["starting_balances"], initial_marks, marks, lines(run_dir / "trades.jsonl"))
    assert figures["equity"]["value"] == pytest.approx(equity, rel=1e-12)
    assert figures["total_pnl"]["value"] == pytest.approx(equity - initial, abs=1e-6)
    assert figures["holdings_pnl"]["value"] == pytest.approx(holdings, abs=1e-6)
    assert figures["strategies_net_pnl"]["value"] == pytest.approx(equity - initial - holdings, abs=1e-6)
    assert figures["buy_and_hold_equity"]["value"] == pytest.approx(initial + holdings, abs=1e-6)
    assert figures["total_pnl"]["text"] == f"{'+' if equity > initial else chr(0x2212)}{abs(equity - initial):,.2f} USDT"
    trades = [line for line in lines(run_dir / "trades.jsonl") if "entry" not in line]  # entries are not trades
    assert figures["trades"]["value"] == len(trades)
    assert figures["fees.total"]["value"] == pytest.approx(sum(fee_usdt(t) for t in trades), rel=1e-9)


def test_the_round_trip_figures_equal_the_oracle(run_dir, made):
    _, figures = made
    oracle = {name: oracle_figures(trips) for name, trips in oracle_round_trips(lines(run_dir / "trades.jsonl")).items()}
    assert oracle
    for name, expected in oracle.items():
        assert figures[f"round_trips.{name}"]["value"] == expected["round_trips"], name
        if expected["win_rate"] is None:
            assert figures[f"win_rate.{name}"]["value"] is None
        else:
            assert figures[f"win_rate.{name}"]["value"] == pytest.approx(expected["win_rate"], rel=1e-12), name
            assert figures[f"win_rate.{name}"]["text"] == f"{expected['win_rate'] * 100:.1f}%"
        if expected["profit_factor"] is None:
            assert figures[f"profit_factor.{name}"]["value"] is None
        else:
            assert figures[f"profit_factor.{name}"]["value"] == pytest.approx(expected["profit_factor"], rel=1e-9)
    best = max((t["net"] for trips in oracle_round_trips(lines(run_dir / "trades.jsonl")).values()
                for t in trips if t["closed"]))
    assert figures["best.0"]["value"] == pytest.approx(best, rel=1e-9)


def test_the_risk_figures_cover_every_sample_and_equal_empyrical(run_dir, made):
    _, figures = made
    samples = lines(run_dir / "equity.jsonl")
    times = [parse_iso(line["ts"]) for line in samples]
    assert figures["samples"]["value"] == len(samples)
    assert figures["span_seconds"]["value"] == pytest.approx(times[-1] - times[0])
    for key, column in (("equity", "equity"), ("trading", "trading_equity")):
        series = pd.Series([line[column] for line in samples], index=pd.to_datetime(times, unit="s", utc=True))
        levels = pd.concat([series.iloc[:1], series.resample("1h").last().ffill()])
        returns = levels.pct_change().dropna().to_numpy()
        expected = -empyrical.max_drawdown(returns) * 100.0
        assert figures[f"max_drawdown_pct.{key}"]["value"] == pytest.approx(expected, rel=1e-9, abs=1e-12)
        assert f"1h \u00d7 {len(returns)} periods" in figures[f"max_drawdown_pct.{key}"]["text"]
        assert figures[f"sharpe.{key}"]["text"].startswith(f"needs {30 - len(returns)} more hours")


def test_the_settings_are_the_runs_own(made):
    html, _ = made
    assert "recorded at the run&#39;s last start" in html
    assert "<th>market.seed</th><td>7</td>" in html  # the run's seed, not the report config's 42


def test_a_report_on_an_empty_or_missing_dir_says_so_in_one_line_and_writes_nothing(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    for data_dir, words in ((empty, "empty"), (tmp_path / "nowhere", "no such directory")):
        out = tmp_path / "report.html"
        result = report(data_dir, out)
        assert result.returncode == 2
        assert len(result.stderr.strip().splitlines()) == 1 and words in result.stderr, result.stderr
        assert not out.exists()
    assert list(empty.iterdir()) == []  # nothing made in the data dir either


@pytest.mark.parametrize("damage, words", [
    ("trades.jsonl", "trades.jsonl:3"), ("equity.jsonl", "equity.jsonl:2"),
    ("portfolio_state.json", "portfolio_state.json"), ("no_state", "missing"),
    ("no_equity", "no equity samples"),  # a data dir from before equity.jsonl
])
def test_a_damaged_data_dir_is_refused_in_one_line_and_nothing_is_written(run_dir, tmp_path, damage, words):
    data_dir = tmp_path / "data"
    shutil.copytree(run_dir, data_dir)
    if damage.startswith("no_"):
        (data_dir / {"no_state": "portfolio_state.json", "no_equity": "equity.jsonl"}[damage]).unlink()
    else:
        path = data_dir / damage
        text = path.read_text(encoding="utf-8").splitlines(keepends=True)
        if damage.endswith(".jsonl"):
            number = 3 if damage == "trades.jsonl" else 2
            text[number - 1] = "{not json\n"
        else:
            text = ["{not json"]
        path.write_text("".join(text), encoding="utf-8")
    before = {p.name: p.read_bytes() for p in data_dir.iterdir()}
    out = tmp_path / "report.html"
    result = report(data_dir, out)
    assert result.returncode == 2, result.stdout
    assert len(result.stderr.strip().splitlines()) == 1 and words in result.stderr, result.stderr
    assert not out.exists()
    assert {p.name: p.read_bytes() for p in data_dir.iterdir()} == before


def test_an_unwritable_out_path_is_named(run_dir, tmp_path):
    result = report(run_dir, tmp_path / "missing-file-as-dir" / "x" / "report.html")
    assert result.returncode == 0  # folders are made
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    result = report(run_dir, blocker / "report.html")
    assert result.returncode == 2 and result.stderr.startswith("error: --out: ")


def test_the_net_pnl_line_names_every_term_and_adds_up(made):
    """realized + unrealized - fees - transfer fees - borrow fees, as printed, is the net P&L printed."""
    html, figures = made
    import re
    found = re.search(r"realized ([−+-][\d,.]+) \+ unrealized ([−+-][\d,.]+) − fees ([\d,.]+) − transfer fees "
                      r"([\d,.]+) − borrow fees ([\d,.]+)", html)
    assert found, "the strategies' net P&L line lacks a term"
    realized, unrealized, fees, transfers, borrow = (float(v.replace("−", "-").replace(",", "")) for v in found.groups())
    assert realized + unrealized - fees - transfers - borrow == pytest.approx(figures["strategies_net_pnl"]["value"],
                                                                              abs=0.03)
