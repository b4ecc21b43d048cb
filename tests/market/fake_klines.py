"""A local HTTP server answering like binance's public REST API for history downloads.

It holds a fixed set of 1-minute bars per symbol (tests/candle_files.walk) and serves them the
way binance does: GET /api/v3/klines?symbol&interval&startTime&endTime&limit (at most 1000 per
page, from startTime on). Real ccxt binance objects are pointed at it (exchange_options()).

Faults: `window_limit=(n, ms)` answers 429 to a klines request arriving when n had already
arrived in the ms before it, the way exchanges limit request weight per window (a client that
ignored its rate limit gets caught; `too_soon` counts them); `hold_from` keeps every klines
request from that number on waiting (unanswered) until `release` is set, so a test can act
while the client is surely mid-download; `faults` maps a klines request
number (1-based) to an HTTP status (429, 500, 502, 503) or "drop" (the connection is closed
without an answer); `fail_from` makes every klines request from that number on answer 500 (an
exchange that stays down, for the interrupted-download tests).
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import numpy as np

from tests.candle_files import START_MS, walk
from tests.market.fake_exchange import _binance_market


class FakeKlines:
    """binance klines on 127.0.0.1; use as a context manager."""

    def __init__(self, bars: int = 5000, symbols=("BTC/USDT", "ETH/USDT"), *, window_limit: tuple | None = None,
                 faults: dict | None = None, fail_from: int | None = None, holes: tuple = (),
                 hold_from: int | None = None):
        self.data = {}
        for n, symbol in enumerate(symbols):
            ts, values = walk(bars, seed=10 + n, price=100.0 * (n + 1))
            keep = np.ones(bars, dtype=bool)
            for lo, hi in holes:  # bars the exchange itself lacks (a real gap)
                keep[lo:hi] = False
            self.data[symbol.replace("/", "")] = (ts[keep], values[keep])
        self.symbols = tuple(symbols)
        self.window_limit = window_limit
        self.faults = dict(faults or {})
        self.fail_from = fail_from
        self.hold_from = hold_from
        self.release = threading.Event()  # lets held requests through
        self.klines_requests = 0
        self.too_soon = 0  # requests refused by window_limit
        self.request_times: list[float] = []  # time.monotonic() of each klines request's arrival
        self._lock = threading.Lock()
        self._server = None

    def __enter__(self) -> "FakeKlines":
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.fake = self
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def exchange_options(self, rate_limit_ms: int = 20) -> dict:
        """market.exchange_options.binance pointing a real ccxt binance at this server."""
        api = {name: f"{self.url}/api/v3" for name in ("public", "private")}
        api["v1"] = f"{self.url}/api/v1"
        return {"urls": {"api": api}, "timeout": 2000, "rateLimit": rate_limit_ms,
                "options": {"fetchMarkets": {"types": ["spot"]}}}

    def bars(self, symbol: str) -> tuple[np.ndarray, np.ndarray]:
        """(ts ms, values) the exchange holds for a symbol."""
        return self.data[symbol.replace("/", "")]

    # ---- answers -------------------------------------------------------------------------
    def answer(self, path: str, query: dict):
        if path == "/api/v3/exchangeInfo":
            return 200, {"timezone": "UTC", "serverTime": int(time.time() * 1000), "rateLimits": [],
                         "exchangeFilters": [], "symbols": [_binance_market(s) for s in self.symbols]}
        if path == "/api/v3/time":
            return 200, {"serverTime": int(time.time() * 1000)}
        if path != "/api/v3/klines":
            return 404, {"code": -1, "msg": f"unknown path {path}"}
        with self._lock:
            self.klines_requests += 1
            number = self.klines_requests
            now = time.monotonic()
            soon = False
            if self.window_limit is not None:
                most, window_ms = self.window_limit
                soon = sum(1 for t in self.request_times if (now - t) * 1000 < window_ms) >= most
            self.request_times.append(now)
        if self.hold_from is not None and number >= self.hold_from:
            self.release.wait(timeout=120)
        if soon:
            self.too_soon += 1
            return 429, {"code": -1003, "msg": "Too many requests; current limit of IP is 1200 requests per minute."}
        fault = self.faults.get(number)
        if fault is None and self.fail_from is not None and number >= self.fail_from:
            fault = 500
        if fault is not None:
            if fault == "drop":
                return "drop", None
            return fault, {"code": -1003 if fault == 429 else -1001, "msg": f"fake fault {fault}"}
        symbol = query.get("symbol")
        if symbol not in self.data:
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        ts, values = self.data[symbol]
        start = int(query.get("startTime", ts[0]))
        end = int(query["endTime"]) if "endTime" in query else None
        limit = min(int(query.get("limit", 500)), 1000)
        lo = int(np.searchsorted(ts, start))
        rows = []
        for i in range(lo, min(lo + limit, ts.size)):
            if end is not None and ts[i] > end:
                break
            o, h, low, c, v = values[i].tolist()
            rows.append([int(ts[i]), repr(o), repr(h), repr(low), repr(c), repr(v), int(ts[i]) + 59_999, "0", 1,
                         "0", "0", "0"])
        return 200, rows


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        parsed = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        status, body = self.server.fake.answer(parsed.path, query)
        if status == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


__all__ = ["FakeKlines", "START_MS"]
