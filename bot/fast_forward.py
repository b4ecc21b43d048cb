"""FastForward: a candle backtest's run_fast that skips, in bulk, the ticks on which nothing can happen.

A tick is skippable when nothing is in flight (no orders awaiting delivery, no resting orders, no
transfers in transit or rebalancing, no margin rules, no alert rules, no storage fault, trading
running) and every enabled strategy says, from the source's lookahead block, that it certainly
emits no signal on it (Strategy.quiet_ticks; a strategy that does not implement it says 0, so
nothing is skipped while it is enabled). The ticks a strategy flags, and everything after them,
are stepped by BotEngine.tick() as ever: decisions come from the same per-tick code.

What a skipped stretch does in bulk, effect by effect of BotEngine.tick():
- the source's position: seek() to the stretch's last tick, whose snapshot is built as ever
  (next_snapshot, then the data flow's market_view: books net of our takes, the liquidity prune);
- portfolio marks and equity samples: the sample times are found with the tracker's own rule
  (ts - last sample >= equity_sample_seconds); the samples' values are computed as arrays by
  bot/fast_samples.py (the tracker's sums term by term, so equity.jsonl lines are identical),
  formatted from those arrays and appended to the equity log in one write, the curve and both drawdown peaks raised; the stretch
  ends before a sample that comes near the kill switch's limit, which is stepped. Where a market
  lacks a bar at a sample, the tracker itself marks a stand-in snapshot per sample instead, and
  the kill switch is checked at each (one that fires ends the stretch at that tick);
- non-sampled ticks only replace the marked snapshot, so only the last one matters;
- the chart's candle archive: the bars closed in the stretch are taken once, at its end, as arrays
  (CandleArchive.take_closed), made Candles only when the archive is read;
- the tick and version counters, the health window (ticks_succeeded), the wall-clock state write;
- the state file: not replaced after every trade during the run (on a long backtest that was most
  of a fill's cost), only every few wall seconds and at close; the ledger is written first as
  ever, and a restart rebuilds the books from it (bot/accounting/recovery.py) and resumes after
  its last trade;
- strategy memos: momentum's volatility memo and shown levels are recomputed on the next tick
  that reads them (its quiet_ticks says why that is exact).
- the books' rebalancing schedule (its last check time) moves to the stretch's last tick.
Events (drain_events), alerts, deliveries, resting orders, transfers (one wallet only), borrow
fees and margin calls (no short) do nothing on such ticks by the idle conditions above. candles.fast_forward: false turns all of this off.
"""
from __future__ import annotations

from typing import Callable

from bot.engine_state import EngineState
from bot.fast_samples import SampleBlock, sample_ticks

BLOCK_TICKS = 4096  # the most ticks looked ahead at once
FIRST_BLOCK_TICKS = 64  # the first look after a stepped tick; doubled while whole blocks are quiet


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


def fast_forward_for(engine) -> "FastForward | None":
    """The fast-forward runner for an engine on a candle backtest with candles.fast_forward on; else None."""
    from bot.market.candle_source import CandleMarket

    if not isinstance(engine.source, CandleMarket) or not engine.config.candles.fast_forward:
        return None
    return FastForward(engine)


