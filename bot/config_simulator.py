"""market.simulator: the deterministic simulator's volatility, regimes, jumps, deviations and competition."""
from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from bot.config_base import ConfigModel
from bot.config_rules import A_YEAR_MINUTES, did_you_mean

_Model = ConfigModel


class SimVolatilityConfig(_Model):
    """market.simulator.volatility: heavy tails, long-memory clustering and the intraday cycle of the true prices."""

    # Memory of each log-volatility component (minutes, hours, a day: a HAR-like sum of AR(1)s).
    half_lives_seconds: list[float] = Field(default_factory=lambda: [300.0, 3600.0, 86_400.0], min_length=1,
                                            max_length=4)
    # Stationary standard deviation of each component's log-volatility, one per half-life.
    log_sds: list[float] = Field(default_factory=lambda: [0.3, 0.4, 0.4], min_length=1, max_length=4)
    # Share of the log-volatility shocks common to every coin (volatility moves market-wide).
    common_share: float = Field(0.7, ge=0, le=1)
    # Student-t degrees of freedom of each tick's return innovation (> 2; larger is closer to normal).
    tail_df: float = Field(4.0, gt=2, le=1000)
    # Volatility and volume swing by this fraction over the day, peaking at intraday_peak_hour_utc.
    intraday_amplitude: float = Field(0.3, ge=0, lt=1)
    intraday_peak_hour_utc: float = Field(15.0, ge=0, lt=24)

    @field_validator("half_lives_seconds")
    @classmethod
    def _positive(cls, value: list[float]) -> list[float]:
        if any(not 1.0 <= h <= 30 * 86_400.0 for h in value):
            raise ValueError(f"each must be 1 to 2592000 seconds (got {value})")
        return value

    @field_validator("log_sds")
    @classmethod
    def _sds_in_range(cls, value: list[float]) -> list[float]:
        if any(not 0.0 <= s <= 1.5 for s in value):
            raise ValueError(f"each must be 0 to 1.5 (got {value})")
        return value

    @model_validator(mode="after")
    def _one_sd_per_half_life(self) -> "SimVolatilityConfig":
        if len(self.log_sds) != len(self.half_lives_seconds):
            raise ValueError(f"log_sds: must have one value per half_lives_seconds entry "
                             f"(got {len(self.log_sds)} for {len(self.half_lives_seconds)})")
        return self


class SimRegimeConfig(_Model):
    """market.simulator.regimes: a market-wide Markov chain of calm, normal and volatile spells."""

    # Volatility (and jump rate) multiplier in a calm and in a volatile spell; normal is 1.
    calm_multiplier: float = Field(0.6, gt=0, le=1)
    volatile_multiplier: float = Field(2.0, ge=1, le=10)
    # Mean length of each spell. Normal hands over to calm or volatile with equal odds.
    calm_mean_hours: float = Field(6.0, gt=0, le=1000)
    normal_mean_hours: float = Field(8.0, gt=0, le=1000)
    volatile_mean_hours: float = Field(2.0, gt=0, le=1000)


class SimJumpConfig(_Model):
    """market.simulator.jumps: sudden moves of the true prices (market-wide and per coin)."""

    # Market-wide jumps per hour (all coins, scaled by their market loading) in a normal spell.
    market_per_hour: float = Field(0.8, ge=0, le=100)
    # Jumps of one coin alone per hour, per coin, in a normal spell.
    coin_per_hour: float = Field(0.15, ge=0, le=100)
    # Median jump size in the coin's 1-minute standard deviations (times the square root of the
    # moment's volatility multiplier), and its log-normal spread.
    median_sigmas: float = Field(5.0, ge=0, le=100)
    size_log_sd: float = Field(0.5, ge=0, le=3)


class SimDeviationConfig(_Model):
    """market.simulator.deviations: how each exchange's quote strays from the true price."""

    # Memory of the everyday deviation (its size is market.simulator.exchange_deviation_bps).
    half_life_seconds: float = Field(120.0, gt=0, le=86_400)
    # On a jump's tick each market has priced in only part of it: up to this share is still
    # missing (drawn per market, most markets miss little), and it catches up with
    # lag_half_life_seconds (price discovery alone; competition closes fee-beating gaps sooner).
    lag_share: float = Field(0.5, ge=0, le=1)
    lag_half_life_seconds: float = Field(4.0, gt=0, le=3600)
    # One market on one exchange jumps away from the others (per exchange, in a normal spell),
    # by dislocation_bps on average (half to one and a half times), then returns as a lag does.
    dislocations_per_hour: float = Field(0.5, ge=0, le=1000)
    dislocation_bps: float = Field(25.0, ge=0, le=2000)


class SimCompetitionConfig(_Model):
    """market.simulator.competition: other traders close fee-beating gaps whether or not we trade."""

    enabled: bool = True
    # A cross-exchange gap or triangular mispricing that beats both taker fees lives a random
    # (exponential) time of this mean, at least one tick; then others trade it back inside the fees.
    mean_close_seconds: float = Field(1.5, gt=0, le=3600)


class SimulatorConfig(_Model):
    """Knobs of the deterministic simulated market."""

    # Multiplies every coin's volatility (the catalogue's 1-minute volatility in a normal spell).
    volatility_scale: float = Field(1.0, gt=0, le=10)
    # Everyday deviation of an exchange's mid from the true price, in bps for a coin of 0.10 %
    # 1-minute volatility (scaled by the coin's volatility and the moment's volatility).
    exchange_deviation_bps: float = Field(1.0, ge=0, le=200)
    volatility: SimVolatilityConfig = Field(default_factory=SimVolatilityConfig)
    regimes: SimRegimeConfig = Field(default_factory=SimRegimeConfig)
    jumps: SimJumpConfig = Field(default_factory=SimJumpConfig)
    deviations: SimDeviationConfig = Field(default_factory=SimDeviationConfig)
    competition: SimCompetitionConfig = Field(default_factory=SimCompetitionConfig)
    # Simulated headlines and whale transfers per hour.
    news_per_hour: float = Field(6.0, ge=0, le=600)
    whales_per_hour: float = Field(3.0, ge=0, le=600)
    # Order book levels per side.
    book_depth: int = Field(20, ge=10, le=200)
    # 1-minute candles of history generated before the first tick, so indicators are warm.
    warmup_candles: int = Field(600, ge=50, le=10_000)
    # --- stress scenarios (bot/market/scenarios.py; README "Stress scenarios") ---
    # A named event played on top of the market (flash_crash, exchange_outage, ...); null: none.
    scenario: str | None = None
    # It begins this many minutes of market time after market.start_time (30: tick 1800 at 1 s ticks).
    scenario_start_minutes: float = Field(30.0, ge=0, le=A_YEAR_MINUTES)

    @field_validator("scenario")
    @classmethod
    def _known_scenario(cls, value: str | None) -> str | None:
        from bot.market.scenarios import SCENARIOS, known_names

        if value is not None and value not in SCENARIOS:
            raise ValueError(f"unknown scenario (got {value!r}){did_you_mean(value, SCENARIOS)}; "
                             f"known: {known_names()}")
        return value
