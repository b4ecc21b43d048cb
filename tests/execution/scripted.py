"""A market source that plays hand-made books tick by tick, and a strategy that says what it is told."""
from __future__ import annotations

from bot.config import StrategyConfig, parse_config
from bot.market.base import MarketSource
from bot.models import OrderBook, Signal
from bot.strategies.base import Strategy
from tests.builders import T0, market, snapshot

SYMBOL = "BTC/USDT"


class ScriptedSource(MarketSource):
    """frames[tick] = {(exchange, symbol): (bids, asks)} or (bids, asks, book_ts); ts = T0 + tick * dt.

    The last frame repeats once the script runs out. book_ts stands for a live book not yet
    refreshed: its time lags the snapshot's.
    """

    kind = "scripted"
    description = "scripted test market"

    def __init__(self, frames: list[dict], dt: float = 1.0):
        keys = sorted({key for frame in frames for key in frame})
        super().__init__(tuple(sorted({ex for ex, _ in keys})), tuple(sorted({sym for _, sym in keys})))
        self.frames, self.dt, self.tick = frames, dt, 0
        self._markets = {key: market(key[0], key[1], amount_step=1e-4, min_notional=1.0) for key in keys}
        self.fills_noted: list[tuple] = []

    @property
    def markets(self):
        return self._markets

    def next_snapshot(self):
        frame = self.frames[min(self.tick, len(self.frames) - 1)]
        ts = T0 + self.tick * self.dt
        books = {key: value[:2] for key, value in frame.items()}
        snap = snapshot(books, markets=self._markets, tick=self.tick, ts=ts)
        lagging = {key: value[2] for key, value in frame.items() if len(value) > 2}
        if lagging:
            reader = snap.book_reader

            def read(exchange, symbol):
                book = reader(exchange, symbol)
                if book is None or (exchange, symbol) not in lagging:
                    return book
                return OrderBook(book.exchange, book.symbol, book.bids, book.asks, lagging[(exchange, symbol)])

            snap = snap.with_book_reader(read)
        self.tick += 1
        return snap

    def seek(self, tick):
        self.tick = tick

    def note_fill(self, *args, **kwargs):
        self.fills_noted.append((args, kwargs))


class Scripted(Strategy):
    """Returns plan[tick] (a list of Signals) on each tick; nothing for ticks not in the plan."""

    name = "scripted"

    def __init__(self, plan: dict[int, list[Signal]], name: str = "scripted", allows_short: bool = False):
        super().__init__(StrategyConfig(max_position_pct=100, max_open_positions=100, cooldown_seconds=0))
        self.plan, self.name, self.seen = plan, name, []
        self.allows_short = allows_short

    def on_snapshot(self, snapshot, view):
        self.seen.append(snapshot)
        return list(self.plan.get(snapshot.tick, ()))


def scripted_config(tmp_path, execution: dict | None = None, **sections):
    data = {"storage": {"data_dir": str(tmp_path / "data"), "log_dir": str(tmp_path / "logs"), "fsync": False},
            "dashboard": {"enabled": False}, "market": {"exchanges": ["binance", "kraken"], "symbols": [SYMBOL]},
            "portfolio": {"starting_balances": {"USDT": 100_000.0, "BTC": 10.0}},
            "execution": {"max_slippage_pct": 5.0, **(execution or {})}}
    for key, value in sections.items():
        data.setdefault(key, {}).update(value)
    return parse_config(data)


def ladder(best: float, side: str, levels: int = 5, qty: float = 1.0, step: float = 1.0):
    """Levels from best outwards (asks up, bids down), qty each."""
    sign = 1.0 if side == "asks" else -1.0
    return [(best + sign * i * step, qty) for i in range(levels)]
