"""execution.* settings: defaults, per-exchange latency, and out-of-range values named by key (exit 2)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, parse_config
from bot.config_execution import DEFAULT_LATENCY_MS, ExecutionConfig

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("execution, message", [
    ({"latency_ms": {"kraken": -5}}, "execution.latency_ms.kraken: must be >= 0 ms (got -5)"),
    ({"latency_ms": {"default": 90_000}}, "execution.latency_ms.default: must be <= 60000 ms (got 90000)"),
    ({"latency_ms": {"Binance": 10}}, "execution.latency_ms.Binance: keys must be lowercase exchange ids"),
    ({"liquidity": {"refill_half_life_seconds": 0}}, "execution.liquidity.refill_half_life_seconds: "),
    ({"liquidity": {"refill_half_life_seconds": -3}}, "execution.liquidity.refill_half_life_seconds: "),
    ({"impact": {"temporary_half_life_seconds": 0}}, "execution.impact.temporary_half_life_seconds: "),
    ({"impact": {"temporary_bps": -1}}, "execution.impact.temporary_bps: "),
    ({"impact": {"permanent_bps": -0.5}}, "execution.impact.permanent_bps: "),
    ({"order_timeout_seconds": 0}, "execution.order_timeout_seconds: "),
    ({"liquidity": {"refil_half_life_seconds": 5}}, "execution.liquidity.refil_half_life_seconds: unknown setting"),
])
def test_out_of_range_execution_settings_name_their_key(execution, message):
    with pytest.raises(ConfigError) as info:
        parse_config({"execution": execution})
    assert str(info.value).startswith(message), str(info.value)


def test_latency_falls_back_to_default_then_to_the_built_in_default():
    config = ExecutionConfig()
    assert config.latency_for("binance") == 50.0 and config.latency_for("kraken") == 120.0
    assert config.latency_for("okx") == DEFAULT_LATENCY_MS["default"] > 0
    assert ExecutionConfig(latency_ms={"default": 0}).latency_for("binance") == 0.0  # not merged with the defaults
    assert ExecutionConfig(latency_ms={"okx": 30}).latency_for("kraken") == DEFAULT_LATENCY_MS["default"]


def test_the_cli_exits_2_naming_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("execution:\n  latency_ms: {binance: -1}\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "run_bot.py", "--config", str(bad), "--no-dashboard", "--max-ticks", "1",
                             "--data-dir", str(tmp_path / "d"), "--log-dir", str(tmp_path / "l")],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "execution.latency_ms.binance: must be >= 0 ms (got -1)" in result.stderr
    assert not (tmp_path / "d" / "trades.jsonl").exists()
