"""run_bot.py import: the common OHLCV CSV layout into the candle store; a malformed file changes nothing."""
from __future__ import annotations

import numpy as np
import pytest

from bot import cli_candles
from bot.market.candle_store import candle_path, read_series
from bot.timestamps import iso_utc
from tests.candle_files import START_MS, walk


def _csv(path, ts, values, iso=False, header=True):
    lines = ["timestamp,open,high,low,close,volume"] if header else []
    for t, row in zip(ts.tolist(), values.tolist()):
        stamp = iso_utc(t / 1000) if iso else str(t)
        lines.append(",".join([stamp] + [repr(v) for v in row]))
    path.write_text("\n".join(lines) + "\n")


def _import(tmp_path, csv_file, symbol="BTC/USDT") -> int:
    return cli_candles.import_([str(csv_file), "--exchange", "binance", "--symbol", symbol, "--timeframe", "1m",
                                "--data", str(tmp_path / "candles")])


@pytest.mark.parametrize("iso", [False, True])
def test_a_csv_in_ms_or_iso_is_stored_exactly(tmp_path, iso):
    ts, values = walk(500)
    _csv(tmp_path / "in.csv", ts, values, iso=iso)
    assert _import(tmp_path, tmp_path / "in.csv") == 0
    stored = read_series(candle_path(tmp_path / "candles", "binance", "BTC/USDT", "1m"))
    np.testing.assert_array_equal(stored.ts, ts)
    np.testing.assert_array_equal(stored.values, values)


def test_rows_out_of_order_and_duplicates_are_fixed_and_said(tmp_path, capsys):
    ts, values = walk(100)
    order = np.r_[0:50, 60:100, 50:60, 10:15]  # a block moved to the end, five rows twice
    _csv(tmp_path / "in.csv", ts[order], values[order], header=False)
    assert _import(tmp_path, tmp_path / "in.csv") == 0
    stored = read_series(candle_path(tmp_path / "candles", "binance", "BTC/USDT", "1m"))
    np.testing.assert_array_equal(stored.ts, ts)
    out = capsys.readouterr().out
    assert "5 duplicate candle(s) dropped" in out and "candle(s) out of order put back in time order" in out


@pytest.mark.parametrize("line, message", [
    ("{t},100,101,99,100.5", "line 4: 5 fields, expected 6"),
    ("{t},100,99,98,100.5,3", "line 4: high 99 / low 98 do not enclose open 100 and close 100.5"),
    ("{t},100,101,99,abc,3", "line 4: could not convert string to float: 'abc'"),
    ("yesterday,100,101,99,100.5,3", "line 4: timestamp 'yesterday' is neither ms since the epoch nor an ISO 8601"),
    ("1767225600,100,101,99,100.5,3", "line 4: timestamp '1767225600' looks like seconds"),
    ("{t},100,101,99,100.5,-1", "line 4: prices must be above 0 and the volume at least 0"),
])
def test_a_malformed_line_refuses_the_file_naming_it_and_writes_nothing(tmp_path, capsys, line, message):
    ts, values = walk(5)
    _csv(tmp_path / "in.csv", ts, values)
    rows = (tmp_path / "in.csv").read_text().splitlines()
    rows[3] = line.format(t=START_MS + 10 * 60_000)
    (tmp_path / "in.csv").write_text("\n".join(rows) + "\n")
    assert _import(tmp_path, tmp_path / "in.csv") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path / 'in.csv'}: {message}") and err.count("\n") == 1
    assert not (tmp_path / "candles").exists()


def test_importing_into_a_file_already_there_merges_and_leaves_it_whole_on_a_bad_csv(tmp_path):
    ts, values = walk(200)
    _csv(tmp_path / "a.csv", ts[:120], values[:120])
    _csv(tmp_path / "b.csv", ts[100:], values[100:])
    assert _import(tmp_path, tmp_path / "a.csv") == 0
    assert _import(tmp_path, tmp_path / "b.csv") == 0
    path = candle_path(tmp_path / "candles", "binance", "BTC/USDT", "1m")
    np.testing.assert_array_equal(read_series(path).values, values)
    before = path.read_bytes()
    (tmp_path / "bad.csv").write_text("timestamp,open,high,low,close,volume\n1767225600000,1,1,1\n")
    assert _import(tmp_path, tmp_path / "bad.csv") == 2
    assert path.read_bytes() == before
