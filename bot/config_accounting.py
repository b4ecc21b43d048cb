"""transfers and margin: the accounting's costs of moving coins between exchanges and of borrowing them.

transfers: the rebalancer's trigger, withdrawal fees and transit times (bot/accounting/transfers.py);
margin: shorts' maintenance margin and borrow fees (bot/accounting/margin.py); each with its
per-asset defaults, which the configured values are merged over.
"""
from __future__ import annotations

from pydantic import Field, field_validator

from bot.config_base import ConfigModel
from bot.config_rules import A_WEEK_MINUTES, A_WEEK_SECONDS

_Model = ConfigModel


# Withdrawal fees per asset, in the asset, on each coin's own (or cheapest common) network:
# Binance's published withdrawal fees as summarised in guides read 2026 (BTC mainnet 0.0001-0.0005,
# ETH ERC-20 ~0.0017, USDT TRC-20 1; Kraken lists 0.02 XRP, Binance ~0.2). Fees change with
# network load; override in transfers.withdrawal_fees.
DEFAULT_WITHDRAWAL_FEES = {"BTC": 0.0002, "ETH": 0.0017, "USDT": 1.0, "SOL": 0.008, "XRP": 0.2, "ADA": 1.0}
# Minutes from withdrawal to a usable deposit: confirmations the receiving exchanges wait for
# (BTC ~3 blocks, ETH/TRC-20 a few minutes, SOL/XRP seconds plus processing).
DEFAULT_TRANSFER_MINUTES = {"BTC": 30.0, "ETH": 5.0, "USDT": 5.0, "SOL": 2.0, "XRP": 2.0, "ADA": 5.0}
# Hourly borrow rates in %: Binance Margin's own worked example uses 0.001%/hour for BTC
# (announcement 2023-12-04); its rates are dynamic and altcoins usually cost more.
DEFAULT_BORROW_RATES = {"default": 0.002, "BTC": 0.001, "ETH": 0.001}


def _check_per_asset(value: dict[str, float], what: str, allow_default: bool = False) -> dict[str, float]:
    for asset, amount in value.items():
        if not asset or (asset != asset.upper() and not (allow_default and asset == "default")):
            raise ValueError(f"{asset}: asset names are upper case like BTC (got {asset!r})")
        if amount < 0:
            raise ValueError(f"{asset}: {what} must be >= 0 (got {amount})")
    return value


class TransfersConfig(_Model):
    """transfers: the rebalancer that moves coins between exchanges when one runs low."""

    enabled: bool = True
    # An asset's free amount on an exchange below this % of its target triggers a transfer to it.
    # Target: the asset's free total over all exchanges (and in transit) split in the starting
    # balances' proportions (equal shares for an asset no wallet started with).
    min_share_pct: float = Field(25.0, gt=0, le=100)
    # Simulated seconds between rebalancer checks (arrivals are checked every tick).
    check_seconds: float = Field(60.0, gt=0, le=86_400)
    # Per asset, in the asset (merged over the defaults above). An asset with no fee is never moved.
    withdrawal_fees: dict[str, float] = Field(default_factory=dict)
    # Per asset, minutes in transit (merged over the defaults above).
    minutes: dict[str, float] = Field(default_factory=dict)
    # A transfer is not worth it below this many times its fee (the fee would eat over 10% of it).
    min_fee_multiple: float = Field(10.0, ge=1, le=1_000_000)
    # An arrival whose destination stays down (no fresh quote) this long is sent back to the source.
    retry_minutes: float = Field(60.0, gt=0, le=A_WEEK_MINUTES)

    @field_validator("withdrawal_fees")
    @classmethod
    def _fees(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_per_asset(value, "the withdrawal fee")

    @field_validator("minutes")
    @classmethod
    def _minutes(cls, value: dict[str, float]) -> dict[str, float]:
        _check_per_asset(value, "the transfer time")
        for asset, minutes in value.items():
            if minutes > A_WEEK_MINUTES:
                raise ValueError(f"{asset}: the transfer time must be at most a week ({A_WEEK_MINUTES:g} minutes)")
        return value

    def fee_of(self, asset: str) -> float | None:
        """The withdrawal fee of asset, None when neither the config nor the defaults know it."""
        return self.withdrawal_fees.get(asset, DEFAULT_WITHDRAWAL_FEES.get(asset))

    def minutes_of(self, asset: str) -> float | None:
        """The transfer time of asset in minutes, None when unknown."""
        return self.minutes.get(asset, DEFAULT_TRANSFER_MINUTES.get(asset))


class MarginConfig(_Model):
    """margin: shorts' collateral, borrow fee and maintenance margin (bot/accounting/margin.py)."""

    enabled: bool = True
    # A short whose collateral falls below this x its value is bought back ("margin call").
    # Must be > 1 and below portfolio.short_margin_ratio (the ratio at entry).
    maintenance_ratio: float = Field(1.25, gt=1, le=10)
    # Hourly borrow rate in % per borrowed asset, "default" for the others (merged over the defaults).
    borrow_rate_hourly_pct: dict[str, float] = Field(default_factory=dict)
    # Simulated seconds between borrow fee bookings (a short's close books the rest pro rata).
    borrow_booking_seconds: float = Field(3600.0, gt=0, le=A_WEEK_SECONDS)

    @field_validator("borrow_rate_hourly_pct")
    @classmethod
    def _rates(cls, value: dict[str, float]) -> dict[str, float]:
        _check_per_asset(value, "the borrow rate", allow_default=True)
        for asset, rate in value.items():
            if rate > 10:
                raise ValueError(f"{asset}: the borrow rate must be at most 10% an hour (got {rate})")
        return value

    def rates(self) -> dict[str, float]:
        """Every hourly rate in %, the defaults under the configured ones."""
        return {**DEFAULT_BORROW_RATES, **self.borrow_rate_hourly_pct}
