"""The equity samples of a fast-forwarded stretch, as arrays (bot/fast_forward.py).

Over a stretch nothing trades, so the books are constant and each sample is a function of the
marks alone. The tracker's own sums (PortfolioTracker.marks, equity, holdings_pnl,
unrealized_pnl, StrategyStats.net_pnl) are repeated here element-wise, term by term in the
same order, so each value is the same float the tracker would compute (IEEE arithmetic is the
same on a numpy element as on a Python float). Used only when every market has a bar at every
sample and no coins are in transit; otherwise the stretch samples through the tracker itself.
The kill switch is not decided here: the stretch ends before the first sample whose drawdown
comes within a margin of the limit, and that tick is stepped. The samples' equity.jsonl lines
are formatted from the arrays (SampleBlock.lines), the text equity_log.equity_line gives.
"""
from __future__ import annotations

import math
from itertools import repeat

import numpy as np

from bot.accounting.equity_log import EQUITY_SCHEMA_VERSION, name_text
from bot.float_text import float_texts
from bot.models import PORTFOLIO_QUOTE, split_symbol
from bot.timestamps import HOURS_MINUTES, iso_utc, minute_run

KILL_MARGIN = 1e-9  # relative: a drawdown this close to the limit is stepped, not skipped
_repr = float.__repr__  # how json writes a float
EVEN_TICKS = 96  # sample_ticks tries _evenly on stretches this long or longer (a walk is cheaper below)
LOOP_TICKS = 256  # sample_ticks walks shorter stretches tick by tick; longer ones are solved as arrays
PYTHON_SAMPLES = 64  # a block this small checks the kill switch's margin a float at a time (cheaper than arrays)
MAX_RUNS = 16  # runs of samples on one grid, at most, before a long stretch is walked instead


def sample_ticks(ts: np.ndarray, last: float, every: float) -> list[int]:
    """The ticks (indices into ts) the tracker samples at, by its rule: ts - last sample >= every,
    in order. A long stretch is solved on the grid its first sample sets and the answer checked
    with the rule itself (vectorised); a stretch it does not fit is walked tick by tick. Whole-second
    ticks a whole step apart (a candle backtest's between gaps) are solved by arithmetic (_evenly)."""
    if ts.shape[0] >= EVEN_TICKS:
        found = _evenly(ts, last, every)
        if found is not None:
            return found
    if ts.shape[0] >= LOOP_TICKS:
        found = _on_grid(ts, last, every)
        if found is not None:
            return found
    samples = []
    for j, t in enumerate(ts.tolist()):
        if t - last >= every:
            samples.append(j)
            last = t
    return samples


def _evenly(ts: np.ndarray, last: float, every: float) -> list[int] | None:
    """sample_ticks for ticks first + j * step with first and step whole, first >= 0 and every tick below
    2**53 (None for any other ticks).

    Those ticks are exact: each difference ts[j] - ts[j - 1] computed equal to step (checked) means
    ts[j] is exactly ts[j - 1] + step (a float a >= step with fl(a - b) = step, b whole >= 0, can only
    be b + step: any other float that near is more than half an ulp of step away). So after a sample
    at p the rule's difference ts[j] - ts[p] is exactly (j - p) * step, and the next sample is p + k
    for the least k with k * step >= every. Only the first sample, against `last`, is found with the
    rule's own rounded difference."""
    n = ts.shape[0]
    first = ts.item(0)
    step = ts.item(1) - first
    if not (step > 0 and first >= 0 and first == first // 1 and step == step // 1
            and ts.item(n - 1) < 2.0 ** 53 and math.isfinite(every) and every > 0 and last == last):
        return None
    if ts.item(n - 1) - first != step * (n - 1) or not bool((ts[1:] - ts[:-1] == step).all()):
        return None
    j = 0 if first - last >= every else _next_sample(ts, 0, last, every)
    k = max(1, math.ceil(every / step))
    while k > 1 and (k - 1) * step >= every:
        k -= 1
    while k * step < every:
        k += 1
    return list(range(j, n, k))


