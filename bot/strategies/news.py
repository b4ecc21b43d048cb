"""News: trade the decayed sentiment of recent headlines, long only.

Each headline is scored once when it arrives (bot.strategies.sentiment) and added to the
symbols it names or is tagged with. A symbol's aggregate score at time t is
sum(score_i * 0.5 ** ((t - ts_i) / half_life)); a headline is forgotten once its weight falls
below MIN_WEIGHT. Entry: aggregate >= entry_score with no position in the asset, sized at
position_pct of equity. Exit: aggregate <= -exit_reversal_score, or the position is
holding_minutes old.

Cost: a tick without news before the next once-a-minute check returns at once; headlines
are scored only when they arrive, and the minute check looks at exits (holding time) and at
entries still pending.

A headline drives at most one position: after the strategy has held an asset, only a newer
headline can open it again, so a score that outlives the holding time does not re-enter. An
entry the manager refused (a limit) is proposed again at the minute checks while the score
still stands; after its own exit the strategy waits cooldown_seconds, as the manager would.
"""
from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass

from bot.config import NewsConfig
from bot.models import (PORTFOLIO_QUOTE, Leg, NewsItem, PortfolioView, PositionView, Signal, Snapshot, round_step,
                        split_symbol)
from bot.lookahead import Lookahead
from bot.strategies.base import Strategy
from bot.strategies import news_screen
from bot.strategies.common import exit_signal, format_price, format_qty, is_dust, trading_exchange
from bot.strategies.sentiment import SentimentScorer, SymbolMapper

# Leave room in the wallet for the taker fee and for the price moving before the fill.
WALLET_SPEND_FRACTION = 0.95
CHECK_SECONDS = 60.0
# A headline whose weight fell below this no longer counts (about 6.6 half-lives).
MIN_WEIGHT = 0.01
MAX_HEADLINES_PER_SYMBOL = 200
SEEN_IDS_KEPT = 5_000
QUOTED_HEADLINE_CHARS = 120
QUOTED_HEADLINES = 2


@dataclass(frozen=True, slots=True)
class _Headline:
    """A scored headline held for one symbol; title is already cleaned and shortened.

    ts (publication) drives the decay; received_ts (arrival) decides whether news is newer
    than a position the strategy already held.
    """

    ts: float
    received_ts: float
    score: float
    title: str


