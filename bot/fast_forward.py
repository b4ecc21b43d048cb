"""FastForward: the run_fast of a candle backtest or a recording's replay that skips, in bulk, the
ticks on which nothing can happen.

A tick is skippable when nothing is in flight (no orders awaiting delivery, no resting orders, no
margin call in progress or borrow bill pending for a closed short, no alert rules, no storage
fault, trading running), the books have nothing due on it (_scheduled: a transfer landing, a
rebalancing check whose plan is not empty, a borrow bill, a short's margin level near
maintenance: bot/fast_margin.py), the source can judge it (a replay steps every tick with news,
whales, events, a health change, a gap or another change: bot/market/replay_ahead.py) and every
enabled strategy says, from the source's lookahead block, that it certainly emits no signal on it
(Strategy.quiet_ticks; a strategy that does not implement it says 0, so nothing is skipped while
it is enabled). The screens run cheap first (Strategy.screen_cost), each on the ticks still
quiet. The ticks flagged, and everything after them, are stepped by BotEngine.tick() as ever:
decisions come from the same per-tick code. A stretch a strategy's screen ends (not the books'
schedule, not a sample near the kill switch) takes the flagged tick's first half with it: that
tick's snapshot, marks, equity sample and closed bars are done in bulk like a skipped tick's
(nothing before the strategies run differs), and the rest of it is BotEngine.act, the second half
of BotEngine.tick(). Looks that find nothing quiet back off (up to MAX_PAUSE ticks are stepped
before the next look).

What a skipped stretch does in bulk, effect by effect of BotEngine.tick():
- the source's position: seek() to the stretch's last tick, whose snapshot is built as ever
  (next_snapshot, then the data flow's market_view: books net of our takes, the liquidity prune);
- portfolio marks and equity samples: the sample times are found with the tracker's own rule
  (ts - last sample >= equity_sample_seconds); the samples' values are computed as arrays by
  bot/fast_samples.py (the tracker's sums term by term, so equity.jsonl lines are identical),
  formatted from those arrays and appended to the equity log in one write, the curve and both drawdown peaks raised; the stretch
  ends before a sample that comes near the kill switch's limit, which is stepped. Where a market
  lacks a bar at a sample, or coins are in transit, the tracker itself marks a stand-in snapshot
  per sample instead, and the kill switch is checked at each (one that fires ends the stretch);
- non-sampled ticks only replace the marked snapshot, so only the last one matters;
- the chart's candle archive: the bars closed in the stretch are owed (CandleArchive.defer_closed)
  and taken as arrays at the archive's next read or once 1,024 are owed (take_closed), made
  Candles only when the archive is read;
- the tick and version counters, the health window (ticks_succeeded), the wall-clock state write;
- the state file: not replaced after every trade, transfer or borrow bill during the run (on a long
  backtest that was most of a fill's cost), only every few wall seconds and at close; the ledger is
  written first as ever, and a restart rebuilds the books from it (bot/accounting/recovery.py) and
  resumes after its last trade;
- strategy state kept on a schedule: Strategy.skipped(lookahead, count, view) (stat_arb's spread
  statistics at each candle, news's minute checks); momentum's volatility memo and shown levels
  are recomputed on the next tick that reads them (its quiet_ticks says why that is exact);
- the books' rebalancing schedule (its last check time) moves to the stretch's last tick.
During the run, equity samples and activity lines are held and written HOLD_SAMPLES /
HOLD_ACTIVITY at a time, and at every state write and the run's end (EquityLog.hold,
ActivityLog.hold): the same bytes in fewer writes; the ledger is written through as ever.
Events (drain_events), alerts, deliveries, resting orders, transfers, borrow fees and margin calls
do nothing on such ticks by the conditions above. candles.fast_forward: false (a backtest) and
replay.fast_forward: false (a replay) turn all of this off.
"""
from __future__ import annotations

import sys
from typing import Callable

import numpy as np

from bot.accounting.transfers import check_due, plan_transfers
from bot.engine_state import EngineState
from bot.fast_margin import first_margin_tick, margin_idle
from bot.fast_samples import SampleBlock, sample_ticks
from bot.lookahead import Lookahead, MarketAhead

BLOCK_TICKS = 4096  # the most ticks looked ahead at once
# The first look after a stepped tick (a source may set its own: lookahead_first); doubled while whole
# blocks are quiet.
FIRST_BLOCK_TICKS = 256
MAX_PAUSE = 15  # the most ticks stepped without looking after looks that found nothing quiet
HOLD_SAMPLES = 4096  # equity samples held in memory and written together (EquityLog.hold)
HOLD_ACTIVITY = 512  # activity lines the same way (ActivityLog.hold)


