"""The round-trips summary, wallets, logs and trade-search endpoints, against oracles: the ledger
and log files read from disk here, figures worked out by hand, and the portfolio's own sums."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from bot.accounting.roundtrips import round_trips
from bot.accounting.trip_summary import calendar
from bot.models import Trade
from bot.timestamps import parse_iso
from tests.dashboard.conftest import force_trade, ledger_lines
from tests.roundtrip_oracle import fee_usdt, oracle_round_trips


def _trade(seq: int, ts: str, side: str, qty: float, price: float, realized: float = 0.0, fee: float = 0.0,
           signal: str | None = None, reason: str = "") -> Trade:
    return Trade.from_dict({"id": f"T{seq:08d}", "seq": seq, "ts": ts, "tick": seq, "strategy": "momentum",
                            "signal_id": signal or f"S{seq}", "kind": "momentum", "exchange": "binance",
                            "symbol": "ETH/USDT", "side": side, "qty": qty, "price": price, "fee": fee,
                            "fee_asset": "USDT", "quote_usdt_rate": 1.0, "realized_pnl": realized,
                            "status": "filled", "reason": reason})


def test_duration_return_and_calendar_by_hand():
    """Buy 2 ETH at 100 (fee 0.2) on Sunday 2026-01-04 22:00 and 1 at 50 (fee 0.1) at 23:00, sell 3 at
    95 (fee 0.23) on Monday 01:30: 250 entered, 285 out, booked +35, net 35 - 0.53 = 34.47 = 13.788 %
    of 250, 3 h 30 min; it counts on Monday, in ISO week 2. Another closes on Sunday 23:59:59 (week 1)
    with a loss of 10 and 0.2 of fees."""
    trips = round_trips([
        _trade(1, "2026-01-04T22:00:00Z", "buy", 2.0, 100.0, fee=0.2),
        _trade(2, "2026-01-04T23:00:00Z", "buy", 1.0, 50.0, fee=0.1, signal="S2"),  # adds: same trip
        _trade(3, "2026-01-05T01:30:00Z", "sell", 3.0, 95.0, realized=35.0, fee=0.23),
    ])
    assert len(trips) == 1
    trip = trips[0]
    assert trip.duration_seconds == 12600.0
    assert trip.net_pnl == pytest.approx(34.47)
    assert trip.return_pct == pytest.approx(13.788)
    loss = round_trips([_trade(4, "2026-01-04T20:00:00Z", "buy", 1.0, 100.0, fee=0.1),
                        _trade(5, "2026-01-04T23:59:59Z", "sell", 1.0, 90.0, realized=-10.0, fee=0.1)])
    result = calendar(trips + loss)
    assert [(d["date"], round(d["net_pnl"], 6), d["wins"], d["losses"]) for d in result["days"]] == \
        [("2026-01-04", -10.2, 0, 1), ("2026-01-05", 34.47, 1, 0)]
    assert [(w["week"], w["start"], w["end"], round(w["net_pnl"], 6)) for w in result["weeks"]] == \
        [("2026-W01", "2025-12-29", "2026-01-04", -10.2), ("2026-W02", "2026-01-05", "2026-01-11", 34.47)]


def _utc_day(iso: str) -> str:
    return datetime.fromtimestamp(parse_iso(iso), tz=timezone.utc).date().isoformat()


def test_summary_adds_up_to_the_oracle_over_the_ledger_on_disk(client, engine):
    oracle = oracle_round_trips(ledger_lines(engine))
    closed = [trip for trips in oracle.values() for trip in trips if trip["closed"]]
    body = client.get("/api/roundtrips/summary").get_json()
    assert sum(d["round_trips"] for d in body["days"]) == len(closed) == body["overall"]["round_trips"]
    assert sum(d["net_pnl"] for d in body["days"]) == pytest.approx(sum(t["net"] for t in closed), abs=1e-6)
    assert sum(w["net_pnl"] for w in body["weeks"]) == pytest.approx(sum(t["net"] for t in closed), abs=1e-6)
    assert sum(s["round_trips"] for s in body["symbols"].values()) == len(closed)
    # every closed round trip's day is the UTC date of its close, and the durations are close - open
    listing = client.get("/api/roundtrips?status=closed&limit=1000").get_json()["round_trips"]
    by_day: dict[str, float] = {}
    for trip in listing:
        by_day[_utc_day(trip["closed_at"])] = by_day.get(_utc_day(trip["closed_at"]), 0.0) + trip["net_pnl"]
        assert trip["duration_seconds"] == pytest.approx(parse_iso(trip["closed_at"]) - parse_iso(trip["opened_at"]))
    assert {d["date"]: pytest.approx(d["net_pnl"]) for d in body["days"]} == by_day


def test_single_leg_round_trips_agree_with_their_ledger_lines(client, engine):
    """Times, entry notional and return % of each one-symbol round trip, from its own lines on disk."""
    lines = {line["id"]: line for line in ledger_lines(engine)}
    listing = client.get("/api/roundtrips?status=closed&limit=1000").get_json()["round_trips"]
    checked = 0
    shared = {i for i in lines if sum(i in t["trade_ids"] for t in listing) > 1}  # a flip splits its fill
    for trip in listing:
        if len(trip["symbols"]) != 1 or trip["side"] == "arbitrage" or shared & set(trip["trade_ids"]):
            continue
        legs = [lines[i] for i in trip["trade_ids"]]
        entry_side = "buy" if trip["side"] == "long" else "sell"
        entries = [x for x in legs if x["side"] == entry_side]
        if any(x["side"] != entry_side for x in legs[:len(entries)]):
            continue  # a flip or an add after an exit: the simple sums below do not apply
        notional = sum(x["qty"] * x["price"] * x["quote_usdt_rate"] for x in entries)
        net = sum(x["realized_pnl"] - fee_usdt(x) for x in legs)
        assert trip["opened_at"] == legs[0]["ts"] and trip["closed_at"] == legs[-1]["ts"]
        assert trip["net_pnl"] == pytest.approx(net, abs=1e-9)
        assert trip["return_pct"] == pytest.approx(net / notional * 100.0)
        checked += 1
    assert checked > 0


def test_outcome_and_exchange_filters(client, engine):
    every = client.get("/api/roundtrips?status=closed&limit=1000").get_json()["round_trips"]
    wins = client.get("/api/roundtrips?outcome=win&limit=1000").get_json()["round_trips"]
    losses = client.get("/api/roundtrips?outcome=loss&limit=1000").get_json()["round_trips"]
    assert {t["id"] for t in wins} == {t["id"] for t in every if t["net_pnl"] > 0}
    assert {t["id"] for t in losses} == {t["id"] for t in every if t["net_pnl"] <= 0}
    exchange = every[0]["exchanges"][0]
    on = client.get(f"/api/roundtrips?exchange={exchange}&status=closed&limit=1000").get_json()["round_trips"]
    assert {t["id"] for t in on} == {t["id"] for t in every if exchange in t["exchanges"]}
    summary = client.get(f"/api/roundtrips/summary?outcome=win&exchange={exchange}").get_json()
    assert summary["overall"]["round_trips"] == len([t for t in wins if exchange in t["exchanges"]])
    assert summary["overall"]["losses"] == 0


BAD_PARAMETERS = [
    ("/api/roundtrips", {"outcome": "draw"}, "outcome"),
    ("/api/roundtrips", {"exchange": "mtgox"}, "exchange"),
    ("/api/roundtrips/summary", {"exchange": "mtgox"}, "exchange"),
    ("/api/roundtrips/summary", {"status": "open"}, "status"),
    ("/api/roundtrips/summary", {"from": "2026-01-02", "to": "2026-01-01"}, "to"),
    ("/api/roundtrips/summary", {"strategy": "martingale"}, "strategy"),
    ("/api/logs", {"source": "syslog"}, "source"),
    ("/api/logs", {"level": "loud"}, "level"),
    ("/api/logs", {"limit": "0"}, "limit"),
    ("/api/logs", {"before": "-1"}, "before"),
    ("/api/logs", {"strategy": "martingale"}, "strategy"),
    ("/api/logs", {"tail": "1"}, "tail"),
    ("/api/journal/trades", {"limit": "201"}, "limit"),
    ("/api/journal/trades", {"strategy": "martingale"}, "strategy"),
    ("/api/journal/trades", {"q": "x" * 201}, "q"),
]


def test_bad_parameters_are_400s_naming_the_field(client):
    """One engine for every case (each would otherwise open its own)."""
    for path, args, field in BAD_PARAMETERS:
        response = client.get(path, query_string=args)
        assert response.status_code == 400, (path, args, response.get_json())
        body = response.get_json()
        assert body["field"] == field and field in body["error"], (path, args, body)


def test_wallets_add_up_to_the_portfolio(client, engine):
    force_trade(engine, side="sell", strategy="stat_arb", qty=0.01)  # a short: collateral reserved
    force_trade(engine, side="buy", strategy="momentum", qty=0.002)
    wallets = client.get("/api/wallets").get_json()
    portfolio = client.get("/api/portfolio").get_json()
    state = json.loads((engine.data_dir / "portfolio_state.json").read_text())
    assert {e["exchange"]: {a["asset"]: a["balance"] for a in e["assets"] if a["balance"] or a["start"]}
            for e in wallets["exchanges"]} == {ex: {a: q for a, q in w.items()} for ex, w in portfolio["balances"].items()}
    for exchange in wallets["exchanges"]:
        for asset in exchange["assets"]:
            assert asset["free"] == pytest.approx(max(0.0, asset["balance"] - asset["reserved_total"]))
    usdt_reserved = {e["exchange"]: next(a for a in e["assets"] if a["asset"] == "USDT")["reserved_total"]
                     for e in wallets["exchanges"]}
    for exchange, collateral in portfolio["reserved_collateral"].items():
        shorts_here = sum(s["collateral_usdt"] for s in wallets["shorts"] if s["exchange"] == exchange)
        assert shorts_here == pytest.approx(collateral)
        assert usdt_reserved[exchange] == pytest.approx(collateral)
    assert any(s["strategy"] == "stat_arb" and s["asset"] == "BTC" for s in wallets["shorts"])
    held = {(p["strategy"], p["asset"]): p["by_exchange"] for p in portfolio["positions"] if p["qty"] > 0}
    for (strategy, asset), by_exchange in held.items():
        for exchange, qty in by_exchange.items():
            if qty <= 0:
                continue  # sold on this exchange more than bought there: it holds nothing here (books' rule)
            rows = [a for e in wallets["exchanges"] if e["exchange"] == exchange for a in e["assets"] if a["asset"] == asset]
            assert any(r["by"] == strategy and r["amount"] == pytest.approx(qty) for r in rows[0]["reserved"])
    # drift: now (wallets + transit) less the starting balances the config gave
    start = {}
    for wallet in engine.portfolio.starting_balances.values():
        for asset, amount in wallet.items():
            start[asset] = start.get(asset, 0.0) + amount
    transit = {}
    for t in portfolio["in_transit"]:
        transit[t["asset"]] = transit.get(t["asset"], 0.0) + t["amount"]
    for row in wallets["inventory"]:
        now = sum(w.get(row["asset"], 0.0) for w in portfolio["balances"].values()) + transit.get(row["asset"], 0.0)
        assert row["drift"] == pytest.approx(now - start.get(row["asset"], 0.0))
    assert state  # the books were saved: the same figures a restart reads


def test_activity_log_pages_back_through_the_file_on_disk(client, engine):
    path = engine.log_dir / "activity.jsonl"
    for number in range(30):
        engine.activity.record("errors" if number % 3 == 0 else "books", kind="test", strategy="news",
                               message=f"line {number}", level="warning" if number % 3 else None)
    on_disk = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    seen, before = [], None
    while True:
        body = client.get("/api/logs", query_string={"limit": 7, **({"before": before} if before is not None else {})}).get_json()
        seen += body["records"]
        before = body["older_before"]
        if before is None:
            break
    assert [r["event"] for r in seen] == [line["event"] for line in reversed(on_disk)]
    errors = client.get("/api/logs?level=error&limit=500").get_json()["records"]
    assert [r["message"] for r in errors if r["fields"].get("kind") == "test"] == \
        [f"line {n}" for n in reversed(range(0, 30, 3))]
    news = client.get("/api/logs?strategy=news&q=line 1&limit=500").get_json()["records"]
    assert sorted(r["message"] for r in news) == sorted(f"line {n}" for n in range(30) if "line 1" in f"line {n}")


def test_bot_log_tail_reads_only_the_end(client, engine, monkeypatch):
    import bot.log_tail as log_tail

    path = engine.log_dir / "bot.log"
    record = "2026-12-02 05:00:00,123 INFO bot.engine: filler line that is long enough to count " + "x" * 60 + "\n"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(record * 40000)  # about 6 MB
        handle.write("2026-12-02 05:00:01,000 ERROR bot.strategies.momentum: boom\nTraceback (most recent call last):\n"
                     "  File \"x.py\", line 1\nValueError: bad\n")
        handle.write("2026-12-02 05:00:02,000 WARNING bot.engine: last\n")
    opened = []
    real_open = open

    def counting_open(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        if str(file) == str(path):
            reads = opened.append(0) or len(opened) - 1
            original = handle.read

            def read(size=-1):
                data = original(size)
                opened[reads] += len(data)
                return data
            handle.read = read
        return handle

    monkeypatch.setattr(log_tail, "open", counting_open, raising=False)
    body = client.get("/api/logs?source=bot&limit=2").get_json()
    assert [r["level"] for r in body["records"]] == ["warning", "error"]
    assert body["records"][1]["strategy"] == "momentum" and "ValueError: bad" in body["records"][1]["detail"]
    assert sum(opened) <= 2 * log_tail.BLOCK_BYTES, f"read {sum(opened)} bytes of {path.stat().st_size}"
    # a filter matching nothing stops at MAX_SCAN_BYTES and says where to go on from
    body = client.get("/api/logs?source=bot&level=critical").get_json()
    assert body["records"] == [] and body["older_before"] is not None
    assert body["scanned_bytes"] <= log_tail.MAX_SCAN_BYTES + len(record)


def test_trade_search_covers_the_whole_ledger(client, engine):
    lines = ledger_lines(engine)
    engine.ledger._recent = type(engine.ledger._recent)(list(engine.ledger._recent)[-5:])  # memory holds 5
    oldest = lines[0]
    body = client.get("/api/journal/trades", query_string={"q": oldest["id"]}).get_json()
    assert [t["id"] for t in body["trades"]] == [oldest["id"]] and body["complete"]
    assert body["trades"][0]["reason"] == oldest["reason"]
    symbol = oldest["symbol"]
    body = client.get("/api/journal/trades", query_string={"q": symbol, "limit": 200}).get_json()
    expected = [line["id"] for line in reversed(lines) if symbol.casefold() in line["symbol"].casefold()
                or symbol.casefold() in (line["reason"] or "").casefold()][:200]
    assert [t["id"] for t in body["trades"]] == expected
