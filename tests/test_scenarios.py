"""Stress scenarios (bot/market/scenarios.py, bot/market/scenario_market.py) against the plain market.

The oracle for "what the market would have been" is the same seed's simulator without the
scenario; the expected moves are hand-computed from the README's table (and the curves' knots
written out below), at the documented times: the default start, 30 market minutes in (tick 1800).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.config import ConfigError, parse_config
from bot.market.sources import build_source
from bot.market.scenario_market import ScenarioHistory, ScenarioMarket
from bot.market.scenarios import SCENARIOS, target_alt

ROOT = Path(__file__).resolve().parents[1]
START = 1800  # tick of the default start: 30 minutes at 1 s ticks
BTC, ADA = "BTC/USDT", "ADA/USDT"
EXCHANGES = ("binance", "kraken", "coinbase")


def sources(name: str, **simulator):
    """(plain simulator, the same simulator with the scenario) on the default market."""
    plain = build_source(parse_config({"market": {"simulator": simulator}}))
    played = build_source(parse_config({"market": {"simulator": {"scenario": name, **simulator}}}))
    assert isinstance(played, ScenarioMarket) and not isinstance(plain, ScenarioMarket)
    return plain, played


def at(tick: int, *markets):
    """Each source's snapshot for `tick` (seek: the scenario is a function of time alone)."""
    out = []
    for market in markets:
        market.seek(tick)
        out.append(market.next_snapshot())
    return out


def mid_ratio(a, b, key) -> float:
    return b.quotes[key].mid / a.quotes[key].mid


def rounding_room(snapshot, key) -> float:
    """The relative error rounding to the price step may add to a mid (a step each side)."""
    return 2 * snapshot.markets[key].price_step / snapshot.quotes[key].mid


def total_depth(book) -> float:
    return sum(qty for _, qty in book.bids) + sum(qty for _, qty in book.asks)


def assert_moved(a, b, key, price: float, spread: float = 1.0, depth: float = 1.0):
    """b's market moved from a's by price (mid), spread (absolute spread) and depth (every level's size)."""
    assert mid_ratio(a, b, key) == pytest.approx(price, abs=rounding_room(a, key)), key
    step = a.markets[key].price_step
    plain_spread, played_spread = a.quotes[key].ask - a.quotes[key].bid, b.quotes[key].ask - b.quotes[key].bid
    assert abs(played_spread - plain_spread * price * spread) <= 2 * step + 1e-12, key
    assert total_depth(b.order_book(*key)) == pytest.approx(total_depth(a.order_book(*key)) * depth, rel=1e-9), key
    assert b.quotes[key].bid_size == pytest.approx(a.quotes[key].bid_size * depth, rel=1e-12)
    # The 24h change is against the price a day ago, before the scenario began: it moved by `price` too.
    expected_change = ((1 + a.quotes[key].change_24h_pct / 100) * price - 1) * 100
    assert b.quotes[key].change_24h_pct == pytest.approx(expected_change, abs=100 * rounding_room(a, key))
    book = b.order_book(*key)
    assert (book.bids[0][0], book.asks[0][0]) == (b.quotes[key].bid, b.quotes[key].ask), "book top = quote"
    assert all(x[0] > y[0] for x, y in zip(book.bids, book.bids[1:])) and not book.crossed


def test_flash_crash_falls_20pct_in_five_minutes_on_thin_wide_books_then_recovers_half():
    plain, crash = sources("flash_crash")
    a, b = at(START + 300, plain, crash)  # the end of the crash phase
    # binance follows the curve on time; kraken 4 s and coinbase 8 s late (knots 3 min -9%, 5 min -20%).
    for exchange, late_minutes in zip(EXCHANGES, (0.0, 4 / 60, 8 / 60)):
        expected = 1 - 0.09 - 0.11 * (2 - late_minutes) / 2
        assert_moved(a, b, (exchange, BTC), expected, spread=6.0, depth=0.25)
        assert_moved(a, b, (exchange, ADA), expected, spread=6.0, depth=0.25)
    assert_moved(a, b, ("binance", "ETH/BTC"), 1.0, spread=6.0, depth=0.25)  # both legs fell alike
    gap = b.quotes[("coinbase", BTC)].mid / b.quotes[("binance", BTC)].mid - a.quotes[("coinbase", BTC)].mid / \
        a.quotes[("binance", BTC)].mid
    assert gap > 0.005, "the exchanges crash seconds apart, so cross-exchange gaps open"
    a, b = at(START + 45 * 60, plain, crash)  # end of the rebound: half the fall is back, books normal
    assert_moved(a, b, ("binance", BTC), 0.90)
    a, b = at(START + 150 * 60, plain, crash)  # over
    assert b.quotes == a.quotes and b.stale == a.stale


