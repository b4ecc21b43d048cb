"""CSV exports: streamed, dated, formula-safe, and equal to the ledger when parsed back."""
from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import datetime, timezone
from decimal import Decimal

from bot.models import Trade
from dashboard.exports import TRADE_COLUMNS, neutralise
from tests.dashboard.conftest import force_trade, ledger_lines


def parse(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def today() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


def test_trades_csv_matches_the_ledger(client, engine):
    """Every ledger line, parsed back: numbers within half a unit of the market's last decimal
    (read from the source's Market steps here, not from the exporter), with that many decimals."""
    response = client.get("/api/export/trades")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="trades-{today()}.csv"'
    text = response.get_data(as_text=True)
    assert text.splitlines()[0] == ",".join(TRADE_COLUMNS)
    rows = parse(response)
    lines = ledger_lines(engine)
    assert len(rows) == len(lines)
    markets = engine.source.markets
    for row, line in zip(rows, lines):
        market = markets[(line["exchange"], line["symbol"])]
        places = {"qty": _places(market.amount_step), "price": _places(market.price_step),
                  "decision_mid": _places(market.price_step), "fee": 8, "quote_usdt_rate": 8, "realized_pnl": 8,
                  "latency_ms": 3, "liquidity_taken_pct": 4}
        for column in TRADE_COLUMNS:
            if column in ("fee_usdt", "net_pnl"):
                continue
            value = line[column]
            if isinstance(value, float):
                assert_decimal(row[column], value, places[column], column)
            elif isinstance(value, int):
                assert int(row[column]) == value, column
            else:
                assert row[column] == neutralise(value), column
        quote = line["symbol"].split("/")[1]
        fee_usdt = line["fee"] * (line["quote_usdt_rate"] if line["fee_asset"] == quote else 1.0)
        assert_decimal(row["fee_usdt"], fee_usdt, 8, "fee_usdt")
        assert_decimal(row["net_pnl"], line["realized_pnl"] - fee_usdt, 8, "net_pnl")


def _places(step: float) -> int:
    """Decimals of a step written by hand: 0.001 -> 3, 1e-05 -> 5, 1.0 -> 0."""
    text = f"{step:.12f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


def assert_decimal(cell: str, value: float, places: int, column: str) -> None:
    """cell is a plain decimal with exactly `places` decimals within half its last unit of value."""
    assert "e" not in cell.lower(), (column, cell)
    written = cell.split(".")[1] if "." in cell else ""
    assert len(written) == places, (column, cell, places)
    assert abs(Decimal(cell) - Decimal(repr(value))) <= Decimal(5) * Decimal(10) ** (-places - 1), (column, cell, value)


def test_formula_cells_are_neutralised(client, engine):
    force_trade(engine, reason="=HYPERLINK(\"http://evil\")")
    force_trade(engine, side="sell", reason="@SUM(A1)")
    rows = parse(client.get("/api/export/trades"))
    assert rows[-2]["reason"] == "'=HYPERLINK(\"http://evil\")"
    assert rows[-1]["reason"] == "'@SUM(A1)"
    for value in ("+1", "-1+2", "\tx", "\rx"):
        assert neutralise(value) == "'" + value
    assert neutralise(-2.5) == -2.5 and neutralise("plain") == "plain" and neutralise(None) == ""


def test_portfolio_csv(client, engine):
    response = client.get("/api/export/portfolio")
    assert response.headers["Content-Disposition"] == f'attachment; filename="portfolio-{today()}.csv"'
    rows = parse(response)
    summary = client.get("/api/portfolio").get_json()
    assert {r["as_of"] for r in rows} == {summary["as_of"]} and summary["as_of"]
    balances = [r for r in rows if r["kind"] == "balance"]
    assert {(r["exchange"], r["asset"]) for r in balances} == \
        {(ex, asset) for ex, wallet in summary["balances"].items() for asset in wallet}
    for r in balances:
        qty = summary["balances"][r["exchange"]][r["asset"]]
        assert_decimal(r["qty"], qty, 8, "qty")  # wallets hold amounts finer than the trading step
    positions = [r for r in rows if r["kind"] == "position"]
    assert len(positions) == len(summary["positions"])
    terms = {r["kind"]: r for r in rows if r["kind"] not in ("balance", "position")}
    for term in ("equity", "total_pnl", "strategies_net_pnl", "holdings_pnl", "realized_pnl", "fees_usdt"):
        assert_decimal(terms[term]["value_usdt"], summary[term], 8, term)
    # the terms add up as written: total = strategies' net + starting holdings' move
    assert abs(Decimal(terms["total_pnl"]["value_usdt"]) - Decimal(terms["strategies_net_pnl"]["value_usdt"])
               - Decimal(terms["holdings_pnl"]["value_usdt"])) <= Decimal("2e-8")


def test_journal_csv(client, csrf, engine):
    trade_id = ledger_lines(engine)[0]["id"]
    client.post("/api/journal/entry", headers=csrf, json={"trade_id": trade_id, "entry_reason": "-risky", "rating": 2})
    client.post("/api/journal/entry", headers=csrf, json={"lessons_learned": "fine"})
    response = client.get("/api/export/journal")
    assert response.headers["Content-Disposition"] == f'attachment; filename="journal-{today()}.csv"'
    rows = parse(response)
    assert [r["trade_id"] for r in rows] == [trade_id, ""]
    assert rows[0]["entry_reason"] == "'-risky" and rows[0]["rating"] == "2"
    line = ledger_lines(engine)[0]  # the trade as the file says
    market = engine.source.markets[(line["exchange"], line["symbol"])]
    assert (rows[0]["trade_time"], rows[0]["trade_side"], rows[0]["symbol"], rows[0]["trade_exchange"]) == \
        (line["ts"], line["side"], line["symbol"], line["exchange"])
    assert_decimal(rows[0]["trade_price"], line["price"], _places(market.price_step), "trade_price")
    assert_decimal(rows[0]["trade_qty"], line["qty"], _places(market.amount_step), "trade_qty")
    assert rows[1]["trade_time"] == rows[1]["trade_side"] == rows[1]["trade_price"] == ""


def _append_copies(engine, template: dict, count: int) -> None:
    batch = []
    for _ in range(count):
        seq = engine.ledger.next_seq() + len(batch)
        batch.append(Trade.from_dict({**template, "id": f"T{seq:08d}", "seq": seq}))
        if len(batch) == 5000:
            engine.ledger.append(batch)
            batch = []
    engine.ledger.append(batch)


def _export_peak(client) -> tuple[int, int, int]:
    """(peak traced bytes, CSV size, rows) while streaming the trades export."""
    tracemalloc.start()  # before the request: the test client already pulls the first chunk
    response = client.get("/api/export/trades")
    size = rows = 0
    for chunk in response.response:
        size += len(chunk)
        rows += chunk.count("\r\n") if isinstance(chunk, str) else chunk.count(b"\r\n")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, size, rows


def test_trades_export_memory_stays_flat_on_a_large_ledger(client, engine):
    """5,000 then 25,000 trades: the export's peak memory does not grow with the ledger."""
    template = ledger_lines(engine)[0]
    _append_copies(engine, template, 5_000)
    small_peak, small_size, _ = _export_peak(client)
    _append_copies(engine, template, 20_000)
    peak, size, rows = _export_peak(client)
    assert rows == engine.ledger.count + 1
    assert size > 6_000_000 and size > 4 * small_size
    # Flat: five times the rows, not five times the memory (a list of rows would be ~9 MB here).
    assert peak < 1.5 * small_peak + 512 * 1024, f"peak {peak} bytes at 25k trades vs {small_peak} at 5k"
    assert peak < size / 4, f"peak {peak} bytes for a {size}-byte export"  # ~1.9 MB flat, measured


# Hand-written cases (OWASP CSV injection): the text as stored -> the cell a spreadsheet gets.
FORMULA_CASES = [
    ("=1+1", "'=1+1"),
    (" =1+1", "' =1+1"),              # leading space before the formula
    ("   @SUM(A1)", "'   @SUM(A1)"),
    ("\n=cmd|' /C calc'!A0", "'\n=cmd|' /C calc'!A0"),  # a line break first
    ("\r\n+1", "'\r\n+1"),
    ("\t-1", "'\t-1"),
    ("\tplain", "'\tplain"),          # a leading tab or CR alone is enough
    ("\rplain", "'\rplain"),
    ("\nplain", "'\nplain"),
    ("|calc", "'|calc"),
    (" |calc", "' |calc"),
    ("\uff1dSUM(A1)", "'\uff1dSUM(A1)"),    # full-width equals
    (" \uff0b1", "' \uff0b1"),              # full-width plus after a space
    ("\uff0d1", "'\uff0d1"),                # full-width minus
    ("\uff20A1", "'\uff20A1"),              # full-width at sign
    ("-12.5", "'-12.5"),              # text that looks like a number is still text
    ("plain text", "plain text"),
    ("a=b", "a=b"),                   # a formula character later in the text is harmless
    ("   ", "   "),
    ("", ""),
]


def test_formula_cases_by_hand():
    for stored, expected in FORMULA_CASES:
        assert neutralise(stored) == expected, repr(stored)
    assert neutralise(-12.5) == -12.5 and neutralise(0) == 0 and neutralise(3) == 3


def test_exported_journal_cells_are_neutralised(client, csrf):
    reasons = [stored for stored, _ in FORMULA_CASES if stored.strip()]
    for reason in reasons:
        response = client.post("/api/journal/entry", headers=csrf,
                               json={"entry_reason": reason, "confidence_level": 3})
        assert response.status_code in (200, 201), response.get_json()
    rows = parse(client.get("/api/export/journal"))
    exported = {row["entry_reason"]: row for row in rows[-len(reasons):]}
    expected = dict(FORMULA_CASES)
    # csv reads a quoted cell's CR/LF back unchanged, so the cells compare as written.
    assert sorted(exported) == sorted(expected[reason] for reason in reasons)
    assert all(row["confidence_level"] == "3" for row in exported.values())


def test_negative_numbers_stay_numbers_in_the_csv(client, engine):
    # A short (stat_arb declares them) is a negative quantity in the export.
    force_trade(engine, side="sell", strategy="stat_arb", qty=0.001)
    text = client.get("/api/export/portfolio").get_data(as_text=True)
    negative = [cell for row in csv.reader(io.StringIO(text)) for cell in row if cell.startswith(("-", "'-"))]
    assert negative, "the portfolio export had no negative figure to check"
    assert all(cell.startswith("-") and float(cell) < 0 for cell in negative), negative
