"""ActivityLog.trades_executed: the line record("trades_executed", ...) writes, formatted directly."""
import pytest

from bot.notify import activity as activity_module
from bot.notify.activity import ActivityLog


class FixedClock:
    def __init__(self, now):
        self.now = now

    def time(self):
        return self.now


def lines_of(tmp_path, monkeypatch, write, now=1_767_225_600.123456):
    monkeypatch.setattr(activity_module, "time", FixedClock(now))
    log = ActivityLog(tmp_path)
    write(log)
    log.close()
    return (tmp_path / "activity.jsonl").read_bytes(), log.write_errors


CASES = [
    ("momentum", "momentum-632-1", "momentum_entry", ["T00000001"], "filled", "EMA5 crossed above EMA13"),
    ("arbitrage", "arb-1", "arbitrage", ["T00000002", "T00000003"], "partial", 'quote " \\ \n é ✓ 😀 \x07'),
    ("x", "", "", [], "filled", ""),
    ("momentum", "m-1", "momentum_exit", ("T00000004",), "filled", "a tuple of ids: json writes a list"),
    ("momentum", "m-1", "momentum_exit", ["T00000005"], None, "a field that is not a str"),
    ("momentum", 7, "momentum_exit", ["T00000005"], "filled", "an int id"),
    ("momentum", "m-1", "momentum_exit", [5], "filled", "an id that is not a str"),
    ("momentum", "m-1", "momentum_exit", "T00000006", "filled", "ids as one str: json writes the str"),
    ("momentum", "m-1", "momentum_exit", ["T00000007"], "filled", "  spaced reason \t "),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("now", [1_767_225_600.123456, 1_767_225_600.0, 1_767_225_600.9996])
def test_the_line_is_records(tmp_path, monkeypatch, case, now):
    strategy, signal_id, kind, ids, status, reason = case
    fast = lines_of(tmp_path / "fast", monkeypatch,
                    lambda log: log.trades_executed(strategy, signal_id, kind, ids, status, reason), now)
    plain = lines_of(tmp_path / "plain", monkeypatch,
                     lambda log: log.record("trades_executed", strategy=strategy, signal_id=signal_id, kind=kind,
                                            trades=ids, status=status, reason=reason), now)
    assert fast == plain
    assert fast[0].count(b"\n") == 1


def test_a_lone_surrogate_is_counted_and_nothing_written(tmp_path, monkeypatch):
    write = lambda log: log.trades_executed("momentum", "m-1", "momentum_entry", ["T1"], "filled", "bad \ud800")
    assert lines_of(tmp_path / "fast", monkeypatch, write) == (b"", 1)
    plain = lambda log: log.record("trades_executed", strategy="momentum", reason="bad \ud800")
    assert lines_of(tmp_path / "plain", monkeypatch, plain) == (b"", 1)


def test_record_still_refuses_nan_by_counting(tmp_path, monkeypatch):
    written, errors = lines_of(tmp_path, monkeypatch, lambda log: log.record("order_missed", latency_ms=float("nan")))
    assert (written, errors) == (b"", 1)
