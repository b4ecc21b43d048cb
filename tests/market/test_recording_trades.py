"""Public trades in recordings: a live run on the fake binance stream, recorded with a resting
manual limit order that fills from the trades feed, replays to the same fills; a version 1
recording (no trades) still opens. Oracle: the live run's trades.jsonl read from disk."""
from __future__ import annotations

import json
import time

from bot.commands import PlaceOrder
from bot.config import BotConfig
from bot.engine import BotEngine
from bot.market.replay import ReplayMarket
from bot.requests import validate_request
from bot.requests_orders import OrderRequest
from tests.market.fake_stream_exchange import FakeBinanceStream
from tests.market.test_live_stream import DEPTH, SYMBOLS, config as stream_market_config

OFF = {name: {"enabled": False} for name in ("arbitrage", "momentum", "news", "stat_arb")}
EX, SYM = "binance", "BTC/USDT"


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def place(engine, price: float) -> dict:
    body = {"exchange": EX, "symbol": SYM, "side": "buy", "type": "limit", "amount": 0.002, "price": price}
    return engine.commands.handle(PlaceOrder(validate_request(OrderRequest, body)))


def comparable(trade: dict) -> dict:
    return {k: v for k, v in trade.items() if k not in ("id", "signal_id", "order_id")}


def test_a_recorded_live_run_with_a_resting_limit_replays_to_the_same_fills(tmp_path):
    with FakeBinanceStream(SYMBOLS, depth=DEPTH, trades_per_step=4) as fake:
        market = stream_market_config(fake, silence_seconds=5.0).model_dump()
        settings = {"market": market, "strategies": OFF, "storage": {"fsync": False},
                    "portfolio": {"starting_balances": {"USDT": 10_000.0, "BTC": 0.05, "ETH": 1.0}}}
        live = BotEngine(BotConfig.model_validate({**settings, "recording": {"record": True}}),
                         data_dir=tmp_path / "live" / "data", log_dir=tmp_path / "live" / "logs")
        live.open()
        seen = []  # per tick: the BTC/USDT prints the live run's resting orders could read

        def tick():
            live.tick()
            seen.append(live.source.recent_trades(EX, SYM))
        try:
            assert live.source.has_trade_feed
            for _ in range(5):
                tick()
            placed_after = live.ticks_run
            order = place(live, live.last_snapshot.quotes[(EX, SYM)].bid)
            resting = live.desk.orders[order["id"]]
            deadline = time.monotonic() + 40
            while resting.is_open and time.monotonic() < deadline:
                tick()
                time.sleep(0.02)  # paces the live run (the fake streams in wall time)
            assert not resting.is_open, f"the resting limit did not fill in 40 s: {resting}"
            # A few ticks more, and until the tape is long enough to mean something (a fill on a
            # loaded machine can come after only a handful of prints).
            ticks_after, deadline = 0, time.monotonic() + 40
            while ticks_after < 3 or (len(seen[-1]) <= 20 and time.monotonic() < deadline):
                tick()
                ticks_after += 1
                time.sleep(0.02)
        finally:
            live.close()
        fills = [t for t in lines(tmp_path / "live" / "data" / "trades.jsonl") if t["strategy"] == "manual"]
        assert fills and sum(t["qty"] for t in fills) == 0.002
        # The prints the run read are the server's own (id, price, size), each once, in order.
        server = {str(t["t"]): (float(t["p"]), float(t["q"])) for t in fake.trades[SYM]}
        tape = seen[-1]
        assert len(tape) > 20 and [t["id"] for t in tape] == sorted({t["id"] for t in tape}, key=int)
        assert all(server[t["id"]] == (t["price"], t["amount"]) for t in tape)
    folder = live.source.folder
    assert json.loads((folder / "meta.json").read_text())["schema_version"] == 3
    replay_settings = {**settings, "market": {**market, "source": "replay"}, "recording": {"path": str(folder)}}
    replayed = BotEngine(BotConfig.model_validate(replay_settings),
                         data_dir=tmp_path / "replay" / "data", log_dir=tmp_path / "replay" / "logs")
    replayed.open()
    try:
        assert replayed.source.kind == "replay" and replayed.source.has_trade_feed
        served = []
        for number in range(len(seen)):
            if number == placed_after:
                place(replayed, replayed.last_snapshot.quotes[(EX, SYM)].bid)
            replayed.run_fast(1)
            served.append(replayed.source.recent_trades(EX, SYM))
        assert served == seen  # tick by tick, the same prints as the recorded run read
        replayed.run_fast(None)
    finally:
        replayed.close()
    assert replayed.ticks_run == live.ticks_run
    replay_fills = [t for t in lines(tmp_path / "replay" / "data" / "trades.jsonl") if t["strategy"] == "manual"]
    assert [comparable(t) for t in replay_fills] == [comparable(t) for t in fills]


