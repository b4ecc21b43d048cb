"""A 36-hour simulated run: the metrics, the charts and the report cover all of it.

36 hours at the default 1-second tick are 129,600 ticks: measured at 72 s wall (29 s CPU) for
run_bot.py --fast on this 2-core machine, too slow for the suite. The same 36 hours of market
time at 10-second ticks are 12,960 ticks (23 s); the equity is still sampled every minute of
market time (engine.equity_sample_seconds), so the run gives the 2,160 samples a 1-second run
does, more than the state file's 2,000-point history holds (what the metrics used to lose).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import empyrical
import numpy as np
import pandas as pd
import pytest

from bot.config import parse_config
from bot.engine import BotEngine
from bot.timestamps import parse_iso
from tests.report_figures import report_figures

ROOT = Path(__file__).resolve().parents[1]
HOURS = 36
TICK_SECONDS = 10.0
TICKS = int(HOURS * 3600 / TICK_SECONDS)
START = "2026-01-01T00:00:00Z"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """(data dir, analytics, chart series, state file) of the 36-hour run, engine closed."""
    root = tmp_path_factory.mktemp("hours36")
    config = parse_config({"market": {"tick_seconds": TICK_SECONDS, "start_time": START},
                           "storage": {"data_dir": str(root / "data"), "log_dir": str(root / "logs"), "fsync": False},
                           "dashboard": {"enabled": False}})
    engine = BotEngine(config)
    engine.open()
    assert engine.run_fast(TICKS) == TICKS
    analytics = engine.facade.analytics()
    charts = engine.facade.cumulative_pnl()
    engine.close()
    data_dir = root / "data"
    state = json.loads((data_dir / "portfolio_state.json").read_text(encoding="utf-8"))
    return data_dir, analytics, charts, state


def samples(data_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (data_dir / "equity.jsonl").read_text(encoding="utf-8").splitlines()]


def test_the_equity_file_holds_every_minute_from_the_first_sample_to_the_last(run):
    data_dir, _, _, state = run
    lines = samples(data_dir)
    times = np.array([parse_iso(line["ts"]) for line in lines])
    start = parse_iso(START)
    assert len(lines) == HOURS * 60
    assert times[0] == start and times[-1] == start + HOURS * 3600 - 60
    assert np.all(np.diff(times) == 60.0)
    assert len(state["equity_history"]) == 2000 < len(lines)  # what the state file keeps is not what metrics use


def test_the_metrics_cover_the_whole_run_and_equal_empyrical_on_the_file(run):
    data_dir, analytics, _, _ = run
    lines = samples(data_dir)
    overall = analytics["overall"]
    assert overall["samples"] == len(lines)
    assert overall["start"] == lines[0]["ts"] and overall["end"] == lines[-1]["ts"]
    assert overall["span_seconds"] == HOURS * 3600 - 60
    assert analytics["period"] == "1h" and overall["periods"] == HOURS and overall["needs_periods"] == 0
    index = pd.to_datetime([parse_iso(line["ts"]) for line in lines], unit="s", utc=True)
    for figures, column in ((overall, "equity"), (overall["trading"], "trading_equity")):
        series = pd.Series([line[column] for line in lines], index=index)
        returns = pd.concat([series.iloc[:1], series.resample("1h").last()]).pct_change().dropna().to_numpy()
        assert len(returns) == HOURS == figures["periods"]
        year = 24 * 365
        expected = {"sharpe": empyrical.sharpe_ratio(returns, annualization=year),
                    "sortino": empyrical.sortino_ratio(returns, annualization=year),
                    "volatility_pct": empyrical.annual_volatility(returns, annualization=year) * 100.0,
                    "max_drawdown_pct": -empyrical.max_drawdown(returns) * 100.0}
        for key, value in expected.items():
            assert figures[key] == pytest.approx(value, rel=1e-9, abs=1e-12), (column, key)


def test_the_equity_chart_starts_at_the_first_sample(run):
    data_dir, _, charts, _ = run
    lines = samples(data_dir)
    for name in ("equity", "trading_equity", "buy_and_hold"):
        assert charts[name][0][0] == lines[0]["ts"] and charts[name][-1][0] == lines[-1]["ts"], name
        assert len(charts[name]) <= 2000


def test_the_report_covers_the_whole_run(run, tmp_path):
    data_dir, analytics, _, _ = run
    out = tmp_path / "report.html"
    result = subprocess.run([sys.executable, "run_bot.py", "report", "--data-dir", str(data_dir), "--out", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    html = out.read_text(encoding="utf-8")
    figures = report_figures(html)
    assert figures["samples"]["value"] == HOURS * 60
    assert figures["span_seconds"]["value"] == HOURS * 3600 - 60
    assert figures["sharpe.equity"]["value"] == analytics["overall"]["sharpe"]
    assert "1h \u00d7 36 periods" in figures["sharpe.equity"]["text"]
    assert 'data-date="2026-01-01"' in html and 'data-date="2026-01-02"' in html  # both days in the calendar
