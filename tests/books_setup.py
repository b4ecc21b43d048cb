"""Hand-built books for the transfer and margin tests: a real ledger, portfolio, executor, data
flow and BooksKeeper on a temp dir, a scripted market source and a scripted strategy."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Callable

from bot.accounting.books import BooksKeeper, margin_rules
from bot.accounting.ledger import TradeLedger
from bot.accounting.portfolio import PortfolioTracker
from bot.config import parse_config
from bot.data_flow import DataFlowManager
from bot.execution.executor import PaperExecutor
from bot.market.base import MarketSource
from bot.models import Leg, Signal
from bot.strategies.base import Strategy
from tests.builders import T0, flat_book, market, snapshot


def config_with(**sections):
    """A BotConfig with these sections changed (dashboard off)."""
    data = {"dashboard": {"enabled": False}}
    for key, value in sections.items():
        data.setdefault(key, {}).update(value)
    return parse_config(data)


def books_on(path, starting: dict, shorting=("stat_arb",), **sections):
    """ledger, tracker, flow, keeper and the notes the keeper sent, over starting balances."""
    config = config_with(**sections)
    ledger = TradeLedger(path, fsync=False)
    tracker = PortfolioTracker(starting, margin=margin_rules(config, shorting))
    flow = DataFlowManager(PaperExecutor(config.execution, config.portfolio.short_margin_ratio), ledger, tracker,
                           path, fsync=False)
    notes: list[tuple[str, str]] = []
    keeper = BooksKeeper(config, ledger, tracker, flow.write_state, flow.process_signal,
                         lambda message, level: notes.append((level, message)))
    return SimpleNamespace(config=config, ledger=ledger, tracker=tracker, flow=flow, keeper=keeper, notes=notes)


def market_at(mids: dict, ts: float = T0, tick: int = 0, down=(), unlisted=(), depth: float = 50.0, **book):
    """A snapshot: flat books around mids {(exchange, symbol): mid}; exchanges in down have markets but no
    quotes or books; (exchange, symbol) in unlisted are not traded at all."""
    books = {key: flat_book(mid, qty=depth, **book) for key, mid in mids.items()
             if key[0] not in down and key not in unlisted}
    markets = {key: market(*key) for key in mids if key not in unlisted}
    return snapshot(books, markets=markets, tick=tick, ts=ts)


def signal(strategy: str, *legs, kind: str = "test", closes: bool = False, number: int = 1) -> Signal:
    """A signal of legs (exchange, symbol, side, qty, expected price)."""
    return Signal(strategy, kind, tuple(Leg(*leg) for leg in legs), f"{kind} by {strategy}", closes_position=closes,
                  id=f"{strategy}-{number}")


class ScriptedMarket(MarketSource):
    """Flat books around mids(tick) -> {(exchange, symbol): mid}, one tick per second from T0."""

    kind = "simulated"
    description = "scripted test market"

    def __init__(self, exchanges, symbols, mids: Callable[[int], dict]):
        super().__init__(tuple(exchanges), tuple(symbols))
        self.mids = mids
        self.tick = 0

    @property
    def markets(self):
        return {(ex, sym): market(ex, sym) for ex in self.exchanges for sym in self.symbols}

    def next_snapshot(self):
        tick, self.tick = self.tick, self.tick + 1
        return market_at(self.mids(tick), ts=T0 + tick, tick=tick)

    def seek(self, tick: int) -> None:
        self.tick = tick


class ScriptedStrategy(Strategy):
    """Sends the signals script(tick) gives (a dict tick -> list of Signals) on those ticks."""

    allows_short = False

    def __init__(self, name: str, params, script: dict, allows_short: bool = False):
        super().__init__(params)
        self.name = name
        self.allows_short = allows_short
        self.script = script

    def on_snapshot(self, snapshot, view):
        return list(self.script.get(snapshot.tick, ()))
