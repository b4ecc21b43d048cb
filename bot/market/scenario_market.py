"""ScenarioMarket: a MarketSource that plays a named stress scenario on top of another source.

It sees only what any MarketSource gives (snapshots, books, candles, health), never the
simulator's internals: each snapshot is rewritten from the scenario's curves at the snapshot's
market time (prices, spreads, book depth, stale markets, extra headlines) and the candle
history is rewritten the same way. Outside the scenario's window snapshots pass through
unchanged; a restart (seek) lands in the same place because everything is a function of time.
"""
from __future__ import annotations

import dataclasses
import math
from functools import lru_cache

import numpy as np

from bot.market.base import MarketSource
from bot.market.scenarios import SCENARIOS, STABLECOINS, Scenario, moved_assets, target_alt
from bot.models import Candle, CandleHistory, Market, NewsItem, OrderBook, Quote, Snapshot, iso_utc, split_symbol

DAY_SECONDS = 86_400.0


class ScenarioMarket(MarketSource):
    """inner's market with `scenario_name` playing from `start_epoch` (market epoch seconds)."""

    def __init__(self, inner: MarketSource, scenario_name: str, start_epoch: float, first_tick_epoch: float,
                 tick_seconds: float):
        super().__init__(inner.exchanges, inner.symbols)
        self._inner = inner
        self.scenario: Scenario = SCENARIOS[scenario_name]
        self.kind = inner.kind
        self.description = f"{inner.description} - scenario {scenario_name}"
        self.start, self.end = start_epoch, start_epoch + self.scenario.duration_seconds
        self._tick0, self._dt = first_tick_epoch, tick_seconds
        self._moved = moved_assets(self.scenario, self.symbols)
        self.target = target_alt(self.symbols) if self.scenario.scope == "alt" else None
        self.outage_exchange = self.exchanges[0] if self.scenario.outage_minutes else None
        self._lags = {ex: k * self.scenario.lag_seconds for k, ex in enumerate(self.exchanges)}
        # Per market: (the price curve moves its base, its quote, spread and depth apply, price step)
        self._info = {key: (market.base in self._moved, market.quote in self._moved, self._book_scope(key),
                            market.price_step) for key, market in inner.markets.items()}
        self._events: list[dict] = []
        self._phase: int | None = None  # None: nothing announced since the last seek
        self._was_down = False
        self._now = first_tick_epoch - tick_seconds
        self._news_ids: dict[str, int] = {}

    # ----- what the scenario does at a moment ------------------------------------------------
    def _book_scope(self, key: tuple[str, str]) -> bool:
        exchange, symbol = key
        scope = self.scenario.book_scope or self.scenario.scope
        assets = set(split_symbol(symbol))
        if scope == "all":
            return True
        if scope == "coins":
            return bool(assets - STABLECOINS)
        if scope == "exchange":
            return exchange == self.outage_exchange
        if scope == "alt":
            return self.target in assets
        return "USDT" in assets  # usdt

    def _asset_factor(self, exchange: str, asset: str, ts):
        """Multiplier of an asset's USD value on an exchange at market time ts (float or array)."""
        if asset not in self._moved or self.scenario.price is None:
            return 1.0
        return 1.0 + self.scenario.price.at(np.asarray(ts) - self.start - self._lags[exchange])

    def price_factor(self, exchange: str, symbol: str, ts):
        """What the scenario multiplies a market's prices by at market time ts."""
        base, quote = split_symbol(symbol)
        return self._asset_factor(exchange, base, ts) / self._asset_factor(exchange, quote, ts)

    def _exchange_factors(self, ts: float) -> dict[str, float] | None:
        """Per exchange, the multiplier of the moved assets' USD value at ts (None: no price curve)."""
        price = self.scenario.price
        if price is None:
            return None
        return {exchange: 1.0 + price.value(ts - self.start - lag) for exchange, lag in self._lags.items()}

    def book_factors(self, ts: float) -> tuple[float, float]:
        """(spread multiplier, depth multiplier) at market time ts, for the markets in the scenario's book scope."""
        t, scenario = ts - self.start, self.scenario
        return (scenario.spread.value(t) if scenario.spread is not None else 1.0,
                scenario.depth.value(t) if scenario.depth is not None else 1.0)

    def down(self, ts: float) -> frozenset[str]:
        """Exchanges that answer nothing at market time ts."""
        if self.outage_exchange is None:
            return frozenset()
        begin, finish = self.scenario.outage_minutes
        t = ts - self.start
        return frozenset({self.outage_exchange}) if begin * 60.0 <= t < finish * 60.0 else frozenset()

    def usdt_usd(self, ts: float) -> float:
        """The USD value of one USDT at market time ts (1.0 unless the scenario moves it)."""
        return float(self._asset_factor(self.exchanges[0], "USDT", ts))

    # ----- MarketSource ----------------------------------------------------------------------
    @property
    def markets(self) -> dict[tuple[str, str], Market]:
        """The inner source's markets."""
        return self._inner.markets

    def seek(self, tick: int) -> None:
        """Position the inner source; the scenario's state is a function of time, so only the notices reset."""
        self._inner.seek(tick)
        self._phase, self._was_down = None, False
        self._now = self._tick0 + (tick - 1) * self._dt

    def next_snapshot(self) -> Snapshot:
        """The inner snapshot, rewritten while the scenario (or its candles) is in view."""
        snapshot = self._inner.next_snapshot()
        ts = self._now = snapshot.ts
        if self._phase is None or (self.start <= ts and self._phase < len(self.scenario.phases)):
            self._announce(ts)
        if ts < self.start:
            return snapshot
        if ts >= self.end:  # over: only the candle history still shows the event
            return dataclasses.replace(snapshot, history=ScenarioHistory(snapshot.history, self, ts))
        return self._rewrite(snapshot, ts)

    def _rewrite(self, snapshot: Snapshot, ts: float) -> Snapshot:
        down = self.down(ts)
        now, day_ago = self._exchange_factors(ts), self._exchange_factors(ts - DAY_SECONDS)
        spread, depth = self.book_factors(ts)
        quotes, factors, stale = {}, {}, set(snapshot.stale)
        for key, quote in snapshot.quotes.items():
            exchange = key[0]
            info = self._info.get(key)
            if exchange in down or info is None:
                if exchange in down:
                    stale.add(key)
                else:
                    quotes[key] = quote
                continue
            moves_base, moves_quote, booked, step = info
            price = before = 1.0
            if now is not None and (moves_base or moves_quote):
                f, g = now[exchange], day_ago[exchange]
                price, before = (f if moves_base else 1.0) / (f if moves_quote else 1.0), \
                    (g if moves_base else 1.0) / (g if moves_quote else 1.0)
            s, d = (spread, depth) if booked else (1.0, 1.0)
            if price == 1.0 and s == 1.0 and d == 1.0:
                quotes[key] = quote
                continue
            factors[key] = (price, s, d)
            quotes[key] = _moved_quote(quote, step, price, s, d, before)
        stale.update(key for key in snapshot.markets if key[0] in down)
        reader = _BookRewriter(snapshot.book_reader, factors, snapshot.markets)
        news = snapshot.news + self._headlines(ts)
        return dataclasses.replace(snapshot, quotes=quotes, book_reader=reader, news=news,
                                   history=ScenarioHistory(snapshot.history, self, ts), stale=frozenset(stale))

    def _headlines(self, ts: float) -> tuple[NewsItem, ...]:
        """The scenario's headlines published in (ts - tick, ts]."""
        out = []
        for index, headline in enumerate(self.scenario.headlines):
            at = self.start + headline.minutes * 60.0
            if ts - self._dt < at <= ts:
                asset = self.target if headline.asset == "*" else headline.asset
                symbol = f"{asset}/USDT"
                news_id = f"scenario-{self.scenario.name}-{index:02d}"
                self._news_ids[news_id] = headline.sentiment
                out.append(NewsItem(news_id, at, headline.title.format(n=asset), f"scenario {self.scenario.name}",
                                    (symbol,) if symbol in self.symbols else ()))
        return tuple(out)

    def health(self) -> dict[str, dict]:
        """The inner source's health, with the outage exchange down while it answers nothing."""
        health = self._inner.health()
        for exchange in self.down(self._now):
            health[exchange] = {"state": "down", "reason": f"scenario {self.scenario.name}: not answering",
                                "age_seconds": round(self._now - self.start, 3)}
        return health

    def drain_events(self) -> list[dict]:
        """The inner source's events, then the scenario's (phase changes, the outage exchange's state)."""
        events, self._events = self._inner.drain_events() + self._events, []
        return events

    def close(self) -> None:
        """Close the inner source."""
        self._inner.close()

    def news_sentiment(self, news_id: str) -> int | None:
        """The true tone of a scenario headline, else whatever the inner source says."""
        if news_id in self._news_ids:
            return self._news_ids[news_id]
        inner = getattr(self._inner, "news_sentiment", None)
        return inner(news_id) if inner is not None else None

    def __getattr__(self, name: str):
        # Anything else the inner source offers (cointegrated_pairs, ...) is passed through as is.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._inner, name)

    # ----- what the dashboard is told --------------------------------------------------------
    def _announce(self, ts: float) -> None:
        """Queue a "scenario" event when the phase changed (or first after a start or seek)."""
        phase = self.scenario.phase_at(ts - self.start)
        if phase == self._phase:
            return
        first, self._phase = self._phase is None, phase
        self._events.append(self._event(ts, phase, first))
        down = bool(self.down(ts))
        if self.outage_exchange is not None and down != self._was_down and (down or not first):
            self._events.append(self._outage_event(ts, down))
        self._was_down = down

    def _event(self, ts: float, phase: int, first: bool) -> dict:
        scenario, name = self.scenario, self.scenario.name
        state, level, phase_name = "active", "warning", None
        if phase < 0:
            state, level = "scheduled", "info"
            wait = round((self.start - ts) / 60)
            message = (f"Scenario {name} scheduled at {iso_utc(self.start)}, in {wait} minute{'' if wait == 1 else 's'} "
                       f"of market time: {scenario.summary}")
        elif phase >= len(scenario.phases):
            state, level = "over", "success"
            message = f"Scenario {name}: over at {iso_utc(self.end)}"
        else:
            step = scenario.phases[phase]
            phase_name = step.name
            if phase == 0 or first:
                message = (f"Scenario {name}: {'started' if phase == 0 else 'in progress since'} {iso_utc(self.start)} "
                           f"(phase {step.name}: {step.says})")
            else:
                message = f"Scenario {name}: phase {step.name} from {iso_utc(ts)}: {step.says}"
        return {"ts": iso_utc(ts), "kind": "scenario", "scenario": name, "state": state, "phase": phase_name,
                "market_time": iso_utc(ts), "message": message, "level": level}

    def _outage_event(self, ts: float, down: bool) -> dict:
        """The outage exchange's state change, as the live source reports one ("market_status")."""
        exchange = self.outage_exchange
        reason = f"scenario {self.scenario.name}: not answering" if down else ""
        return {"ts": iso_utc(ts), "kind": "market_status", "exchange": exchange, "market_time": iso_utc(ts),
                "state": "down" if down else "live", "previous": "live" if down else "down",
                "health": "down" if down else "live", "reason": reason, "level": "error" if down else "success",
                "message": f"{exchange}: down ({reason})" if down else f"{exchange}: live again"}

    def _phase_start(self, phase: int) -> float:
        return self.scenario.phases[phase - 1].end_minutes * 60.0 if phase > 0 else 0.0

    def scenario_status(self) -> dict:
        """The scenario as /api/status shows it: state, phase, times, what it does now."""
        ts, scenario = self._now, self.scenario
        phase = scenario.phase_at(ts - self.start)
        state = "scheduled" if phase < 0 else "over" if phase >= len(scenario.phases) else "active"
        out = {"name": scenario.name, "summary": scenario.summary, "state": state,
               "starts_at": iso_utc(self.start), "ends_at": iso_utc(self.end), "phase": None, "phase_says": None,
               "phase_ends_at": None,
               "phases": [{"name": p.name, "starts_at": iso_utc(self.start + self._phase_start(i)),
                           "ends_at": iso_utc(self.start + p.end_minutes * 60.0), "says": p.says}
                          for i, p in enumerate(scenario.phases)]}
        if state == "active":
            step = scenario.phases[phase]
            out.update(phase=step.name, phase_says=step.says,
                       phase_ends_at=iso_utc(self.start + step.end_minutes * 60.0))
        if self.outage_exchange is not None:
            out["exchange"] = self.outage_exchange
        if self.target is not None:
            out["asset"] = self.target
        if scenario.scope == "usdt":
            out["usdt_usd"] = round(self.usdt_usd(ts), 6)
        return out


