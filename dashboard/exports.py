"""CSV exports of trades, portfolio, journal, round trips, transfers and borrow fees, streamed row by row.

The trades export walks ledger.since() and the transfers and borrow fees exports
ledger.iter_non_trades() (the file, streamed), so memory stays flat whatever the ledger's size.
Text cells that a spreadsheet could run as a formula are prefixed with an apostrophe (OWASP's
CSV injection advice): those starting with a tab, CR or LF, and those whose first character
after any leading whitespace is = + - @ | or a full-width form of one. Numbers are written as
decimal strings at the market's precision (bot/export_format.py), never guarded, so -12.5 stays
a number and no cell reads 3.1590895999999997.
"""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from typing import Iterable, Iterator

from flask import Blueprint, Response, current_app, stream_with_context

from bot.export_format import FEE_DECIMALS, SECONDS_DECIMALS, DecimalText, Precision, decimal_text, pct, usdt
from bot.models import Trade, trade_fee_usdt
from bot.ledger_entries import BORROW_FEE, TRANSFER_IN, TRANSFER_OUT
from bot.timestamps import iso_utc
from bot.trade_search import trades_by_id

TRADE_COLUMNS = tuple(Trade.__slots__) + ("fee_usdt", "net_pnl")
PORTFOLIO_COLUMNS = ("as_of", "kind", "exchange", "strategy", "asset", "qty", "avg_cost", "mark", "value_usdt",
                     "unrealized_pnl")
# The P&L terms, one row each: total_pnl = strategies_net_pnl + holdings_pnl, and
# strategies_net_pnl = realized + unrealized - fees - transfer fees - borrow fees.
PORTFOLIO_TERMS = ("equity", "initial_equity", "total_pnl", "strategies_net_pnl", "holdings_pnl", "realized_pnl",
                   "unrealized_pnl", "fees_usdt", "transfer_fees_usdt", "borrow_fees_usdt", "cash_usdt")