def test_exchange_outage_makes_the_first_exchange_stale_for_20_minutes_then_thin_for_five():
    plain, outage = sources("exchange_outage")
    a, b = at(START + 600, plain, outage)
    binance = {key for key in a.markets if key[0] == "binance"}
    assert binance <= b.stale and not binance & set(b.quotes)
    assert all(b.order_book(*key) is None for key in binance)
    assert outage.health()["binance"]["state"] == "down" and outage.health()["kraken"]["state"] == "live"
    others = {key: q for key, q in a.quotes.items() if key[0] != "binance"}
    assert {key: q for key, q in b.quotes.items()} == others
    # Its candles stop at the bar that closed when the outage began; the others' do not.
    start_ts = a.ts - 600
    assert b.history.candles("binance", BTC, 3)[-1].ts == start_ts - 60
    assert b.history.candles("kraken", BTC, 3)[-1].ts == a.history.candles("kraken", BTC, 3)[-1].ts == a.ts - 60
    assert len(b.history.closes("binance", BTC, 50)) == 50
    a, b = at(START + 20 * 60 + 150, plain, outage)  # back, 2.5 minutes into the catch-up
    assert not b.stale and outage.health()["binance"]["state"] == "live"
    depth = 0.5 + 0.5 * (22.5 - 20.01) / (25 - 20.01)  # knots (20.01 min, 0.5) and (25 min, 1.0)
    spread = 2.0 - 1.0 * (22.5 - 20.01) / (25 - 20.01)
    assert_moved(a, b, ("binance", BTC), 1.0, spread=spread, depth=depth)
    assert b.quotes[("kraken", BTC)] == a.quotes[("kraken", BTC)]
    assert b.history.candles("binance", BTC, 1) == a.history.candles("binance", BTC, 1), "the missed bars are back"


def test_stablecoin_depeg_moves_every_usdt_price_by_one_over_the_usdt_value():
    plain, depeg = sources("stablecoin_depeg")
    for minutes, usdt in ((60, 0.95), (90, 0.945), (180, 0.98)):
        a, b = at(START + minutes * 60, plain, depeg)
        in_book = 1.5 if minutes <= 120 else 1.0 + 0.5 * (240 - minutes) / 120
        thinner = 0.7 if minutes <= 120 else 1.0 - 0.3 * (240 - minutes) / 120
        for symbol in (BTC, ADA, "ETH/USDT"):
            assert_moved(a, b, ("binance", symbol), 1 / usdt, spread=in_book, depth=thinner)
        assert_moved(a, b, ("binance", "ETH/BTC"), 1.0)  # neither leg is USDT: untouched
        assert depeg.scenario_status()["usdt_usd"] == pytest.approx(usdt, abs=1e-9)


def test_liquidity_drought_leaves_prices_and_takes_85pct_of_the_depth_for_an_hour():
    plain, drought = sources("liquidity_drought")
    for minutes in (10, 40, 69):
        a, b = at(START + minutes * 60, plain, drought)
        for key in (("binance", BTC), ("kraken", ADA), ("coinbase", "ETH/BTC")):
            assert_moved(a, b, key, 1.0, spread=3.0, depth=0.15)
    a, b = at(START + 5 * 60, plain, drought)  # half way down the drain
    assert_moved(a, b, ("binance", BTC), 1.0, spread=2.0, depth=1 - 0.85 / 2)


