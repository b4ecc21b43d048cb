"""EquityCurve (the tracker's recent samples, blocks owed by fast-forwarded stretches) against a plain
bounded deque given every sample in order."""
from __future__ import annotations

import random
from collections import deque

from bot.accounting.equity_curve import EquityCurve
from bot.accounting.portfolio import PortfolioTracker


def test_the_curve_is_what_a_deque_given_every_sample_holds():
    rng = random.Random(12)
    for case in range(300):
        maxlen = rng.choice([10, 11, 50, 2000])
        curve, oracle = EquityCurve(maxlen), deque(maxlen=maxlen)
        ts = 0.0
        for step in range(rng.randint(1, 120)):
            action = rng.random()
            if action < 0.15:  # a stepped tick's sample, appended to what the curve returns
                ts += 60.0
                point = (ts, rng.uniform(900.0, 1100.0))
                curve.points().append(point)
                oracle.append(point)
            elif action < 0.85:  # a stretch's block: one equity for all, or one per sample
                count = rng.choice([0, 1, 3, maxlen - 1, maxlen, maxlen + 1, rng.randint(1, 3 * maxlen)])
                times = [ts + 60.0 * (k + 1) for k in range(count)]
                ts = times[-1] if times else ts
                equity = rng.uniform(900.0, 1100.0) if rng.random() < 0.5 else [rng.uniform(900.0, 1100.0)
                                                                                 for _ in times]
                curve.owe(times, equity)
                oracle.extend(zip(times, equity) if isinstance(equity, list) else ((t, equity) for t in times))
            elif action < 0.97:  # a read (a state write, the dashboard)
                assert list(curve.points()) == list(oracle), (case, step)
            else:  # a restore
                curve.points().clear()
                oracle.clear()
            assert curve.maxlen == maxlen
        assert list(curve.points()) == list(oracle), case
        assert curve.points()[-1] == oracle[-1] if oracle else not curve.points()


def test_owed_blocks_pushed_out_are_never_made_and_memory_stays_bounded():
    curve = EquityCurve(10)
    for k in range(1000):
        curve.owe([float(60 * (4 * k + j)) for j in range(4)], float(k))
    assert curve._owed_count < 10 + 4 and len(curve._owed) <= 4  # what is held is what can still show
    assert list(curve.points()) == [(float(60 * j), float(j // 4)) for j in range(3990, 4000)]


def test_the_trackers_curve_reads_through_owed_blocks():
    tracker = PortfolioTracker({"binance": {"USDT": 1000.0}}, equity_history_points=10)
    tracker.curve.owe([60.0, 120.0], 1000.0)
    assert list(tracker.equity_history) == [(60.0, 1000.0), (120.0, 1000.0)]
    state = tracker.to_state()
    assert state["equity_history"] == [[60.0, 1000.0], [120.0, 1000.0]]
    tracker.curve.owe([180.0], [999.5])
    restored = PortfolioTracker({"binance": {"USDT": 1000.0}}, equity_history_points=10)
    restored.restore_curve(tracker.to_state())
    assert list(restored.equity_history) == [(60.0, 1000.0), (120.0, 1000.0), (180.0, 999.5)]
