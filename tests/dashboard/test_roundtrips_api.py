"""GET /api/roundtrips and its CSV export, against the oracle over trades.jsonl; bad filters are 400s."""
from __future__ import annotations

import csv
import io

import pytest

from bot.timestamps import parse_iso
from tests.dashboard.conftest import force_trade, ledger_lines
from tests.roundtrip_oracle import oracle_round_trips


def every_row(client, **args) -> list[dict]:
    rows, page = [], 1
    while True:
        body = client.get("/api/roundtrips", query_string={**args, "limit": 50, "page": page}).get_json()
        rows.extend(body["round_trips"])
        if page >= body["pages"]:
            return rows
        page += 1


def test_the_listing_equals_the_oracle(client, engine):
    oracle = oracle_round_trips(ledger_lines(engine))
    body = client.get("/api/roundtrips").get_json()
    assert body["total"] == sum(len(trips) for trips in oracle.values())
    for name, trips in oracle.items():
        rows = list(reversed(every_row(client, strategy=name)))  # the API lists newest first
        assert len(rows) == len(trips), name
        for row, expected in zip(rows, trips):
            assert row["status"] == ("closed" if expected["closed"] else "open")
            assert set(row["signal_ids"]) == expected["signals"]
            if expected["closed"]:
                assert row["net_pnl"] == pytest.approx(expected["net"], abs=1e-6)
            assert row["net_pnl"] == pytest.approx(row["realized_pnl"] - row["entry_fees_usdt"] - row["exit_fees_usdt"])
    arbitrage = every_row(client, strategy="arbitrage")
    assert arbitrage and all(row["side"] == "arbitrage" and len(set(row["signal_ids"])) == 1 for row in arbitrage)


def test_filters_and_an_open_round_trip_marked_to_market(client, engine):
    force_trade(engine, side="buy", strategy="news", symbol="SOL/USDT", qty=1.0)
    rows = every_row(client, strategy="news", status="open", symbol="SOL/USDT")
    assert rows and all(r["status"] == "open" and "SOL/USDT" in r["symbols"] for r in rows)
    position = next(p for p in client.get("/api/portfolio").get_json()["positions"]
                    if p["strategy"] == "news" and p["asset"] == "SOL")
    assert rows[0]["unrealized_pnl"] == pytest.approx(position["unrealized_pnl"])
    closed = every_row(client, status="closed")
    middle = parse_iso(closed[len(closed) // 2]["closed_at"])
    window = every_row(client, status="closed", **{"from": middle, "to": middle + 3600})
    assert window and all(parse_iso(r["closed_at"]) >= middle and parse_iso(r["opened_at"]) <= middle + 3600
                          for r in window)
    assert len(window) < len(closed)


@pytest.mark.parametrize("args, field", [
    ({"strategy": "martingale"}, "strategy"),
    ({"symbol": "DOGE/USDT"}, "symbol"),
    ({"status": "half"}, "status"),
    ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "to"),
    ({"from": "yesterday"}, "from"),
    ({"page": 100000}, "page"),
    ({"offset": 100000}, "offset"),
    ({"limit": 0}, "limit"),
    ({"page": 1, "offset": 0}, "page"),
])
def test_bad_filters_are_400s_naming_the_field(client, args, field):
    response = client.get("/api/roundtrips", query_string=args)
    assert response.status_code == 400
    assert response.get_json()["field"] == field


def test_the_csv_export_has_every_round_trip(client, engine):
    response = client.get("/api/export/roundtrips")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    listing = list(reversed(every_row(client)))
    assert [row["id"] for row in rows] == [trip["id"] for trip in listing]
    for row, trip in zip(rows, listing):
        assert float(row["net_pnl"]) == pytest.approx(trip["net_pnl"])
        assert row["symbols"] == " ".join(trip["symbols"])
