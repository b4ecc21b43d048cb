"""Market impact on the simulator: hand-computed moves, decay, no lasting gap, books follow quotes,
and a restart rebuilds the impact and the liquidity memory from the ledger."""
from __future__ import annotations

import math

import pytest

from bot.config import parse_config
from bot.config_execution import ImpactConfig
from bot.engine import BotEngine
from bot.market.sim_impact import ImpactOverlay
from bot.market.simulator import SimulatedMarket

KEYS = [(ex, sym) for ex in ("binance", "kraken") for sym in ("BTC/USDT", "ETH/USDT", "ETH/BTC")]
INV = [100.0, 100.0, 1e5] * 2  # price steps 0.01, 0.01, 0.00001
CONFIG = ImpactConfig(temporary_bps=20.0, temporary_half_life_seconds=30.0, permanent_bps=10.0)
T = 1_767_225_600.0


def row():
    """bid, ask, last per market (and four more fields the overlay leaves alone)."""
    bids = [60_000.00, 3_000.00, 0.05000] * 2
    asks = [60_001.00, 3_000.50, 0.05001] * 2
    return [list(bids), list(asks), list(asks), [1.0] * 6, [1.0] * 6, [0.0] * 6, [0] * 6]


def stepped(price, factor, inv):
    return round(price * factor * inv) / inv


def test_a_buy_moves_its_market_more_than_the_others_and_the_asset_everywhere():
    overlay = ImpactOverlay(CONFIG, KEYS, INV)
    overlay.note_fill("binance", "BTC/USDT", "buy", 1.0, 60_001.0, T, depth_share=0.5)
    fields = row()
    overlay.shift(fields, T + 30.0)  # one temporary half-life later
    lasting = math.exp(10e-4 * 0.5)  # +5 bps on BTC's true price
    here = lasting * (1 + 20e-4 * 0.5 * 0.5)  # +10 bps temporary, halved
    assert fields[0][0] == stepped(60_000.0, here, 100) and fields[1][0] == stepped(60_001.0, here, 100)
    assert fields[0][3] == stepped(60_000.0, lasting, 100)  # kraken BTC/USDT: the lasting part only
    assert fields[0][2] == stepped(0.05, 1 / lasting, 1e5) and fields[0][5] == stepped(0.05, 1 / lasting, 1e5)
    assert fields[0][1] == 3_000.0 and fields[1][4] == 3_000.5  # ETH/USDT untouched
    assert fields[2][0] == fields[1][0]  # last was the ask: it moves with it


def test_the_temporary_part_decays_and_shows_only_after_the_fill():
    overlay = ImpactOverlay(ImpactConfig(temporary_bps=20.0, permanent_bps=0.0), KEYS, INV)
    overlay.note_fill("binance", "BTC/USDT", "sell", 1.0, 60_000.0, T, depth_share=1.0)
    same_tick = row()
    overlay.shift(same_tick, T)
    assert same_tick == row()
    later = [row() for _ in range(3)]
    for fields, age in zip(later, (1.0, 30.0, 20 * 30.0 + 1)):
        overlay.shift(fields, T + age)
    assert later[0][0][0] == stepped(60_000.0, 1 - 20e-4 * 2 ** (-1 / 30), 100)
    assert later[1][0][0] == stepped(60_000.0, 1 - 10e-4, 100)
    assert later[2] == row() and not overlay._temp  # past the cut-off: gone


def test_lasting_impact_leaves_no_gap_between_exchanges():
    overlay = ImpactOverlay(ImpactConfig(temporary_bps=0.0, permanent_bps=50.0), KEYS, INV)
    for k in range(5):
        overlay.note_fill("binance", "ETH/USDT", "buy", 1.0, 3_000.0, T + k, depth_share=0.8)
    fields = row()
    overlay.shift(fields, T + 3600.0)
    assert fields[0][1] == fields[0][4] > 3_000.0 and fields[1][1] == fields[1][4]  # both exchanges alike
    assert fields[0][2] == fields[0][5] > 0.05  # ETH/BTC up too


