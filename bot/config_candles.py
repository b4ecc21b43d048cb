"""candles: settings of a backtest on stored candles (--market candles), and the book model per market.

Quotes and books are derived from each candle (bot/market/candle_source.py): the price path
through the bar, a spread around it and a stack of levels. The model per market is
`candles.default` with `candles.markets.<exchange>.<symbol>` laid over it (only the keys given).
"""
from __future__ import annotations

from datetime import datetime

from pydantic import Field, field_validator, model_validator

from bot.config_base import ConfigModel


class CandleBookModel(ConfigModel):
    """How a quote and a book are made from a candle's price; None means "the built-in default"."""

    # Quoted spread (ask - bid) in bps of the price; None: the simulator's catalogue for the coin
    # and exchange (bot/market/sim_parts.market_liquidity, a normal spell). 0: bid = ask = price.
    spread_bps: float | None = Field(None, ge=0, le=10_000)
    # Notional of each book level in USDT; None: the catalogue's top-of-book notional.
    depth_usdt: float | None = Field(None, gt=0, le=1e12)
    levels: int | None = Field(None, ge=1, le=200)  # levels per side (default 10)
    level_spacing_bps: float | None = Field(None, ge=0, le=10_000)  # from one level to the next (default 2)
    # The whole book side holds at most this share of the bar's volume split over its 4 ticks
    # (a bar that traded little cannot absorb much); 0 turns the cap off. Default 0.25.
    volume_share: float | None = Field(None, ge=0, le=100)
    # Fee rates; None: the exchange's default rates (the simulator's table).
    taker_fee: float | None = Field(None, ge=0, le=0.1)
    maker_fee: float | None = Field(None, ge=0, le=0.1)
    # Lot size in the base asset (also the least amount); None: the power of ten nearest 0.1 quote
    # units at the file's first price (0.001 at 100 USDT, 0.000001 at 60,000).
    amount_step: float | None = Field(None, gt=0, le=1e6)
    min_notional: float | None = Field(None, ge=0, le=1e9)  # in the quote asset; default 5


BOOK_DEFAULTS = {"levels": 10, "level_spacing_bps": 2.0, "volume_share": 0.25, "min_notional": 5.0}


def _check_time(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"must be an ISO 8601 date or time such as 2026-01-31 or 2026-01-31T12:00:00Z "
                         f"(got {value!r})") from None
    if parsed.tzinfo is None and "T" in value:
        raise ValueError(f"a time needs its timezone, e.g. Z (got {value!r})")
    return value


class CandlesConfig(ConfigModel):
    """candles: where the candle files are, which span to test, the book model, an optional news file."""

    data_dir: str = "data/candles"  # download/import write here; --data DIR overrides
    since: str | None = None  # first bar traded (ISO date/time, UTC); earlier bars are warm-up history
    until: str | None = None  # bars from this time on are not read
    # Skip, in bulk, the ticks no strategy can act on (bot/fast_forward.py); results are identical either way.
    fast_forward: bool = True
    news_file: str | None = None  # JSONL of headlines {"ts", "title", "source", "symbols"?} for the news strategy
    default: CandleBookModel = Field(default_factory=CandleBookModel)
    markets: dict[str, dict[str, CandleBookModel]] = Field(default_factory=dict)

    @field_validator("since", "until")
    @classmethod
    def _iso_times(cls, value: str | None) -> str | None:
        return _check_time(value)

    @model_validator(mode="after")
    def _since_before_until(self) -> "CandlesConfig":
        from bot.timestamps import parse_iso

        if self.since is not None and self.until is not None and parse_iso(_utc(self.since)) >= parse_iso(_utc(self.until)):
            raise ValueError(f"since: must be before until (got {self.since} >= {self.until})")
        return self

    def book_model(self, exchange: str, symbol: str) -> dict:
        """The model of one market: default, then its override, then the built-in defaults for what is left."""
        merged = {**BOOK_DEFAULTS, **{k: v for k, v in self.default.model_dump().items() if v is not None}}
        override = self.markets.get(exchange, {}).get(symbol)
        if override is not None:
            merged.update({k: getattr(override, k) for k in override.model_fields_set})
        return merged


def _utc(text: str) -> str:
    """A date alone is midnight UTC."""
    return text if "T" in text else f"{text}T00:00:00Z"


def epoch_seconds(text: str | None) -> float | None:
    """Epoch seconds of a candles.since/until value (a date alone is midnight UTC)."""
    from bot.timestamps import parse_iso

    return None if text is None else parse_iso(_utc(text))
