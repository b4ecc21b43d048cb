"""Builds the configured strategies; the one place that knows every strategy class."""
from __future__ import annotations

from bot.config import BotConfig, StrategyConfig
from bot.strategies.base import Strategy


def build_strategies(config: BotConfig, exchanges: tuple[str, ...], symbols: tuple[str, ...],
                     runner=None) -> tuple[list[Strategy], dict[str, StrategyConfig]]:
    """Every known strategy (enabled or not, so the dashboard can switch it on) and its config.

    runner runs rare heavy work (cointegration re-tests) off the tick path; None means a thread.
    """
    from bot.strategies.arbitrage import ArbitrageStrategy
    from bot.strategies.momentum import MomentumStrategy
    from bot.strategies.news import NewsStrategy
    from bot.strategies.stat_arb import StatArbStrategy

    strategies: list[Strategy] = [
        ArbitrageStrategy(config.strategies.arbitrage, exchanges, symbols, config.market,
                          config.execution.max_slippage_pct, config.execution.liquidity.enabled),
        MomentumStrategy(config.strategies.momentum, exchanges, symbols),
        NewsStrategy(config.strategies.news, exchanges, symbols),
        StatArbStrategy(config.strategies.stat_arb, exchanges, symbols, runner=runner),
    ]
    configs = {s.name: getattr(config.strategies, s.name) for s in strategies}
    return strategies, configs