def test_a_version_1_recording_without_trades_still_replays_with_no_trade_feed(tmp_path, monkeypatch):
    import bot.market.recording_codec as codec

    monkeypatch.setattr(codec, "encode_trades", lambda *args: None)  # records as version 1 wrote them
    monkeypatch.setattr("bot.market.recorder.WRITTEN_SCHEMA", 2)  # frames as version 1 and 2 wrote them
    engine = BotEngine(BotConfig.model_validate({"strategies": OFF, "storage": {"fsync": False},
                                                 "recording": {"record": True}}),
                       data_dir=tmp_path / "data", log_dir=tmp_path / "logs")
    engine.open()
    try:
        engine.run_fast(5)
    finally:
        engine.close()
    folder = engine.source.folder
    meta = json.loads((folder / "meta.json").read_text())
    meta["schema_version"] = 1
    del meta["trades_kept"]
    (folder / "meta.json").write_text(json.dumps(meta))
    replay = ReplayMarket(folder)
    try:
        ticks = 0
        while ticks < 5:
            snapshot = replay.next_snapshot()
            ticks += 1
            assert snapshot.quotes
            assert not replay.has_trade_feed and not replay.has_trade_feed_for(EX, SYM)
            assert replay.recent_trades(EX, SYM, 0) == []
    finally:
        replay.close()


class _Tape:
    """A source with a trade feed on one market: prints added by the test, served like LiveMarket's tape."""

    has_trade_feed = True

    def __init__(self):
        self.prints = []

    def has_trade_feed_for(self, exchange, symbol):
        return (exchange, symbol) == (EX, SYM)

    def recent_trades(self, exchange, symbol, since_ms=None):
        return [t for t in self.prints if since_ms is None or t["timestamp"] >= since_ms]


def test_a_keyframe_holds_the_whole_bounded_tape_so_a_later_segment_replays_alone():
    from bot.market.recording_trades import ReplayTrades, TradeCapture, TradeTapes, encode_trades

    keys = ((EX, SYM), (EX, "ETH/USDT"))
    source = _Tape()
    capture, encoder_tapes = TradeCapture(source, keys, kept=5), TradeTapes(keys, 5)
    records, tapes = [], []
    for tick in range(8):
        # two prints a tick, one sharing the millisecond of the tick before's last (kept once, not lost)
        source.prints += [{"id": f"{tick}a", "timestamp": 1000 * tick - 1 if tick else 0, "price": 100.0 + tick,
                           "amount": 0.5, "side": "buy"},
                          {"id": f"{tick}b", "timestamp": 1000 * (tick + 1) - 1, "price": 100.5, "amount": 0.25,
                           "side": "sell"}]
        rows, fed = capture.capture()
        record = {"t": tick}
        encode_trades(record, tick in (0, 5), rows, fed, encoder_tapes)  # tick 5 starts a new segment
        records.append(record)
        tapes.append(capture.recent(EX, SYM))
    assert [t["id"] for t in tapes[-1]] == ["5b", "6a", "6b", "7a", "7b"]  # bounded at 5, oldest dropped
    assert [t["id"] for t in tapes[2]] == ["0b", "1a", "1b", "2a", "2b"]
    whole = ReplayTrades(keys, 5)
    for record, tape in zip(records, tapes):
        whole.apply(record)
        assert whole.recent(EX, SYM) == tape and whole.has_feed(EX, SYM) and not whole.has_feed(EX, "ETH/USDT")
    alone = ReplayTrades(keys, 5)
    for record, tape in zip(records[5:], tapes[5:]):
        alone.apply(record)
        assert alone.recent(EX, SYM) == tape and alone.has_feed(EX, SYM)