def test_disabled_or_zero_impact_changes_nothing():
    for config in (ImpactConfig(enabled=False), ImpactConfig(temporary_bps=0.0, permanent_bps=0.0), None):
        overlay = ImpactOverlay(config, KEYS, INV)
        overlay.note_fill("binance", "BTC/USDT", "buy", 1.0, 60_001.0, T, depth_share=1.0)
        fields = row()
        overlay.shift(fields, T + 1.0)
        assert fields == row()


def test_the_simulator_moves_quotes_and_books_together():
    config = parse_config({"market": {"seed": 5}}).market
    moved, plain = SimulatedMarket(config, impact=ImpactConfig()), SimulatedMarket(config)
    first = moved.next_snapshot()
    plain.next_snapshot()
    moved.note_fill("kraken", "SOL/USDT", "buy", 50.0, first.quotes[("kraken", "SOL/USDT")].ask, first.ts,
                    depth_share=1.0)
    a, b = moved.next_snapshot(), plain.next_snapshot()
    qa, qb = a.quotes[("kraken", "SOL/USDT")], b.quotes[("kraken", "SOL/USDT")]
    assert qa.ask > qb.ask and qa.bid > qb.bid
    book = a.order_book("kraken", "SOL/USDT")
    assert (book.bids[0][0], book.asks[0][0]) == (qa.bid, qa.ask)
    assert a.quotes[("binance", "SOL/USDT")].mid > b.quotes[("binance", "SOL/USDT")].mid  # lasting part
    assert a.quotes[("binance", "XRP/USDT")] == b.quotes[("binance", "XRP/USDT")]


@pytest.mark.slow
def test_a_restart_rebuilds_impact_and_liquidity_memory_from_the_ledger(tmp_path):
    def config(folder):
        # Gaps left open (no competition, frequent dislocations): arbitrage trades often enough to test.
        market = {"seed": 11, "simulator": {"competition": {"enabled": False},
                                            "deviations": {"dislocations_per_hour": 20, "dislocation_bps": 60}}}
        return parse_config({"market": market, "dashboard": {"enabled": False},
                             "storage": {"data_dir": str(folder / "data"), "log_dir": str(folder / "logs"),
                                         "fsync": False}})

    going = BotEngine(config(tmp_path / "b"))
    going.open()
    going.run_fast(5000)
    count = going.ledger.count
    while going.ledger.count == count or going.data_flow.orders:  # stop just after a fill, nothing in flight
        going.tick()
    going.tick()
    ticks = going.next_tick
    stopped = BotEngine(config(tmp_path / "a"))
    stopped.open()
    stopped.run_fast(ticks)  # the same run, stopped there
    stopped.close()
    assert stopped.ledger.count == going.ledger.count > 10
    again = BotEngine(config(tmp_path / "a"))
    again.open()
    assert again.next_tick == going.next_tick == ticks
    for name in ("_log_shift", "_lasting"):
        assert getattr(again.source._impact, name) == getattr(going.source._impact, name), name
    assert going.source._impact._lasting, "the run should have moved prices"
    next_ts = going.last_snapshot.ts + 1.0

    def live_moves(overlay):  # the temporary moves still in force (the running one drops spent ones)
        moves = {m: overlay._decayed(move, next_ts - since) for m, (move, since) in overlay._temp.items()}
        return {m: move for m, move in moves.items() if move}

    assert live_moves(again.source._impact) == live_moves(going.source._impact)
    a, b = again.source.next_snapshot(), going.source.next_snapshot()
    assert a.quotes == b.quotes
    view_a, view_b = again.data_flow.market_view(a), going.data_flow.market_view(b)
    for key in a.markets:
        assert view_a.order_book(*key) == view_b.order_book(*key), key
    taken = [k for k in a.markets if view_b.order_book(*k) != b.order_book(*k)]
    assert taken, "some book should still show our recent takes"
    again.close()
    going.close()