def test_news_storm_publishes_45_contradictory_headlines_in_15_minutes():
    plain, storm = sources("news_storm")
    storm.seek(START - 10)
    plain.seek(START - 10)
    published = []
    for _ in range(15 * 60 + 20):
        a, b = plain.next_snapshot(), storm.next_snapshot()
        extra = b.news[len(a.news):]
        assert b.news[:len(a.news)] == a.news
        published += [(b.tick, item) for item in extra]
    assert len(published) == 45
    assert [tick for tick, _ in published] == [START + 20 * i for i in range(45)]
    tones = [storm.news_sentiment(item.id) for _, item in published]
    assert tones == [1, -1] * 22 + [1]
    assert all(item.source == "scenario news_storm" and item.symbols for _, item in published)
    a, b = at(START + 300, plain, storm)
    assert_moved(a, b, ("binance", BTC), 1.0, spread=1.5)


def test_pump_and_dump_lifts_one_alt_60pct_then_drops_it_below_its_start():
    plain, pump = sources("pump_and_dump")
    assert target_alt(plain.symbols) == "ADA" and pump.scenario_status()["asset"] == "ADA"
    a, b = at(START + 20 * 60, plain, pump)
    assert mid_ratio(a, b, ("binance", ADA)) == pytest.approx(1.60, abs=rounding_room(a, ("binance", ADA)))
    kraken = 1 + 0.32 + 0.28 * (5 - 3 / 60) / 5  # 3 s late: between (15 min, +32%) and (20 min, +60%)
    assert mid_ratio(a, b, ("kraken", ADA)) == pytest.approx(kraken, abs=rounding_room(a, ("kraken", ADA)))
    for key in (("binance", BTC), ("binance", "XRP/USDT"), ("binance", "ETH/BTC")):
        assert b.quotes[key] == a.quotes[key]
    a, b = at(START + 35 * 60, plain, pump)
    assert_moved(a, b, ("binance", ADA), 0.85, spread=3.0, depth=0.5)
    a, b = at(START, plain, pump)
    assert [item.symbols for item in b.news[len(a.news):]] == [(ADA,)]


def test_the_candles_show_the_event_while_it_is_in_view_even_after_it_ended():
    plain, crash = sources("flash_crash")
    for tick in (START + 301, START + 150 * 60 + 10):
        a, b = at(tick, plain, crash)
        count = (tick - START) // 60 + 5
        ratios = b.history.closes("binance", BTC, count) / a.history.closes("binance", BTC, count)
        # The bars open at start-4min ... : the last tick of each bar is 59 s after its open.
        assert ratios[:5] == pytest.approx([1.0] * 5)  # the five bars before the start
        assert ratios[5] == pytest.approx(1 - 0.02 * 59 / 60)  # the first bar of the crash
        assert ratios[9] == pytest.approx(1 - 0.09 - 0.11 * (299 / 60 - 3) / 2)  # the bar ending at -20%
        bars = b.history.candles("binance", BTC, count)
        assert bars[9].close == pytest.approx(a.history.candles("binance", BTC, count)[9].close * ratios[9])
        assert all(bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high for bar in bars)


def test_before_its_start_the_scenario_passes_snapshots_through_untouched():
    _, crash = sources("flash_crash")
    inner_snapshots = []
    original = crash._inner.next_snapshot
    crash._inner.next_snapshot = lambda: inner_snapshots.append(original()) or inner_snapshots[-1]
    for _ in range(50):
        assert crash.next_snapshot() is inner_snapshots[-1]
    assert not isinstance(inner_snapshots[-1].history, ScenarioHistory)


def test_a_restart_mid_scenario_continues_the_market_exactly():
    _, straight = sources("flash_crash")
    _, restarted = sources("flash_crash")
    straight.seek(START + 200)
    for _ in range(400):
        straight.next_snapshot()
    straight.drain_events()
    restarted.seek(START + 600)  # a restart 10 minutes in (the trough)
    for _ in range(300):
        a, b = straight.next_snapshot(), restarted.next_snapshot()
        assert a.quotes == b.quotes and a.stale == b.stale and a.news == b.news
        assert a.order_book("kraken", BTC) == b.order_book("kraken", BTC)
        assert np.array_equal(a.history.closes("binance", BTC, 30), b.history.closes("binance", BTC, 30))
    for market in (restarted, straight):  # a fresh source, and one sent back after it had announced
        if market is straight:
            market.seek(START + 600)
            market.next_snapshot()
        events = market.drain_events()
        assert events[0]["state"] == "active" and events[0]["phase"] == "trough"
        assert "in progress since 2026-01-01T00:30:00.000Z" in events[0]["message"]