def _moved_quote(quote: Quote, step: float, price: float, spread: float, depth: float, before: float) -> Quote:
    """quote with its prices times `price`, its spread times `spread`, its sizes times `depth`;
    the 24h change is against the price a day ago, which the scenario had moved by `before`."""
    bid, ask = _move_top(quote.bid, quote.ask, price, spread, step)
    last = min(max(quote.last * price, bid), ask)
    change = ((1.0 + quote.change_24h_pct / 100.0) * price / before - 1.0) * 100.0
    return Quote(quote.exchange, quote.symbol, bid, ask, last, quote.bid_size * depth, quote.ask_size * depth,
                 quote.ts, change)


@lru_cache(maxsize=1024)
def _units_per_price(step: float) -> float:
    """1 / step as the simulator keeps it (a power of ten when the step is one), so prices come out clean."""
    inverse = 1.0 / step
    power = 10.0 ** round(math.log10(inverse))
    return power if abs(power - inverse) < 1e-9 * inverse else inverse


def _round_down(value: float, step: float) -> float:
    if step <= 0:
        return value
    units = _units_per_price(step)
    return math.floor(value * units + 1e-9) / units


def _round_up(value: float, step: float) -> float:
    if step <= 0:
        return value
    units = _units_per_price(step)
    return math.ceil(value * units - 1e-9) / units


