"""A local binance that streams: REST (exchangeInfo, depth with lastUpdateId, klines, ticker) and
the spot WebSocket market streams (diff depth with U/u ids, 24hrTicker, trade, kline_1m) on loopback.
closed_candles is every 1-minute candle the stream closed (the oracle for the stream's candles).
REST aggTrades serves the streamed trades with the same ids (the REST fallback's trades).

Built on aiohttp's server, in its own thread and event loop. A real ccxt.pro binance client is
pointed at it with stream_options() (urls.api.public for REST, urls.api.ws.spot for the
streams; the ws path contains "/stream" because ccxt's binance tells spot from futures by it).

The book is a deterministic walk: every step the server builds the new top-N levels around a
moving mid and sends the diff against the previous levels (removed levels with quantity 0), so
the server's book is always consistent and uncrossed; a client that applies every diff in order
holds exactly the server's book (book_levels() answers what it is). Faults, switched at run time:
gap() skips update ids in the next diff, cross() sends one diff (ids in order) that crosses the
book, duplicate() sends the next diff twice, swap() sends the next two in the wrong order,
malformed() sends frames that are not valid events, silence(True) keeps connections open
and sends nothing, drop() closes every connection, refuse(True) refuses new ones (HTTP 503).
"""
from __future__ import annotations

import asyncio
import json
import math
import random
import threading
import time

from aiohttp import WSMsgType, web

from tests.market.fake_exchange import SPECS, _binance_id, _binance_market, _fmt


