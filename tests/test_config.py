"""Config: defaults, one clear line naming the key for every bad value, unknown keys refused."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from bot.config import (KNOWN_STRATEGIES, BotConfig, ConfigError, apply_overrides, config_warnings, load_config,
                        parse_config)

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_are_complete_and_valid():
    config = parse_config({})
    assert config.market.source == "simulated"
    assert config.dashboard.host == "127.0.0.1" and config.dashboard.port == 5000
    assert config.strategies.momentum.fast < config.strategies.momentum.slow


def test_the_shipped_config_yaml_equals_the_defaults():
    assert load_config("config.yaml") == BotConfig()


@pytest.mark.parametrize("data, message", [
    ({"market": {"source": "paper"}}, "market.source: Input should be 'simulated', 'live', 'replay' or 'candles' (got 'paper')"),
    ({"strategies": {"momentum": {"fast": 30}}}, "strategies.momentum.fast: must be < slow (got 30 >= 26)"),
    ({"dashboard": {"port": 70000}}, "dashboard.port: Input should be less than or equal to 65535 (got 70000)"),
    ({"market": {"symbols": ["BTCUSDT"]}}, "market.symbols: must be ccxt symbols like BTC/USDT (got 'BTCUSDT')"),
    ({"market": {"exchanges": []}}, "market.exchanges: List should have at least 1 item after validation, not 0"),
    ({"execution": {"max_slippage_pct": -1}}, "execution.max_slippage_pct: Input should be greater than 0 (got -1)"),
    ({"portfolio": {"starting_balances": {"USDT": -5}}}, "portfolio.starting_balances.USDT: must be >= 0 (got -5.0)"),
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


# ---- every float finite and bounded ----------------------------------------------------------
def _float_settings(model=BotConfig, prefix=""):
    """Dotted paths of every plain float setting, found by walking the models."""
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from _float_settings(field.annotation, f"{prefix}{name}.")
        elif field.annotation is float:
            yield f"{prefix}{name}"


def _nested(dotted: str, value) -> dict:
    data = value
    for part in reversed(dotted.split(".")):
        data = {part: data}
    return data


FLOAT_SETTINGS = sorted(_float_settings())


def test_the_walk_finds_the_float_settings_it_should():
    assert len(FLOAT_SETTINGS) >= 50  # a floor against a broken walk (50 since rsi_oversold went)
    for expected in ("market.max_quote_age_seconds", "strategies.news.half_life_minutes", "strategies.stat_arb.entry_z",
                     "strategies.arbitrage.max_notional_usdt", "strategies.momentum.cooldown_seconds",
                     "engine.tick_interval_seconds", "dashboard.broadcast_seconds"):
        assert expected in FLOAT_SETTINGS


@pytest.mark.parametrize("dotted", FLOAT_SETTINGS)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "nan", "1e400"])
def test_every_float_setting_refuses_nan_and_infinity_naming_the_key(dotted, bad):
    with pytest.raises(ConfigError) as info:
        parse_config(_nested(dotted, bad))
    assert str(info.value).startswith(f"{dotted}: must be finite (got ")


@pytest.mark.parametrize("dotted", FLOAT_SETTINGS)
def test_every_float_setting_has_an_upper_bound(dotted):
    with pytest.raises(ConfigError) as info:
        parse_config(_nested(dotted, 1e300))
    assert str(info.value).startswith(f"{dotted}: ")
    assert "1e+300" in str(info.value)


@pytest.mark.parametrize("asset, amount, message", [
    ("BTC", math.nan, "portfolio.starting_balances.BTC: must be finite (got nan)"),
    ("USDT", math.inf, "portfolio.starting_balances.USDT: must be finite (got inf)"),
    ("ETH", -math.inf, "portfolio.starting_balances.ETH: must be finite (got -inf)"),
    ("BTC", 1e308, "portfolio.starting_balances.BTC: must be <= 1e+12 (got 1e+308)"),
    ("ETH", 1.000001e12, "portfolio.starting_balances.ETH: must be <= 1e+12 (got 1e+12)"),
])
def test_balances_must_be_finite_and_at_most_1e12(asset, amount, message):
    with pytest.raises(ConfigError) as info:
        parse_config({"portfolio": {"starting_balances": {"USDT": 100.0, "BTC": 1.0, "ETH": 1.0, asset: amount}}})
    assert str(info.value) == message


def test_the_largest_allowed_balances_run_and_save(tmp_path):
    """1e12 of every asset in every wallet: equity stays finite and the state file is written."""
    from bot.engine import BotEngine

    config = parse_config({"portfolio": {"starting_balances": {a: 1e12 for a in ("USDT", "BTC", "ETH", "SOL", "XRP", "ADA")}},
                           "storage": {"data_dir": str(tmp_path / "data"), "log_dir": str(tmp_path / "logs"), "fsync": False},
                           "dashboard": {"enabled": False}})
    engine = BotEngine(config)
    engine.open()
    try:
        engine.run_fast(5)
    finally:
        engine.close()
    state = json.loads((tmp_path / "data" / "portfolio_state.json").read_text(encoding="utf-8"))
    assert state["balances"]["kraken"]["BTC"] == pytest.approx(1e12, rel=1e-6)
    # Three wallets hold 1e12 USDT each before any coin is counted.
    assert state["equity_history"] and all(math.isfinite(equity) and equity > 3e12 for _, equity in state["equity_history"])
    assert math.isfinite(state["peak_equity"])


# ---- the simulated clock and the scheduler ---------------------------------------------------
@pytest.mark.parametrize("start_time", ["2009-01-03T00:00:00Z", "2099-12-31T23:59:59Z", "2026-06-01T12:00:00+02:00",
                                        "2026-01-01T00:00:00.250Z"])
def test_start_times_in_range_with_a_timezone_are_accepted(start_time):
    assert parse_config({"market": {"start_time": start_time}}).market.start_time == start_time


@pytest.mark.parametrize("start_time, why", [
    ("2100-01-01T00:00:00Z", "must be from 2009-01-03T00:00:00Z to before 2100-01-01T00:00:00Z"),
    ("9999-12-31T23:00:00Z", "must be from 2009-01-03T00:00:00Z to before 2100-01-01T00:00:00Z"),
    ("2009-01-02T23:59:59Z", "must be from 2009-01-03T00:00:00Z to before 2100-01-01T00:00:00Z"),
    ("2026-01-01T00:00:00", "must name its timezone: end it with Z for UTC, e.g. 2026-01-01T00:00:00Z"),
    ("2026-01-01", "must name its timezone: end it with Z for UTC, e.g. 2026-01-01T00:00:00Z"),
    ("next tuesday", "must be an ISO 8601 time like 2026-01-01T00:00:00Z"),
])
def test_start_time_out_of_range_or_without_a_timezone_is_refused(start_time, why):
    with pytest.raises(ConfigError) as info:
        parse_config({"market": {"start_time": start_time}})
    assert str(info.value) == f"market.start_time: {why} (got {start_time!r})"


def test_tick_interval_floor_is_what_the_scheduler_can_keep():
    assert parse_config({"engine": {"tick_interval_seconds": 0.01}}).engine.tick_interval_seconds == 0.01
    for too_short in (0.009, 1e-6, 1e-7, 0, -1):
        with pytest.raises(ConfigError) as info:
            parse_config({"engine": {"tick_interval_seconds": too_short}})
        assert str(info.value) == (f"engine.tick_interval_seconds: must be >= 0.01 (got {float(too_short)}): the scheduler "
                                   f"cannot keep a shorter interval; --fast runs ticks back to back")


def test_simulated_tick_floor_keeps_the_warm_up_small():
    assert parse_config({"market": {"tick_seconds": 0.1}}).market.tick_seconds == 0.1
    for too_short in (0.09, 1e-5, 0):
        with pytest.raises(ConfigError, match=rf"^market\.tick_seconds: must be >= 0\.1 \(got {float(too_short)}\): "):
            parse_config({"market": {"tick_seconds": too_short}})


# ---- exchange ids ------------------------------------------------------------------------------
def test_every_ccxt_exchange_id_is_accepted():
    import ccxt  # the oracle: ccxt's own list (tests may import ccxt; bot/ only through live.py)

    assert parse_config({"market": {"exchanges": list(ccxt.exchanges)}}).market.exchanges == list(ccxt.exchanges)


@pytest.mark.parametrize("source", ["simulated", "live"])
@pytest.mark.parametrize("exchanges, message", [
    (["binance", "binanse"], "market.exchanges: unknown ccxt exchange id 'binanse' (did you mean 'binance'?)"),
    (["krakken"], "market.exchanges: unknown ccxt exchange id 'krakken' (did you mean 'kraken'?)"),
    (["mtgox"], "market.exchanges: unknown ccxt exchange id 'mtgox' (see ccxt.exchanges; e.g. binance, kraken, coinbase)"),
])
def test_unknown_exchange_ids_are_refused_in_every_mode(source, exchanges, message):
    with pytest.raises(ConfigError) as info:
        parse_config({"market": {"source": source, "exchanges": exchanges}})
    assert str(info.value) == message


def test_a_strategy_exchange_must_be_one_of_market_exchanges_with_a_suggestion():
    with pytest.raises(ConfigError) as info:
        parse_config({"strategies": {"stat_arb": {"exchange": "krakn"}}})
    assert str(info.value) == ("strategies.stat_arb.exchange: must be one of market.exchanges "
                               "['binance', 'kraken', 'coinbase'] (got 'krakn') (did you mean 'kraken'?)")
    with pytest.raises(ConfigError, match=r"^strategies\.momentum\.exchange: .*\(got 'okx'\)$"):
        parse_config({"strategies": {"momentum": {"exchange": "okx"}}})  # a ccxt id, but not traded here
    assert parse_config({"strategies": {"news": {"exchange": "kraken"}}}).strategies.news.exchange == "kraken"


def test_exchange_options_must_name_one_of_market_exchanges():
    with pytest.raises(ConfigError) as info:
        parse_config({"market": {"exchange_options": {"coinbse": {"timeout": 5000}}}})
    assert str(info.value) == ("market.exchange_options.coinbse: not one of market.exchanges "
                               "['binance', 'kraken', 'coinbase'] (did you mean 'coinbase'?)")


# ---- warnings ----------------------------------------------------------------------------------
ALL_DISABLED = {"strategies": {name: {"enabled": False} for name in KNOWN_STRATEGIES}}


def test_every_strategy_disabled_is_a_warning_not_an_error():
    assert config_warnings(parse_config(ALL_DISABLED)) == [
        "every strategy is disabled (strategies.<name>.enabled: false for arbitrage, momentum, news, stat_arb): "
        "the bot will follow the market but never trade; enable one in the config or on the dashboard"]
    one_left = {"strategies": {**ALL_DISABLED["strategies"], "news": {"enabled": True}}}
    assert config_warnings(parse_config(one_left)) == []
    assert config_warnings(BotConfig()) == []


# ---- starting balances follow market.symbols ---------------------------------------------------
TODAYS_BALANCES = {"USDT": 10_000.0, "BTC": 0.05, "ETH": 1.0, "SOL": 15.0, "XRP": 2000.0, "ADA": 3000.0}


def test_the_default_and_config_yaml_give_todays_balances():
    assert BotConfig().portfolio.starting_balances == TODAYS_BALANCES
    assert parse_config({}).portfolio.starting_balances == TODAYS_BALANCES
    assert load_config(ROOT / "config.yaml").portfolio.starting_balances == TODAYS_BALANCES


@pytest.mark.parametrize("symbols, balances", [
    (["BTC/USDT", "ETH/USDT"], {"USDT": 10_000.0, "BTC": 0.05, "ETH": 1.0}),
    (["ETH/BTC", "BTC/USDT"], {"USDT": 10_000.0, "BTC": 0.05, "ETH": 1.0}),
    (["SOL/USDT"], {"USDT": 10_000.0, "SOL": 15.0}),
    # DOGE has no default amount: it starts at 0 (absent), bought with USDT like any other coin.
    (["BTC/USDT", "DOGE/USDT"], {"USDT": 10_000.0, "BTC": 0.05}),
])
def test_unset_starting_balances_follow_market_symbols(symbols, balances):
    config = parse_config({"market": {"symbols": symbols}})
    assert config.portfolio.starting_balances == balances
    # Still so after the command line's overrides re-validate the whole config.
    assert apply_overrides(config, {"market.seed": 3}).portfolio.starting_balances == balances


def test_narrowing_the_symbols_in_config_yaml_needs_no_other_edit(tmp_path):
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    line = "  symbols: [BTC/USDT, ETH/USDT, SOL/USDT, XRP/USDT, ADA/USDT, ETH/BTC]"
    assert line in text
    narrowed = tmp_path / "config.yaml"
    narrowed.write_text(text.replace(line, "  symbols: [BTC/USDT, ETH/USDT]"), encoding="utf-8")
    assert load_config(narrowed).portfolio.starting_balances == {"USDT": 10_000.0, "BTC": 0.05, "ETH": 1.0}


def test_explicit_starting_balances_with_an_unvalued_asset_are_still_an_error():
    with pytest.raises(ConfigError) as info:
        parse_config({"market": {"symbols": ["BTC/USDT", "ETH/USDT"]},
                      "portfolio": {"starting_balances": {"USDT": 500.0, "BTC": 0.1, "SOL": 3.0}}})
    assert str(info.value) == ("portfolio.starting_balances.SOL: not traded in any of market.symbols, so it could not "
                               "be valued (add a market for it or remove the balance)")
    explicit = {"USDT": 500.0, "XRP": 10.0}
    assert parse_config({"portfolio": {"starting_balances": explicit}}).portfolio.starting_balances == explicit


# ---- through run_bot.py ------------------------------------------------------------------------
def run_bot(tmp_path, settings: dict, *extra):
    settings = {**settings, "storage": {"data_dir": str(tmp_path / "data"), "log_dir": str(tmp_path / "logs"),
                                        "fsync": False}}
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return subprocess.run([sys.executable, "run_bot.py", "--config", str(path), "--no-dashboard", "--fast", *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("settings, message", [
    ({"portfolio": {"starting_balances": {"USDT": 1000.0, "BTC": math.nan}}},
     "portfolio.starting_balances.BTC: must be finite (got nan)"),
    ({"market": {"start_time": "2200-01-01T00:00:00Z"}},
     "market.start_time: must be from 2009-01-03T00:00:00Z to before 2100-01-01T00:00:00Z (got '2200-01-01T00:00:00Z')"),
    ({"market": {"exchanges": ["binanse", "kraken"]}},
     "market.exchanges: unknown ccxt exchange id 'binanse' (did you mean 'binance'?)"),
])
def test_run_bot_exits_2_with_one_line_and_creates_nothing(tmp_path, settings, message):
    result = run_bot(tmp_path, settings, "--max-ticks", "5")
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"error: {message}\n"
    assert not (tmp_path / "data").exists() and not (tmp_path / "logs").exists()


def test_run_bot_warns_when_every_strategy_is_disabled_and_still_runs(tmp_path):
    result = run_bot(tmp_path, ALL_DISABLED, "--max-ticks", "5")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings == ["warning: every strategy is disabled (strategies.<name>.enabled: false for arbitrage, "
                        "momentum, news, stat_arb): the bot will follow the market but never trade; enable one in "
                        "the config or on the dashboard"]
    ledger = tmp_path / "data" / "trades.jsonl"
    assert not ledger.exists() or ledger.read_text(encoding="utf-8") == ""


def test_run_bot_with_narrowed_symbols_starts_with_the_balances_they_can_value(tmp_path):
    result = run_bot(tmp_path, {"market": {"symbols": ["BTC/USDT", "ETH/USDT"]}}, "--max-ticks", "5")
    assert result.returncode == 0, result.stderr
    assert "warning:" not in result.stderr
    state = json.loads((tmp_path / "data" / "portfolio_state.json").read_text(encoding="utf-8"))
    wallet = {"USDT": 10_000.0, "BTC": 0.05, "ETH": 1.0}
    assert state["starting_balances"] == {"binance": wallet, "kraken": wallet, "coinbase": wallet}
