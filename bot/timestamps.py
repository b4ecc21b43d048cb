"""Times as the project's files and events write them: epoch seconds <-> ISO 8601 UTC with millisecond
precision ("2026-01-01T00:00:00.000Z"). A ledger, equity or activity line's time is this text."""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

_DAYS: dict[int, str] = {}  # epoch day -> "YYYY-MM-DDT", for iso_utc
HOURS_MINUTES = tuple("%02d:%02d:" % divmod(minute, 60) for minute in range(1440))  # minute of the day -> "HH:MM:"
SECONDS = tuple("%02d.000Z" % second for second in range(60))  # second of the minute -> "SS.000Z"


def iso_utc(ts: float) -> str:
    """Format epoch seconds as ISO 8601 UTC with millisecond precision."""
    if ts >= 0 and ts == ts // 1 and ts < 253402300800:  # a whole second in years 1970-9999: no rounding to do
        day, second = divmod(int(ts), 86400)
        prefix = _DAYS.get(day)
        if prefix is None:
            prefix = _DAYS[day] = datetime.fromtimestamp(day * 86400, tz=timezone.utc).strftime("%Y-%m-%dT")
        minute, second = divmod(second, 60)
        return prefix + HOURS_MINUTES[minute] + SECONDS[second]
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def iso_utc_many(ts: np.ndarray) -> list[str]:
    """[iso_utc(t) for t in ts], cheaper for whole minutes one after another in one day (an equity block's)."""
    values = ts.tolist()
    count = len(values)
    if count:
        first = values[0]
        if first >= 0 and first == first // 1 and values[-1] < 253402300800:
            day, second = divmod(int(first), 86400)
            minute, second = divmod(second, 60)
            if minute + count <= 1440 and values == [first + 60.0 * k for k in range(count)]:
                prefix, tail = iso_utc(day * 86400.0)[:11], SECONDS[second]
                return [prefix + hours_minutes + tail for hours_minutes in HOURS_MINUTES[minute:minute + count]]
    return [iso_utc(t) for t in values]


def parse_iso(text: str) -> float:
    """Epoch seconds from an ISO 8601 time ('Z' or an offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def whole_ms(ts: float) -> float:
    """ts at whole milliseconds, exactly what its ISO 8601 form in a ledger line reads back to."""
    if ts >= 0 and ts == ts // 1 and ts < 253402300800:  # a whole second reads back as itself
        return float(ts)
    return parse_iso(iso_utc(ts))
