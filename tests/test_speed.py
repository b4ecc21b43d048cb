"""market.speed: the paced real-time loop, the SetSpeed command (persist, apply, refuse), the restart
rule, the old tick_interval meaning, and the command line's bad values."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.commands import SetSpeed
from bot.config import DEFAULT_SPEED, ConfigError, parse_config
from bot.engine import BotEngine
from bot.requests import CommandError, SpeedRequest, validate_request
from bot.tick_loop import TickLoop
from tests.polling import wait_for
from tests.storage_faults import NO_SPACE, refuse_writes

ROOT = Path(__file__).resolve().parents[1]


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def paced_loop(interval: float):
    ticks = []
    clock = FakeClock()
    loop = TickLoop(lambda: ticks.append(clock.now), lambda: ticks.append(clock.now), lambda: len(ticks),
                    interval, clock=clock)
    return loop, clock, ticks


def test_the_real_time_loop_runs_the_ticks_due_by_the_clock():
    loop, clock, ticks = paced_loop(0.125)  # 8 ticks a second
    assert loop.run_due(clock()) == 1  # the first is due at once
    clock.now += 0.0625
    assert loop.run_due(clock()) == 0
    clock.now += 0.4375  # half a second after the first: ticks at 0.125, 0.25, 0.375 and 0.5 are due
    assert loop.run_due(clock()) == 4
    loop.set_interval(0.0625)  # twice as fast from here: the next is due one new interval on
    assert loop.run_due(clock()) == 0
    clock.now += 0.25
    assert loop.run_due(clock()) == 4
    assert ticks == [100.0] + [100.5] * 4 + [100.75] * 4


def test_a_loop_that_fell_behind_drops_the_backlog_instead_of_bursting():
    loop, clock, ticks = paced_loop(0.125)  # at most 0.5 s of catch-up: 4 ticks
    loop.run_due(clock())
    clock.now += 10.0  # a 10-second stall owes 80 ticks
    assert loop.run_due(clock()) == 4
    clock.now += 0.125
    assert loop.run_due(clock()) == 1, "the clock slipped: back on schedule from the stall"


def test_an_interval_shorter_than_the_scheduler_keeps_runs_several_ticks_per_job():
    loop, clock, ticks = paced_loop(0.001)  # speed 1000 at 1 s ticks
    loop.run_due(clock())
    clock.now += 0.010  # one scheduler period (MIN_JOB_SECONDS)
    assert loop.run_due(clock()) in (9, 10, 11)  # 10 due; float division of 0.010 / 0.001 may land either side


def test_max_ticks_stops_the_paced_loop():
    loop, clock, ticks = paced_loop(0.0625)
    clock.now += 0.4375  # 8 ticks are due
    loop.run_due(clock(), stop_after=3)
    assert len(ticks) == 3 and loop.wait_for_stop(0)
    clock.now += 1.0
    assert loop.run_due(clock()) == 0, "a stopped loop runs nothing"


def make_engine(tmp_path, **market) -> BotEngine:
    config = parse_config({"market": market, "storage": {"data_dir": str(tmp_path / "data"),
                                                         "log_dir": str(tmp_path / "logs"), "fsync": False},
                           "dashboard": {"enabled": False}})
    engine = BotEngine(config)
    engine.open()
    return engine


def state_on_disk(tmp_path) -> dict:
    return json.loads((tmp_path / "data" / "portfolio_state.json").read_text())


def speed(value) -> SetSpeed:
    return SetSpeed(validate_request(SpeedRequest, {"speed": value}))


def test_the_default_speed_sets_the_tick_interval(tmp_path):
    engine = make_engine(tmp_path)
    assert engine.speed == DEFAULT_SPEED == 60.0
    assert engine.loop.interval_seconds == pytest.approx(1.0 / 60.0)  # 1 s ticks
    engine.close()


def test_set_speed_is_written_first_then_applied_and_survives_a_restart(tmp_path):
    engine = make_engine(tmp_path)
    version = engine.version
    clock = engine.commands.handle(speed(60))
    assert clock["speed"] == 60.0 and clock["tick_interval_seconds"] == pytest.approx(1 / 60)
    assert engine.loop.interval_seconds == pytest.approx(1 / 60) and engine.version == version + 1
    assert state_on_disk(tmp_path)["engine"]["speed"] == {"value": 60.0, "config": DEFAULT_SPEED}
    engine.close()
    again = make_engine(tmp_path)
    assert again.speed == 60.0 and again.loop.interval_seconds == pytest.approx(1 / 60)
    again.close()
    # A new speed in the config (or --speed) is a later choice than the dashboard's: it wins.
    changed = make_engine(tmp_path, speed=5)
    assert changed.speed == 5.0 and changed.loop.interval_seconds == pytest.approx(0.2)
    changed.close()


def test_a_speed_the_disk_refuses_changes_nothing(tmp_path, monkeypatch):
    engine = make_engine(tmp_path)
    before = (engine.speed, engine.loop.interval_seconds, engine.version)
    file_before = (tmp_path / "data" / "portfolio_state.json").read_bytes()
    refuse_writes(monkeypatch)
    with pytest.raises(CommandError) as refused:
        engine.commands.handle(speed(100))
    assert refused.value.status == 503 and refused.value.message.startswith(f"storage: {NO_SPACE}")
    assert (engine.speed, engine.loop.interval_seconds, engine.version) == before
    assert (tmp_path / "data" / "portfolio_state.json").read_bytes() == file_before
    monkeypatch.undo()
    engine.close()


@pytest.mark.parametrize("value, message", [
    (0, "speed must be a number of simulated seconds per wall-clock second, above 0 and at most 10000 (got 0)"),
    (-3.5, "(got -3.5)"), (1e9, "(got 1000000000.0)"), (float("nan"), "speed must be"),
    ("15", "speed must be"), (True, "speed must be"), (None, "speed must be"),
])
def test_the_speed_request_refuses_bad_values_naming_the_field(value, message):
    with pytest.raises(CommandError) as refused:
        validate_request(SpeedRequest, {"speed": value})
    assert refused.value.field == "speed" and message in refused.value.message


def test_speed_applies_to_the_simulated_market_only(tmp_path):
    engine = make_engine(tmp_path)
    engine.source.kind = "live"  # what a live source says of itself
    with pytest.raises(CommandError) as refused:
        engine.commands.handle(speed(50))
    assert (refused.value.status, refused.value.field) == (409, "speed") and engine.speed == DEFAULT_SPEED
    engine.source.kind = "simulated"
    engine.close()


def test_a_running_real_time_loop_takes_the_new_speed(tmp_path):
    engine = make_engine(tmp_path, speed=20)
    engine.start_realtime()
    try:
        assert engine.loop.job_period_seconds() == pytest.approx(0.05)
        wait_for(lambda: engine.ticks_run >= 2, 30, "two ticks")
        engine.commands.handle(speed(500))  # 2 ms a tick: the job runs every 10 ms, several ticks a run
        assert engine.loop.job_period_seconds() == pytest.approx(0.01)
        reached = engine.ticks_run
        wait_for(lambda: engine.ticks_run >= reached + 50, 20, "fifty more ticks")
        assert engine.facade.status()["clock"] == {"speed": 500.0, "tick_seconds": 1.0,
                                                   "tick_interval_seconds": pytest.approx(0.002),
                                                   "mode": "realtime", "applies": True}
    finally:
        engine.close()


def test_a_config_with_only_the_old_tick_interval_keeps_its_meaning():
    old = parse_config({"market": {"tick_seconds": 10.0}, "engine": {"tick_interval_seconds": 0.05}})
    assert old.market.speed == pytest.approx(200.0)
    both = parse_config({"market": {"speed": 3}, "engine": {"tick_interval_seconds": 0.05}})
    assert both.market.speed == 3.0
    with pytest.raises(ConfigError, match=r"^engine.tick_interval_seconds: with market.tick_seconds 3600"):
        parse_config({"market": {"tick_seconds": 3600}, "engine": {"tick_interval_seconds": 0.01}})


@pytest.mark.parametrize("value, message", [
    ("0", "market.speed: Input should be greater than 0 (got 0.0)"),
    ("-2", "market.speed: Input should be greater than 0 (got -2.0)"),
    ("20000", "market.speed: Input should be less than or equal to 10000 (got 20000.0)"),
    ("inf", "market.speed: must be finite (got inf)"),
])
def test_bad_speeds_on_the_command_line_exit_2_naming_the_key(tmp_path, value, message):
    run = subprocess.run([sys.executable, "run_bot.py", "--speed", value, "--no-dashboard", "--max-ticks", "1",
                          "--data-dir", str(tmp_path / "d"), "--log-dir", str(tmp_path / "l")],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and run.stderr.strip() == f"error: {message}"
    assert not (tmp_path / "d").exists()


def test_a_run_stops_when_it_used_its_share_of_the_period_and_the_rest_stays_due():
    clock = FakeClock()
    ticks = []

    def slow_tick():  # every tick takes 3.5 ms of the 10 ms job period
        ticks.append(clock.now)
        clock.now += 0.0035

    loop = TickLoop(slow_tick, slow_tick, lambda: len(ticks), 0.001, clock=clock)
    clock.now += 0.009  # 10 ticks are due
    assert loop.run_due(clock()) == 3  # 10.5 ms used: past 80% of the period
    assert loop.run_due(clock()) == 3  # the next run takes up what is still due


def test_the_schedulers_skipped_run_warning_is_dropped_and_nothing_else():
    import logging

    from bot.tick_loop import SCHEDULER_LOG

    def record(message):
        return logging.LogRecord("bot.tick_loop.scheduler", logging.WARNING, __file__, 1, message, (), None)

    skipped = record('Execution of job "tick" skipped: maximum number of running instances reached (1)')
    assert not all(f.filter(skipped) for f in SCHEDULER_LOG.filters)
    assert all(f.filter(record("Run time of job was missed by 0:00:03")) for f in SCHEDULER_LOG.filters)
