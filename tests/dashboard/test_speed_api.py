"""POST /api/market/speed: the speed control's endpoint, and the clock and scenario in /api/status."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.config import DEFAULT_SPEED


def state_bytes(engine) -> bytes:
    return (Path(engine.data_dir) / "portfolio_state.json").read_bytes()


def test_a_new_speed_is_saved_applied_and_shown(client, engine, csrf):
    answer = client.post("/api/market/speed", headers=csrf, json={"speed": 120})
    assert answer.status_code == 200
    assert answer.get_json() == {"speed": 120.0, "tick_seconds": 1.0, "tick_interval_seconds": 1 / 120,
                                 "mode": "fast", "applies": True}
    assert json.loads(state_bytes(engine))["engine"]["speed"] == {"value": 120.0, "config": DEFAULT_SPEED}
    assert engine.loop.interval_seconds == pytest.approx(1 / 120)
    assert client.get("/api/status").get_json()["clock"]["speed"] == 120.0


@pytest.mark.parametrize("body, field, words", [
    ({"speed": 0}, "speed", "above 0 and at most 10000 (got 0)"),
    ({"speed": -1.5}, "speed", "(got -1.5)"),
    ({"speed": 1e6}, "speed", "at most 10000"),
    ({"speed": "fast"}, "speed", "speed must be"),
    ({"speed": True}, "speed", "speed must be"),
    ({}, "speed", "speed is required"),
    ({"speed": 5, "tick_seconds": 2}, "tick_seconds", "not a field of a speed change"),
])
def test_a_bad_speed_is_a_400_naming_the_field_and_changes_nothing(client, engine, csrf, body, field, words):
    before, saved = (engine.speed, engine.loop.interval_seconds, engine.version), state_bytes(engine)
    answer = client.post("/api/market/speed", headers=csrf, json=body)
    assert answer.status_code == 400
    assert answer.get_json()["field"] == field and words in answer.get_json()["error"]
    assert (engine.speed, engine.loop.interval_seconds, engine.version) == before
    assert state_bytes(engine) == saved


def test_infinite_and_nan_speeds_are_refused_as_the_field(client, engine, csrf):
    for raw in (b'{"speed": NaN}', b'{"speed": Infinity}', b'{"speed": 1e400}'):
        answer = client.post("/api/market/speed", headers={**csrf, "Content-Type": "application/json"}, data=raw)
        assert answer.status_code == 400 and answer.get_json()["field"] == "speed", raw
    assert engine.speed == DEFAULT_SPEED


def test_the_speed_control_needs_the_csrf_token_and_a_body(client, engine):
    assert client.post("/api/market/speed", json={"speed": 50}).status_code == 403
    assert engine.speed == DEFAULT_SPEED


def test_the_page_has_the_speed_control_and_the_scenario_slot(client):
    page = client.get("/").get_data(as_text=True)
    assert 'id="speed-form"' in page and 'id="speed-input"' in page and f'value="{DEFAULT_SPEED}"' in page
    assert 'id="status-scenario-item"' in page and 'hidden' in page.split('id="status-scenario-item"', 1)[1][:200]
    status = client.get("/api/status").get_json()
    assert status["scenario"] is None and status["clock"]["applies"] is True