def test_the_phases_are_announced_at_their_documented_market_times():
    _, crash = sources("flash_crash")
    seen = []
    crash.seek(0)
    for _ in range(START + 150 * 60 + 5):
        crash.next_snapshot()
        seen += [(e["state"], e["phase"], e["market_time"]) for e in crash.drain_events()]
    assert seen == [("scheduled", None, "2026-01-01T00:00:00.000Z"),
                    ("active", "crash", "2026-01-01T00:30:00.000Z"), ("active", "trough", "2026-01-01T00:35:00.000Z"),
                    ("active", "rebound", "2026-01-01T00:45:00.000Z"),
                    ("active", "aftermath", "2026-01-01T01:15:00.000Z"), ("over", None, "2026-01-01T03:00:00.000Z")]


def test_the_start_offset_is_configurable():
    plain, crash = sources("flash_crash", scenario_start_minutes=5)
    a, b = at(300 + 300, plain, crash)
    assert mid_ratio(a, b, ("binance", BTC)) == pytest.approx(0.80, abs=rounding_room(a, ("binance", BTC)))
    assert crash.scenario_status()["starts_at"] == "2026-01-01T00:05:00.000Z"


def test_unknown_or_misplaced_scenarios_are_config_errors_naming_the_key():
    with pytest.raises(ConfigError) as info:
        parse_config({"market": {"simulator": {"scenario": "flash_crsh"}}})
    assert str(info.value) == ("market.simulator.scenario: unknown scenario (got 'flash_crsh') (did you mean "
                               "'flash_crash'?); known: flash_crash, exchange_outage, stablecoin_depeg, "
                               "liquidity_drought, news_storm, pump_and_dump")
    with pytest.raises(ConfigError, match=r"^market.simulator.scenario: only the simulated market"):
        parse_config({"market": {"source": "live", "simulator": {"scenario": "news_storm"}}})
    with pytest.raises(ConfigError, match=r"^market.simulator.scenario_start_minutes: "):
        parse_config({"market": {"simulator": {"scenario_start_minutes": -1}}})


