"""float_texts(values): [repr(v) for v in values], json's text for each float, made in one call.

Python's repr finds a float's shortest round-tripping digits with David Gay's bignum dtoa: about
0.42 us a value here, the largest single cost of writing a backtest's equity log (a million lines,
two moving floats each while a position is open). orjson (already installed: ccxt requires it) finds
the same digits with Ryu, about 0.06 us a value when a whole list goes through one call.

The digits are the same by construction: both give the shortest decimal that reads back as the
float, and of several such the one nearest to it. The layout is the same wherever repr writes no
exponent (0, and 1e-4 <= |v| < 1e16), which covers prices, quantities and equity. Outside that the
two differ (repr 1e-05 and 2.5e-07, orjson 0.00001 and 2.5e-7), and orjson writes null for NaN and
infinity; so orjson's text is taken only when it holds no "e" (no exponent: nothing at or above
1e16, where orjson also writes one, and nothing below 1e-4 in exponent form), no ".0000" (nothing
below 1e-4 written out in full; an ordinary value whose fraction begins with four zeros is caught
too and only costs the slow way) and no "n" (no null). Any other list gets repr itself. Checked
against repr on millions of values across the range in tests/test_float_text.py.
"""
from __future__ import annotations

import orjson

_repr = float.__repr__


def float_texts(values: list[float]) -> list[str]:
    """The repr of each float in values (a list of Python floats), the same strings json writes."""
    text = orjson.dumps(values).decode("ascii")
    if "e" in text or ".0000" in text or "n" in text:
        return list(map(_repr, values))
    return text[1:-1].split(",") if values else []
