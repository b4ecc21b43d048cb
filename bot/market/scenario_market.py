"""ScenarioMarket: a MarketSource that plays a named stress scenario on top of another source.

It sees only what any MarketSource gives (snapshots, books, candles, health), never the
simulator's internals: each snapshot is rewritten from the scenario's curves at the snapshot's
market time (prices, spreads, book depth, stale markets, extra headlines) and the candle
history is rewritten the same way. Outside the scenario's window snapshots pass through
unchanged; a restart (seek) lands in the same place because everything is a function of time.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from bot.market.base import MarketSource
from bot.market.scenario_rewrite import BookRewriter, ScenarioHistory, moved_quote
from bot.market.scenarios import SCENARIOS, STABLECOINS, Scenario, moved_assets, target_alt
from bot.models import Market, NewsItem, OrderBook, Snapshot, split_symbol
from bot.timestamps import iso_utc

DAY_SECONDS = 86_400.0
# The longest look back at candles any setting allows (warmup_candles, lookback_candles: at most
# 10,000 one-minute bars): past that after the end, snapshots pass through untouched again.
LOOKBACK_SECONDS = 7 * DAY_SECONDS
MAX_BARS = 10_080  # a week of one-minute bars: more than any source keeps


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
        self.tick_seconds = tick_seconds  # market seconds per tick (the candle rewrite needs it)
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
        self._last: Snapshot | None = None  # the latest snapshot handed out (what the reads below answer from)
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
        self._phase, self._was_down, self._last = None, False, None
        self._now = self._tick0 + (tick - 1) * self._dt

    def note_fill(self, exchange: str, symbol: str, side: str, qty: float, price: float, ts: float,
                  depth_share: float = 0.0) -> None:
        """Our fills move the inner market's prices (its impact), scenario or not."""
        self._inner.note_fill(exchange, symbol, side, qty, price, ts, depth_share)

    def recent_trades(self, exchange: str, symbol: str, since_ms: int) -> list:
        """The inner market's public trades (the scenario's price rewrite does not reach them)."""
        return self._inner.recent_trades(exchange, symbol, since_ms)

    @property
    def has_trade_feed(self) -> bool:
        """Whether the inner source has public trades."""
        return self._inner.has_trade_feed

    def has_trade_feed_for(self, exchange: str, symbol: str) -> bool:
        """Whether the inner source has public trades for this market."""
        return self._inner.has_trade_feed_for(exchange, symbol)

    def next_snapshot(self) -> Snapshot:
        """The inner snapshot, rewritten while the scenario (or its candles) is in view."""
        self._last = snapshot = self._view(self._inner.next_snapshot())
        return snapshot

    def _view(self, snapshot: Snapshot) -> Snapshot:
        ts = self._now = snapshot.ts
        if self._phase is None or (self.start <= ts and self._phase < len(self.scenario.phases)):
            self._announce(ts)
        if ts < self.start:
            return snapshot
        if ts >= self.end:  # over: only the candle history still shows the event, for as long as one can look back
            if ts >= self.end + LOOKBACK_SECONDS:
                return snapshot
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
            quotes[key] = moved_quote(quote, step, price, s, d, before)
        stale.update(key for key in snapshot.markets if key[0] in down)
        reader = BookRewriter(snapshot.book_reader, factors, snapshot.markets)
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

    # ----- the ccxt-shaped reads, as the scenario shows the latest tick ------------------------
    def _answering(self, exchange: str) -> None:
        if exchange in self.down(self._now):
            raise LookupError(f"{exchange} is not answering (scenario {self.scenario.name})")

    def fetch_ticker(self, exchange: str, symbol: str) -> dict:
        """The inner source's ticker with the scenario's quote (LookupError while the exchange is down)."""
        self._answering(exchange)
        ticker = self._inner.fetch_ticker(exchange, symbol)
        quote = self._last.quotes.get((exchange, symbol)) if self._last is not None else None
        if quote is not None:
            ticker.update(bid=quote.bid, ask=quote.ask, last=quote.last, close=quote.last, bidVolume=quote.bid_size,
                          askVolume=quote.ask_size, percentage=quote.change_24h_pct)
        return ticker

    def order_book_for(self, exchange: str, symbol: str) -> OrderBook | None:
        """The latest tick's book as the scenario shows it (None while the exchange is down)."""
        if self._last is None:
            return self._inner.order_book_for(exchange, symbol)
        return self._last.order_book(exchange, symbol)

    def fetch_order_book(self, exchange: str, symbol: str, limit: int | None = None) -> dict:
        """The inner source's order book answer with the scenario's levels."""
        self._answering(exchange)
        answer = self._inner.fetch_order_book(exchange, symbol, limit)
        book = self.order_book_for(exchange, symbol)
        if book is not None:
            answer.update(bids=[list(level) for level in book.bids[:limit]],
                          asks=[list(level) for level in book.asks[:limit]])
        return answer

    def closes(self, exchange: str, symbol: str, count: int) -> np.ndarray:
        """Closes of the last closed candles, as the scenario shows them now."""
        return ScenarioHistory(self._inner, self, self._now).closes(exchange, symbol, count)

    def candles(self, exchange: str, symbol: str, count: int):
        """The last closed candles, as the scenario shows them now."""
        return ScenarioHistory(self._inner, self, self._now).candles(exchange, symbol, count)

    def fetch_ohlcv(self, exchange: str, symbol: str, timeframe: str = "1m", since: int | None = None,
                    limit: int | None = None) -> list[list]:
        """The inner source's ccxt-shaped candles with the scenario's prices."""
        self._answering(exchange)
        bars = self._inner.fetch_ohlcv(exchange, symbol, timeframe, since, limit)
        if not bars:
            return bars
        moved = {round(c.ts * 1000): c for c in self.candles(exchange, symbol, MAX_BARS)}
        out = []
        for bar in bars:
            candle = moved.get(bar[0])
            out.append(bar if candle is None else [bar[0], candle.open, candle.high, candle.low, candle.close, bar[5]])
        return out

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
