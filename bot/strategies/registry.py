"""Builds the configured strategies; the one place that knows every strategy class."""
from __future__ import annotations

from bot.config import BotConfig, StrategyConfig
from bot.strategies.base import Strategy


def build_strategies(config: BotConfig, exchanges: tuple[str, ...], symbols: tuple[str, ...]
                     ) -> tuple[list[Strategy], dict[str, StrategyConfig]]:
    """Every known strategy (enabled or not, so the dashboard can switch it on) and its config."""
    from bot.strategies.momentum import MomentumStrategy

    strategies: list[Strategy] = [MomentumStrategy(config.strategies.momentum, exchanges, symbols)]
    configs = {s.name: getattr(config.strategies, s.name) for s in strategies}
    return strategies, configs
