"""Each stress scenario end to end: run_bot.py --scenario NAME as a subprocess on the default market
and the default start (30 market minutes in). It happens at its documented market times, the bot
survives it (no error; the kill switch, the down exchange where they apply), and `verify` agrees
after. Then one real-time run with the dashboard: an outage shows in the browser's status bar and
the speed control moves the clock through it. What the quotes, books and stale set look like at
those times is checked in-process against the plain market in tests/test_scenarios.py.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import WAIT_MS, start_bot

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
START_TICK = 1800

# The README's table: each phase's start, then the end ("over"), in market time on 2026-01-01.
DOCUMENTED = {
    "flash_crash": [("crash", "00:30"), ("trough", "00:35"), ("rebound", "00:45"), ("aftermath", "01:15"),
                    ("over", "03:00")],
    "exchange_outage": [("outage", "00:30"), ("catch_up", "00:50"), ("over", "00:55")],
    "stablecoin_depeg": [("drift", "00:30"), ("off_peg", "01:30"), ("repeg", "02:30"), ("over", "04:30")],
    "liquidity_drought": [("draining", "00:30"), ("drought", "00:40"), ("refilling", "01:40"), ("over", "01:50")],
    "news_storm": [("storm", "00:30"), ("over", "00:45")],
    "pump_and_dump": [("pump", "00:30"), ("top", "00:50"), ("dump", "00:55"), ("bleed", "01:05"), ("over", "02:10")],
}


def minutes(clock: str) -> int:
    hours, mins = clock.split(":")
    return int(hours) * 60 + int(mins)


def run_scenario(tmp_path: Path, name: str, settings: dict | None = None, after_minutes: int = 1):
    """The whole scenario and after_minutes more, headless and fast; returns (stdout, trades, activity, state)."""
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"storage": {"fsync": False}, **(settings or {})}), encoding="utf-8")
    ticks = (minutes(DOCUMENTED[name][-1][1]) + after_minutes) * 60
    data, logs = tmp_path / "data", tmp_path / "logs"
    run = subprocess.run([sys.executable, "run_bot.py", "--config", str(config), "--scenario", name, "--no-dashboard",
                          "--fast", "--max-ticks", str(ticks), "--data-dir", str(data), "--log-dir", str(logs)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    check = subprocess.run([sys.executable, "run_bot.py", "verify", "--data-dir", str(data)], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0 and "OK" in check.stdout, check.stdout + check.stderr
    trades = [json.loads(line) for line in (data / "trades.jsonl").read_text().splitlines()]
    activity = [json.loads(line) for line in (logs / "activity.jsonl").read_text().splitlines()]
    state = json.loads((data / "portfolio_state.json").read_text())
    return run.stdout, trades, activity, state


def announced(activity: list[dict]) -> list[tuple[str, str]]:
    return [(line["phase"] or line["state"], line["market_time"][11:16]) for line in activity
            if line["event"] == "scenario" and line["state"] != "scheduled"]


@pytest.mark.parametrize("name", ["stablecoin_depeg", "liquidity_drought", "pump_and_dump"])
def test_the_scenario_plays_at_its_documented_times_and_the_books_agree_after(tmp_path, name):
    stdout, trades, activity, _ = run_scenario(tmp_path, name)
    assert f"Scenario {name}: " in stdout
    assert announced(activity) == DOCUMENTED[name]
    assert [line for line in activity if line["event"] == "errors"] == []
    assert trades, "the strategies kept trading around it"


def test_an_exchange_outage_fills_nothing_there_and_it_comes_back(tmp_path):
    _, trades, activity, _ = run_scenario(tmp_path, "exchange_outage", after_minutes=30)
    assert announced(activity) == DOCUMENTED["exchange_outage"]
    feed = [(line["state"], line["market_time"][11:16]) for line in activity
            if line["event"] == "market_status" and line.get("exchange") == "binance"]
    assert feed == [("down", "00:30"), ("live", "00:50")]
    during = [t for t in trades if START_TICK <= t["tick"] < START_TICK + 20 * 60]
    assert not [t for t in during if t["exchange"] == "binance"]
    assert any(t["exchange"] == "binance" for t in trades if t["tick"] >= START_TICK + 20 * 60), "it trades again"
    assert [line for line in activity if line["event"] == "errors"] == []


def test_a_flash_crash_trips_a_10pct_kill_switch_during_the_crash(tmp_path):
    # On the equity basis: the crash is mostly the starting inventory's fall, which the default
    # (trading) basis leaves out by design (the next test).
    _, trades, activity, state = run_scenario(tmp_path, "flash_crash",
                                              {"risk": {"max_drawdown_pct": 10.0, "drawdown_basis": "equity"}})
    assert announced(activity) == DOCUMENTED["flash_crash"]
    kill = state["engine"]["kill_switch"]
    assert kill is not None and kill["drawdown_pct"] > 10.0
    assert START_TICK < kill["tick"] < START_TICK + 15 * 60, "in the crash or the trough"
    assert state["engine"]["state"] == "paused"
    # Orders already on their way when it tripped still land (README, "The execution model"); nothing
    # decided after it trades. A signal id carries its decision tick: "<strategy>-<tick>-<n>".
    late = [t for t in trades if "entry" not in t and t["tick"] > kill["tick"]]
    assert all(int(t["signal_id"].split("-")[-2]) <= kill["tick"] for t in late), "nothing decided after it traded"
    assert [line["event"] for line in activity].count("kill_switch") == 1


def test_the_default_kill_switch_holds_through_a_flash_crash(tmp_path):
    _, trades, activity, state = run_scenario(tmp_path, "flash_crash")
    assert state["engine"]["kill_switch"] is None and state["engine"]["state"] == "running"
    assert any(t["tick"] > START_TICK + 15 * 60 for t in trades), "it trades on after the crash"


def test_the_news_strategy_reads_the_storm(tmp_path):
    _, trades, activity, _ = run_scenario(tmp_path, "news_storm")
    assert announced(activity) == DOCUMENTED["news_storm"]
    storm = [t for t in trades if t["strategy"] == "news" and START_TICK <= t["tick"] < START_TICK + 15 * 60]
    assert any("Bitcoin surges as record inflows hit exchange-traded funds" in t["reason"] for t in storm)


def test_an_outage_shows_on_the_dashboard_and_the_speed_control_runs_the_clock_through_it(tmp_path, watched):
    # 10 s ticks (conftest FAST_CONFIG) at 30x: the outage begins 1 market minute in and lasts 40 wall seconds.
    bot = start_bot(tmp_path, {"market": {"speed": 30.0, "simulator": {"scenario": "exchange_outage",
                                                                      "scenario_start_minutes": 1}}})
    try:
        w = watched()
        page = w.open(bot.base_url, "/")
        page.wait_for_function("() => document.querySelector('#status-scenario').textContent.includes('exchange_outage: outage')",
                               timeout=WAIT_MS)
        status = bot.get_json("/api/status")
        assert status["scenario"]["state"] == "active" and status["scenario"]["exchange"] == "binance"
        assert status["health"]["binance"]["state"] == "down" and status["clock"]["speed"] == 30.0
        assert not [q for q in bot.get_json("/api/market/live")["quotes"] if q["exchange"] == "binance"]
        assert "binance down" in page.locator("#status-feeds").inner_text()
        assert page.locator("#speed-input").input_value() == "30"
        page.fill("#speed-input", "600")
        page.click("#speed-set")
        page.wait_for_function("() => document.querySelector('#status-scenario').textContent.includes('over since')",
                               timeout=WAIT_MS)
        assert bot.get_json("/api/status")["clock"]["speed"] == 600.0
        assert bot.get_json("/api/status")["health"]["binance"]["state"] == "live"
        state = json.loads((bot.data_dir / "portfolio_state.json").read_text())
        assert state["engine"]["speed"] == {"value": 600.0, "config": 30.0}
        w.assert_clean()
    finally:
        code = bot.stop()
    assert code == 0, bot.output()


def test_a_restart_in_the_middle_continues_the_scenario_where_it_stopped(tmp_path):
    data, logs = tmp_path / "data", tmp_path / "logs"
    common = ["--scenario", "flash_crash", "--no-dashboard", "--fast", "--data-dir", str(data), "--log-dir", str(logs)]
    for ticks in (2100, 2000):  # stop in the trough (00:35), then go on past the rebound (00:45)
        run = subprocess.run([sys.executable, "run_bot.py", *common, "--max-ticks", str(ticks)], cwd=ROOT,
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
    activity = [json.loads(line) for line in (logs / "activity.jsonl").read_text().splitlines()]
    second_run = activity[max(i for i, line in enumerate(activity) if line["event"] == "bot_started"):]
    told = [(line["phase"], line["market_time"][11:19]) for line in second_run if line["event"] == "scenario"]
    assert told == [("trough", "00:35:00"), ("rebound", "00:45:00")]
    assert "in progress since 2026-01-01T00:30:00.000Z" in next(line["message"] for line in second_run
                                                                 if line["event"] == "scenario")
    assert json.loads((data / "portfolio_state.json").read_text())["engine"]["next_tick"] == 4100
    check = subprocess.run([sys.executable, "run_bot.py", "verify", "--data-dir", str(data)], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
