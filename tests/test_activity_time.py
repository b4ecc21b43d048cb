"""The activity log's wall-clock stamp (wall_clock_iso) is iso_utc's text for every time, to the
microsecond rounding at a millisecond's or a second's edge, and from one second to the next."""
import random

from bot.timestamps import iso_utc
from bot.notify.activity import wall_clock_iso


def test_wall_clock_iso_is_iso_utc_everywhere():
    rng = random.Random(3)
    edges = [0.0, 0.5, 1e-7, 1767225600.0, 1767225600.9999995, 1767225600.9999994, 1767225600.0000005,
             1767225600.0004995, 1767225600.0005, 1767225659.9999999, 253402300799.9999]
    cases = edges + [rng.uniform(0, 4e9) for _ in range(20000)]
    second = 1_767_225_600
    cases += [second + rng.randrange(0, 3) + rng.randrange(0, 10**6) / 1e6 + rng.choice((0.0, 5e-7, -5e-7))
              for _ in range(20000)]  # many stamps within the same few seconds: the cached prefix is reused
    for now in cases:
        assert wall_clock_iso(now) == iso_utc(now), repr(now)
