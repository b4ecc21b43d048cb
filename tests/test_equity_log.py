"""data/equity.jsonl: every sample kept (none dropped, across a restart), each decomposed; a failed
append is counted and trading goes on; TradeLedger.since serves catch-up from memory or the file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.config import parse_config
from bot.engine import BotEngine
from bot.accounting.equity_log import EQUITY_FILE, read_equity
from bot.accounting.ledger import TradeLedger
from bot.models import Trade
from bot.timestamps import parse_iso
from bot.storage_reading import CorruptFileError

START_TS = parse_iso("2026-01-01T00:00:00Z")


def engine_on(root: Path) -> BotEngine:
    config = parse_config({"storage": {"data_dir": str(root / "data"), "log_dir": str(root / "logs"),
                                       "fsync": False, "equity_history_points": 10}})
    engine = BotEngine(config)
    engine.open()
    return engine


def lines(root: Path) -> list[dict]:
    text = (root / "data" / EQUITY_FILE).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def test_every_sample_is_kept_across_a_restart_and_decomposed(tmp_path):
    engine = engine_on(tmp_path)
    engine.run_fast(2941)  # ticks 0..2940: the last one takes a sample, so the marks are the sample's
    with engine.lock:
        holdings = engine.portfolio.holdings_pnl()
        nets = {name: s.realized_pnl - s.fees_usdt - s.transfer_fees_usdt - s.borrow_fees_usdt
                + engine.portfolio.unrealized_pnl(name) for name, s in engine.portfolio.stats.items()}
        last_sample = engine.portfolio.equity_history[-1]
    engine.close()
    first = lines(tmp_path)
    # one sample per 60 market seconds from the first tick, far more than the 10 the state keeps
    assert len(first) == 50
    assert [parse_iso(r["ts"]) for r in first] == [START_TS + 60.0 * i for i in range(50)]
    assert all(r["schema_version"] == 1 for r in first)
    last = first[-1]
    assert parse_iso(last["ts"]) == last_sample[0] and last["equity"] == last_sample[1]
    assert last["trading_equity"] == pytest.approx(last["equity"] - holdings)
    if engine.ledger.last_tick != 2940:  # no fill after the sample: the books are the sample's
        assert last["strategies"].keys() == nets.keys()
        for name, net in nets.items():
            assert last["strategies"][name] == pytest.approx(net, abs=1e-9), name
    engine = engine_on(tmp_path)
    engine.run_fast(600)
    engine.close()
    both = lines(tmp_path)
    times = [parse_iso(r["ts"]) for r in both]
    assert len(both) == 60 and times == sorted(times) and times[50] == START_TS + 3000.0
    series = read_equity(tmp_path / "data" / EQUITY_FILE)
    assert len(series) == 60 and list(series.times) == times
    assert list(series.equity) == [r["equity"] for r in both]


def test_a_refused_sample_waits_and_is_written_when_the_disk_takes_it(tmp_path, monkeypatch):
    engine = engine_on(tmp_path)
    engine.run_fast(61)

    def refuse(records):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(engine.equity_log._writer, "append_encoded", refuse)  # this file only (its lines come encoded)
    engine.run_fast(120)
    assert engine.equity_log.failures == 2 and "No space left" in engine.equity_log.last_error
    assert engine.ticks_run == 181
    assert engine.faults.side_errors.get("equity") == 2  # counted and reported as the equity part's
    assert len(lines(tmp_path)) == 2  # the samples before the failure are still there
    monkeypatch.undo()
    engine.run_fast(60)
    engine.close()
    written = lines(tmp_path)
    times = [parse_iso(r["ts"]) for r in written]
    assert len(written) == 5 and times == sorted(times), "the two refused samples came later, in order"
    assert [b - a for a, b in zip(times, times[1:])] == [60.0] * 4


def test_a_damaged_equity_line_is_named(tmp_path):
    path = tmp_path / EQUITY_FILE
    path.write_text('{"schema_version": 1, "ts": "2026-01-01T00:00:00.000Z", "equity": 1, '
                    '"trading_equity": 1, "strategies": {}}\n{"schema_version": 1, "ts": "x"}\n', encoding="utf-8")
    with pytest.raises(CorruptFileError, match=r"equity.jsonl:2: equity sample lacks equity"):
        read_equity(path)


def make_trade(seq: int) -> Trade:
    return Trade(id=f"T{seq:08d}", seq=seq, ts=1_767_225_600.0, tick=seq, strategy="momentum",
                 signal_id=f"s{seq}", kind="test", exchange="ex", symbol="BTC/USDT", side="buy", qty=1.0,
                 price=100.0, fee=0.1, fee_asset="USDT", quote_usdt_rate=1.0, realized_pnl=0.0, status="filled",
                 reason="")


def test_ledger_since_from_memory_and_from_the_file(tmp_path):
    ledger = TradeLedger(tmp_path, fsync=False, recent_size=5)
    ledger.append([make_trade(seq) for seq in range(1, 21)])
    assert [t.seq for t in ledger.since(17)] == [18, 19, 20]          # memory
    assert isinstance(ledger.since(17), type(iter([])))
    assert [t.seq for t in ledger.since(3, 7)] == [4, 5, 6, 7]          # the file
    assert [t.seq for t in ledger.since(0)] == list(range(1, 21))
    assert list(ledger.since(20)) == [] and list(ledger.since(25)) == []
    reopened = TradeLedger(tmp_path, fsync=False, recent_size=100)
    reopened.load()
    assert [t.seq for t in reopened.since(0, 3)] == [1, 2, 3]
    ledger.close()


class _Stats:
    def __init__(self, value):
        self.value = value

    def net_pnl(self, unrealized):
        return self.value if unrealized == 0.0 else self.value + unrealized


class _Books:
    """What equity_record reads of a PortfolioTracker, with any figures."""

    def __init__(self, ts, equity, holdings, stats: dict, unrealized: dict):
        self.equity_history = [(ts - 60.0, 1.0), (ts, equity)]
        self._holdings, self.stats, self._unrealized = holdings, stats, unrealized

    def holdings_pnl(self):
        return self._holdings

    def unrealized_pnl(self, name):
        return self._unrealized.get(name, 0.0)


def test_equity_text_is_equity_line_of_equity_record():
    """The tick's sample formatted from the figures, against the record's way (refusals included)."""
    import random

    from bot.accounting.equity_log import equity_line, equity_record, equity_text

    rng = random.Random(9)
    odd = [float("nan"), float("inf"), -float("inf"), 3, True, -0.0, 0.0, 5e-324, 1e22, 0.1 + 0.2]

    def figure():
        return rng.choice(odd) if rng.random() < 0.1 else rng.uniform(-1e6, 1e6) * 10 ** rng.randint(-12, 6)

    for _ in range(2000):
        names = sorted(rng.sample(["momentum", "stat_arb", "news", 'q"\\é\n', "50%"], rng.randint(0, 4)))
        books = _Books(START_TS + rng.choice([0.0, 0.25, 86_399.0, 1e9]), figure(), figure(),
                       {name: _Stats(figure()) for name in names},
                       {name: figure() for name in names if rng.random() < 0.5})
        try:
            expected = equity_line(equity_record(books))
        except ValueError as exc:  # nan / inf: refused as json refuses them
            with pytest.raises(type(exc)):
                equity_text(books)
            continue
        assert equity_text(books) == expected
