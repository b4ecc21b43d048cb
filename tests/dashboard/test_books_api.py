"""GET /api/transfers, the transfers and borrow fees CSVs, the cost figures of /api/portfolio and the
overview's transfers panel, each held to the ledger file read independently."""
from __future__ import annotations

import csv
import io

import pytest

from dashboard.exports import BORROW_FEE_COLUMNS, TRANSFER_COLUMNS
from tests.dashboard.conftest import all_ledger_lines


def parse(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def transfers_in_file(engine) -> dict[str, dict]:
    """ref -> {"out": line, "in": line or None}, from the file."""
    found: dict[str, dict] = {}
    for line in all_ledger_lines(engine):
        if line.get("entry") == "transfer_out":
            found[line["ref"]] = {"out": line, "in": None}
        elif line.get("entry") == "transfer_in":
            found[line["ref"]]["in"] = line
    return found


def test_the_template_run_moved_coins(engine):
    assert len(transfers_in_file(engine)) >= 5, "the default market drains wallets within 30,000 ticks"


def test_transfers_newest_first_match_the_ledger(client, engine):
    body = client.get("/api/transfers").get_json()
    expected = transfers_in_file(engine)
    assert body["transfers"] and len(body["transfers"]) <= 100
    assert [row["id"] for row in body["transfers"]] == sorted(expected, reverse=True)[:len(body["transfers"])]
    for row in body["transfers"]:
        out, landed = expected[row["id"]]["out"], expected[row["id"]]["in"]
        assert row["from"] == out["exchange"] and row["to"] == out["detail"]["to"]
        assert row["amount"] == pytest.approx(-out["amount"] - out["fee"]) and row["fee"] == out["fee"]
        assert row["fee_usdt"] == out["fee_usdt"] and row["strategy"] == out["strategy"]
        assert row["status"] == ("in_transit" if landed is None else
                                 "cancelled" if landed["detail"].get("cancelled") else "arrived")
        assert row["landed_at"] == (landed["ts"] if landed else None)
    in_transit = {ref for ref, legs in expected.items() if legs["in"] is None}
    assert {t["ref"] for t in body["in_transit"]} == in_transit
    fees: dict[str, float] = {}
    for legs in expected.values():
        fees[legs["out"]["strategy"]] = fees.get(legs["out"]["strategy"], 0.0) + legs["out"]["fee_usdt"]
    for name, total in fees.items():
        assert body["strategies"][name]["transfer_fees_usdt"] == pytest.approx(total, abs=1e-9)


def test_the_transfers_csv_has_every_transfer_of_the_file(client, engine):
    response = client.get("/api/export/transfers")
    assert response.status_code == 200 and response.mimetype == "text/csv" and response.is_streamed
    assert response.get_data(as_text=True).splitlines()[0] == ",".join(TRANSFER_COLUMNS)
    rows = parse(response)
    expected = transfers_in_file(engine)
    assert sorted(row["id"] for row in rows) == sorted(expected)
    for row in rows:
        out, landed = expected[row["id"]]["out"], expected[row["id"]]["in"]
        assert float(row["amount"]) == pytest.approx(-out["amount"] - out["fee"], rel=1e-12)
        assert float(row["fee_usdt"]) == out["fee_usdt"] and int(row["out_seq"]) == out["seq"]
        assert row["in_seq"] == (str(landed["seq"]) if landed else "")


def test_the_borrow_fees_csv_has_every_borrow_fee_of_the_file(client, engine):
    response = client.get("/api/export/borrow_fees")
    assert response.status_code == 200
    assert response.get_data(as_text=True).splitlines()[0] == ",".join(BORROW_FEE_COLUMNS)
    rows = parse(response)
    bills = [line for line in all_ledger_lines(engine) if line.get("entry") == "borrow_fee"]
    assert [row["id"] for row in rows] == [bill["id"] for bill in bills]
    assert sum(float(row["fee_usdt"]) for row in rows) == pytest.approx(sum(b["fee"] for b in bills), rel=1e-12)


def test_portfolio_costs_and_the_identity(client, engine):
    body = client.get("/api/portfolio").get_json()
    lines = all_ledger_lines(engine)
    assert body["transfer_fees_usdt"] == pytest.approx(
        sum(line["fee_usdt"] for line in lines if line.get("entry") == "transfer_out"), abs=1e-9)
    assert body["borrow_fees_usdt"] == pytest.approx(
        sum(line["fee"] for line in lines if line.get("entry") == "borrow_fee"), abs=1e-9)
    assert body["total_pnl"] == pytest.approx(body["strategies_net_pnl"] + body["holdings_pnl"], abs=1e-6)
    rows = client.get("/api/strategies/performance").get_json()["strategies"]
    assert sum(r["net_pnl"] for r in rows) == pytest.approx(body["strategies_net_pnl"], abs=1e-6)
    for row in rows:
        assert row["net_pnl"] == pytest.approx(row["realized_pnl"] + row["unrealized_pnl"] - row["fees_usdt"]
                                               - row["transfer_fees_usdt"] - row["borrow_fees_usdt"], abs=1e-9)


def test_the_overview_has_a_transfers_panel_with_its_three_states(client):
    html = client.get("/").get_data(as_text=True)
    assert 'id="transfers-panel"' in html and 'id="transfers-body"' in html
    assert 'data-empty="No transfers yet.' in html and 'href="/api/export/transfers"' in html
