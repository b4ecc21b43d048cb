"""The shortcuts on the hot write path give the same text as the general code they skip:
iso_utc / whole_ms on whole seconds (checked against datetime.strftime / fromisoformat) and
storage.dumps (checked against json.dumps with the same options)."""
import json
import random
from datetime import datetime, timezone

import numpy as np
import pytest

from bot.timestamps import iso_utc, whole_ms
from bot.storage import dumps


def _strftime(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _read_back(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_iso_utc_and_whole_ms_match_datetime():
    rng = random.Random(5)
    values = [0.0, 59.0, 3599.0, 86399.0, 86400.0, 951782400.0, 951868799.0, 253402300799.0, 1.7e9 + 0.5,
              1.7e9 + 0.9995, 1.7e9 - 0.0004, -1.0, -86400.5]
    values += [float(rng.randrange(0, 253402300800)) for _ in range(20000)]
    values += [rng.randrange(1_500_000_000_000, 1_900_000_000_000) / 1000 for _ in range(5000)]
    values += [np.float64(1_700_000_060), np.int64(1_700_000_120), 1_700_000_180]
    for ts in values:
        assert iso_utc(ts) == _strftime(ts), ts
        assert whole_ms(ts) == _read_back(_strftime(ts)) and type(whole_ms(ts)) is float, ts


def test_dumps_matches_json_dumps():
    records = [{"a": 1.0, "b": [0.1, 2, None, True], "é": "ü\u2028", "n": {"x": -0.0, "y": 1e300}}, [], "s", 3]
    for record in records:
        assert dumps(record) == json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for bad in ({"x": float("nan")}, {"x": float("inf")}):
        with pytest.raises(ValueError):
            dumps(bad)
    with pytest.raises(ValueError):  # a circular record is still refused, and the encoder stays usable
        loop: list = []
        loop.append(loop)
        dumps(loop)
    assert dumps({"k": 0.5}) == '{"k":0.5}'


def test_equity_line_matches_dumps():
    from bot.accounting.equity_log import equity_line

    rng = random.Random(9)
    base = {"schema_version": 1, "ts": "2024-02-29T23:59:59.999Z", "equity": 0.0, "trading_equity": -0.0,
            "holdings_pnl": 1e-320, "strategies": {}}
    records = [base]
    for _ in range(2000):
        record = dict(base, equity=rng.uniform(-1e9, 1e9), trading_equity=rng.random() * 10 ** rng.randint(-30, 30),
                      holdings_pnl=float(rng.randint(-5, 5)),
                      strategies={name: rng.gauss(0, 1e4) for name in rng.sample(["momentum", "stat_arb", 'q"\\é\n'], 2)})
        records.append(record)
    records += [dict(base, equity=3), dict(base, equity=True), dict(base, ts='a"b'), dict(base, schema_version=1.0),
                dict(base, strategies={"x": 2}), {**base, "extra": 1}, {k: base[k] for k in reversed(base)}]
    for record in records:
        assert equity_line(record) == json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for bad in (dict(base, equity=float("nan")), dict(base, strategies={"x": float("-inf")})):
        with pytest.raises(ValueError):
            equity_line(bad)