def _move_top(bid: float, ask: float, price: float, spread: float, step: float) -> tuple[float, float]:
    """The best bid and ask after the price moved by `price` and the spread widened by `spread`."""
    mid, scale = (bid + ask) * 0.5, price * spread
    new_bid = _round_down(mid * price + (bid - mid) * scale, step)
    new_ask = _round_up(mid * price + (ask - mid) * scale, step)
    if new_ask <= new_bid:
        new_ask = _round_up(new_bid + (step or new_bid * 1e-6) * 0.5, step)
    return new_bid, new_ask


def _move_levels(levels, mid: float, price: float, spread: float, depth: float, step: float,
                 rounding) -> tuple[tuple[float, float], ...]:
    """Book levels moved like the top: distance from the mid scaled, sizes times depth, merged after rounding."""
    scale, out = price * spread, []
    for level_price, qty in levels:
        moved = rounding(mid * price + (level_price - mid) * scale, step)
        if out and out[-1][0] == moved:
            out[-1] = (moved, out[-1][1] + qty * depth)
        else:
            out.append((moved, qty * depth))
    return tuple(out)


class _BookRewriter:
    """A snapshot's book reader with the scenario's moves applied to every book it hands out."""

    __slots__ = ("_reader", "_factors", "_markets", "_cache")

    def __init__(self, reader, factors: dict, markets):
        self._reader, self._factors, self._markets, self._cache = reader, factors, markets, {}

    def __call__(self, exchange: str, symbol: str) -> OrderBook | None:
        key = (exchange, symbol)
        if key in self._cache:
            return self._cache[key]
        book = self._reader(exchange, symbol)
        factors = self._factors.get(key)
        if book is not None and factors is not None and factors != (1.0, 1.0, 1.0) and book.bids and book.asks:
            price, spread, depth = factors
            market = self._markets.get(key)
            step = market.price_step if market is not None else 0.0
            mid = (book.bids[0][0] + book.asks[0][0]) * 0.5
            book = OrderBook(exchange, symbol, _move_levels(book.bids, mid, price, spread, depth, step, _round_down),
                             _move_levels(book.asks, mid, price, spread, depth, step, _round_up), book.ts)
        self._cache[key] = book
        return book


