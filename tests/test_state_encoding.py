"""StateEncoder writes exactly what json.dumps(indent=1) writes, as the curve grows, rolls and resets."""
from __future__ import annotations

import json
import math
from collections import deque

import pytest

from bot.accounting.state_encoding import StateEncoder


def _expected(document: dict) -> str:
    plain = {**document, "equity_history": [list(p) for p in document["equity_history"]]}
    return json.dumps(plain, ensure_ascii=False, indent=1, allow_nan=False) + "\n"


def test_the_text_is_json_dumps_text_through_appends_roll_off_and_clear():
    encoder, curve = StateEncoder(), deque(maxlen=5)
    document = {"schema_version": 1, "balances": {"binance": {"USDT": 0.1 + 0.2}}, "equity_history": curve,
                "engine": {"counters": {"momentum": {"last_error": "équité \"quoted\""}}}}
    assert encoder.encode(document) == _expected(document)  # empty curve
    for n in range(12):
        curve.append((1_767_225_600.0 + 60.0 * n, 10_000.0 / 3.0 + n * 1e-7))
        assert encoder.encode(document) == _expected(document), n
        json.loads(encoder.encode(document))
    curve.clear()
    curve.append((5.0, 1e300))
    assert encoder.encode(document) == _expected(document)


def test_a_nan_in_the_curve_is_refused_like_json_dumps():
    with pytest.raises(ValueError):
        StateEncoder().encode({"equity_history": deque([(1.0, math.nan)])})