class FastForward:
    """Runs the engine's ticks back to back like TickLoop.run_fast, skipping quiet stretches in bulk."""

    def __init__(self, engine):
        self.engine = engine
        self.skipped = 0  # ticks advanced in bulk (the rest were stepped)
        self._block = FIRST_BLOCK_TICKS
        # The last stretch ended before its lookahead did: on a tick a strategy may act on (or a sample
        # near the kill switch). Looking again would find that at once, so that tick is stepped directly.
        self._step_next = False

    def run_fast(self, max_ticks: int | None, progress: Callable[[int], None] | None = None,
                 cooperate: Callable[[], None] | None = None) -> int:
        """Run until max_ticks, a stop request or the end of the data; returns ticks run."""
        engine = self.engine
        engine.loop.mode = "fast"
        engine.data_flow.state_after_trades = False  # a checkpoint every few seconds and at close instead
        try:
            return self._run(max_ticks, progress, cooperate)
        finally:
            engine.data_flow.state_after_trades = True

    def _run(self, max_ticks, progress, cooperate) -> int:
        engine, loop = self.engine, self.engine.loop
        done = 0
        while not loop.wait_for_stop(0) and (max_ticks is None or done < max_ticks):
            if self._step_next:  # stepping is always what a skip must equal, so this is safe whatever changed
                self._step_next = False
                advanced = 0
            else:
                room = self._block if max_ticks is None else min(self._block, max_ticks - done)
                with engine.lock:
                    advanced = self.advance(room)
                # A quiet block: look further next time; a stretch that ended on a maybe: look near again.
                self._block = min(BLOCK_TICKS, self._block * 2) if advanced == room else FIRST_BLOCK_TICKS
            if advanced == 0:
                engine.tick()
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
        # Rebalancing needs two wallets; borrow fees and margin calls need a short.
        transfers_idle = not books.transfers.enabled or len(portfolio.balances) <= 1
        margin_idle = books.rules is None or (not portfolio.accruals and not books.desk.calls
                                              and all(p.qty >= 0 for p in portfolio.positions.values()))
        return (engine.state == EngineState.RUNNING and engine.last_snapshot is not None
                and not engine.source.finished and not engine.data_flow.orders and not engine.desk.active
                and not portfolio.in_transit and transfers_idle and margin_idle
                and not engine.alerts.rules and engine.faults.storage_fault is None)

    def quiet(self, room: int):
        """(lookahead, ticks every enabled strategy is quiet on), or (None, 0) when none can be skipped."""
        engine = self.engine
        if not self._idle():
            return None, 0
        lookahead = engine.source.lookahead(room)
        quiet = len(lookahead)
        manager = engine.manager
        for name, strategy in manager.strategies.items():
            if manager.enabled[name] and quiet > 0:
                quiet = min(quiet, int(strategy.quiet_ticks(lookahead, engine.portfolio.view_for(name))))
        return lookahead, max(0, quiet)

    def advance(self, room: int) -> int:
        """Advance over up to `room` quiet ticks in bulk, doing what stepping them would; returns how many."""
        lookahead, quiet = self.quiet(room)
        if quiet <= 0:
            return 0
        engine = self.engine
        portfolio, faults = engine.portfolio, engine.faults
        keys = list(lookahead.markets)
        start = lookahead.start_tick
        # The stretch's sample ticks, by the tracker's rule.
        samples = sample_ticks(lookahead.ts[:quiet], portfolio._last_sample_ts, portfolio.equity_sample_seconds)
        if not samples:
            end = quiet
        elif (block := SampleBlock.make(portfolio, lookahead, samples)) is not None:
            count = block.first_near_kill(portfolio, engine.drawdown, engine.config.risk.max_drawdown_pct)
            end = samples[count] if count < len(samples) else quiet  # a sample near the kill switch is stepped
            if end == 0:
                return 0
            lines = block.lines(count)
            if lines is not None:
                faults.guard("equity", engine.equity_log.append_lines, lines)
            else:  # a value json refuses: the records go the general way (and are refused there)
                faults.guard("equity", engine.equity_log.append_records, block.records(count))
            block.apply(portfolio, engine.drawdown, start, count)
        else:
            end = self._sample_one_by_one(lookahead, lookahead.ts[:quiet].tolist(), samples, quiet)
        self._step_next = end < len(lookahead)
        source = engine.source
        first_closes = int(lookahead.new_candle[0])  # a bar may have closed on the stretch's first tick too
        closed = {key: int(lookahead.markets[key].closed[end - 1]) - int(lookahead.markets[key].closed[0]) + first_closes
                  for key in keys}  # at least the bars that closed during the stretch
        source.seek(start + end - 1)
        snapshot = engine.data_flow.market_view(source.next_snapshot())
        engine.last_snapshot = snapshot
        engine.next_tick = snapshot.tick + 1
        portfolio._snapshot = snapshot  # the marks of a tick already sampled above are cached by tick
        faults.guard("chart", self._archive, snapshot, closed)
        if engine.books.transfers.enabled:
            engine.books._last_check_ts = snapshot.ts  # the rebalancing schedule, as each tick moves it
        engine.ticks_run += end
        engine.version += end
        self.skipped += end
        faults.ticks_succeeded(end)
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
        """The chart's archive takes the bars that closed in the stretch, as CandleArchive.note would have."""
        archive = self.engine.candle_archive
        for key in snapshot.markets:
            archive.take_closed(snapshot, key, closed.get(key, 0))
