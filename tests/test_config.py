"""Config: defaults, one clear line naming the key for every bad value, unknown keys refused."""
import pytest

from bot.config import BotConfig, ConfigError, apply_overrides, load_config, parse_config


def test_defaults_are_complete_and_valid():
    config = parse_config({})
    assert config.market.source == "simulated"
    assert config.dashboard.host == "127.0.0.1" and config.dashboard.port == 5000
    assert config.strategies.momentum.fast < config.strategies.momentum.slow


def test_the_shipped_config_yaml_equals_the_defaults():
    assert load_config("config.yaml") == BotConfig()


@pytest.mark.parametrize("data, message", [
    ({"market": {"source": "paper"}}, "market.source: Input should be 'simulated' or 'live' (got 'paper')"),
    ({"strategies": {"momentum": {"fast": 30}}}, "strategies.momentum.fast: must be < slow (got 30 >= 26)"),
    ({"dashboard": {"port": 70000}}, "dashboard.port: Input should be less than or equal to 65535 (got 70000)"),
    ({"market": {"symbols": ["BTCUSDT"]}}, "market.symbols: must be ccxt symbols like BTC/USDT (got 'BTCUSDT')"),
    ({"market": {"exchanges": []}}, "market.exchanges: List should have at least 1 item after validation, not 0"),
    ({"execution": {"max_slippage_pct": -1}}, "execution.max_slippage_pct: Input should be greater than 0 (got -1)"),
    ({"portfolio": {"starting_balances": {"USDT": -5}}}, "portfolio.starting_balances: USDT must be >= 0 (got -5.0)"),
])
def test_bad_values_name_the_key_the_value_and_what_is_allowed(data, message):
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert str(info.value) == message


def test_unknown_keys_are_errors_not_ignored():
    with pytest.raises(ConfigError, match=r"^strategies\.momentum\.fsat: unknown setting"):
        parse_config({"strategies": {"momentum": {"fsat": 5}}})
    with pytest.raises(ConfigError, match=r"^colour: unknown setting"):
        parse_config({"colour": "blue"})


def test_file_errors_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("market: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    top = tmp_path / "list.yaml"
    top.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(top)


def test_command_line_overrides_are_validated_too():
    config = apply_overrides(BotConfig(), {"market.seed": 7, "dashboard.port": None})
    assert config.market.seed == 7 and config.dashboard.port == 5000
    with pytest.raises(ConfigError, match="dashboard.port"):
        apply_overrides(BotConfig(), {"dashboard.port": 0})
