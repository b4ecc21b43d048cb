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

import numpy as np

from bot.accounting.equity_log import EQUITY_SCHEMA_VERSION, name_text
from bot.models import PORTFOLIO_QUOTE, iso_utc, iso_utc_many, split_symbol

KILL_MARGIN = 1e-9  # relative: a drawdown this close to the limit is stepped, not skipped
_repr = float.__repr__  # how json writes a float
LOOP_TICKS = 256  # sample_ticks walks shorter stretches tick by tick; longer ones are solved as arrays


def sample_ticks(ts: np.ndarray, last: float, every: float) -> list[int]:
    """The ticks (indices into ts) the tracker samples at, by its rule: ts - last sample >= every,
    in order. A long stretch is solved on the grid its first sample sets and the answer checked
    with the rule itself (vectorised); a stretch it does not fit is walked tick by tick."""
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


def _on_grid(ts: np.ndarray, last: float, every: float) -> list[int] | None:
    """sample_ticks when each sample lands where the previous one plus `every` does (None when the check fails).

    The rule's answer is the only sequence s with: ts[s0] - last >= every, ts[s(i+1)] - ts[s(i)] >= every,
    and each tick between two samples (and after the last) less than `every` after the sample before it.
    With ts non-decreasing (checked) the tick just before each sample (and the last tick) stands for them all:
    a rounded difference t - c never falls as t rises."""
    n = ts.shape[0]
    if not bool((ts[1:] >= ts[:-1]).all()):
        return None
    if not ts[-1] - last >= every:
        return [] if ts[-1] - last < every else None  # (nan: walk it)
    first = int(np.searchsorted(ts, last + every))
    while first > 0 and ts[first - 1] - last >= every:
        first -= 1
    while first < n and not ts[first] - last >= every:
        first += 1
    if first >= n:
        return None
    steps = int((ts[-1] - ts[first]) // every) + 1
    candidates = np.searchsorted(ts, ts[first] + every * np.arange(steps), "left")
    candidates = candidates[candidates < n]
    times = ts[candidates]
    before = np.empty_like(times)
    before[0], before[1:] = last, times[:-1]  # the last sample before each candidate
    between = candidates - 1  # the tick just before each candidate, when it is not the sample before
    previous = np.empty_like(candidates)
    previous[0], previous[1:] = -1, candidates[:-1]
    has = between > previous
    if not ((times - before >= every).all() and (ts[between[has]] - before[has] < every).all()
            and ts[-1] - times[-1] < every):
        return None
    return candidates.tolist()


class SampleBlock:
    """Equity, holdings P&L and each strategy's net P&L at a stretch's sample ticks."""

    def __init__(self, portfolio, lookahead, samples: list[int]):
        self.samples = samples
        index = self.index = np.asarray(samples, dtype=np.int64)
        self.times = lookahead.ts[index]
        sums: dict[str, np.ndarray] = {}
        counts: dict[str, int] = {}
        for (_, symbol), ahead in lookahead.markets.items():  # the order of the snapshot's quotes
            base, quote = split_symbol(symbol)
            if quote == PORTFOLIO_QUOTE:
                mid = (ahead.bid[index] + ahead.ask[index]) * 0.5
                sums[base] = sums[base] + mid if base in sums else 0.0 + mid
                counts[base] = counts.get(base, 0) + 1
        marks: dict = dict(portfolio._marks)
        marks[PORTFOLIO_QUOTE] = 1.0
        for asset, total in sums.items():
            marks[asset] = total / counts[asset]
        self.marks = marks
        size = index.shape[0]
        equity = 0.0  # a scalar until the first array term: 0.0 + x is what np.zeros(size) + x gives each element
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
        self.equity, self.holdings = _full(equity, size), _full(holdings, size)
        self.strategies = {}
        for name, stats in sorted(portfolio.stats.items()):
            unrealized = 0
            for p in portfolio.positions.values():
                if p.qty and p.strategy == name:
                    unrealized = unrealized + (p.qty * marks.get(p.asset, 0.0) - p.cost)
            self.strategies[name] = _full(stats.net_pnl(unrealized), size)

    @staticmethod
    def usable(portfolio, lookahead, samples: list[int]) -> bool:
        """True when the arrays give the tracker's values: every market quoted at every sample, nothing in transit."""
        if portfolio.in_transit or not samples:
            return False
        index = np.asarray(samples, dtype=np.int64)
        return all(bool(np.isfinite(ahead.bid[index]).all()) for ahead in lookahead.markets.values())

    def first_near_kill(self, portfolio, drawdown, limit_pct: float) -> int:
        """Index of the first sample whose drawdown (on the meter's basis, peaks raised as the engine
        raises them) comes within KILL_MARGIN of the limit; len(samples) when none."""
        if drawdown.basis == "equity":
            values, start = self.equity, portfolio.peak_equity
        else:
            values, start = self.equity - self.holdings, drawdown.trading_peak
        peaks = np.maximum.accumulate(np.maximum(values, start))
        limit = limit_pct * (1.0 - KILL_MARGIN)
        if start > 0:  # every peak is then positive: no 0 to divide by
            fall = (peaks - values) / peaks * 100.0
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                fall = np.where(peaks > 0, (peaks - values) / peaks * 100.0, 0.0)
        within = fall <= limit
        if within.all():
            return len(self.samples)
        return int(np.flatnonzero(~within)[0])

    def records(self, count: int) -> list[dict]:
        """The equity.jsonl records of the first `count` samples (equity_log.equity_record's layout)."""
        equity, holdings = self.equity[:count].tolist(), self.holdings[:count].tolist()
        trading = (self.equity[:count] - self.holdings[:count]).tolist()
        names = list(self.strategies)
        columns = [self.strategies[name][:count].tolist() for name in names]
        times = self.times[:count].tolist()
        return [{"schema_version": EQUITY_SCHEMA_VERSION, "ts": iso_utc(times[k]), "equity": equity[k],
                 "trading_equity": trading[k], "holdings_pnl": holdings[k],
                 "strategies": {name: column[k] for name, column in zip(names, columns)}} for k in range(count)]

    def lines(self, count: int) -> list[str] | None:
        """equity_line(record) of each of records(count), formatted from the arrays; None when a value
        is not a finite float (those records go through equity_line, which refuses them as dumps does)."""
        equity, holdings = self.equity[:count], self.holdings[:count]
        trading = equity - holdings
        columns = [column[:count] for column in self.strategies.values()]
        if not (np.isfinite(equity).all() and np.isfinite(trading).all() and np.isfinite(holdings).all()
                and all(np.isfinite(column).all() for column in columns)):
            return None
        times = iso_utc_many(self.times[:count])
        head = '{"schema_version":%d,"ts":"' % EQUITY_SCHEMA_VERSION
        equity_values = equity.tolist()
        equity_texts = _texts(equity_values)
        trading_values = trading.tolist()
        if trading_values == equity_values and 0.0 not in equity_values:  # nothing held: the same floats
            trading_texts = equity_texts
        else:
            trading_texts = _texts(trading_values)
        values = zip(times, equity_texts, trading_texts, _texts(holdings.tolist()))
        if not columns:
            return [f'{head}{t}","equity":{e},"trading_equity":{q},"holdings_pnl":{h},"strategies":{{}}}}'
                    for t, e, q, h in values]
        names = [name_text(name) + ":" for name in self.strategies]
        parts = [[name + v for v in _texts(column.tolist())] for name, column in zip(names, columns)]
        tails = [",".join(row) for row in zip(*parts)] if len(parts) > 1 else parts[0]
        return [f'{head}{t}","equity":{e},"trading_equity":{q},"holdings_pnl":{h},"strategies":{{{s}}}}}'
                for (t, e, q, h), s in zip(values, tails)]

    def apply(self, portfolio, drawdown, start_tick: int, count: int) -> None:
        """The tracker's and the meter's state after the first `count` samples: curve, peaks, marks."""
        if count == 0:
            return
        equity = self.equity[:count]
        portfolio.equity_history.extend(zip(self.times[:count].tolist(), equity.tolist()))
        last = self.samples[count - 1]
        portfolio._last_sample_ts = float(self.times[count - 1])
        portfolio.peak_equity = max(portfolio.peak_equity, float(equity.max()))
        drawdown.trading_peak = max(drawdown.trading_peak, float((equity - self.holdings[:count]).max()))
        portfolio._marks = {asset: (float(value[count - 1]) if isinstance(value, np.ndarray) else value)
                            for asset, value in self.marks.items()}
        portfolio._marks_tick = start_tick + last


def _texts(values: list[float]) -> list[str]:
    """Each float as json writes it (float.__repr__); a column of one value, as a stretch's often is, once."""
    first = values[0] if values else 0.0
    if first != 0.0 and values.count(first) == len(values):  # equal and not zero: the same float, the same text
        return [_repr(first)] * len(values)
    return list(map(_repr, values))


def _full(value, size: int) -> np.ndarray:
    """value as a float array of `size` (a scalar spread; an array as it is), as adding it to np.zeros(size) gives."""
    if isinstance(value, np.ndarray):
        return value + 0.0
    return np.full(size, value + 0.0)
