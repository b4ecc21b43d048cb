"""run_bot.py download: real ccxt binance objects against a local klines server (tests/market/fake_klines.py)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from bot import cli_candles
from bot.market.candle_store import candle_path, read_series
from tests.market.fake_klines import START_MS, FakeKlines
from tests.polling import wait_for

ROOT = Path(__file__).resolve().parents[2]
SINCE = "2026-01-01T00:00:00Z"


def _config(tmp_path: Path, fake: FakeKlines, rate_limit_ms: int = 20, retries: int = 3) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({
        "market": {"exchanges": ["binance"], "symbols": ["BTC/USDT", "ETH/USDT"],
                   "exchange_options": {"binance": fake.exchange_options(rate_limit_ms)},
                   "live": {"retry_attempts": retries, "backoff_base_seconds": 0.01, "backoff_max_seconds": 0.05,
                            "rate_limit_backoff_seconds": 0.05}}}))
    return path


def _until(bars: int) -> str:
    from bot.timestamps import iso_utc

    return iso_utc((START_MS + bars * 60_000) / 1000)


def _download(tmp_path, fake, bars, symbols=("BTC/USDT",), **kw) -> int:
    argv = ["--exchange", "binance", "--symbols", *symbols, "--timeframe", "1m", "--since", SINCE,
            "--until", _until(bars), "--data", str(tmp_path / "candles"), "--config", str(_config(tmp_path, fake, **kw))]
    return cli_candles.download(argv)


def _assert_file_holds(tmp_path, fake, symbol, bars):
    series = read_series(candle_path(tmp_path / "candles", "binance", symbol, "1m"))
    ts, values = fake.bars(symbol)
    keep = ts < START_MS + bars * 60_000
    np.testing.assert_array_equal(series.ts, ts[keep])
    np.testing.assert_array_equal(series.values, values[keep])  # exact: the floats went through as strings


# ccxt's sync rate limiter (ccxt/base/exchange.py Exchange.throttle, what make_client builds) sleeps
# before each request until rateLimit * cost ms have passed since the previous request STARTED
# (lastRestRequestTimestamp is set as a request is sent): no burst, no bucket capacity. binance's
# spot klines cost 0.4 (ccxt/binance.py, api public get), so rateLimit 750 spaces the sends by at
# least S = 300 ms. The server sees arrivals, which scheduling can make late by up to some D ms,
# so in any window of W = 600 ms it gets at most ceil((W + D) / S): 2 when all are on time, and
# no more than 3 while no arrival is late by more than 300 ms (the slack for a loaded CI machine).
# Unpaced, each symbol's 4 requests arrive ~10 ms apart (local server): caught unless each took
# over 200 ms.
KLINES_RATE_LIMIT_MS = 750  # -> 300 ms between klines requests
KLINES_WINDOW = (3, 600.0)  # (most requests, window ms) the fake accepts; a 4th within 600 ms gets 429


def test_download_paginates_within_the_rate_limit_and_stores_exactly_the_exchanges_bars(tmp_path, capsys):
    with FakeKlines(bars=3500, window_limit=KLINES_WINDOW) as fake:
        assert _download(tmp_path, fake, 3500, symbols=("BTC/USDT", "ETH/USDT"), rate_limit_ms=KLINES_RATE_LIMIT_MS) == 0
        assert fake.too_soon == 0, f"requests over {KLINES_WINDOW[0]} per {KLINES_WINDOW[1]:.0f} ms: {fake.too_soon}"
        assert fake.klines_requests == 8  # 4 pages of at most 1000 per symbol, none repeated
    _assert_file_holds(tmp_path, fake, "BTC/USDT", 3500)
    _assert_file_holds(tmp_path, fake, "ETH/USDT", 3500)
    assert "3500 new bars in 4 requests" in capsys.readouterr().out


def test_the_window_check_catches_a_client_without_its_rate_limiter(tmp_path):
    # The control for the test above: the same download with ccxt's limiter off is refused.
    with FakeKlines(bars=3500, window_limit=KLINES_WINDOW) as fake:
        original = fake.exchange_options
        fake.exchange_options = lambda rate_limit_ms: {**original(rate_limit_ms), "enableRateLimit": False}
        _download(tmp_path, fake, 3500, symbols=("BTC/USDT", "ETH/USDT"), rate_limit_ms=KLINES_RATE_LIMIT_MS)
        assert fake.too_soon > 0, "an unpaced client was not caught"


def test_429_5xx_and_a_dropped_connection_mid_download_are_retried(tmp_path):
    with FakeKlines(bars=3000, faults={2: 429, 3: 500, 5: 503, 6: "drop"}) as fake:
        assert _download(tmp_path, fake, 3000) == 0
        assert fake.klines_requests == 3 + 4
    _assert_file_holds(tmp_path, fake, "BTC/USDT", 3000)


def test_a_download_that_fails_keeps_a_complete_file_and_the_rerun_fetches_only_the_rest(tmp_path, capsys):
    with FakeKlines(bars=3500, fail_from=3) as fake:
        assert _download(tmp_path, fake, 3500, retries=1) == 1
        assert "run the same command to resume" in capsys.readouterr().err
        _assert_file_holds(tmp_path, fake, "BTC/USDT", 2000)  # the two pages that came, checked and whole
        fake.fail_from, before = None, fake.klines_requests
        assert _download(tmp_path, fake, 3500) == 0
        assert fake.klines_requests - before == 2  # bars 2000-3499 only
        assert _download(tmp_path, fake, 3500) == 0  # nothing missing: nothing asked for
        assert fake.klines_requests - before == 2
    _assert_file_holds(tmp_path, fake, "BTC/USDT", 3500)


def test_gaps_the_exchange_has_are_listed_not_invented(tmp_path, capsys):
    with FakeKlines(bars=1500, holes=((100, 110),)) as fake:
        assert _download(tmp_path, fake, 1500) == 0
    out = capsys.readouterr().out
    assert "gap: 10 candle(s) missing between 2026-01-01T01:39:00.000Z and 2026-01-01T01:50:00.000Z" in out
    assert len(read_series(candle_path(tmp_path / "candles", "binance", "BTC/USDT", "1m"))) == 1490


@pytest.mark.parametrize("change, message", [
    (("--exchange", "binanse"), "unknown ccxt exchange id 'binanse'"),
    (("--symbols", "DOGE/USDT"), "--symbols: binance has no market DOGE/USDT"),
    (("--timeframe", "7m"), "--timeframe: binance has no timeframe '7m'"),
    (("--since", "yesterday"), "--since: must be an ISO 8601 date"),
])
def test_unknown_exchange_symbol_or_timeframe_is_refused_before_any_candle_request(tmp_path, capsys, change, message):
    with FakeKlines(bars=100) as fake:
        argv = ["--exchange", "binance", "--symbols", "BTC/USDT", "--timeframe", "1m", "--since", SINCE,
                "--until", _until(100), "--data", str(tmp_path / "candles"), "--config", str(_config(tmp_path, fake))]
        argv[argv.index(change[0]) + 1] = change[1]
        assert cli_candles.download(argv) == 2
        assert fake.klines_requests == 0
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "candles").exists()


def test_sigint_mid_download_leaves_a_complete_file_and_the_same_command_resumes(tmp_path):
    # 6 pages; the server holds the third request unanswered, so the process is interrupted for
    # real while it waits for it, with exactly two pages (2000 bars) received.
    with FakeKlines(bars=6000, hold_from=3) as fake:
        config = _config(tmp_path, fake)
        argv = [sys.executable, str(ROOT / "run_bot.py"), "download", "--exchange", "binance", "--symbols",
                "BTC/USDT", "--since", SINCE, "--until", _until(6000), "--data", str(tmp_path / "candles"),
                "--config", str(config)]
        process = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            wait_for(lambda: fake.klines_requests >= 3 or process.poll() is not None, timeout=60,
                     what="the third page asked for")
            process.send_signal(signal.SIGINT)
            _out, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == 1, err
        assert "interrupted" in err
        path = candle_path(tmp_path / "candles", "binance", "BTC/USDT", "1m")
        partial = read_series(path)  # complete and checked
        ts, values = fake.bars("BTC/USDT")
        np.testing.assert_array_equal(partial.ts, ts[:2000])
        np.testing.assert_array_equal(partial.values, values[:2000])
        fake.hold_from = None
        fake.release.set()
        before = fake.klines_requests
        assert _download(tmp_path, fake, 6000) == 0
        assert fake.klines_requests - before == 4  # bars 2000-5999 only
    _assert_file_holds(tmp_path, fake, "BTC/USDT", 6000)


def test_a_damaged_file_already_there_is_refused_and_left_alone(tmp_path, capsys):
    path = candle_path(tmp_path / "candles", "binance", "BTC/USDT", "1m")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PAR1 not really parquet")
    with FakeKlines(bars=100) as fake:
        assert _download(tmp_path, fake, 100) == 2
        assert fake.klines_requests == 0
    assert path.read_bytes() == b"PAR1 not really parquet"
    assert "not a readable Parquet candle file" in capsys.readouterr().err