class _Touch:
    """A quote's bid and ask, all the tracker's marks read."""

    __slots__ = ("bid", "ask")

    def __init__(self, bid: float, ask: float):
        self.bid, self.ask = bid, ask


class _Marked:
    """The part of a snapshot the portfolio tracker reads to mark and sample (tick, ts, quotes)."""

    __slots__ = ("tick", "ts", "quotes")

    def __init__(self, tick: int, ts: float, quotes: dict):
        self.tick, self.ts, self.quotes = tick, ts, quotes


def _screen_cost(strategy) -> int:
    """The order screens run in, cheap first (Strategy.screen_cost, else 2): a cut found early
    shortens what the dear ones look at."""
    return int(getattr(strategy, "screen_cost", 2))


def _head(lookahead: Lookahead, count: int) -> Lookahead:
    """The first `count` ticks of a lookahead (views of its arrays)."""
    return Lookahead(lookahead.start_tick, lookahead.ts[:count], lookahead.new_candle[:count],
                     {key: MarketAhead(a.bid[:count], a.closed[:count], a.closes, a.ask[:count])
                      for key, a in lookahead.markets.items()},
                     traded=lookahead.traded, no_news=lookahead.no_news)


def fast_forward_for(engine) -> "FastForward | None":
    """The fast-forward runner for an engine on a candle backtest (candles.fast_forward on) or a
    recording's replay (replay.fast_forward on); else None."""
    source = engine.source
    if _is_a(source, "bot.market.candle_source", "CandleMarket") and engine.config.candles.fast_forward:
        return FastForward(engine)
    if _is_a(source, "bot.market.replay", "ReplayMarket") and engine.config.replay.fast_forward:
        return FastForward(engine)
    return None


