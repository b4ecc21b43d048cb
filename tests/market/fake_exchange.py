"""A local HTTP server that answers like binance's and kraken's public REST APIs.

Real ccxt objects are pointed at it through market.exchange_options.<id>.urls (see
exchange_options()). Bodies have the shapes those exchanges send (the parts ccxt's binance.py
and kraken.py read): binance /api/v3/exchangeInfo, ticker/24hr, depth, klines, aggTrades; kraken
/0/public/Assets, AssetPairs, Ticker, Depth, OHLC, Trades, Time. Public trades are only those a
test adds with add_trades() (none by default), served oldest first from startTime/since.

Prices are a deterministic random walk per symbol, advanced per wall-clock step, and kraken
quotes a little off binance; every gap_every_seconds (20 by default, 0 turns it off) kraken
runs gap_pct (0.8 %) rich for gap_seconds, wider than both taker fees, so cross-exchange
arbitrage has something to find; set_offset() opens a gap on demand. Faults are switched per exchange at run time
with set_fault(): timeout, http_429, http_418, http_500, maintenance, rate_limit, malformed,
bad_shape, crossed, frozen; delist() makes one symbol unknown.

candle_seconds < 60 compresses time for candles only: one "1-minute" candle closes every
candle_seconds of wall time, stamped far in the past so every served candle is closed (tests
of indicator-driven strategies do not wait minutes). With candle_seconds = 60 candles follow
the real clock and the open candle is served last, as exchanges do.
"""
from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import numpy as np

EXCHANGES = ("binance", "kraken")
FAULTS = ("timeout", "http_429", "http_418", "http_500", "maintenance", "rate_limit", "malformed", "bad_shape",
          "crossed", "frozen")
COMPRESSED_LAG_MINUTES = 200_000  # compressed candles are stamped this far in the past


@dataclass(frozen=True)
class Spec:
    price: float
    tick: float
    step: float
    vol: float  # log volatility per 1-minute candle
    kraken_base: str | None  # kraken asset id (None: not listed on kraken)
    kraken_pair: str | None
    pair_decimals: int


SPECS = {
    "BTC/USDT": Spec(60_000.0, 0.01, 0.00001, 0.0010, "XXBT", "XBTUSDT", 1),
    "ETH/USDT": Spec(3_000.0, 0.01, 0.0001, 0.0012, "XETH", "ETHUSDT", 2),
    "SOL/USDT": Spec(150.0, 0.01, 0.001, 0.0018, "SOL", "SOLUSDT", 2),
    "BNB/USDT": Spec(600.0, 0.01, 0.001, 0.0012, None, None, 2),  # binance only
}
KRAKEN_ASSETS = {"XXBT": ("XBT", 10), "XETH": ("ETH", 10), "SOL": ("SOL", 10), "USDT": ("USDT", 8),
                 "ZUSD": ("ZUSD", 4)}


def _fmt(x: float, decimals: int = 8) -> str:
    return f"{x:.{decimals}f}"


