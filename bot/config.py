"""Typed configuration: every setting with its default, validated once at start.

A config file names only what it changes. Unknown keys are errors. ConfigError carries one
line naming the key, the value and what is allowed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from bot.config_accounting import MarginConfig, TransfersConfig
from bot.config_auth import DashboardAccessConfig
from bot.config_base import ConfigError, ConfigModel
from bot.config_execution import ExecutionConfig
from bot.config_telegram import TelegramConfig
from bot.config_streams import StreamsConfig
from bot.config_recording import RecordingConfig
from bot.config_candles import CandlesConfig
from bot.config_replay import ReplayConfig
from bot.config_simulator import (SimCompetitionConfig, SimDeviationConfig, SimJumpConfig, SimRegimeConfig,
                                  SimulatorConfig, SimVolatilityConfig)
from bot.config_strategies import (KNOWN_STRATEGIES, ArbitrageConfig, MomentumConfig, NewsConfig, StatArbConfig,
                                   StrategiesConfig, StrategyConfig)
from bot.config_rules import (MAX_ASSET_AMOUNT, MAX_SPEED, MIN_TICK_INTERVAL_SECONDS, MIN_TICK_SECONDS,
                              balances_for_symbols, check_exchange_ids, check_start_time, did_you_mean,
                              normalise_host_name, valued_assets)

# The entry points, and the section models that live in their own modules (bot/config_simulator.py,
# bot/config_strategies.py, bot/config_execution.py) but are imported from here as ever.
__all__ = ["ArbitrageConfig", "BotConfig", "ConfigError", "ExecutionConfig", "KNOWN_STRATEGIES", "MomentumConfig",
           "NewsConfig", "SimCompetitionConfig", "SimDeviationConfig", "SimJumpConfig", "SimRegimeConfig",
           "SimVolatilityConfig", "SimulatorConfig", "StatArbConfig", "StrategiesConfig", "StrategyConfig",
           "apply_overrides", "config_warnings", "load_config", "parse_config"]

DEFAULT_SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "ADA/USDT", "ETH/BTC")
# Without portfolio.starting_balances, each wallet starts with these, less the assets that no
# market.symbols trades (config_rules.balances_for_symbols).
DEFAULT_STARTING_BALANCES = {"USDT": 10_000.0, "BTC": 0.05, "ETH": 1.0, "SOL": 15.0, "XRP": 2000.0, "ADA": 3000.0}
# market.speed: simulated seconds per wall-clock second in a real-time run. The default is measured
# (README "How fast the simulated clock runs"; bench/first_trades.py prints the figures behind it).
DEFAULT_SPEED = 60.0


_Model = ConfigModel  # the short name the models below were written with



class LiveConfig(_Model):
    """How the live source reads public data through ccxt."""

    poll_seconds: float = Field(2.0, gt=0, le=3600)
    order_book_depth: int = Field(20, ge=5, le=500)
    candle_backfill: int = Field(300, ge=10, le=5000)
    retry_attempts: int = Field(3, ge=0, le=20)
    backoff_base_seconds: float = Field(0.5, gt=0, le=60)
    backoff_max_seconds: float = Field(30.0, gt=0, le=3600)
    rate_limit_backoff_seconds: float = Field(10.0, gt=0, le=3600)
    breaker_failures: int = Field(3, ge=1, le=100)
    breaker_cooldown_seconds: float = Field(60.0, gt=0, le=86_400)
    news_feeds: list[str] = Field(default_factory=list)
    news_poll_seconds: float = Field(300.0, ge=5, le=86_400)
    streams: StreamsConfig = Field(default_factory=StreamsConfig)
    rest_trades: bool = True  # read public trades over REST while not streaming: one request per symbol per poll


class MarketConfig(_Model):
    """market: where quotes come from (simulated or live), which exchanges and symbols, and how fresh they must be."""

    source: Literal["simulated", "live", "replay", "candles"] = "simulated"
    seed: int = Field(42, ge=0)
    exchanges: list[str] = Field(default_factory=lambda: ["binance", "kraken", "coinbase"], min_length=1)
    symbols: list[str] = Field(default_factory=lambda: list(DEFAULT_SYMBOLS), min_length=1)
    tick_seconds: float = Field(1.0, le=3600)
    start_time: str = "2026-01-01T00:00:00Z"
    exchange_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    max_quote_age_seconds: float = Field(10.0, gt=0, le=3600)
    # Books are polled one symbol at a time within the rate limit, so they age faster than tickers.
    max_book_age_seconds: float = Field(15.0, gt=0, le=3600)
    max_quote_skew_seconds: float = Field(2.0, gt=0, le=3600)
    # Simulated seconds per wall-clock second in a real-time run on the simulated market: a tick
    # every tick_seconds / speed wall seconds (--fast ignores it; the live market runs at its own pace).
    speed: float = Field(DEFAULT_SPEED, gt=0, le=MAX_SPEED)
    simulator: SimulatorConfig = Field(default_factory=SimulatorConfig)
    live: LiveConfig = Field(default_factory=LiveConfig)

    @field_validator("symbols")
    @classmethod
    def _symbols_are_ccxt(cls, value: list[str]) -> list[str]:
        for symbol in value:
            base, sep, quote = symbol.partition("/")
            if not sep or not base or not quote or base != base.upper() or quote != quote.upper():
                raise ValueError(f"must be ccxt symbols like BTC/USDT (got {symbol!r})")
        if len(set(value)) != len(value):
            raise ValueError("must not repeat a symbol")
        if not any(s.endswith("/USDT") for s in value):
            raise ValueError("must include at least one USDT market (the portfolio is valued in USDT)")
        return value

    @field_validator("exchanges")
    @classmethod
    def _unique_exchanges(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("must not repeat an exchange")
        for ex in value:
            if not ex or not ex.replace("_", "").isalnum() or ex != ex.lower():
                raise ValueError(f"must be lowercase ccxt exchange ids (got {ex!r})")
        check_exchange_ids(value)
        return value

    @field_validator("tick_seconds")
    @classmethod
    def _tick_floor(cls, value: float) -> float:
        if value < MIN_TICK_SECONDS:
            raise ValueError(f"must be >= {MIN_TICK_SECONDS} (got {value}): the simulator pre-generates its "
                             f"warm-up candles tick by tick, and shorter ticks take minutes and gigabytes to start")
        return value

    @field_validator("start_time")
    @classmethod
    def _iso_time(cls, value: str) -> str:
        return check_start_time(value)

    @model_validator(mode="after")
    def _speed_and_scenario(self) -> "MarketConfig":
        if self.tick_seconds / self.speed > 3600:
            raise ValueError(f"speed: must be >= tick_seconds / 3600 = {self.tick_seconds / 3600:g} "
                             f"(got {self.speed:g}): a tick at most once an hour")
        if self.simulator.scenario is not None and self.source != "simulated":
            raise ValueError(f"simulator.scenario: only the simulated market plays scenarios "
                             f"(market.source is {self.source!r})")
        return self

    @model_validator(mode="after")
    def _options_name_our_exchanges(self) -> "MarketConfig":
        for exchange in self.exchange_options:
            if exchange not in self.exchanges:
                raise ValueError(f"exchange_options.{exchange}: not one of market.exchanges {self.exchanges}"
                                 f"{did_you_mean(exchange, self.exchanges)}")
        return self


class PortfolioConfig(_Model):
    """portfolio: each wallet's starting balances and the margin rule for shorts."""

    # Each exchange's wallet starts with these amounts. Base assets give cross-exchange
    # arbitrage inventory to sell on the expensive side.
    # Unset, it follows market.symbols (see BotConfig._balances_follow_symbols).
    starting_balances: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_STARTING_BALANCES))
    # Shorts (declared by a strategy) borrow base; the short's notional on an exchange may be
    # at most that wallet's USDT divided by this ratio.
    short_margin_ratio: float = Field(1.5, ge=1.0, le=10)

    @field_validator("starting_balances")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        for asset, amount in value.items():
            if amount < 0:
                raise ValueError(f"{asset}: must be >= 0 (got {amount})")
            if amount > MAX_ASSET_AMOUNT:
                raise ValueError(f"{asset}: must be <= {MAX_ASSET_AMOUNT:g} (got {amount:g})")
        if value.get("USDT", 0) <= 0:
            raise ValueError("must give each wallet some USDT")
        return value


