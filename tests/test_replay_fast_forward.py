"""The replay fast-forward oracle: a recording replayed with --fast skipping quiet ticks in bulk
(bot/fast_forward.py on ReplayMarket.lookahead) writes exactly what stepping every tick writes,
and each strategy's screen never calls a tick quiet on which its on_snapshot signals.

One busy simulator run (every strategy active: momentum and news trade, arbitrage signals and
misses, stat_arb tests pairs, transfers rebalance the wallets) is recorded in the test, then
replayed stepped (replay.fast_forward: false) and fast-forwarded; the files on disk are compared.
"""
from __future__ import annotations

import json

import pytest

from bot.engine import BotEngine
from bot.fast_forward import FastForward
from tests.replay_runs import BUSY, outputs, record, replay, replay_engine

TICKS = 1500


@pytest.fixture(scope="module")
def busy_recording(tmp_path_factory):
    folder = tmp_path_factory.mktemp("busy")
    return record(folder, TICKS, BUSY)


def test_a_fast_forwarded_replay_writes_what_stepping_writes(busy_recording, tmp_path):
    skipped = replay(busy_recording, tmp_path / "fast", BUSY, fast=True)
    assert replay(busy_recording, tmp_path / "stepped", BUSY, fast=False) == 0
    fast, stepped = outputs(tmp_path / "fast"), outputs(tmp_path / "stepped")
    trades = [json.loads(line) for line in stepped["trades"].decode().splitlines()]
    misses = stepped["misses"].decode().splitlines()
    # The run is worth comparing: trades and misses happen, and most ticks were skipped around them.
    assert {t["strategy"] for t in trades} >= {"momentum", "news", "stat_arb"}, {t["strategy"] for t in trades}
    assert any(t.get("entry") == "transfer_out" for t in trades)  # the rebalancer moved coins
    assert any(t.get("entry") == "borrow_fee" for t in trades)  # shorts were open, and billed
    assert any(json.loads(m)["strategy"] == "arbitrage" for m in misses)
    assert skipped > TICKS // 2, skipped
    for name in ("trades", "equity", "misses", "state", "activity", "notifications"):
        assert fast[name] == stepped[name], f"{name} differs between the fast-forwarded and the stepped replay"


def test_replay_fast_forward_can_be_turned_off(busy_recording, tmp_path):
    engine = replay_engine(busy_recording, tmp_path / "off", BUSY, fast=False)
    try:
        engine.run_fast(50)
        assert engine.fast_forward is None and engine.ticks_run == 50
    finally:
        engine.close()


def test_no_screen_calls_quiet_a_tick_its_strategy_signals_on(busy_recording, tmp_path):
    """Stepping every tick, each strategy's quiet_ticks is asked about the next 32 ticks whenever the
    engine is idle; then, on every tick it called quiet (until anything is booked), on_snapshot must
    have given no signal."""
    engine: BotEngine = replay_engine(busy_recording, tmp_path / "screens", BUSY, fast=False)
    runner = FastForward(engine)
    signalled: set[tuple[str, int]] = set()
    for name, strategy in engine.manager.strategies.items():
        def spy(snapshot, view, _inner=strategy.on_snapshot, _name=name):
            signals = _inner(snapshot, view)
            if signals:
                signalled.add((_name, snapshot.tick))
            return signals
        strategy.on_snapshot = spy
    predictions = []  # (strategy, first tick, ticks called quiet, ledger count then)
    booked = {}  # tick -> ledger count after it
    try:
        while not engine.loop.wait_for_stop(0):
            if runner._idle():
                lookahead = engine.source.lookahead(32)
                for name, strategy in engine.manager.strategies.items():
                    if len(lookahead):
                        quiet = strategy.quiet_ticks(lookahead, engine.portfolio.view_for(name))
                        predictions.append((name, lookahead.start_tick, quiet, engine.ledger.count))
            engine.tick()
            if engine.last_snapshot is not None:
                booked[engine.last_snapshot.tick] = engine.ledger.count
    finally:
        engine.close()
    checked = {name: 0 for name in engine.manager.strategies}
    for name, start, quiet, count in predictions:
        for tick in range(start, start + quiet):
            if booked.get(tick) != count:
                break  # something was booked: the books the screen assumed have changed
            assert (name, tick) not in signalled, f"{name}'s screen called tick {tick} quiet; it signalled there"
            checked[name] += 1
    # The screens are not trivially "never quiet", and signals did happen under them.
    assert all(count > TICKS for count in checked.values()), checked
    assert {name for name, _ in signalled} >= {"arbitrage", "momentum", "news", "stat_arb"}, signalled


@pytest.mark.parametrize("fast", [True, False])
def test_books_entries_replace_the_state_file_only_when_trades_do(busy_recording, tmp_path, monkeypatch, fast):
    """Stepped, every tick with ledger lines (a trade, a transfer sent or landed, a borrow fee) replaces
    portfolio_state.json; fast-forwarded, the file is a checkpoint (every STATE_WRITE_SECONDS of wall
    time, here never, and at close) for the books' entries as for trades: the ledger has them all."""
    import bot.engine as engine_module

    monkeypatch.setattr(engine_module, "STATE_WRITE_SECONDS", 1e12)
    engine = replay_engine(busy_recording, tmp_path / ("fast" if fast else "stepped"), BUSY, fast=fast)
    engine._last_state_write = 1e12  # no checkpoint during the run
    writes = []
    write = engine.data_flow.write_state
    monkeypatch.setattr(engine.data_flow, "write_state", lambda: (writes.append(engine.last_snapshot.tick), write())[1])
    try:
        engine.run_fast(None)
        entries = [json.loads(line) for line in engine.ledger.path.read_text().splitlines()]
        assert any(e.get("entry") == "transfer_out" for e in entries)
        assert any(e.get("entry") == "borrow_fee" for e in entries)
        if fast:
            assert writes == []
        else:
            books_ticks = {e["tick"] for e in entries if "entry" in e} - {e["tick"] for e in entries if "entry" not in e}
            assert books_ticks and set(writes) >= books_ticks, "a tick with the books' lines left the state as it was"
    finally:
        engine.close()
