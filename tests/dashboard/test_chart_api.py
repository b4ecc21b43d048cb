"""GET /api/candles: paging, refusals, fills from the ledger file, and indicator values checked
against independent computations (pandas ewm, a hand-written Wilder RSI, numpy spreads)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bot.timestamps import parse_iso
from bot.strategies.cointegration import EngleGrangerResult
from bot.strategies.stat_arb import _PairState
from bot.strategies.stat_arb_pairs import PairCandidate
from tests.dashboard.conftest import force_trade, ledger_lines

URL = "/api/candles"


def page(client, **params):
    answer = client.get(URL, query_string={"exchange": "binance", "symbol": "BTC/USDT", **params})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_pages_back_to_the_start_of_the_data_without_gaps_or_overlaps(client, engine):
    newest = page(client, limit=400)
    assert len(newest["candles"]) == 400 and newest["has_more"]
    times = [c["time"] for c in newest["candles"]]
    assert times == sorted(times) and all(b - a == 60 for a, b in zip(times, times[1:]))
    seen, answer = list(times), newest
    while answer["has_more"]:
        answer = page(client, limit=400, before=seen[0])
        older = [c["time"] for c in answer["candles"]]
        assert older and older[-1] == seen[0] - 60
        seen = older + seen
    assert seen[0] == newest["first_time"] and len(seen) == len(set(seen))
    # The archive holds more than the source keeps (600 minutes kept, the rest archived at start).
    source_kept = engine.source.candles("binance", "BTC/USDT", 10**6)
    assert [int(c.ts) for c in source_kept] == seen[-len(source_kept):]
    last = source_kept[-1]
    assert newest["candles"][-1] == {"time": int(last.ts), "open": last.open, "high": last.high, "low": last.low,
                                     "close": last.close, "volume": last.volume}


def test_after_follows_new_candles_as_they_close(client, engine):
    before = page(client, limit=5)
    last = before["candles"][-1]["time"]
    assert page(client, after=last)["candles"] == []
    engine.run_fast(200)  # three more minutes at 1 s a tick
    newer = [c["time"] for c in page(client, after=last)["candles"]]
    assert newer[:3] == [last + 60, last + 120, last + 180]


BAD = [
    ({"timeframe": "5m"}, 400, "timeframe"),
    ({"limit": "0"}, 400, "limit"),
    ({"limit": "1001"}, 400, "limit"),
    ({"limit": "many"}, 400, "limit"),
    ({"before": "yesterday"}, 400, "before"),
    ({"before": "-5"}, 400, "before"),
    ({"before": "100", "after": "50"}, 400, "after"),
    ({"colour": "red"}, 400, "colour"),
    ({"exchange": "mtgox"}, 404, "exchange"),
    ({"symbol": "DOGE/USDT"}, 404, "symbol"),
]


def test_bad_parameters_are_refused_naming_the_field(client):
    for params, status, field in BAD:  # one engine for all (each case changes nothing)
        answer = client.get(URL, query_string={"exchange": "binance", "symbol": "BTC/USDT", **params})
        body = answer.get_json()
        assert (answer.status_code, body["field"]) == (status, field), (params, body)
        assert field in body["error"], (params, body)


def test_a_missing_market_is_named(client):
    answer = client.get(URL, query_string={"symbol": "BTC/USDT"})
    assert answer.status_code == 400 and answer.get_json()["field"] == "exchange"


def test_markers_are_the_ledgers_fills_on_those_candles(client, engine):
    force_trade(engine, "buy", "BTC/USDT", 0.001, reason="chart test: <b>buy</b>")
    forced = engine.ledger.recent(1)[0]
    exchange = forced.exchange
    engine.run_fast(120)  # the fill's candle closes
    answer = page(client, limit=1000, exchange=exchange)
    start, end = answer["candles"][0]["time"], answer["candles"][-1]["time"] + 60
    on_file = [line for line in ledger_lines(engine) if line["exchange"] == exchange and line["symbol"] == "BTC/USDT"
               and start <= parse_iso(line["ts"]) < end]
    assert on_file, "the ledger has no fill in these candles"
    assert [m["id"] for m in answer["markers"]] == [line["id"] for line in on_file]
    for marker, line in zip(answer["markers"], on_file):
        assert (marker["side"], marker["qty"], marker["price"], marker["strategy"], marker["reason"],
                marker["realized_pnl"]) == (line["side"], line["qty"], line["price"], line["strategy"],
                                            line["reason"], line["realized_pnl"])
        assert marker["time"] == int(parse_iso(line["ts"]) // 60 * 60)
    assert any(m["reason"] == "chart test: <b>buy</b>" for m in answer["markers"])
    # A page that ends before the fill's minute does not carry it.
    fill_minute = int(forced.ts // 60 * 60)
    earlier = page(client, limit=30, exchange=exchange, before=fill_minute)
    assert earlier["candles"][-1]["time"] == fill_minute - 60
    assert forced.id not in {m["id"] for m in earlier["markers"]}


def wilder_rsi(closes: list[float], period: int) -> float:
    """RSI of the last close, written out from Wilder's definition (independent of the bot)."""
    changes = [b - a for a, b in zip(closes, closes[1:])]
    gain = sum(max(c, 0) for c in changes[:period]) / period
    loss = sum(max(-c, 0) for c in changes[:period]) / period
    for c in changes[period:]:
        gain = (gain * (period - 1) + max(c, 0)) / period
        loss = (loss * (period - 1) + max(-c, 0)) / period
    return 100.0 if loss == 0 else 100 - 100 / (1 + gain / loss)