class RiskConfig(_Model):
    """risk: portfolio-wide limits (the drawdown kill switch)."""

    # Kill switch: trading pauses when equity falls this far below its peak.
    max_drawdown_pct: float = Field(20.0, gt=0, le=100)
    # What the kill switch (and drawdown alerts) measure the fall on: "trading" is equity less the
    # starting inventory's price moves (only the strategies' doing), "equity" the whole portfolio.
    drawdown_basis: Literal["trading", "equity"] = "trading"


class AnalyticsConfig(_Model):
    """analytics: the period the risk figures (Sharpe, Sortino, drawdown, Calmar, volatility) resample to."""

    # hourly | daily | auto: hourly until the equity history spans 30 days (when daily returns
    # first give the 30 periods the ratios need), daily from then on.
    period: Literal["auto", "hourly", "daily"] = "auto"




class EngineConfig(_Model):
    """engine: the real-time tick interval and the equity sampling period."""

    # Wall-clock seconds between ticks in a real-time run on the live market (--fast ignores it).
    # The simulated market paces its ticks by market.speed; a config that sets this and not
    # market.speed gets speed = market.tick_seconds / tick_interval_seconds (its old meaning).
    tick_interval_seconds: float = Field(1.0, le=3600)
    # Simulated seconds between equity samples kept in the state file.
    equity_sample_seconds: float = Field(60.0, gt=0, le=86_400)

    @field_validator("tick_interval_seconds")
    @classmethod
    def _schedulable(cls, value: float) -> float:
        if value < MIN_TICK_INTERVAL_SECONDS:
            raise ValueError(f"must be >= {MIN_TICK_INTERVAL_SECONDS} (got {value}): the scheduler cannot keep a "
                             f"shorter interval; --fast runs ticks back to back")
        return value


