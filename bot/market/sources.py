"""Which market source a config names (BotEngine builds it; the tests and benches build one alone too)."""
from __future__ import annotations

from bot.config import BotConfig
from bot.market.base import MarketSource


def build_source(config: BotConfig, runner=None) -> MarketSource:
    """The market source the config names (the simulator wrapped in its stress scenario, if one is set).

    runner (BotEngine's) does a replay's frame decompression ahead, off the tick path."""
    if config.market.source == "replay":
        from bot.market.replay import ReplayMarket  # a recording made with --record (bot/market/recorder.py)

        return ReplayMarket(config.recording.path, config.recording, runner=runner)
    if config.market.source == "candles":
        from bot.market.candle_source import CandleMarket

        return CandleMarket(config.candles, tuple(config.market.exchanges), tuple(config.market.symbols))
    if config.market.source == "live":
        from bot.market.live_source import LiveMarket  # imported only in live mode: ccxt comes with it

        return LiveMarket(config.market)
    from bot.market.simulator import SimulatedMarket

    market = SimulatedMarket(config.market, impact=config.execution.impact)
    simulator = config.market.simulator
    if simulator.scenario is None:
        return market
    from bot.market.scenario_market import ScenarioMarket
    from bot.timestamps import parse_iso

    first_tick = parse_iso(config.market.start_time)
    return ScenarioMarket(market, simulator.scenario, first_tick + simulator.scenario_start_minutes * 60.0,
                          first_tick, config.market.tick_seconds)
