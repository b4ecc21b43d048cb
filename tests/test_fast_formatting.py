"""The shortcuts on the hot write path give the same text as the general code they skip:
iso_utc / whole_ms on whole seconds (checked against datetime.strftime / fromisoformat) and
storage.dumps (checked against json.dumps with the same options)."""
import json
import random
from datetime import datetime, timezone

import numpy as np
import pytest

from bot.models import iso_utc, whole_ms
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