def test_momentum_series_equal_pandas_ewm_and_wilder_on_the_decision_window(client, engine):
    answer = page(client, limit=50)
    momentum = answer["indicators"]["momentum"]
    params = engine.manager.strategies["momentum"].params
    assert (momentum["fast"], momentum["slow"], momentum["rsi_period"]) == (params.fast, params.slow, params.rsi_period)
    window = momentum["window"]
    assert window == max(3 * params.slow, 3 * params.rsi_period, params.volatility_period) + 1
    closes = {int(c.ts): c.close for c in engine.candle_archive.candles(("binance", "BTC/USDT"))}
    times = sorted(closes)
    for i in (0, 25, 49):
        t = momentum["times"][i]
        end = times.index(t) + 1
        closes_window = [closes[x] for x in times[end - window:end]]
        for name, period in (("ema_fast", params.fast), ("ema_slow", params.slow)):
            # TA-Lib's convention: seeded with the SMA of the first `period` closes, then ewm(adjust=False).
            seeded = pd.Series([np.mean(closes_window[:period])] + closes_window[period:])
            expected = seeded.ewm(span=period, adjust=False).mean().iloc[-1]
            assert momentum[name][i] == pytest.approx(expected, rel=1e-12), (name, i)
        assert momentum["rsi"][i] == pytest.approx(wilder_rsi(closes_window, params.rsi_period), rel=1e-9)


def test_momentum_series_are_null_before_a_full_window(client, engine):
    first = page(client, limit=1, before=page(client, limit=1)["first_time"] + 60 * 10)
    assert first["indicators"]["momentum"]["ema_fast"] == [None]


def test_the_stat_arb_z_score_equals_a_numpy_rolling_computation(client, engine):
    strategy = engine.manager.strategies["stat_arb"]
    candidate = PairCandidate("XRP/USDT", "ADA/USDT")
    model = EngleGrangerResult(p_value=0.01, t_stat=-4.0, beta=0.8, alpha=-0.2, residual_std=0.01, observations=600)
    with engine.lock:
        strategy.pairs = {candidate: _PairState(candidate, "binance", model)}
    answer = client.get(URL, query_string={"exchange": "binance", "symbol": "ADA/USDT", "limit": 20}).get_json()
    spread = answer["indicators"]["stat_arb"]
    assert (spread["pair"], spread["entry_z"], spread["exit_z"], spread["stop_z"]) == (
        "XRP/USDT vs ADA/USDT", strategy.params.entry_z, strategy.params.exit_z, strategy.params.stop_z)
    y = pd.Series({int(c.ts): c.close for c in engine.candle_archive.candles(("binance", "XRP/USDT"))})
    x = pd.Series({int(c.ts): c.close for c in engine.candle_archive.candles(("binance", "ADA/USDT"))})
    residual = np.log(y) - 0.8 * np.log(x) + 0.2
    lookback = strategy.params.lookback_candles
    z = (residual - residual.rolling(lookback).mean()) / residual.rolling(lookback).std(ddof=1)
    expected = [z[t] for t in spread["times"]]
    assert spread["z"] == pytest.approx(expected, rel=1e-6, abs=1e-9)
    # Not on the pair's exchange: no z there.
    other = client.get(URL, query_string={"exchange": "kraken", "symbol": "ADA/USDT", "limit": 5}).get_json()
    assert "stat_arb" not in other["indicators"]


def test_the_news_score_decays_from_each_headline(client, engine):
    engine.run_fast(3600)  # an hour of headlines arriving after the restart
    strategy = engine.manager.strategies["news"]
    half_life = strategy.params.half_life_minutes * 60
    checked = 0
    for symbol in sorted(strategy.symbol_by_asset.values()):
        news = client.get(URL, query_string={"exchange": "binance", "symbol": symbol, "limit": 300}).get_json()
        news = news["indicators"]["news"]
        held = list(strategy._headlines.get(symbol, ()))
        # Only a headline arriving inside the window tells "counts from its arrival" apart.
        checked += sum(1 for h in held if news["times"][0] + 60 < h.received_ts < news["times"][-1])
        for t, score in zip(news["times"], news["scores"]):
            now = t + 60
            expected = sum(h.score * 2 ** (-(now - h.ts) / half_life) for h in held
                           if h.received_ts <= now and now - h.ts < half_life * math.log2(100))
            assert score == pytest.approx(expected, abs=1e-12), (symbol, t)
    assert checked > 0, "no headline arrived inside the charted minutes"


def test_the_status_bar_speed_control_shows_only_where_the_clock_can_change(client, engine, monkeypatch):
    shown = client.get("/market").get_data(as_text=True)
    form = shown.split('id="speed-form"', 1)[1].split(">", 1)[0]
    assert 'data-applies="yes"' in form and "hidden" not in form
    assert f'value="{engine.speed}"' in shown.split('id="speed-input"', 1)[1][:300]
    monkeypatch.setattr(engine.source, "kind", "live")  # a market read in real time
    hidden = client.get("/market").get_data(as_text=True).split('id="speed-form"', 1)[1].split(">", 1)[0]
    assert 'data-applies="no"' in hidden and "hidden" in hidden
