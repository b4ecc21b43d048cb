"""1-minute candles from binance's kline stream (watch_ohlcv) reach the candle history, after the
REST backfill at start. The oracle is the fake server's own record of the candles it closed."""
from __future__ import annotations

from tests.market.fake_stream_exchange import FakeBinanceStream
from tests.market.test_live_stream import DEPTH, SYMBOLS, open_market
from tests.polling import wait_for


def test_closed_stream_candles_reach_the_candle_history_after_the_rest_backfill():
    # A candle closes every 4 steps of 50 ms: many minutes in a second, minutes running ahead of the clock.
    with FakeBinanceStream(SYMBOLS, depth=DEPTH, candle_steps=4) as fake:
        market = open_market(fake, poll_seconds=60.0)
        try:
            base = fake._candle_base / 1000.0  # the first streamed minute: the REST backfill ends before it

            def streamed():
                candles = market.next_snapshot().history.candles("binance", "ETH/USDT", 200)
                return [c for c in candles if c.ts >= base] if len(candles) and candles[-1].ts >= base + 300 else None
            wait_for(streamed, 15, "five streamed minutes closed in the history")
            history = market.next_snapshot().history.candles("binance", "ETH/USDT", 200)
            backfill = [c for c in history if c.ts < base]
            assert len(backfill) >= 25, "the REST backfill at start (candle_backfill 30, the open minute left out)"
            assert [c.ts for c in backfill] == [base - 60 * (len(backfill) - i) for i in range(len(backfill))]
            served = {int(c.ts * 1000): (c.open, c.high, c.low, c.close, c.volume) for c in history if c.ts >= base}
            closed = {row[0]: row[1:] for row in fake.closed_candles["ETH/USDT"]}
            assert served and set(served) <= set(closed)  # only closed candles, none invented
            for start, values in served.items():
                assert values == closed[start], (start, values, closed[start])
            starts = sorted(served)  # one a minute, none skipped once the stream runs
            assert starts == list(range(starts[0], starts[-1] + 1, 60_000))
            assert starts[0] <= fake._candle_base + 60_000 * 2  # from the stream's first minutes on
            assert all(later.ts > earlier.ts for earlier, later in zip(history, history[1:]))
        finally:
            market.close()