JOURNAL_COLUMNS = ("id", "trade_id", "strategy", "symbol", "trade_time", "trade_side", "trade_exchange",
                   "trade_qty", "trade_price", "entry_reason", "confidence_level", "exit_reason",
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
    if isinstance(value, str) and not isinstance(value, DecimalText) and (value.startswith(CONTROL_STARTS) or value.lstrip()[:1] in FORMULA_CHARACTERS):
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


def _precision(ctx) -> Precision:
    return Precision(ctx.engine.source.markets)


def trade_numbers(trade: Trade, precision: Precision) -> dict:
    """A trade's numeric cells as decimal strings, with its fee in USDT and its net P&L (realized less fee)."""
    exchange, symbol = trade.exchange, trade.symbol
    fee_usdt = trade_fee_usdt(trade)
    return {"qty": precision.qty(exchange, symbol, trade.qty), "price": precision.price(exchange, symbol, trade.price),
            "fee": decimal_text(trade.fee, FEE_DECIMALS), "quote_usdt_rate": usdt(trade.quote_usdt_rate),
            "realized_pnl": usdt(trade.realized_pnl), "fee_usdt": usdt(fee_usdt),
            "net_pnl": usdt(trade.realized_pnl - fee_usdt),
            "decision_mid": precision.price(exchange, symbol, trade.decision_mid),
            "latency_ms": decimal_text(trade.latency_ms, SECONDS_DECIMALS),
            "liquidity_taken_pct": pct(trade.liquidity_taken_pct)}


@exports.get("/trades")
def export_trades():
    ctx = _ctx()
    ledger = ctx.engine.ledger
    with ctx.engine.lock:
        trades = ledger.since(0, ledger.last_seq)  # from memory now, or streamed from the file later

    precision = _precision(ctx)

    def rows():
        for trade in trades:
            line = trade.to_dict()  # as the ledger line holds it (ts in ISO 8601)
            line.update(trade_numbers(trade, precision))
            yield [line[column] for column in TRADE_COLUMNS]

    return csv_response("trades", csv_chunks(TRADE_COLUMNS, rows(), ctx.cooperate))


@exports.get("/portfolio")
def export_portfolio():
    """Balances, positions and the P&L terms, each row stamped with the market time they are as of."""
    ctx = _ctx()
    summary = ctx.facade.portfolio_summary()
    precision = _precision(ctx)
    as_of, marks = summary["as_of"], summary["marks"]
    rows = []
    for exchange, wallet in summary["balances"].items():
        for asset, qty in wallet.items():
            mark = 1.0 if asset == "USDT" else marks.get(asset)
            rows.append([as_of, "balance", exchange, None, asset, precision.asset(asset, qty), None,
                         precision.asset_price(asset, mark), usdt(qty * mark) if mark is not None else None, None])
    for p in summary["positions"]:
        asset = p["asset"]
        rows.append([as_of, "position", None, p["strategy"], asset, precision.asset(asset, p["qty"]),
                     precision.asset_price(asset, p["avg_cost"]), precision.asset_price(asset, p["mark"]),
                     usdt(p["value_usdt"]), usdt(p["unrealized_pnl"])])
    for term in PORTFOLIO_TERMS:
        rows.append([as_of, term, None, None, "USDT", None, None, None, usdt(summary[term]), None])
    return csv_response("portfolio", csv_chunks(PORTFOLIO_COLUMNS, rows))


@exports.get("/journal")
def export_journal():
    """Journal entries, oldest first, with the time, side, exchange, quantity and price of their trade."""
    ctx = _ctx()
    entries = list(reversed(ctx.facade.journal_entries()))
    trades = trades_by_id(ctx.engine.ledger, ctx.engine.lock, {e["trade_id"] for e in entries if e.get("trade_id")})
    precision = _precision(ctx)

    def row(entry: dict) -> list:
        trade = trades.get(entry.get("trade_id"))
        if trade is not None:
            entry = {**entry, "trade_time": iso_utc(trade.ts), "trade_side": trade.side,
                     "trade_exchange": trade.exchange, "symbol": entry.get("symbol") or trade.symbol,
                     "trade_qty": precision.qty(trade.exchange, trade.symbol, trade.qty),
                     "trade_price": precision.price(trade.exchange, trade.symbol, trade.price)}
        return [entry.get(column) for column in JOURNAL_COLUMNS]

    return csv_response("journal", csv_chunks(JOURNAL_COLUMNS, (row(e) for e in entries)))


ROUNDTRIP_COLUMNS = ("id", "strategy", "kind", "status", "side", "symbols", "exchanges", "opened_at", "closed_at",
                     "quantity", "entry_vwap", "exit_vwap", "entry_notional_usdt", "entry_fees_usdt",
                     "exit_fees_usdt", "fees_usdt", "realized_pnl", "net_pnl", "return_pct", "duration_seconds",
                     "unrealized_pnl", "entry_reason", "exit_reason", "signal_ids", "trade_ids", "legs")


ROUNDTRIP_USDT = frozenset({"entry_notional_usdt", "entry_fees_usdt", "exit_fees_usdt", "fees_usdt", "realized_pnl",
                            "net_pnl", "unrealized_pnl"})


def _leg_text(leg: dict, precision: Precision) -> str:
    """'ETH/USDT buy in 2.000 @ 100.00 out 2.000 @ 115.00' (the parts a leg has, at the market's precision)."""
    symbol = leg["symbol"]
    parts = [symbol, leg["side"]]
    for way in ("entry", "exit"):
        if leg[f"{way}_vwap"] is not None:
            parts.append(f"{'in' if way == 'entry' else 'out'} {precision.qty(None, symbol, leg[f'{way}_qty'])}"
                         f" @ {precision.price(None, symbol, leg[f'{way}_vwap'])}")
    return " ".join(parts)


def roundtrip_cell(trip: dict, column: str, precision: Precision):
    """One cell of the round-trips CSV (numbers as decimal strings; a VWAP at the finest price step
    of the symbol, since a round trip may span exchanges)."""
    value = trip[column]
    if column == "legs":
        return "; ".join(_leg_text(leg, precision) for leg in value)
    if isinstance(value, list):
        return " ".join(value)
    symbol = trip["symbols"][0] if len(trip["symbols"]) == 1 else None
    if column in ROUNDTRIP_USDT:
        return usdt(value)
    if column == "return_pct":
        return pct(value)
    if column == "duration_seconds":
        return decimal_text(value, SECONDS_DECIMALS)
    if column == "quantity" and symbol is not None:
        return precision.qty(None, symbol, value)
    if column in ("entry_vwap", "exit_vwap") and symbol is not None:
        return precision.price(None, symbol, value)
    return value


@exports.get("/roundtrips")
def export_roundtrips():
    """Every round trip, oldest first (the rows of GET /api/roundtrips, unpaged)."""
    ctx = _ctx()
    trips = list(reversed(ctx.facade.round_trips(ctx.cooperate)))
    precision = _precision(ctx)
    rows = ([roundtrip_cell(trip, column, precision) for column in ROUNDTRIP_COLUMNS] for trip in trips)
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
