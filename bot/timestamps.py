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


def minute_run(times: list[float]) -> tuple[str, int, str] | None:
    """For whole-second times one minute apart within one day (an equity block's, as a rule): the ISO text
    before and after their "HH:MM:" (iso_utc's) and the first one's minute of the day; else None."""
    count = len(times)
    if not count:
        return None
    first = times[0]
    if not (first >= 0 and first == first // 1 and times[-1] < 253402300800):
        return None
    day, second = divmod(int(first), 86400)
    minute, second = divmod(second, 60)
    if minute + count > 1440 or times != [first + 60.0 * k for k in range(count)]:
        return None
    text = iso_utc(first)  # "YYYY-MM-DDTHH:MM:SS.000Z"
    return text[:11], minute, text[17:]


def iso_utc_many(ts: np.ndarray) -> list[str]:
    """[iso_utc(t) for t in ts], cheaper for whole minutes one after another in one day (minute_run)."""
    values = ts.tolist()
    run = minute_run(values)
    if run is None:
        return [iso_utc(t) for t in values]
    day, minute, tail = run
    return [day + hours_minutes + tail for hours_minutes in HOURS_MINUTES[minute:minute + len(values)]]


def parse_iso(text: str) -> float:
    """Epoch seconds from an ISO 8601 time ('Z' or an offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def whole_ms(ts: float) -> float:
    """ts at whole milliseconds, exactly what its ISO 8601 form in a ledger line reads back to."""
    if ts >= 0 and ts == ts // 1 and ts < 253402300800:  # a whole second reads back as itself
        return float(ts)
    return parse_iso(iso_utc(ts))