def test_the_command_line_names_the_scenario_and_exits_2_on_a_wrong_one(tmp_path):
    run = subprocess.run([sys.executable, "run_bot.py", "--scenario", "meltdown", "--no-dashboard", "--fast",
                          "--max-ticks", "5", "--data-dir", str(tmp_path / "d"), "--log-dir", str(tmp_path / "l")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "market.simulator.scenario: unknown scenario (got 'meltdown'); known: flash_crash," in run.stderr
    assert not (tmp_path / "d").exists()
    run = subprocess.run([sys.executable, "run_bot.py", "--scenario", "none", "--no-dashboard", "--fast",
                          "--max-ticks", "5", "--data-dir", str(tmp_path / "d"), "--log-dir", str(tmp_path / "l")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "Scenario" not in run.stdout


def test_every_scenario_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Stress scenarios", 1)[1].split("\n## ", 1)[0]
    for name, scenario in SCENARIOS.items():
        assert f"`{name}`" in section, name
        for phase in scenario.phases:
            assert f"`{phase.name}`" in section, (name, phase.name)


def test_the_engine_tells_the_user_each_phase_and_the_outage_and_health_stays_ok(tmp_path):
    from bot.engine import BotEngine

    config = parse_config({"market": {"simulator": {"scenario": "exchange_outage", "scenario_start_minutes": 1}},
                           "storage": {"data_dir": str(tmp_path / "data"), "log_dir": str(tmp_path / "logs"),
                                       "fsync": False}})
    engine = BotEngine(config)
    engine.open()
    try:
        engine.run_fast(60 + 600)  # ten minutes into the outage
        status = engine.facade.status()
        assert status["scenario"]["state"] == "active" and status["scenario"]["phase"] == "outage"
        assert status["health"]["binance"]["state"] == "down"
        assert engine.facade.health()["status"] == "ok", "one exchange down is not a stale market"
        assert engine.facade.market_live()["scenario"] == status["scenario"]
        engine.run_fast(60 * 16)
        messages = [note["message"] for note in engine.notifications.history]
        assert [m for m in messages if m.startswith(("Scenario", "binance"))] == [
            "Scenario exchange_outage scheduled at 2026-01-01T00:01:00.000Z, in 1 minute of market time: "
            "the first exchange stops answering for 20 minutes, then comes back on thin books",
            "Scenario exchange_outage: started 2026-01-01T00:01:00.000Z (phase outage: no quotes, books or candles "
            "from the exchange: its markets are stale)",
            "binance: down (scenario exchange_outage: not answering)",
            "Scenario exchange_outage: phase catch_up from 2026-01-01T00:21:00.000Z: the exchange answers again; "
            "its books are half as deep, spreads x2, then normal",
            "binance: live again",
            "Scenario exchange_outage: over at 2026-01-01T00:26:00.000Z"]
        assert all(counter.errors == 0 for counter in engine.manager.counters.values())
    finally:
        engine.close()


def test_a_week_after_the_end_nothing_is_rewritten_any_more():
    _, crash = sources("flash_crash")
    crash.seek(START + 150 * 60 + 7 * 86_400 - 1)
    assert isinstance(crash.next_snapshot().history, ScenarioHistory), "a 10,000-bar look back still sees it"
    assert not isinstance(crash.next_snapshot().history, ScenarioHistory)


def test_the_ccxt_shaped_reads_show_the_scenario_too():
    plain, crash = sources("flash_crash")
    a, b = at(START + 300, plain, crash)
    key = ("binance", BTC)
    ticker = crash.fetch_ticker(*key)
    assert (ticker["bid"], ticker["ask"], ticker["percentage"]) == (b.quotes[key].bid, b.quotes[key].ask,
                                                                    b.quotes[key].change_24h_pct)
    assert ticker["timestamp"] == plain.fetch_ticker(*key)["timestamp"]
    book = crash.fetch_order_book(*key, limit=5)
    assert book["bids"] == [list(level) for level in b.order_book(*key).bids[:5]]
    assert crash.order_book_for(*key) == b.order_book(*key)
    bars, plain_bars = crash.fetch_ohlcv(*key, limit=3), plain.fetch_ohlcv(*key, limit=3)
    assert [bar[0] for bar in bars] == [bar[0] for bar in plain_bars]
    assert bars[-1][4] == pytest.approx(plain_bars[-1][4] * (1 - 0.09 - 0.11 * (299 / 60 - 3) / 2))
    assert np.array_equal(crash.closes(*key, 5), b.history.closes(*key, 5))
    _, outage = sources("exchange_outage")
    at(START + 60, outage)
    with pytest.raises(LookupError, match="binance is not answering"):
        outage.fetch_ticker(*key)
    assert outage.order_book_for(*key) is None and outage.fetch_ticker("kraken", BTC)["bid"] > 0


def test_our_fills_move_the_market_under_a_scenario_too():
    """ScenarioMarket forwards note_fill: the simulator's impact must not vanish while a scenario plays."""
    plain, played = sources("liquidity_drought")
    key = ("kraken", BTC)
    before = at(100, plain, played)
    for market, snapshot in zip((plain, played), before):
        market.note_fill("kraken", BTC, "buy", 1.0, snapshot.quotes[key].ask, snapshot.ts, depth_share=0.5)
    after_plain, after_played = plain.next_snapshot(), played.next_snapshot()
    # Before the scenario starts the wrapper passes snapshots through: both moved, by the same amount.
    assert after_played.quotes[key].mid == after_plain.quotes[key].mid
    unmoved = build_source(parse_config({"market": {"simulator": {"scenario": "liquidity_drought"}}}))
    unmoved.seek(101)
    assert after_played.quotes[key].mid > unmoved.next_snapshot().quotes[key].mid
