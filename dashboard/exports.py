"""CSV exports of trades, portfolio, journal, round trips, transfers and borrow fees, streamed row by row.

The trades export walks ledger.since() and the transfers and borrow fees exports
ledger.iter_non_trades() (the file, streamed), so memory stays flat whatever the ledger's size.
Text cells that a spreadsheet could run as a formula are prefixed with an apostrophe (OWASP's
CSV injection advice): those starting with a tab, CR or LF, and those whose first character
after any leading whitespace is = + - @ | or a full-width form of one. Numbers are written as
numbers, so -12.5 stays a number.
"""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from typing import Iterable, Iterator

from flask import Blueprint, Response, current_app, stream_with_context

from bot.models import BORROW_FEE, TRANSFER_IN, TRANSFER_OUT, Trade, iso_utc

TRADE_COLUMNS = tuple(Trade.__slots__)
PORTFOLIO_COLUMNS = ("kind", "exchange", "strategy", "asset", "qty", "avg_cost", "mark", "value_usdt",
                     "unrealized_pnl")
JOURNAL_COLUMNS = ("id", "trade_id", "strategy", "symbol", "entry_reason", "confidence_level", "exit_reason",
                   "lessons_learned", "rating", "created_at", "updated_at")
# Spreadsheets skip leading spaces and line breaks before a formula, and some read the
# full-width forms (＝ ＋ － ＠ ｜) as their ASCII twins.
FORMULA_CHARACTERS = frozenset("=+-@|" "\uff1d\uff0b\uff0d\uff20\uff5c")
CONTROL_STARTS = ("\t", "\r", "\n")
ROWS_PER_CHUNK = 500

exports = Blueprint("exports", __name__, url_prefix="/api/export")


def neutralise(value):
    """A cell value safe to open in a spreadsheet."""
    if value is None:
        return ""
    if isinstance(value, str) and (value.startswith(CONTROL_STARTS) or value.lstrip()[:1] in FORMULA_CHARACTERS):
        return "'" + value
    return value


