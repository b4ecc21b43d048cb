"""DrawdownMeter: the fall the kill switch and drawdown alerts look at (risk.drawdown_basis).

Two peaks, both raised only where the engine notes them (equity samples, after trades, at the
kill-switch check), never on a read:
- "equity": the whole portfolio, the PortfolioTracker's own peak_equity;
- "trading": trading equity = equity less the starting inventory's price moves (holdings_pnl),
  so a fall in the prices of the coins the bot started with, which no strategy caused, does not
  count. Its peak is kept here and saved in the state file's engine section.
"""
from __future__ import annotations

import math

BASES = ("trading", "equity")


def trading_equity(portfolio) -> float:
    """Equity less the starting inventory's price moves: initial equity + the strategies' net P&L."""
    return portfolio.equity() - portfolio.holdings_pnl()


def fall_pct(peak: float, value: float) -> float:
    """How far value is below peak (or 0 when above it), in % of the peak."""
    peak = max(peak, value)
    return (peak - value) / peak * 100.0 if peak > 0 else 0.0


class DrawdownMeter:
    """Peaks of equity and trading equity, and the drawdown on the configured basis."""

    def __init__(self, basis: str = "trading"):
        if basis not in BASES:
            raise ValueError(f"risk.drawdown_basis: must be one of {', '.join(BASES)} (got {basis!r})")
        self.basis = basis
        self.trading_peak = 0.0

    def note(self, portfolio) -> None:
        """Raise both peaks to the values now when they are above."""
        self._raise_peaks(portfolio)

    def note_and_measure(self, portfolio) -> float:
        """note(), then drawdown_pct(): the kill switch's look, from one valuation of the portfolio."""
        equity, trading = self._raise_peaks(portfolio)
        if self.basis == "equity":
            return fall_pct(portfolio.peak_equity, equity)  # = portfolio.drawdown_pct()
        return fall_pct(self.trading_peak, trading)

    def _raise_peaks(self, portfolio) -> tuple[float, float]:
        """Raise portfolio.peak_equity and the trading peak to the values now; returns (equity, trading
        equity), each computed once."""
        equity = portfolio.note_equity()
        trading = equity - portfolio.holdings_pnl()
        self.trading_peak = max(self.trading_peak, trading)
        return equity, trading

    def trading_drawdown_pct(self, portfolio) -> float:
        """Fall of trading equity from its peak, in %. Changes nothing."""
        return fall_pct(self.trading_peak, trading_equity(portfolio))

    def drawdown_pct(self, portfolio) -> float:
        """The drawdown on the configured basis, in %. Changes nothing."""
        if self.basis == "equity":
            return portfolio.drawdown_pct()
        return self.trading_drawdown_pct(portfolio)

    def peak(self, portfolio) -> float:
        """The peak the configured basis measures from."""
        if self.basis == "equity":
            return max(portfolio.peak_equity, portfolio.equity())
        return max(self.trading_peak, trading_equity(portfolio))

    def restart_from(self, portfolio) -> None:
        """Measure from the values now (the user resumed after the kill switch)."""
        portfolio.peak_equity = portfolio.equity()
        self.trading_peak = trading_equity(portfolio)

    def restore(self, saved_peak) -> None:
        """Take the trading peak from a saved state (ignored when missing or not a finite number)."""
        if isinstance(saved_peak, (int, float)) and not isinstance(saved_peak, bool) and math.isfinite(saved_peak):
            self.trading_peak = max(0.0, float(saved_peak))