class FakeBinanceStream:
    """binance spot REST + market streams on 127.0.0.1; start()/stop() or a context manager."""

    def __init__(self, symbols=("BTC/USDT", "ETH/USDT"), *, seed: int = 3, step_seconds: float = 0.05,
                 depth: int = 20, trades_per_step: int = 1, first_update_id: int = 1000, candle_steps: int = 0):
        self.symbols = tuple(symbols)
        self.by_id = {_binance_id(s): s for s in self.symbols}
        self.step_seconds = step_seconds
        self.depth = depth
        self.trades_per_step = trades_per_step
        # Candles: 0 follows the clock's minutes; N > 0 closes a 1-minute candle every N steps (its
        # minutes run ahead of the clock from the current one), so a test sees many close.
        self.candle_steps = candle_steps
        self._candle_base = int(time.time() * 1000) // 60_000 * 60_000
        self._candle_step = {s: 0 for s in self.symbols}
        self._candle: dict[str, dict] = {}  # the open kline per symbol: t, o, h, l, c, v
        self.closed_candles: dict[str, list[tuple]] = {s: [] for s in self.symbols}  # (t, o, h, l, c, v)
        self._rng = random.Random(seed)
        self.mid = {s: SPECS[s].price for s in self.symbols}
        self.update_id = {s: first_update_id for s in self.symbols}
        self.levels: dict[str, tuple[dict, dict]] = {s: self._levels(s) for s in self.symbols}
        self.trade_id = {s: 0 for s in self.symbols}
        self.trades: dict[str, list[dict]] = {s: [] for s in self.symbols}  # every trade streamed, oldest first
        self.rest_trade_ids: set[tuple[str, int]] = set()  # (symbol, id) served by REST aggTrades
        self._pending_gap: set[str] = set()
        self._pending_cross: set[str] = set()
        self._pending_malformed = 0
        self._pending_duplicate: set[str] = set()
        self._pending_swap: set[str] = set()
        self._held: dict[str, str] = {}  # a diff held back to be sent after the next one (swap)
        self.silent = False
        self.refusing = False
        self.connections: set[web.WebSocketResponse] = set()
        self.subscriptions: dict[web.WebSocketResponse, set[str]] = {}
        self.connects = 0  # websocket connections accepted, ever
        self.refused = 0
        self.refused_times: list[float] = []
        self.connect_times: list[float] = []
        self.depth_requests = 0
        self.frames_sent = 0
        self.sent_at: dict[tuple[str, int], float] = {}  # (symbol, u) -> time.time() the diff was sent
        self.lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._started = threading.Event()
        self.port = 0

    # ---- the book model ------------------------------------------------------------------
    def _levels(self, symbol: str) -> tuple[dict, dict]:
        tick = SPECS[symbol].tick
        mid = self.mid[symbol]
        best_bid = math.floor(mid / tick) * tick
        bids, asks = {}, {}
        for i in range(self.depth):
            bids[round(best_bid - i * tick * 3, 8)] = round(0.1 + self._rng.random() * 2, 5)
            asks[round(best_bid + tick + i * tick * 3, 8)] = round(0.1 + self._rng.random() * 2, 5)
        return bids, asks

    def book_levels(self, symbol: str) -> tuple[list, list]:
        """The server's book now: bids best first, asks best first."""
        with self.lock:
            bids, asks = self.levels[symbol]
            return sorted(bids.items(), reverse=True), sorted(asks.items())

    def _step(self, symbol: str) -> dict:
        """Move the mid, build the new levels and return the depthUpdate diff (lock held)."""
        spec = SPECS[symbol]
        self.mid[symbol] *= math.exp(self._rng.gauss(0.0, spec.vol / 20))
        old_bids, old_asks = self.levels[symbol]
        new_bids, new_asks = self._levels(symbol)
        if symbol in self._pending_cross:  # one bid above the best ask, ids in order
            self._pending_cross.discard(symbol)
            new_bids[round(min(new_asks) + spec.tick * 5, 8)] = 0.5
        self.levels[symbol] = (new_bids, new_asks)

        def diff(old: dict, new: dict) -> list:
            out = [[_fmt(p), _fmt(q)] for p, q in new.items() if old.get(p) != q]
            out += [[_fmt(p), "0.00000000"] for p in old if p not in new]
            return out

        first = self.update_id[symbol] + 1
        if symbol in self._pending_gap:
            self._pending_gap.discard(symbol)
            first += 5  # ids first-5 .. first-1 are never sent
        last = first + 2
        self.update_id[symbol] = last
        return {"e": "depthUpdate", "E": int(time.time() * 1000), "s": _binance_id(symbol), "U": first, "u": last,
                "b": diff(old_bids, new_bids), "a": diff(old_asks, new_asks)}

    def _ticker(self, symbol: str, now_ms: int) -> dict:
        bids, asks = self.levels[symbol]
        bid, ask = max(bids), min(asks)
        last = (bid + ask) / 2
        return {"e": "24hrTicker", "E": now_ms, "s": _binance_id(symbol), "p": "0", "P": "0.5",
                "w": _fmt(last), "x": _fmt(last), "c": _fmt(last), "Q": "0.1", "b": _fmt(bid), "B": _fmt(bids[bid]),
                "a": _fmt(ask), "A": _fmt(asks[ask]), "o": _fmt(last), "h": _fmt(last), "l": _fmt(last),
                "v": "1000", "q": _fmt(1000 * last), "O": now_ms - 86_400_000, "C": now_ms, "F": 1, "L": 2, "n": 2}

    def _trade(self, symbol: str, now_ms: int) -> dict:
        bids, asks = self.levels[symbol]
        buyer_maker = self._rng.random() < 0.5
        price = max(bids) if buyer_maker else min(asks)
        self.trade_id[symbol] += 1
        trade = {"e": "trade", "E": now_ms, "s": _binance_id(symbol), "t": self.trade_id[symbol], "p": _fmt(price),
                 "q": _fmt(round(0.001 + self._rng.random() * 0.05, 5)), "T": now_ms, "m": buyer_maker, "M": True}
        self.trades[symbol].append(trade)
        return trade

    def _kline(self, symbol: str, now_ms: int) -> list[str]:
        """This step's kline_1m frames (lock held): the open candle updated with the new mid, as
        binance sends it (cumulative o/h/l/c/v, x false), and first the final frame (x true) of the
        candle that closes when a new minute starts."""
        if self.candle_steps:
            start = self._candle_base + self._candle_step[symbol] // self.candle_steps * 60_000
            self._candle_step[symbol] += 1
        else:
            start = now_ms // 60_000 * 60_000
        frames = []
        candle = self._candle.get(symbol)
        if candle is not None and candle["t"] != start:
            self.closed_candles[symbol].append(tuple(candle[k] for k in ("t", "o", "h", "l", "c", "v")))
            frames.append(self._kline_frame(symbol, candle, True, now_ms))
            candle = None
        price = float(_fmt(self.mid[symbol], 2))
        if candle is None:
            candle = self._candle[symbol] = {"t": start, "o": price, "h": price, "l": price, "c": price, "v": 0.0}
        candle.update(h=max(candle["h"], price), l=min(candle["l"], price), c=price, v=round(candle["v"] + 1.25, 2))
        frames.append(self._kline_frame(symbol, candle, False, now_ms))
        return frames

    @staticmethod
    def _kline_frame(symbol: str, candle: dict, closed: bool, now_ms: int) -> str:
        start = candle["t"]
        return json.dumps({"e": "kline", "E": now_ms, "s": _binance_id(symbol), "k": {
            "t": start, "T": start + 59_999, "s": _binance_id(symbol), "i": "1m", "f": 1, "L": 2,
            "o": _fmt(candle["o"]), "c": _fmt(candle["c"]), "h": _fmt(candle["h"]), "l": _fmt(candle["l"]),
            "v": _fmt(candle["v"]), "n": 2, "x": closed, "q": "100", "V": "5", "Q": "50", "B": "0"}})

    # ---- faults --------------------------------------------------------------------------
    def gap(self, symbol: str) -> None:
        """The next diff of symbol skips five update ids (a lost message)."""
        with self.lock:
            self._pending_gap.add(symbol)

    def cross(self, symbol: str) -> None:
        """The next diff of symbol, in sequence, puts a bid above the best ask."""
        with self.lock:
            self._pending_cross.add(symbol)

    def duplicate(self, symbol: str) -> None:
        """The next diff of symbol is sent twice (a repeated message)."""
        with self.lock:
            self._pending_duplicate.add(symbol)

    def swap(self, symbol: str) -> None:
        """The next two diffs of symbol are sent in the wrong order (out-of-order messages)."""
        with self.lock:
            self._pending_swap.add(symbol)

    def malformed(self, count: int = 1) -> None:
        """Send `count` bursts of bad frames (not JSON; JSON that is no event; a depthUpdate with bad levels)."""
        with self.lock:
            self._pending_malformed += count

    def silence(self, on: bool) -> None:
        """Keep connections open but send nothing (on) or resume."""
        self.silent = on

    def refuse(self, on: bool) -> None:
        """Refuse new websocket connections with HTTP 503 (existing ones are left alone)."""
        self.refusing = on

    def drop(self) -> None:
        """Close every websocket connection now (the client sees the socket drop)."""
        async def close_all():
            for ws in list(self.connections):
                await ws.close(code=1006, message=b"dropped by the test")
        asyncio.run_coroutine_threadsafe(close_all(), self._loop).result(5)

    # ---- server --------------------------------------------------------------------------
    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if self.refusing:
            self.refused += 1
            self.refused_times.append(time.time())
            return web.Response(status=503, text="refused by the test")
        ws = web.WebSocketResponse(autoping=True, heartbeat=None)
        await ws.prepare(request)
        with self.lock:
            self.connects += 1
            self.connect_times.append(time.time())
            self.connections.add(ws)
            self.subscriptions[ws] = set()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    body = json.loads(msg.data)
                except ValueError:
                    continue
                if body.get("method") == "SUBSCRIBE":
                    with self.lock:
                        self.subscriptions[ws].update(body.get("params") or ())
                    await ws.send_str(json.dumps({"result": None, "id": body.get("id")}))
                elif body.get("method") == "UNSUBSCRIBE":
                    with self.lock:
                        self.subscriptions[ws].difference_update(body.get("params") or ())
                    await ws.send_str(json.dumps({"result": None, "id": body.get("id")}))
        finally:
            with self.lock:
                self.connections.discard(ws)
                self.subscriptions.pop(ws, None)
        return ws

    async def _rest(self, request: web.Request) -> web.Response:
        path, query = request.path.removeprefix("/api/v3"), request.query
        now_ms = int(time.time() * 1000)
        if path in ("/ping", "/time"):
            return web.json_response({"serverTime": now_ms})
        if path == "/exchangeInfo":
            return web.json_response({"timezone": "UTC", "serverTime": now_ms, "rateLimits": [], "exchangeFilters": [],
                                      "symbols": [_binance_market(s) for s in self.symbols]})
        symbol = self.by_id.get(query.get("symbol", ""))
        if path in ("/depth", "/klines", "/ticker/24hr", "/aggTrades") and symbol is None and "symbol" in query:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        if path == "/depth":
            with self.lock:
                self.depth_requests += 1
                bids, asks = self.levels[symbol]
                body = {"lastUpdateId": self.update_id[symbol],
                        "bids": [[_fmt(p), _fmt(q)] for p, q in sorted(bids.items(), reverse=True)],
                        "asks": [[_fmt(p), _fmt(q)] for p, q in sorted(asks.items())]}
            return web.json_response(body)
        if path == "/ticker/24hr":
            with self.lock:
                rows = [self._ticker(s, now_ms) for s in ([symbol] if symbol else self.symbols)]
            for row in rows:
                row.update(symbol=row["s"], bidPrice=row["b"], askPrice=row["a"], bidQty=row["B"], askQty=row["A"],
                           lastPrice=row["c"], openPrice=row["o"], highPrice=row["h"], lowPrice=row["l"],
                           volume=row["v"], quoteVolume=row["q"], closeTime=now_ms, priceChangePercent="0.5")
            return web.json_response(rows[0] if symbol else rows)
        if path == "/klines":
            limit = min(int(query.get("limit", 500)), 1000)
            end = now_ms // 60_000 * 60_000
            mid = _fmt(self.mid[symbol])
            rows = [[t, mid, mid, mid, mid, "10", t + 59_999, "100", 5, "5", "50", "0"]
                    for t in range(end - limit * 60_000, end + 1, 60_000)][-limit:]
            return web.json_response(rows)
        if path == "/aggTrades":  # the streamed trades, same ids: from startTime (inclusive) or the newest
            limit = min(int(query.get("limit", 500)), 1000)
            with self.lock:
                tape = list(self.trades[symbol])
            rows = [t for t in tape if t["T"] >= int(query["startTime"])][:limit] if "startTime" in query \
                else tape[-limit:]
            with self.lock:
                self.rest_trade_ids.update((symbol, t["t"]) for t in rows)
            return web.json_response([{"a": t["t"], "p": t["p"], "q": t["q"], "f": t["t"], "l": t["t"], "T": t["T"],
                                       "m": t["m"], "M": True} for t in rows])
        return web.json_response({"code": -1, "msg": f"unknown path {request.path}"}, status=404)

    async def _pump(self) -> None:
        while True:
            await asyncio.sleep(self.step_seconds)
            if self.silent:
                continue
            now_ms = int(time.time() * 1000)
            frames: dict[str, list[str]] = {}
            with self.lock:
                for symbol in self.symbols:
                    sid = _binance_id(symbol).lower()
                    depth = self._step(symbol)
                    diff = [json.dumps(depth)]
                    if symbol in self._pending_duplicate:
                        self._pending_duplicate.discard(symbol)
                        diff = diff * 2
                    if symbol in self._held:
                        diff.append(self._held.pop(symbol))
                    elif symbol in self._pending_swap:
                        self._pending_swap.discard(symbol)
                        self._held[symbol], diff = diff[0], diff[1:]
                    frames[f"{sid}@depth@100ms"] = diff
                    self.sent_at[(symbol, depth["u"])] = time.time()
                    frames[f"{sid}@ticker"] = [json.dumps(self._ticker(symbol, now_ms))]
                    frames[f"{sid}@trade"] = [json.dumps(self._trade(symbol, now_ms))
                                              for _ in range(self.trades_per_step)]
                    frames[f"{sid}@kline_1m"] = self._kline(symbol, now_ms)
                bad, self._pending_malformed = self._pending_malformed, 0
                targets = [(ws, set(subs)) for ws, subs in self.subscriptions.items()]
            for ws, subs in targets:
                try:
                    for _ in range(bad):
                        await ws.send_str("{this is not json")
                        await ws.send_str(json.dumps({"e": "noSuchEvent", "E": now_ms}))
                        await ws.send_str(json.dumps([1, 2, 3]))
                    for name in subs:
                        for frame in frames.get(name, ()):
                            await ws.send_str(frame)
                            self.frames_sent += 1
                except (ConnectionError, RuntimeError):
                    continue

    async def _main(self) -> None:
        app = web.Application()
        app.router.add_get("/stream/ws/{n}", self._ws)
        app.router.add_get("/stream/{category}/ws/{n}", self._ws)  # binanceusdm asks a category path
        app.router.add_get("/api/v3/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        self._pump_task = asyncio.ensure_future(self._pump())
        self._started.set()

    def start(self) -> "FakeBinanceStream":
        self._loop = asyncio.new_event_loop()

        def run():
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._main())
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-binance-stream", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the fake stream exchange did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown():
            self._pump_task.cancel()
            for ws in list(self.connections):
                await ws.close()
            await self._runner.cleanup()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None

    def __enter__(self) -> "FakeBinanceStream":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stream_options(self, exchange: str = "binance", timeout_ms: int = 3000) -> dict:
        """market.exchange_options.<exchange> that point ccxt (REST and ccxt.pro) at this server.

        exchange: binance, binanceus, or binanceusdm (binance's futures class, here made to trade
        the spot markets, so that three exchanges speak this protocol)."""
        rest, ws = f"{self.url}/api/v3", f"ws://127.0.0.1:{self.port}/stream/ws"
        api = {"public": rest, "private": rest, "v1": f"{self.url}/api/v1", "ws": {"spot": ws}}
        options = {"fetchMarkets": {"types": ["spot"]}}
        if exchange == "binanceusdm":
            api.update({name: rest for name in ("fapiPublic", "fapiPublicV2", "fapiPublicV3", "fapiPrivate", "sapi",
                                                "dapiPublic")})
            api["ws"].update(linear=ws, inverse=ws)
            options["defaultType"] = "spot"
        return {"urls": {"api": api}, "timeout": timeout_ms, "rateLimit": 5, "options": options}