class ScenarioHistory(CandleHistory):
    """The inner candle history as the scenario shows it at market time `now`: prices moved by the
    price curve at each bar's open and close, and no bar of the outage exchange closed during the outage."""

    def __init__(self, inner: CandleHistory, market: ScenarioMarket, now: float):
        self._inner, self._market, self._now = inner, market, now

    def _hidden(self, exchange: str) -> int:
        """How many of the newest bars the outage exchange has not delivered yet (0 when it is up)."""
        market = self._market
        if exchange not in market.down(self._now):
            return 0
        began = market.start + market.scenario.outage_minutes[0] * 60.0
        return max(0, math.floor(self._now / 60.0) - math.floor(began / 60.0))  # bars that closed after it began

    def closes(self, exchange: str, symbol: str, count: int) -> np.ndarray:
        """The last `count` closes, oldest first, as the scenario shows them."""
        hidden = self._hidden(exchange)
        closes = self._inner.closes(exchange, symbol, count + hidden)
        if hidden:
            closes = closes[:max(0, len(closes) - hidden)]
        if self._market.scenario.price is None:
            return closes
        times = self._times(exchange, symbol, len(closes), hidden)
        if times is None:
            return closes
        return closes * self._market.price_factor(exchange, symbol, times + 60.0 - self._market._dt)

    def candles(self, exchange: str, symbol: str, count: int) -> list[Candle]:
        """The last `count` candles, oldest first, as the scenario shows them."""
        hidden = self._hidden(exchange)
        bars = self._inner.candles(exchange, symbol, count + hidden)
        if hidden:
            bars = bars[:max(0, len(bars) - hidden)]
        if self._market.scenario.price is None or not bars or bars[-1].ts + 60.0 < self._market.start or bars[0].ts > self._market.end:
            return bars
        times = np.array([bar.ts for bar in bars])
        opens = self._market.price_factor(exchange, symbol, times)
        closes = self._market.price_factor(exchange, symbol, times + 60.0 - self._market._dt)
        out = []
        for bar, fo, fc in zip(bars, np.broadcast_to(opens, times.shape), np.broadcast_to(closes, times.shape)):
            o, c = bar.open * fo, bar.close * fc
            out.append(Candle(bar.ts, o, max(bar.high * max(fo, fc), o, c), min(bar.low * min(fo, fc), o, c),
                              c, bar.volume))
        return out

    def _times(self, exchange: str, symbol: str, count: int, hidden: int) -> np.ndarray | None:
        """Open times of the last `count` bars (after the hidden ones), or None when none is in the event."""
        if count == 0:
            return None
        newest = self._inner.candles(exchange, symbol, 1 + hidden)
        if not newest:
            return None
        last = newest[0].ts
        first = last - 60.0 * (count - 1)
        if last + 60.0 < self._market.start or first > self._market.end:
            return None
        return first + 60.0 * np.arange(count)