class PriceModel:
    """Deterministic prices: a trending random walk per symbol, sampled every step_seconds.

    Volatility is set per candle (spec.vol) and spread over the steps of a candle, so the
    walk looks the same whether a candle lasts 60 s or a compressed fraction of a second.
    """

    REGIME_CANDLES = 20

    def __init__(self, symbols, seed: int, steps_per_candle: int, history_steps: int):
        self.symbols = tuple(symbols)
        self.steps_per_candle = steps_per_candle
        self.history_steps = history_steps
        self._rng = np.random.default_rng(seed)
        self._log = {s: np.empty(0) for s in self.symbols}
        self._lock = threading.Lock()
        self._extend(history_steps + 4096)

    def _extend(self, length: int) -> None:
        spc = self.steps_per_candle
        regime_steps = self.REGIME_CANDLES * spc
        for symbol in self.symbols:
            spec, log = SPECS[symbol], self._log[symbol]
            n = length - log.size
            if n <= 0:
                continue
            # Drift regimes make moving averages cross now and then, as real trends do.
            regime = np.repeat(self._rng.choice([-1.0, 0.0, 1.0], size=n // regime_steps + 1), regime_steps)[:n]
            steps = self._rng.normal(regime * 0.4 * spec.vol / spc, spec.vol / math.sqrt(spc))
            start = log[-1] if log.size else math.log(spec.price)
            self._log[symbol] = np.concatenate([log, start + np.cumsum(steps)])

    def prices(self, symbol: str, first: int, last: int) -> np.ndarray:
        """True prices for steps first..last inclusive (steps may be negative: the past)."""
        lo, hi = first + self.history_steps, last + self.history_steps + 1
        with self._lock:
            if hi > self._log[symbol].size:
                self._extend(hi + 4096)
            return np.exp(self._log[symbol][max(lo, 0):hi])


class FakeExchangeServer:
    """binance and kraken on 127.0.0.1; start() / stop() or use as a context manager."""

    def __init__(self, symbols=("BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT"), *, seed: int = 7,
                 step_seconds: float = 0.1, candle_seconds: float = 60.0, history_candles: int = 400,
                 kraken_deviation_pct: float = 0.03, gap_every_seconds: float = 20.0, gap_seconds: float = 2.0,
                 gap_pct: float = 0.8, timeout_delay_seconds: float = 2.0):
        self.symbols = tuple(symbols)
        self.step_seconds = step_seconds
        self.candle_seconds = candle_seconds
        self.compressed = candle_seconds < 60.0
        self.steps_per_candle = max(1, int(round(candle_seconds / step_seconds)))
        self.history_candles = history_candles
        self.kraken_deviation = kraken_deviation_pct / 100.0
        self.gap_every_seconds, self.gap_seconds, self.gap = gap_every_seconds, gap_seconds, gap_pct / 100.0
        self.timeout_delay_seconds = timeout_delay_seconds
        now = time.time()
        if self.compressed:
            self.t0 = now
            self.base_ms = (int(now // 60) - COMPRESSED_LAG_MINUTES) * 60_000
        else:
            self.t0 = math.floor(now / 60.0) * 60.0
            self.base_ms = int(self.t0) * 1000
        self.model = PriceModel(self.symbols, seed, self.steps_per_candle,
                                (history_candles + 2) * self.steps_per_candle)
        self._lock = threading.Lock()
        self.faults: dict[str, str | None] = {ex: None for ex in EXCHANGES}
        self.frozen_at: dict[str, float | None] = {ex: None for ex in EXCHANGES}
        self.offsets: dict[tuple[str, str], float] = {}
        self.delisted: dict[str, set] = {ex: set() for ex in EXCHANGES}
        self.requests: list[tuple[float, str, str, int]] = []  # (time, exchange, path, status)
        self.tapes: dict[tuple[str, str], list[tuple[int, int, float, float, str]]] = {}  # (id, ms, price, qty, side)
        self.trades_failing = False  # True: the public trades endpoints answer HTTP 500 (nothing else does)
        self.trade_queries: list[tuple[str, str, int | None]] = []  # (exchange, symbol, since ms or None)
        self.served_books: list[tuple[float, str, str, float, float]] = []  # (time, exchange, symbol, bid, ask)
        self._release = threading.Event()
        self.held = 0  # requests being held by a "timeout" fault right now
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- control -------------------------------------------------------------------------
    def start(self) -> "FakeExchangeServer":
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.fake = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-exchange", daemon=True)
        self._thread.start()
        return self

    def release(self) -> None:
        """Answer every request a "timeout" fault is holding now (later ones are held again)."""
        released, self._release = self._release, threading.Event()
        released.set()

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeExchangeServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def exchange_options(self, exchange: str, timeout_ms: int = 1000, rate_limit_ms: int = 5) -> dict:
        """market.exchange_options.<exchange> that point a real ccxt class at this server."""
        if exchange == "binance":
            api = {name: f"{self.url}/binance/api/v3" for name in ("public", "private")}
            api["v1"] = f"{self.url}/binance/api/v1"
        else:
            api = {"public": f"{self.url}/kraken", "private": f"{self.url}/kraken"}
        return {"urls": {"api": api}, "timeout": timeout_ms, "rateLimit": rate_limit_ms}

    def set_fault(self, exchange: str, fault: str | None) -> None:
        """Switch a fault on (one of FAULTS) or off (None) for every answer of one exchange."""
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
        with self._lock:
            self.faults[exchange] = fault
            if fault == "frozen":
                self.frozen_at[exchange] = time.time()
            elif self.frozen_at[exchange] is not None:
                self.frozen_at[exchange] = None

    def set_offset(self, exchange: str, symbol: str, pct: float) -> None:
        """Quote symbol on exchange pct % away from the true price (0 removes the offset)."""
        with self._lock:
            self.offsets[(exchange, symbol)] = pct / 100.0

    def delist(self, exchange: str, symbol: str) -> None:
        with self._lock:
            self.delisted[exchange].add(symbol)

    def add_trades(self, exchange: str, symbol: str, prints) -> list[tuple[int, int, float, float, str]]:
        """Public trades (price, qty, side) printed now, 1 ms apart, after every earlier one; returns them."""
        with self._lock:
            tape = self.tapes.setdefault((exchange, symbol), [])
            ms = max(int(time.time() * 1000), tape[-1][1] + 1 if tape else 0)
            added = [(len(tape) + i + 1, ms + i, float(p), float(q), side) for i, (p, q, side) in enumerate(prints)]
            tape.extend(added)
            return added

    def trades(self, exchange: str, symbol: str, since_ms: int | None, limit: int):
        """The trades served: from since_ms (inclusive) the oldest `limit`, else the newest `limit`."""
        with self._lock:
            self.trade_queries.append((exchange, symbol, since_ms))
            tape = list(self.tapes.get((exchange, symbol), ()))
        if since_ms is None:
            return tape[-limit:]
        return [t for t in tape if t[1] >= since_ms][:limit]

    def count(self, exchange: str, path_part: str = "", since: float = 0.0) -> int:
        """Requests answered for exchange (path containing path_part) since a time."""
        return sum(1 for t, ex, path, _ in list(self.requests) if ex == exchange and path_part in path and t >= since)

    # ---- prices --------------------------------------------------------------------------
    def now(self, exchange: str) -> float:
        frozen = self.frozen_at[exchange]
        return frozen if frozen is not None else time.time()

    def _step(self, t: float) -> int:
        return int(math.floor((t - self.t0) / self.step_seconds))

    def _deviation(self, exchange: str, symbol: str, steps: np.ndarray) -> np.ndarray:
        dev = np.zeros(steps.shape)
        if exchange == "kraken":
            dev += self.kraken_deviation * np.sin(steps / 37.0 + len(symbol))
            if self.gap_every_seconds > 0:
                t = self.t0 + steps * self.step_seconds
                in_gap = (t % self.gap_every_seconds) < self.gap_seconds
                dev += np.where(in_gap, self.gap, 0.0)
        return dev + self.offsets.get((exchange, symbol), 0.0)

    def mid(self, exchange: str, symbol: str, t: float | None = None) -> float:
        step = max(self._step(self.now(exchange) if t is None else t), -self.model.history_steps)
        price = self.model.prices(symbol, step, step)[0]
        return float(price * (1.0 + self._deviation(exchange, symbol, np.array([step]))[0]))

    def tick(self, exchange: str, symbol: str) -> float:
        spec = SPECS[symbol]
        return 10.0 ** -spec.pair_decimals if exchange == "kraken" else spec.tick

    def top(self, exchange: str, symbol: str) -> tuple[float, float]:
        tick = self.tick(exchange, symbol)
        mid = self.mid(exchange, symbol)
        bid = math.floor(mid * (1 - 0.0001) / tick) * tick
        ask = max(math.ceil(mid * (1 + 0.0001) / tick) * tick, bid + tick)
        return round(bid, 8), round(ask, 8)

    def book(self, exchange: str, symbol: str, depth: int) -> tuple[list, list]:
        spec, tick = SPECS[symbol], self.tick(exchange, symbol)
        bid, ask = self.top(exchange, symbol)
        if self.faults[exchange] == "crossed":
            bid, ask = round(ask * 1.02, 8), round(bid, 8)  # best bid 2% above best ask
        size = 2_000.0 / spec.price
        bids = [(round(bid - i * 3 * tick, 8), size * (1 + 0.5 * i)) for i in range(depth)]
        asks = [(round(ask + i * 3 * tick, 8), size * (1 + 0.5 * i)) for i in range(depth)]
        self.served_books.append((time.time(), exchange, symbol, bids[0][0], asks[0][0]))
        return bids, asks

    def candles(self, exchange: str, symbol: str) -> list[tuple[int, float, float, float, float, float]]:
        """Every candle served now: (open ms, open, high, low, close, volume), oldest first."""
        position = (self.now(exchange) - self.t0) / self.candle_seconds
        current = int(math.floor(position))
        last = current - 1 if self.compressed else current
        first = -self.history_candles
        spc = self.steps_per_candle
        steps = np.arange(first * spc, (last + 1) * spc)
        prices = self.model.prices(symbol, int(steps[0]), int(steps[-1]))
        prices = prices * (1 + self._deviation(exchange, symbol, steps))
        now_step = self._step(self.now(exchange))
        out = []
        for i, k in enumerate(range(first, last + 1)):
            chunk = prices[i * spc:(i + 1) * spc]
            if not self.compressed and k == current:
                chunk = chunk[: max(1, now_step - k * spc + 1)]
            volume = 1.0 + (k * 7919 % 100) / 10.0
            out.append((self.base_ms + k * 60_000, float(chunk[0]), float(chunk.max()), float(chunk.min()),
                        float(chunk[-1]), volume))
        return out


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stalls

    def log_message(self, *args) -> None:  # quiet
        pass

    @property
    def fake(self) -> FakeExchangeServer:
        return self.server.fake

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        parsed = urlparse(self.path)
        parts = parsed.path.strip("/").split("/", 1)
        exchange, path = parts[0], "/" + (parts[1] if len(parts) > 1 else "")
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        if exchange not in EXCHANGES:
            return self._send(404, "text/plain", "not found")
        fault = self.fake.faults[exchange]
        if fault == "timeout":
            with self.fake._lock:
                self.fake.held += 1
            try:
                self.fake._release.wait(self.fake.timeout_delay_seconds)
            finally:
                with self.fake._lock:
                    self.fake.held -= 1
        answer = self._fault_answer(exchange, fault)
        if answer is None and self.fake.trades_failing and path in ("/api/v3/aggTrades", "/0/public/Trades"):
            answer = 500, "text/html", "<html><body><h1>500 Internal Server Error</h1></body></html>"
        if answer is None:
            try:
                answer = (binance_answer if exchange == "binance" else kraken_answer)(self.fake, path, query)
            except Exception as exc:  # noqa: BLE001 - a bug in the fake shows as a 500 with its message
                answer = (500, "text/plain", f"fake exchange error: {type(exc).__name__}: {exc}")
        status, content_type, body = answer
        self.fake.requests.append((time.time(), exchange, path, status))
        self._send(status, content_type, body)

    def _fault_answer(self, exchange: str, fault: str | None):
        if fault in (None, "timeout", "crossed", "frozen"):
            return None
        binance = exchange == "binance"
        if fault == "http_429" or (fault == "rate_limit" and binance):
            return 429, "application/json", json.dumps({"code": -1003, "msg": "Too much request weight used; "
                                                        "current limit is 6000 request weight per 1 MINUTE."})
        if fault == "http_418":
            return 418, "application/json", json.dumps({"code": -1003, "msg": "Way too much request weight used; "
                                                        "IP banned until 1700000000000."})
        if fault == "http_500":
            return 500, "text/html", "<html><body><h1>500 Internal Server Error</h1></body></html>"
        if fault == "maintenance":
            if binance:
                return 503, "application/json", json.dumps({"code": 1, "msg": "System is under maintenance."})
            return 200, "application/json", json.dumps({"error": ["EService:Unavailable"]})
        if fault == "rate_limit":
            return 200, "application/json", json.dumps({"error": ["EAPI:Rate limit exceeded"]})
        if fault == "malformed":
            return 200, "application/json", '{"symbol": "BTCUSDT", "bidPrice": "6'
        if fault == "bad_shape":
            body = {"unexpected": [1, 2, 3]} if binance else {"error": [], "result": [1, 2, 3]}
            return 200, "application/json", json.dumps(body)
        return None

    def _send(self, status: int, content_type: str, body: str) -> None:
        data = body.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a time-out test)


def _json(body) -> tuple[int, str, str]:
    return 200, "application/json", json.dumps(body)


# ---- binance -------------------------------------------------------------------------------
def _binance_id(symbol: str) -> str:
    return symbol.replace("/", "")


def binance_answer(fake: FakeExchangeServer, path: str, query: dict):
    by_id = {_binance_id(s): s for s in fake.symbols if s not in fake.delisted["binance"]}
    now_ms = int(fake.now("binance") * 1000)

    def invalid_symbol():
        return 400, "application/json", json.dumps({"code": -1121, "msg": "Invalid symbol."})

    if path == "/api/v3/ping":
        return _json({})
    if path == "/api/v3/time":
        return _json({"serverTime": now_ms})
    if path == "/api/v3/exchangeInfo":
        return _json({"timezone": "UTC", "serverTime": now_ms, "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}],
            "exchangeFilters": [], "symbols": [_binance_market(s) for s in fake.symbols]})
    if path == "/api/v3/ticker/24hr":
        if "symbol" in query:
            if query["symbol"] not in by_id:
                return invalid_symbol()
            return _json(_binance_ticker(fake, by_id[query["symbol"]], now_ms))
        ids = json.loads(query["symbols"]) if "symbols" in query else list(by_id)
        if any(i not in by_id for i in ids):
            return invalid_symbol()
        return _json([_binance_ticker(fake, by_id[i], now_ms) for i in ids])
    if path == "/api/v3/depth":
        if query.get("symbol") not in by_id:
            return invalid_symbol()
        bids, asks = fake.book("binance", by_id[query["symbol"]], int(query.get("limit", 100)))
        return _json({"lastUpdateId": now_ms, "bids": [[_fmt(p), _fmt(q)] for p, q in bids],
                      "asks": [[_fmt(p), _fmt(q)] for p, q in asks]})
    if path == "/api/v3/klines":
        if query.get("symbol") not in by_id:
            return invalid_symbol()
        rows = fake.candles("binance", by_id[query["symbol"]])
        limit = min(int(query.get("limit", 500)), 1000)
        if "startTime" in query:
            rows = [r for r in rows if r[0] >= int(query["startTime"])][:limit]
        else:
            rows = rows[-limit:]
        return _json([[r[0], _fmt(r[1]), _fmt(r[2]), _fmt(r[3]), _fmt(r[4]), _fmt(r[5]), r[0] + 59_999,
                       _fmt(r[4] * r[5]), 100, _fmt(r[5] / 2), _fmt(r[4] * r[5] / 2), "0"] for r in rows])
    if path == "/api/v3/aggTrades":
        if query.get("symbol") not in by_id:
            return invalid_symbol()
        since = int(query["startTime"]) if "startTime" in query else None
        rows = fake.trades("binance", by_id[query["symbol"]], since, min(int(query.get("limit", 500)), 1000))
        return _json([{"a": i, "p": _fmt(p), "q": _fmt(q), "f": i, "l": i, "T": ms, "m": side == "sell", "M": True}
                      for i, ms, p, q, side in rows])
    return 404, "application/json", json.dumps({"code": -1, "msg": f"unknown path {path}"})


def _binance_market(symbol: str) -> dict:
    spec = SPECS[symbol]
    base, quote = symbol.split("/")
    return {
        "symbol": _binance_id(symbol), "status": "TRADING", "baseAsset": base, "baseAssetPrecision": 8,
        "quoteAsset": quote, "quotePrecision": 8, "quoteAssetPrecision": 8, "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8, "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"], "icebergAllowed": True,
        "ocoAllowed": True, "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": True,
        "cancelReplaceAllowed": True, "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": _fmt(spec.tick), "maxPrice": "1000000.00000000",
             "tickSize": _fmt(spec.tick)},
            {"filterType": "LOT_SIZE", "minQty": _fmt(spec.step), "maxQty": "9000.00000000",
             "stepSize": _fmt(spec.step)},
            {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
        ],
        "permissions": [], "permissionSets": [["SPOT"]], "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def _binance_ticker(fake: FakeExchangeServer, symbol: str, now_ms: int) -> dict:
    bid, ask = fake.top("binance", symbol)
    last = (bid + ask) / 2
    open_ = fake.mid("binance", symbol, fake.now("binance") - 600)  # the walk's past stands in for 24 h ago
    return {"symbol": _binance_id(symbol), "priceChange": _fmt(last - open_), "priceChangePercent":
            _fmt((last / open_ - 1) * 100, 3), "weightedAvgPrice": _fmt(last), "prevClosePrice": _fmt(open_),
            "lastPrice": _fmt(last), "lastQty": "0.01000000", "bidPrice": _fmt(bid), "bidQty": "1.50000000",
            "askPrice": _fmt(ask), "askQty": "1.20000000", "openPrice": _fmt(open_),
            "highPrice": _fmt(max(last, open_)), "lowPrice": _fmt(min(last, open_)), "volume": "1234.50000000",
            "quoteVolume": _fmt(1234.5 * last),
            "openTime": now_ms - 86_400_000, "closeTime": now_ms, "firstId": 1, "lastId": 1000, "count": 1000}


# ---- kraken --------------------------------------------------------------------------------
def _kraken_error(message: str):
    return _json({"error": [message]})


def kraken_answer(fake: FakeExchangeServer, path: str, query: dict):
    listed = {SPECS[s].kraken_pair: s for s in fake.symbols if SPECS[s].kraken_pair}
    live = {pair: s for pair, s in listed.items() if s not in fake.delisted["kraken"]}
    now = fake.now("kraken")
    if path == "/0/public/Time":
        rfc1123 = time.strftime("%a, %d %b %y %H:%M:%S +0000", time.gmtime(now))
        return _json({"error": [], "result": {"unixtime": int(now), "rfc1123": rfc1123}})
    if path == "/0/public/Assets":
        return _json({"error": [], "result": {asset: {"aclass": "currency", "altname": alt, "decimals": decimals,
                                                      "display_decimals": min(decimals, 5), "status": "enabled"}
                                              for asset, (alt, decimals) in KRAKEN_ASSETS.items()}})
    if path == "/0/public/AssetPairs":
        return _json({"error": [], "result": {pair: _kraken_pair(pair, symbol) for pair, symbol in listed.items()}})
    if path == "/0/public/Ticker":
        pairs = query["pair"].split(",") if "pair" in query else list(live)
        if any(p not in live for p in pairs):
            return _kraken_error("EQuery:Invalid asset pair")
        return _json({"error": [], "result": {p: _kraken_ticker(fake, live[p]) for p in pairs}})
    if path == "/0/public/Depth":
        pair = query.get("pair")
        if pair not in live:
            return _kraken_error("EQuery:Invalid asset pair")
        bids, asks = fake.book("kraken", live[pair], int(query.get("count", 100)))
        stamp = int(now)
        return _json({"error": [], "result": {pair: {
            "asks": [[_fmt(p, SPECS[live[pair]].pair_decimals), _fmt(q), stamp] for p, q in asks],
            "bids": [[_fmt(p, SPECS[live[pair]].pair_decimals), _fmt(q), stamp] for p, q in bids]}}})
    if path == "/0/public/OHLC":
        pair = query.get("pair")
        if pair not in live:
            return _kraken_error("EQuery:Invalid asset pair")
        rows = fake.candles("kraken", live[pair])
        if "since" in query:
            rows = [r for r in rows if r[0] // 1000 > int(query["since"])]
        rows = rows[-720:]
        decimals = SPECS[live[pair]].pair_decimals
        out = [[r[0] // 1000, _fmt(r[1], decimals), _fmt(r[2], decimals), _fmt(r[3], decimals),
                _fmt(r[4], decimals), _fmt(r[4], decimals), _fmt(r[5]), 42] for r in rows]
        return _json({"error": [], "result": {pair: out, "last": out[-1][0] if out else 0}})
    if path == "/0/public/Trades":
        pair = query.get("pair")
        if pair not in live:
            return _kraken_error("EQuery:Invalid asset pair")
        since = int(query["since"]) * 1000 if "since" in query else None  # ccxt sends whole seconds
        rows = fake.trades("kraken", live[pair], since, int(query.get("count", 1000)))
        d = SPECS[live[pair]].pair_decimals
        out = [[_fmt(p, d), _fmt(q), ms / 1000.0, "s" if side == "sell" else "b", "l", "", i]
               for i, ms, p, q, side in rows]
        return _json({"error": [], "result": {pair: out, "last": str(rows[-1][1] * 1_000_000 if rows else 0)}})
    return _kraken_error("EGeneral:Unknown method")


def _kraken_pair(pair: str, symbol: str) -> dict:
    spec = SPECS[symbol]
    base_alt = KRAKEN_ASSETS[spec.kraken_base][0]
    return {"altname": pair, "wsname": f"{base_alt}/USDT", "aclass_base": "currency", "base": spec.kraken_base,
            "aclass_quote": "currency", "quote": "USDT", "lot": "unit", "cost_decimals": 5,
            "pair_decimals": spec.pair_decimals, "lot_decimals": 8, "lot_multiplier": 1,
            "leverage_buy": [2, 3], "leverage_sell": [2, 3],
            "fees": [[0, 0.26], [50000, 0.24], [100000, 0.22]], "fees_maker": [[0, 0.16], [50000, 0.14]],
            "fee_volume_currency": "ZUSD", "margin_call": 80, "margin_stop": 40,
            "ordermin": _fmt(spec.step * 10), "costmin": "0.5", "tick_size": _fmt(10 ** -spec.pair_decimals),
            "status": "online"}


def _kraken_ticker(fake: FakeExchangeServer, symbol: str) -> dict:
    bid, ask = fake.top("kraken", symbol)
    d = SPECS[symbol].pair_decimals
    last = (bid + ask) / 2
    return {"a": [_fmt(ask, d), "1", "1.000"], "b": [_fmt(bid, d), "2", "2.000"], "c": [_fmt(last, d), "0.01"],
            "v": ["100.0", "1200.5"], "p": [_fmt(last, d), _fmt(last, d)], "t": [500, 9000],
            "l": [_fmt(last * 0.99, d), _fmt(last * 0.98, d)], "h": [_fmt(last * 1.01, d), _fmt(last * 1.02, d)],
            "o": _fmt(last * 0.995, d)}