def _on_grid(ts: np.ndarray, last: float, every: float) -> list[int] | None:
    """sample_ticks solved a run of samples at a time (None when the runs are too many: walk it then).

    With ts non-decreasing (checked), the rule's predicate "ts[j] - last >= every" is false then true
    along j (a rounded difference t - c never falls as t rises), so the next sample after one at p is
    the first j > p with ts[j] - ts[p] >= every while ts[j - 1] - ts[p] < every. A run guesses the
    samples on the grid its first one sets (ts[first] + k every), keeps the guesses that pass that
    test one after another, and the next run starts at the rule's own next sample."""
    n = ts.shape[0]
    if not every > 0 or not bool((ts[1:] >= ts[:-1]).all()):  # (every 0: each tick samples; walk it)
        return None
    samples: list[int] = []
    first = _next_sample(ts, 0, last, every)
    for _ in range(MAX_RUNS):
        if first >= n:
            return samples
        steps = int((ts[-1] - ts[first]) // every) + 1
        guess = np.searchsorted(ts, ts[first] + every * np.arange(steps), "left")
        guess = guess[guess < n]
        previous, current = guess[:-1], guess[1:]
        good = (ts[current] - ts[previous] >= every) & (ts[current - 1] - ts[previous] < every)
        bad = np.flatnonzero(~good)
        run = guess if bad.size == 0 else guess[:int(bad[0]) + 1]
        samples.extend(run.tolist())
        end = samples[-1]
        first = _next_sample(ts, end + 1, float(ts[end]), every)
    return None


def _next_sample(ts: np.ndarray, lo: int, last: float, every: float) -> int:
    """The first j >= lo with ts[j] - last >= every (ts non-decreasing), or len(ts)."""
    n = ts.shape[0]
    j = max(lo, int(np.searchsorted(ts, last + every)))
    while j > lo and ts[j - 1] - last >= every:
        j -= 1
    while j < n and not ts[j] - last >= every:
        j += 1
    return j


class SampleBlock:
    """Equity, holdings P&L and each strategy's net P&L at a stretch's sample ticks.

    Each column is an array over the samples, or one float when it does not move over the stretch
    (nothing held: equity, a flat strategy's P&L): the same value every element would hold."""

    def __init__(self, portfolio, lookahead, samples: list[int], select=None):
        self.samples = samples
        self.size = len(samples)
        self.finite = False  # every value finite (lines() checks)
        select = _selector(samples) if select is None else select
        self.times = lookahead.ts[select]
        sums: dict = {}
        counts: dict[str, int] = {}
        self.quoted = True  # every market has a bar (a finite price) at every sample
        for (_, symbol), ahead in lookahead.markets.items():  # the order of the snapshot's quotes
            base, quote = split_symbol(symbol)
            if quote == PORTFOLIO_QUOTE:
                mid = (ahead.bid[select] + ahead.ask[select]) * 0.5
                self.quoted = self.quoted and _all_finite(mid)  # (bid + ask finite: both are)
                sums[base] = sums[base] + mid if base in sums else 0.0 + mid
                counts[base] = counts.get(base, 0) + 1
            elif self.quoted:
                self.quoted = _all_finite(ahead.bid[select])
        marks: dict = dict(portfolio._marks)
        marks[PORTFOLIO_QUOTE] = 1.0
        for asset, total in sums.items():
            count = counts[asset]
            marks[asset] = total if count == 1 else total / count  # x / 1 is x, to the bit
        self.marks = marks
        # Scalars until an array term: 0.0 + x is what np.zeros(size) + x gives each element.
        equity = 0.0
        for assets in portfolio.balances.values():
            for asset, amount in assets.items():
                if amount:
                    equity = equity + amount * marks.get(asset, 0.0)
        holdings = 0.0
        for assets in portfolio.starting_balances.values():
            for asset, amount in assets.items():
                mark = marks.get(asset, 0.0)
                holdings = holdings + amount * (mark - portfolio.initial_marks.get(asset, mark))
        for asset, coins in portfolio.fee_coins.items():
            holdings = holdings + (portfolio.fee_coins_usdt.get(asset, 0.0) - coins * marks.get(asset, 0.0))
        self.equity, self.holdings = _value(equity), _value(holdings)
        if type(self.holdings) is float and self.holdings == 0.0 and math.copysign(1.0, self.holdings) > 0:
            self.trading = self.equity  # x - (+0.0) is x, to the bit
        else:
            self.trading = self.equity - self.holdings
        self.strategies = {}
        for name, stats in sorted(portfolio.stats.items()):
            unrealized = 0
            for p in portfolio.positions.values():
                if p.qty and p.strategy == name:
                    unrealized = unrealized + (p.qty * marks.get(p.asset, 0.0) - p.cost)
            self.strategies[name] = _value(stats.net_pnl(unrealized) + 0.0)

    @classmethod
    def make(cls, portfolio, lookahead, samples: list[int]) -> "SampleBlock | None":
        """The block, or None when its arrays would not give the tracker's values (a market without a
        bar at some sample, coins in transit): the tracker itself samples then."""
        if portfolio.in_transit or not samples:
            return None
        block = cls(portfolio, lookahead, samples)
        return block if block.quoted else None

    def column(self, value, count: int) -> np.ndarray:
        """The first `count` samples of a column as an array."""
        return value[:count] if isinstance(value, np.ndarray) else np.full(count, value)

    def first_near_kill(self, portfolio, drawdown, limit_pct: float) -> int:
        """Index of the first sample whose drawdown (on the meter's basis, peaks raised as the engine
        raises them) comes within KILL_MARGIN of the limit; len(samples) when none."""
        if drawdown.basis == "equity":
            values, start = self.equity, portfolio.peak_equity
        else:
            values, start = self.trading, drawdown.trading_peak
        limit = limit_pct * (1.0 - KILL_MARGIN)
        if type(values) is float and math.isfinite(values) and math.isfinite(start):  # one value: one fall
            peak = max(values, start)
            fall = (peak - values) / peak * 100.0 if peak > 0 else 0.0
            return self.size if fall <= limit else 0
        if type(values) is not float and self.size <= PYTHON_SAMPLES and math.isfinite(start):
            listed = values.tolist()
            if all(map(math.isfinite, listed)):  # the same arithmetic as below, a float at a time
                peak = start
                for k, value in enumerate(listed):
                    if value > peak:
                        peak = value
                    if not (((peak - value) / peak * 100.0 if peak > 0 else 0.0) <= limit):
                        return k
                return self.size
        values = self.column(values, self.size)
        peaks = np.maximum.accumulate(np.maximum(values, start))
        if start > 0:  # every peak is then positive: no 0 to divide by
            fall = (peaks - values) / peaks * 100.0
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                fall = np.where(peaks > 0, (peaks - values) / peaks * 100.0, 0.0)
        within = fall <= limit
        if within.all():
            return self.size
        return int(np.flatnonzero(~within)[0])

    def records(self, count: int) -> list[dict]:
        """The equity.jsonl records of the first `count` samples (equity_log.equity_record's layout)."""
        equity, holdings = self.column(self.equity, count).tolist(), self.column(self.holdings, count).tolist()
        trading = self.column(self.trading, count).tolist()
        names = list(self.strategies)
        columns = [self.column(self.strategies[name], count).tolist() for name in names]
        times = self.times[:count].tolist()
        return [{"schema_version": EQUITY_SCHEMA_VERSION, "ts": iso_utc(times[k]), "equity": equity[k],
                 "trading_equity": trading[k], "holdings_pnl": holdings[k],
                 "strategies": {name: column[k] for name, column in zip(names, columns)}} for k in range(count)]

    def lines(self, count: int) -> list[str] | None:
        """equity_line(record) of each of records(count), formatted from the columns; None when a value
        is not a finite float (those records go through equity_line, which refuses them as dumps does)."""
        strategies = self.strategies
        columns = (self.equity, self.trading, self.holdings, *strategies.values())
        listed = {}  # each array's floats, once
        finite = True
        for column in columns:
            if type(column) is float:
                finite = finite and column - column == 0.0  # (nan and inf give nan)
            elif id(column) not in listed:
                values = listed[id(column)] = column[:count].tolist()
                total = sum(values)  # finite when every value is (else maybe an overflow: the exact check)
                finite = finite and (total - total == 0.0 or all(map(math.isfinite, values)))
        self.finite = finite
        if not finite:
            return None
        # Each line is the join of the same parts: texts that do not move over the block (a column that
        # does not move is written into them) and, between them, the lists that do, a value per line.
        times = self.times[:count].tolist()
        run = minute_run(times)
        if run is None:
            parts = [_HEAD, [iso_utc(t) for t in times], '","equity":']
        else:  # whole minutes in one day: only "HH:MM:" moves, a slice of a table
            day, minute, tail = run
            parts = [_HEAD + day, HOURS_MINUTES[minute:minute + count], tail + '","equity":']
        texts = {}  # each array's floats as json writes them, once (trading is often equity itself)
        leads = (*_LEADS, *_strategy_leads(tuple(strategies)))
        for lead, column in zip(leads, columns):
            if type(column) is float:
                parts[-1] += lead + _repr(column)
            else:
                text = texts.get(id(column))
                if text is None:
                    text = texts[id(column)] = float_texts(listed[id(column)])
                parts += (parts.pop() + lead, text, "")
        parts[-1] += leads[-1]
        # One C-level pass over the block: no format string parsed per line.
        return list(map("".join, zip(*[repeat(part, count) if type(part) is str else part for part in parts])))

    def apply(self, portfolio, drawdown, start_tick: int, count: int) -> None:
        """The tracker's and the meter's state after the first `count` samples: curve, peaks, marks."""
        if count == 0:
            return
        times = self.times[:count].tolist()
        equity, trading = self.equity, self.trading
        if type(equity) is float:
            portfolio.curve.owe(times, equity)
            top = equity
        else:
            values = equity[:count].tolist()
            portfolio.curve.owe(times, values)
            top = max(values) if self.finite else float(equity[:count].max())  # (max of floats: nan aside, the same)
        portfolio.peak_equity = max(portfolio.peak_equity, top)
        if trading is not equity:
            if type(trading) is float:
                top = trading
            else:
                top = max(trading[:count].tolist()) if self.finite else float(trading[:count].max())
        drawdown.trading_peak = max(drawdown.trading_peak, top)
        portfolio._last_sample_ts = times[-1]
        portfolio._marks = {asset: (value.item(count - 1) if isinstance(value, np.ndarray) else value)
                            for asset, value in self.marks.items()}
        portfolio._marks_tick = start_tick + self.samples[count - 1]


# What precedes each column in an equity line (equity's lead ends the time's part of the template).
_HEAD = '{"schema_version":%d,"ts":"' % EQUITY_SCHEMA_VERSION
_LEADS = ("", ',"trading_equity":', ',"holdings_pnl":')


_STRATEGY_LEADS: dict[tuple, tuple] = {}


def _strategy_leads(names: tuple) -> tuple:
    """What precedes each strategy's figure in an equity line, then the line's end (kept: the same few
    names recur)."""
    leads = _STRATEGY_LEADS.get(names)
    if leads is None:
        texts = [("," if k else ',"strategies":{') + name_text(name) + ":"
                 for k, name in enumerate(names)]
        leads = _STRATEGY_LEADS[names] = (*texts, "}}" if names else ',"strategies":{}}')
    return leads


def _selector(samples: list[int]):
    """A slice for evenly spaced samples (a view, cheaper than picking), else their index array."""
    first, last = samples[0], samples[-1]
    if len(samples) == 1:
        return slice(first, first + 1)
    step = samples[1] - first
    if step > 0 and last - first == step * (len(samples) - 1) and samples == list(range(first, last + 1, step)):
        return slice(first, last + 1, step)
    return np.asarray(samples, dtype=np.int64)


def _all_finite(values: np.ndarray) -> bool:
    """Every element finite: their sum is then (Python's, which warns of nothing), unless it overflows (the
    exact check then)."""
    total = sum(values.tolist())
    return total - total == 0.0 or bool(np.isfinite(values).all())


def _value(value):
    """A column: a float as a Python float, an array as it is."""
    return value if isinstance(value, np.ndarray) else float(value)