def csv_chunks(columns: Iterable[str], rows: Iterable[Iterable], cooperate=None) -> Iterator[str]:
    """The header line, then the rows in chunks of ROWS_PER_CHUNK lines."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for number, row in enumerate(rows, start=1):
        writer.writerow([neutralise(v) for v in row])
        if number % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if cooperate is not None:
                cooperate()
    yield buffer.getvalue()


def csv_response(name: str, chunks: Iterator[str]) -> Response:
    filename = f"{name}-{datetime.now(timezone.utc).strftime('%Y-%m-%d')}.csv"
    response = Response(stream_with_context(chunks), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _ctx():
    return current_app.extensions["dashboard"]


@exports.get("/trades")
def export_trades():
    ctx = _ctx()
    ledger = ctx.engine.ledger
    with ctx.engine.lock:
        trades = ledger.since(0, ledger.last_seq)  # from memory now, or streamed from the file later

    def rows():
        for trade in trades:
            line = trade.to_dict()  # as the ledger line holds it (ts in ISO 8601)
            yield [line[column] for column in TRADE_COLUMNS]

    return csv_response("trades", csv_chunks(TRADE_COLUMNS, rows(), ctx.cooperate))


@exports.get("/portfolio")
def export_portfolio():
    summary = _ctx().facade.portfolio_summary()
    marks = summary["marks"]
    rows = []
    for exchange, wallet in summary["balances"].items():
        for asset, qty in wallet.items():
            mark = marks.get(asset)
            rows.append(["balance", exchange, None, asset, qty, None, mark,
                         qty * mark if mark is not None else None, None])
    for p in summary["positions"]:
        rows.append(["position", None, p["strategy"], p["asset"], p["qty"], p["avg_cost"], p["mark"],
                     p["value_usdt"], p["unrealized_pnl"]])
    rows.append(["equity", None, None, "USDT", None, None, None, summary["equity"], summary["unrealized_pnl"]])
    return csv_response("portfolio", csv_chunks(PORTFOLIO_COLUMNS, rows))


@exports.get("/journal")
def export_journal():
    entries = _ctx().facade.journal_entries()
    rows = ([entry.get(column) for column in JOURNAL_COLUMNS] for entry in reversed(entries))
    return csv_response("journal", csv_chunks(JOURNAL_COLUMNS, rows))


ROUNDTRIP_COLUMNS = ("id", "strategy", "kind", "status", "side", "symbols", "exchanges", "opened_at", "closed_at",
                     "quantity", "entry_vwap", "exit_vwap", "entry_notional_usdt", "entry_fees_usdt",
                     "exit_fees_usdt", "fees_usdt", "realized_pnl", "net_pnl", "return_pct", "duration_seconds",
                     "unrealized_pnl", "entry_reason", "exit_reason", "signal_ids", "trade_ids", "legs")


def _leg_text(leg: dict) -> str:
    """'ETH/USDT buy in 2 @ 100 out 2 @ 115' (the parts a leg has)."""
    parts = [leg["symbol"], leg["side"]]
    for way in ("entry", "exit"):
        if leg[f"{way}_vwap"] is not None:
            parts.append(f"{'in' if way == 'entry' else 'out'} {leg[f'{way}_qty']:g} @ {leg[f'{way}_vwap']:.8g}")
    return " ".join(parts)


def _roundtrip_cell(trip: dict, column: str):
    value = trip[column]
    if column == "legs":
        return "; ".join(_leg_text(leg) for leg in value)
    return " ".join(value) if isinstance(value, list) else value


@exports.get("/roundtrips")
def export_roundtrips():
    """Every round trip, oldest first (the rows of GET /api/roundtrips, unpaged)."""
    ctx = _ctx()
    trips = list(reversed(ctx.facade.round_trips(ctx.cooperate)))
    rows = ([_roundtrip_cell(trip, column) for column in ROUNDTRIP_COLUMNS] for trip in trips)
    return csv_response("roundtrips", csv_chunks(ROUNDTRIP_COLUMNS, rows, ctx.cooperate))


TRANSFER_COLUMNS = ("id", "strategy", "asset", "from", "to", "amount", "fee", "fee_usdt", "sent_at", "arrival_at",
                    "status", "landed_at", "out_seq", "in_seq", "reason")
BORROW_FEE_COLUMNS = ("id", "seq", "ts", "strategy", "exchange", "borrowed_asset", "qty", "price", "rate_hourly_pct",
                      "qty_hours", "from_ts", "to_ts", "fee_usdt", "closed")


def transfer_rows(entries) -> Iterable[list]:
    """One row per transfer, in the order they landed (or were cancelled), then those still in transit."""
    sent: dict[str, object] = {}
    for entry in entries:
        if entry.entry == TRANSFER_OUT:
            sent[entry.ref] = entry
            continue
        out = sent.pop(entry.ref, None)
        if out is not None:
            yield _transfer_row(out, entry)
    for out in sent.values():
        yield _transfer_row(out, None)


def _transfer_row(out, landed) -> list:
    cancelled = landed is not None and landed.detail.get("cancelled")
    status = "in_transit" if landed is None else ("cancelled" if cancelled else "arrived")
    reason = landed.detail.get("reason", "") if cancelled else out.detail.get("reason", "")
    return [out.ref, out.strategy, out.asset, out.exchange, out.detail.get("to"), -out.amount - out.fee, out.fee,
            out.fee_usdt, out.detail.get("sent_ts"), out.detail.get("arrival_ts"), status,
            iso_utc(landed.ts) if landed is not None else None, out.seq, landed.seq if landed is not None else None,
            reason]


@exports.get("/transfers")
def export_transfers():
    """Every transfer between exchanges, one row each (a transfer still in transit included)."""
    ctx = _ctx()
    entries = ctx.engine.ledger.iter_non_trades((TRANSFER_OUT, TRANSFER_IN))
    return csv_response("transfers", csv_chunks(TRANSFER_COLUMNS, transfer_rows(entries), ctx.cooperate))


@exports.get("/borrow_fees")
def export_borrow_fees():
    """Every borrow fee booked on a short, oldest first."""
    ctx = _ctx()

    def rows():
        for entry in ctx.engine.ledger.iter_non_trades((BORROW_FEE,)):
            detail = entry.detail
            yield [entry.id, entry.seq, iso_utc(entry.ts), entry.strategy, entry.exchange,
                   detail.get("borrowed_asset"), detail.get("qty"), detail.get("price"), detail.get("rate_hourly_pct"),
                   detail.get("qty_hours"), detail.get("from_ts"), detail.get("to_ts"), entry.fee_usdt,
                   detail.get("closed")]

    return csv_response("borrow_fees", csv_chunks(BORROW_FEE_COLUMNS, rows(), ctx.cooperate))