class DashboardConfig(DashboardAccessConfig):  # + session, login limits, proxies, TLS
    """dashboard: whether it runs, where it listens, how often it broadcasts, which host names it answers."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(5000, ge=1, le=65535)
    broadcast_seconds: float = Field(5.0, gt=0, le=3600)
    async_mode: Literal["eventlet", "threading"] = "eventlet"
    # Host names the dashboard answers besides its bound address and localhost (DNS rebinding
    # defence: a request naming any other host is refused).
    allowed_hosts: list[str] = Field(default_factory=list, max_length=100)

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(normalise_host_name(name) for name in value))


class StorageConfig(_Model):
    """storage: the data and log dirs, how much equity history is kept, fsync, log rotation."""

    data_dir: str = "data"
    log_dir: str = "logs"
    equity_history_points: int = Field(2000, ge=10, le=1_000_000)
    # fsync after each trade append and state replace: survives power loss, not just crashes.
    fsync: bool = True
    log_max_bytes: int = Field(5_000_000, ge=10_000)
    log_backups: int = Field(3, ge=0, le=100)


NOTIFICATION_KINDS = ("trade_executed", "alert", "kill_switch", "bot_status", "market", "strategy_error", "manual",
                      "books")


class NotificationsConfig(_Model):
    """notifications: the webhook and its retries, rate limit, which kinds are sent, history size."""

    webhook_url: str | None = None
    webhook_timeout_seconds: float = Field(5.0, gt=0, le=120)
    webhook_retries: int = Field(3, ge=0, le=10)
    webhook_backoff_seconds: float = Field(1.0, gt=0, le=300)
    webhook_queue_size: int = Field(1000, ge=1, le=1_000_000)
    # At most this many notifications of one kind per minute (a flapping price floods nobody).
    rate_limit_per_minute: int = Field(20, ge=1, le=10_000)
    kinds: dict[str, bool] = Field(default_factory=lambda: {kind: True for kind in NOTIFICATION_KINDS})
    history_size: int = Field(200, ge=10, le=100_000)
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http:// or https:// URL (got {value!r})")
        return value

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, value: dict[str, bool]) -> dict[str, bool]:
        unknown = sorted(set(value) - set(NOTIFICATION_KINDS))
        if unknown:
            raise ValueError(f"unknown notification kind(s) {unknown}; known: {list(NOTIFICATION_KINDS)}")
        return {**{kind: True for kind in NOTIFICATION_KINDS}, **value}


class BotConfig(_Model):
    """The whole configuration file."""

    market: MarketConfig = Field(default_factory=MarketConfig)
    portfolio: PortfolioConfig = Field(default_factory=PortfolioConfig)
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    risk: RiskConfig = Field(default_factory=RiskConfig)
    analytics: AnalyticsConfig = Field(default_factory=AnalyticsConfig)
    strategies: StrategiesConfig = Field(default_factory=StrategiesConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    notifications: NotificationsConfig = Field(default_factory=NotificationsConfig)
    transfers: TransfersConfig = Field(default_factory=TransfersConfig)
    margin: MarginConfig = Field(default_factory=MarginConfig)
    recording: RecordingConfig = Field(default_factory=RecordingConfig)
    candles: CandlesConfig = Field(default_factory=CandlesConfig)
    replay: ReplayConfig = Field(default_factory=ReplayConfig)

    @model_validator(mode="after")
    def _balances_follow_symbols(self) -> "BotConfig":
        # Narrowing market.symbols must not send anyone to a setting they never touched: unset,
        # the starting balances keep only what the symbols can value. Set, they are checked below.
        if "starting_balances" not in self.portfolio.model_fields_set:
            balances = balances_for_symbols(DEFAULT_STARTING_BALANCES, self.market.symbols)
            # A copy, not an assignment into the given section; this re-runs the checks once.
            self.portfolio = self.portfolio.model_copy(update={"starting_balances": balances})
        return self

    @model_validator(mode="after")
    def _speed_from_tick_interval(self) -> "BotConfig":
        # Before market.speed, a real-time run ticked every engine.tick_interval_seconds; a config
        # that sets that interval and no speed keeps its meaning: speed = tick_seconds / interval.
        if "tick_interval_seconds" in self.engine.model_fields_set and "speed" not in self.market.model_fields_set:
            speed = self.market.tick_seconds / self.engine.tick_interval_seconds
            if speed > MAX_SPEED:
                raise ValueError(f"engine.tick_interval_seconds: with market.tick_seconds {self.market.tick_seconds:g} "
                                 f"it makes a speed of {speed:g} simulated seconds per second, above the most "
                                 f"({MAX_SPEED:g}); set market.speed instead")
            self.market = self.market.model_copy(update={"speed": speed})
        return self

    @model_validator(mode="after")
    def _cross_checks(self) -> "BotConfig":
        for name in ("momentum", "news", "stat_arb"):
            exchange = getattr(self.strategies, name).exchange
            if exchange is not None and exchange not in self.market.exchanges:
                raise ValueError(f"strategies.{name}.exchange: must be one of market.exchanges "
                                 f"{self.market.exchanges} (got {exchange!r}){did_you_mean(exchange, self.market.exchanges)}")
        for pair in self.strategies.stat_arb.pairs:
            for symbol in pair:
                if symbol not in self.market.symbols:
                    raise ValueError(f"strategies.stat_arb.pairs: {symbol!r} is not in market.symbols")
        if self.margin.maintenance_ratio >= self.portfolio.short_margin_ratio:
            raise ValueError(f"margin.maintenance_ratio: must be below portfolio.short_margin_ratio "
                             f"(got {self.margin.maintenance_ratio:g} >= {self.portfolio.short_margin_ratio:g})")
        assets = valued_assets(self.market.symbols)
        for asset in self.portfolio.starting_balances:
            if asset not in assets:
                raise ValueError(f"portfolio.starting_balances.{asset}: not traded in any of market.symbols, so it "
                                 f"could not be valued (add a market for it or remove the balance)")
        return self


def config_warnings(config: BotConfig) -> list[str]:
    """Settings that are valid but probably not meant; run_bot.py prints each at start."""
    warnings = []
    if not any(getattr(config.strategies, name).enabled for name in KNOWN_STRATEGIES):
        warnings.append(f"every strategy is disabled (strategies.<name>.enabled: false for {', '.join(KNOWN_STRATEGIES)}): "
                        f"the bot will follow the market but never trade; enable one in the config or on the dashboard")
    return warnings


def _describe(error: dict) -> str:
    location = ".".join(str(part) for part in error["loc"])
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if error["type"] == "extra_forbidden":
        return f"{location}: unknown setting (check the spelling; see config.yaml for every setting)"
    if error["type"] == "finite_number":
        message = "must be finite"
    value = error.get("input")
    shown = "" if isinstance(value, (dict, list)) or value is None else f" (got {value!r})"
    # A model-level check already names its key inside the message.
    if ":" in message.split(" ", 1)[0]:
        prefix = f"{location}." if location else ""
        return f"{prefix}{message}"
    if "(got" in message:
        shown = ""
    return f"{location}: {message}{shown}" if location else f"{message}{shown}"


def parse_config(data: dict | None) -> BotConfig:
    """Validate a dict (as read from YAML) into a BotConfig, or raise ConfigError."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("config: the file must hold a mapping of settings at the top level")
    try:
        return BotConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors()[0])) from None


def load_config(path: str | Path | None) -> BotConfig:
    """Read and validate a YAML config file; None gives all defaults."""
    if path is None:
        return BotConfig()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"--config: file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"--config: cannot read {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_config(data)


def apply_overrides(config: BotConfig, overrides: dict[str, Any]) -> BotConfig:
    """Apply dotted-key overrides (from the command line) and re-validate the whole config."""
    data = config.model_dump()
    for dotted, value in overrides.items():
        if value is None:
            continue
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return parse_config(data)