def _is_a(source, module: str, name: str) -> bool:
    """isinstance(source, module.name) without importing the module: a source of a class whose module is
    not loaded yet cannot be one (a candle backtest would otherwise load the replay's modules and,
    through the simulator, scipy: a sixth of a second of every run)."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(source, getattr(loaded, name))


class FastForward:
    """Runs the engine's ticks back to back like TickLoop.run_fast, skipping quiet stretches in bulk."""

    def __init__(self, engine):
        self.engine = engine
        self.skipped = 0  # ticks advanced in bulk (the rest were stepped)
        self._first = int(getattr(engine.source, "lookahead_first", FIRST_BLOCK_TICKS))
        self._block = self._first
        # The last stretch ended before its lookahead did: on a tick a strategy may act on (or a sample
        # near the kill switch). Looking again would find that at once, so that tick is stepped directly.
        self._step_next = False
        # Looks that found nothing quiet in a row (a strategy in the middle of something, e.g. an entry the
        # manager keeps refusing), and the ticks still to step before looking again: 0, 1, 3, 7, 15.
        self._misses = 0
        self._pause = 0
        self._whole = False  # the last advance() skipped its whole lookahead
        self._screen_order: list | None = None  # the strategies, cheap screens first (made at the first look)

    def run_fast(self, max_ticks: int | None, progress: Callable[[int], None] | None = None,
                 cooperate: Callable[[], None] | None = None) -> int:
        """Run until max_ticks, a stop request or the end of the data; returns ticks run."""
        engine = self.engine
        engine.loop.mode = "fast"
        engine.data_flow.state_after_trades = False  # a checkpoint every few seconds and at close instead
        # Equity samples and activity lines are written a block at a time, and at each checkpoint.
        engine.equity_log.hold, engine.activity.hold = HOLD_SAMPLES, HOLD_ACTIVITY
        try:
            return self._run(max_ticks, progress, cooperate)
        finally:
            engine.data_flow.state_after_trades = True
            engine.equity_log.hold = engine.activity.hold = 0
            with engine.lock:
                engine.flush_held()

    def _run(self, max_ticks, progress, cooperate) -> int:
        engine, loop = self.engine, self.engine.loop
        done = 0
        stopped = loop.stop_requested  # not wait_for_stop(0): that takes the event's lock, a few µs a pass
        while not stopped() and (max_ticks is None or done < max_ticks):
            if self._step_next or self._pause > 0:  # stepping is always what a skip must equal: safe whatever changed
                self._step_next = False
                self._pause = max(0, self._pause - 1)
                advanced = 0
            else:
                room = self._block if max_ticks is None else min(self._block, max_ticks - done)
                with engine.lock:
                    advanced = self.advance(room)
                # A quiet block: look further next time; a stretch that ended on a maybe: look near again.
                most = getattr(engine.source, "lookahead_max", BLOCK_TICKS)
                self._block = min(most, self._block * 2) if self._whole and advanced == room else self._first
            if advanced == 0:
                engine.tick()  # (its CandleArchive.note takes what the stretches before it owe)
                advanced = 1
            before, done = done, done + advanced
            if cooperate is not None and done // 100 != before // 100:
                cooperate()
            if progress is not None and done // 500 != before // 500:
                progress(done)
        if progress is not None:
            progress(done)
        return done

    # ----- one skipped stretch ---------------------------------------------------------------
    def _idle(self) -> bool:
        engine = self.engine
        books = engine.books
        portfolio = engine.portfolio
        # Transfers in transit, the rebalancer's checks, borrow bills and margin calls are scheduled or
        # screened: _scheduled cuts the stretch before any of them can act.
        return (engine.state == EngineState.RUNNING and engine.last_snapshot is not None
                and not getattr(engine.source, "finished", False) and not engine.data_flow.orders
                and not engine.desk.active and margin_idle(books, portfolio)
                and not engine.alerts.rules and engine.faults.storage_fault is None)

    def _rebalance_idle(self) -> bool:
        """True when a rebalancing check during the stretch would do nothing. plan_transfers reads the
        books (constant while nothing trades or lands), the exchanges with quotes and the markets
        (constant: a change of either is a tick the source steps), never prices: so the plan made
        now on the last snapshot is the plan of every check in the stretch."""
        engine = self.engine
        books = engine.books
        planned, unknown = plan_transfers(engine.portfolio, engine.last_snapshot, books.transfers)
        return not planned and not (unknown - books._told_unknown)

    def _same_quotes(self, lookahead, end: int) -> bool:
        """True when every tick of lookahead[:end] quotes exactly the markets the last snapshot quotes."""
        quoted = self.engine.last_snapshot.quotes
        for key, ahead in lookahead.markets.items():
            finite = np.isfinite(ahead.bid[:end])
            if not (finite.all() if key in quoted else not finite.any()):
                return False
        return len(quoted) == sum(1 for key in quoted if key in lookahead.markets)

    def _scheduled(self, lookahead) -> int:
        """Ticks of the lookahead before the first one on which the books have work of their own: a
        transfer due to land (BooksKeeper._arrivals) or, with two wallets or more, a rebalancing check
        (check_due) that could send something."""
        engine = self.engine
        books, portfolio = engine.books, engine.portfolio
        ts = lookahead.ts
        end = int(ts.shape[0])
        if portfolio.in_transit:
            due = min(t.arrival_ts for t in portfolio.in_transit.values())
            hits = np.flatnonzero(ts >= due)
            if hits.size:
                end = min(end, int(hits[0]))
        if books.transfers.enabled and len(portfolio.balances) > 1 and end > 0:
            every = books.transfers.check_seconds
            # check_due's rule: the first tick against the last check, each later one against the tick before.
            due = np.zeros(end, dtype=bool)
            due[0] = check_due(books._last_check_ts, float(ts[0]), every)
            slots = np.floor_divide(ts[:end], every)
            due[1:] = slots[1:] != slots[:-1]
            hits = np.flatnonzero(due)
            if hits.size and not (self._same_quotes(lookahead, end) and self._rebalance_idle()):
                end = min(end, int(hits[0]))
        return first_margin_tick(books, portfolio, lookahead, end) if end > 0 else 0

    def quiet(self, room: int):
        """(lookahead, ticks every enabled strategy is quiet on, ticks the books have nothing due on), or
        (None, 0, 0) when none can be skipped."""
        engine = self.engine
        if not self._idle():
            return None, 0, 0
        lookahead = engine.source.lookahead(room)
        scheduled = quiet = self._scheduled(lookahead) if len(lookahead) else 0
        manager = engine.manager
        order = self._screen_order
        if order is None or len(order) != len(manager.strategies):
            order = self._screen_order = sorted(manager.strategies.items(), key=lambda item: _screen_cost(item[1]))
        seen = lookahead  # each screen sees only the ticks still quiet: the cheap cuts first spare the dear screens
        for name, strategy in order:
            if manager.enabled[name] and quiet > 0:
                if quiet < len(seen):
                    seen = _head(seen, quiet)
                quiet = min(quiet, int(strategy.quiet_ticks(seen, engine.portfolio.view_for(name))))
        quiet = max(0, quiet)
        if len(lookahead) and quiet == 0:
            self._misses += 1
            self._pause = min(MAX_PAUSE, (1 << (self._misses - 1)) - 1)
        elif quiet > 0:
            self._misses = 0
        return lookahead, quiet, scheduled

    def advance(self, room: int) -> int:
        """Advance over up to `room` quiet ticks in bulk, doing what stepping them would; returns how many
        ticks it ran, the acted-on tick included (see below)."""
        self._whole = False
        lookahead, quiet, scheduled = self.quiet(room)
        if quiet <= 0:
            return 0
        # A stretch a strategy's screen ends (not the books' schedule) is followed by a tick a strategy may
        # act on. That tick is marked, sampled and archived with the stretch (nothing it does before the
        # strategies run differs from a skipped tick's), and then the rest of it runs as a stepped tick's
        # does (BotEngine.act).
        acting = quiet < scheduled
        marked = quiet + 1 if acting else quiet
        engine = self.engine
        portfolio, faults = engine.portfolio, engine.faults
        start = lookahead.start_tick
        # The stretch's sample ticks, by the tracker's rule.
        samples = sample_ticks(lookahead.ts[:marked], portfolio._last_sample_ts, portfolio.equity_sample_seconds)
        if not samples:
            end = marked
        elif (block := SampleBlock.make(portfolio, lookahead, samples)) is not None:
            count = block.first_near_kill(portfolio, engine.drawdown, engine.config.risk.max_drawdown_pct)
            end = samples[count] if count < len(samples) else marked  # a sample near the kill switch is stepped
            if end == 0:
                return 0
            lines = block.lines(count)
            if lines is not None:
                faults.guard("equity", engine.equity_log.append_lines, lines)
            else:  # a value json refuses: the records go the general way (and are refused there)
                faults.guard("equity", engine.equity_log.append_records, block.records(count))
            block.apply(portfolio, engine.drawdown, start, count)
        else:
            if acting:  # the tracker samples each tick itself: the acted-on tick is stepped as ever
                acting = False
                samples = [j for j in samples if j < quiet]
            end = self._sample_one_by_one(lookahead, lookahead.ts[:quiet].tolist(), samples, quiet)
        acting = acting and end == marked
        skipped = end - 1 if acting else end  # the ticks skipped (the acted-on one runs below)
        self._step_next = not acting and end < len(lookahead)
        self._whole = not acting and end == len(lookahead)
        source = engine.source
        first_closes = int(lookahead.new_candle.item(0))  # a bar may have closed on the stretch's first tick too
        closed = {key: int(ahead.closed.item(end - 1)) - int(ahead.closed.item(0)) + first_closes
                  for key, ahead in lookahead.markets.items()}  # at least the bars that closed during the stretch
        if acting and engine.books.transfers.enabled:
            engine.books._last_check_ts = float(lookahead.ts.item(end - 2))  # as the last skipped tick left it
        source.seek(start + end - 1)
        snapshot = engine.data_flow.market_view(source.next_snapshot())
        if acting:
            for event in source.drain_events():
                faults.guard("notifications", engine.notices.market_event, event)
        engine.last_snapshot = snapshot
        engine.next_tick = snapshot.tick + 1
        portfolio._snapshot = snapshot  # the marks of a tick already sampled above are cached by tick
        faults.guard("chart", self._archive, snapshot, closed)
        if not acting and engine.books.transfers.enabled:
            engine.books._last_check_ts = snapshot.ts  # the rebalancing schedule, as each tick moves it
        manager = engine.manager
        for name, strategy in manager.strategies.items():  # schedules kept by the strategies move over the stretch
            if manager.enabled[name]:
                strategy.skipped(lookahead, skipped, portfolio.view_for(name))
        engine.ticks_run += skipped
        engine.version += skipped
        self.skipped += skipped
        faults.ticks_succeeded(skipped)
        if acting:
            engine.act(snapshot, bool(samples) and samples[-1] == end - 1)
        else:
            engine.periodic_state_write()
        return end

    def _sample_one_by_one(self, lookahead, ts: list[float], samples: list[int], quiet: int) -> int:
        """The samples through the tracker itself (a market without a bar at some sample); returns the
        stretch's end (a kill switch that fires ends it at that tick)."""
        engine = self.engine
        portfolio, faults, start = engine.portfolio, engine.faults, lookahead.start_tick
        columns = [(key, ahead.bid.tolist(), ahead.ask.tolist()) for key, ahead in lookahead.markets.items()]
        for j in samples:
            quotes = {key: _Touch(bids[j], asks[j]) for key, bids, asks in columns if bids[j] == bids[j]}
            sampled = faults.guard("equity", portfolio.mark, _Marked(start + j, ts[j], quotes), default=False)
            if sampled:
                faults.guard("equity", engine.equity_log.append, portfolio)
                faults.guard("equity", engine.drawdown.note, portfolio)
                engine._check_kill_switch()
                if engine.state != EngineState.RUNNING:  # the kill switch fired: the stretch ends here
                    return j + 1
        return quiet

    def _archive(self, snapshot, closed: dict) -> None:
        """The chart's archive owes the bars that closed in the stretch (CandleArchive.defer_closed: taken
        at its next read, as CandleArchive.note would have taken them)."""
        self.engine.candle_archive.defer_closed(snapshot, closed)
