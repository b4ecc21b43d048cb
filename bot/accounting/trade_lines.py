"""A trade's ledger line built straight from its fields: exactly storage.dumps(trade.to_dict()).

The ledger writes one line per fill; encoding the 23-field dict through json costs more than
the fill's arithmetic. trade_line formats the same text from one template when every field has
the type the fill path gives it (str, int, float, None); any other trade (an int where a float
goes, a bool, NaN or infinity, which json refuses) goes the general way, so the bytes and the
errors are json's own.
"""
from __future__ import annotations

from json.encoder import encode_basestring  # what json's C encoder applies to a str with ensure_ascii off

from bot.models import Trade, format_levels
from bot.timestamps import iso_utc
from bot.storage import dumps

_TEMPLATE = "{" + ",".join(f'"{name}":%s' for name in Trade.__slots__) + "}"
_float_repr, _int_repr = float.__repr__, int.__repr__  # json's own text for a float (finite) and an int


def trade_line(trade: Trade) -> str:
    """The ledger line of trade (no newline): the text of dumps(trade.to_dict()), built directly."""
    seq, tick, mid, latency, taken = trade.seq, trade.tick, trade.decision_mid, trade.latency_ms, \
        trade.liquidity_taken_pct
    if type(seq) is bool or type(tick) is bool:  # json writes true/false, int.__repr__ 1/0
        return dumps(trade.to_dict())
    try:
        # One sum is finite exactly when every float is (json refuses NaN and infinity; an overflow
        # to infinity only sends a good trade the general way).
        total = trade.qty + trade.price + trade.fee + trade.quote_usdt_rate + trade.realized_pnl
        if mid is not None:
            total += mid
        if latency is not None:
            total += latency
        if taken is not None:
            total += taken
        if total - total != 0.0:
            return dumps(trade.to_dict())
        ts, decision_ts, levels = iso_utc(trade.ts), trade.decision_ts, trade.levels_taken
        if decision_ts is not None:
            decision_ts = ts if decision_ts == trade.ts else iso_utc(decision_ts)  # equal times, equal text
        # A field of another type than the template's raises TypeError here: float.__repr__ takes
        # floats (and float subclasses, as json does), int.__repr__ ints, encode_basestring strs.
        qty, price = _float_repr(trade.qty), _float_repr(trade.price)
        if levels is None:
            levels = "null"
        elif len(levels) == 1 and _is_fill_level(levels, trade):
            levels = f'"{qty}@{price}"'  # format_levels' text from the reprs above (digits need no escape)
        else:
            levels = encode_basestring(format_levels(levels))
        return _TEMPLATE % (
            encode_basestring(trade.id), _int_repr(seq), encode_basestring(ts), _int_repr(tick),
            encode_basestring(trade.strategy), encode_basestring(trade.signal_id), encode_basestring(trade.kind),
            encode_basestring(trade.exchange), encode_basestring(trade.symbol), encode_basestring(trade.side),
            qty, price, _float_repr(trade.fee),
            encode_basestring(trade.fee_asset), _float_repr(trade.quote_usdt_rate), _float_repr(trade.realized_pnl),
            encode_basestring(trade.status), encode_basestring(trade.reason),
            "null" if decision_ts is None else encode_basestring(decision_ts),
            "null" if mid is None else _float_repr(mid),
            "null" if latency is None else _float_repr(latency),
            "null" if taken is None else _float_repr(taken),
            levels)
    except TypeError:
        return dumps(trade.to_dict())  # json's text, or json's own error for what it cannot hold


def _is_fill_level(levels, trade: Trade) -> bool:
    """True when the one level taken is the trade's own price and quantity (a fill on a one-level book):
    equal floats other than zero have the same repr, so format_levels would write the trade's text."""
    (level_price, level_qty), = levels  # format_levels' own unpacking: the same error for what is not a level
    price, qty = trade.price, trade.qty
    return (type(level_price) is float and type(level_qty) is float and type(price) is float and type(qty) is float
            and level_price == price and level_qty == qty and level_price != 0.0 and level_qty != 0.0)