class NewsStrategy(Strategy):
    """Decayed headline sentiment per symbol: enter on a strong score, exit on reversal or age."""

    name = "news"
    allows_short = False
    params: NewsConfig
    screen_cost = 1  # quiet_ticks runs in this order, cheap first (bot/fast_forward.py)
    check_seconds = CHECK_SECONDS  # the minute checks' period (news_screen reads it here)

    def __init__(self, params: NewsConfig, exchanges: tuple[str, ...], symbols: tuple[str, ...]):
        super().__init__(params)
        self.exchanges = tuple(exchanges)
        self.mapper = SymbolMapper(symbols)
        self.symbol_by_asset: dict[str, str] = dict(self.mapper.symbol_by_base)
        self.scorer = SentimentScorer(params.extra_lexicon)
        self._half_life_seconds = params.half_life_minutes * 60.0
        self._forget_seconds = self._half_life_seconds * math.log2(1.0 / MIN_WEIGHT)
        self._holding_seconds = params.holding_minutes * 60.0
        self._headlines: dict[str, deque[_Headline]] = {}
        self._seen_ids: OrderedDict[str, None] = OrderedDict()
        self._next_check_ts = -math.inf
        # symbol -> last time a position was seen open / an exit was proposed
        self._held_ts: dict[str, float] = {}
        self._exit_ts: dict[str, float] = {}

    def on_snapshot(self, snapshot: Snapshot, view: PortfolioView) -> list[Signal]:
        """Score new headlines; decide for the symbols they touch, and for all once a minute."""
        news = snapshot.news
        if not news and snapshot.ts < self._next_check_ts:
            return []
        touched = self._ingest(news, snapshot.ts) if news else set()
        if snapshot.ts >= self._next_check_ts:
            self._next_check_ts = snapshot.ts + CHECK_SECONDS
            touched.update(self._headlines)
            touched.update(self.symbol_by_asset[p.asset] for p in view.positions() if p.asset in self.symbol_by_asset)
        signals = []
        for symbol in sorted(touched):
            signal = self._decide(snapshot, view, symbol)
            if signal is not None:
                signals.append(signal)
        return signals

    def quiet_ticks(self, lookahead: Lookahead, view: PortfolioView) -> int:
        """Ticks before the first minute check that could give a signal (bot/strategies/news_screen.py);
        0 unless the source promises the block has no news items."""
        return news_screen.first_maybe(self, lookahead, view)

    def skipped(self, lookahead: Lookahead, count: int, view: PortfolioView) -> None:
        """The minute checks of the skipped stretch, with what they change (schedule, forgotten
        headlines, the held times), as stepping them would."""
        news_screen.skipped(self, lookahead, count, view)

    # -- headlines ----------------------------------------------------------------------------

    def _ingest(self, news: tuple[NewsItem, ...], now: float) -> set[str]:
        """Score and file new headlines; returns the symbols they are about."""
        touched: set[str] = set()
        for item in news:
            item_id = item.id
            if item_id:
                if item_id in self._seen_ids:
                    continue  # a feed that repeats itself must not count a story twice
                self._seen_ids[item_id] = None
                if len(self._seen_ids) > SEEN_IDS_KEPT:
                    self._seen_ids.popitem(last=False)
            title = item.title
            symbols = self.mapper.symbols_for(title, item.symbols or ())
            if not symbols:
                continue
            ts = item.ts
            # A headline stamped in the future (clock skew) or not stamped counts from now.
            ts = now if not isinstance(ts, (int, float)) or not math.isfinite(ts) or ts > now else float(ts)
            if now - ts >= self._forget_seconds:
                continue
            score = self.scorer.score(title)
            if score == 0.0:
                continue
            headline = _Headline(ts, now, score, _quotable(title))
            for symbol in symbols:
                held = self._headlines.get(symbol)
                if held is None:
                    held = self._headlines[symbol] = deque(maxlen=MAX_HEADLINES_PER_SYMBOL)
                held.append(headline)
                touched.add(symbol)
        return touched

    def aggregate(self, symbol: str, now: float) -> float:
        """The decayed sum of the symbol's headline scores at now; forgets faded headlines."""
        held = self._headlines.get(symbol)
        if not held:
            return 0.0
        total = 0.0
        faded = False
        for headline in held:
            age = now - headline.ts
            if age >= self._forget_seconds:
                faded = True
            else:
                total += headline.score * self._weight(headline, now)
        if faded:
            kept = [h for h in held if now - h.ts < self._forget_seconds]
            if kept:
                self._headlines[symbol] = deque(kept, maxlen=MAX_HEADLINES_PER_SYMBOL)
            else:
                del self._headlines[symbol]
        return total

    def _weight(self, headline: _Headline, now: float) -> float:
        """How much of a headline's score is left at now (halved every half-life since publication)."""
        return 0.5 ** (max(0.0, now - headline.ts) / self._half_life_seconds)

    def score_series(self, symbol: str, times: list[float]) -> dict:
        """The decayed score at each time from the headlines held for symbol, and those headlines.

        A headline counts from its arrival (as aggregate saw it then) and decays from its
        publication; only headlines still held (not yet forgotten) are known.
        """
        held = list(self._headlines.get(symbol, ()))
        scores = []
        for now in times:
            scores.append(sum(h.score * self._weight(h, now) for h in held
                              if h.received_ts <= now and now - h.ts < self._forget_seconds))
        return {"scores": scores, "entry_score": self.params.entry_score,
                "exit_score": -self.params.exit_reversal_score, "half_life_minutes": self.params.half_life_minutes,
                "headlines": [{"ts": h.ts, "received_ts": h.received_ts, "score": h.score, "title": h.title}
                              for h in held]}

    def _drivers(self, symbol: str, now: float, sign: float) -> str:
        """The headlines that weigh most in the score's direction, quoted, for a reason."""
        weighted = [
            (sign * h.score * self._weight(h, now), h)
            for h in self._headlines.get(symbol, ())
        ]
        weighted = sorted((pair for pair in weighted if pair[0] > 0), key=lambda pair: -pair[0])
        if not weighted:
            return "no single headline"
        quoted = " and ".join(f'"{h.title}" ({h.score:+.2f})' for _, h in weighted[:QUOTED_HEADLINES])
        more = len(weighted) - QUOTED_HEADLINES
        return quoted + (f" and {more} more" if more > 0 else "")

    # -- decisions ----------------------------------------------------------------------------

    def _decide(self, snapshot: Snapshot, view: PortfolioView, symbol: str) -> Signal | None:
        asset = split_symbol(symbol)[0]
        score = self.aggregate(symbol, snapshot.ts)
        position = view.position(asset)
        if position is not None and position.qty > 0 and not is_dust(snapshot, position, symbol):
            self._held_ts[symbol] = snapshot.ts
            return self._exit_signal(snapshot, position, symbol, score)
        return self._entry_signal(snapshot, view, symbol, score)

    def _entry_signal(self, snapshot: Snapshot, view: PortfolioView, symbol: str, score: float) -> Signal | None:
        p = self.params
        if score < p.entry_score:
            return None
        held = self._headlines.get(symbol)
        if not held or max(h.received_ts for h in held) <= self._held_ts.get(symbol, -math.inf):
            return None  # this news has already had its position
        if snapshot.ts - self._exit_ts.get(symbol, -math.inf) < p.cooldown_seconds:
            return None  # the manager would refuse it; the minute checks retry
        exchange = trading_exchange(snapshot, symbol, self.params.exchange, self.exchanges)
        if exchange is None:
            return None
        quote = snapshot.quotes.get((exchange, symbol))
        market = snapshot.markets[(exchange, symbol)]
        if quote is None or not quote.ask > 0:
            return None
        price = quote.ask
        equity = view.equity()
        if not equity > 0:
            return None
        notional = min(equity * p.position_pct / 100.0,
                       WALLET_SPEND_FRACTION * view.balance(exchange, PORTFOLIO_QUOTE))
        qty = round_step(notional / price, market.amount_step)
        notional = qty * price
        if qty <= 0 or qty < market.min_amount or notional < market.min_notional:
            return None
        reason = (
            f"News score {score:+.2f} for {symbol} from {self._drivers(symbol, snapshot.ts, 1.0)}; "
            f"buy {format_qty(qty)} {market.base} on {exchange} at ~{format_price(price)} "
            f"({notional:,.2f} USDT, {notional / equity * 100:.1f}% of equity)"
        )
        leg = Leg(exchange=exchange, symbol=symbol, side="buy", qty=qty, expected_price=price)
        # At the threshold 0.5; twice the threshold 0.67; approaches 1 for overwhelming news.
        confidence = score / (score + p.entry_score)
        return Signal(strategy=self.name, kind="news_entry", legs=(leg,), reason=reason,
                      confidence=round(confidence, 4))

    def _exit_signal(self, snapshot: Snapshot, position: PositionView, symbol: str, score: float) -> Signal | None:
        p = self.params
        age = snapshot.ts - position.opened_ts
        if score <= -p.exit_reversal_score:
            trigger = (f"News reversal on {symbol}: score {score:+.2f} <= -{p.exit_reversal_score:g} "
                       f"from {self._drivers(symbol, snapshot.ts, -1.0)}")
        elif age >= self._holding_seconds:
            trigger = (f"Holding time reached on {symbol}: held {age / 60:.0f} min >= {p.holding_minutes:g} min "
                       f"(score {score:+.2f})")
        else:
            return None
        signal = exit_signal(self.name, "news_exit", snapshot, position, symbol, trigger)
        if signal is not None:
            self._exit_ts[symbol] = snapshot.ts
        return signal

    # -- market data --------------------------------------------------------------------------

def _quotable(title: object) -> str:
    """A headline as one line of plain text, at most QUOTED_HEADLINE_CHARS long."""
    if not isinstance(title, str):
        return ""
    text = " ".join(title[: QUOTED_HEADLINE_CHARS * 4].split())
    text = "".join(ch for ch in text if ch.isprintable()).replace('"', "'")
    if len(text) > QUOTED_HEADLINE_CHARS:
        text = text[: QUOTED_HEADLINE_CHARS - 3].rstrip() + "..."
    return text

