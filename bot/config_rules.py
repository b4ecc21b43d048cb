"""The checks behind bot/config.py that need more than a range: the simulated clock's bounds,
exchange ids checked against ccxt's own list, the starting balances that follow the symbols, and
the host names of dashboard.allowed_hosts (the dashboard compares Host headers in the same form).

Each check raises ValueError with the text after the key; bot/config.py names the key.
"""
from __future__ import annotations

import difflib
import ipaddress
import re
from datetime import datetime, timezone
from typing import Iterable

# A wallet holding more than this of one asset is refused. Floats keep 15-16 significant digits,
# so at 1e12 a balance still resolves 1e-4 (a fee of a cent still moves it), and equity summed
# over every wallet and asset at any price stays far below float overflow (1.8e308, where 1e308
# balances crashed the first state write). 1e12 USDT is about a third of all crypto combined.
MAX_ASSET_AMOUNT = 1e12

A_WEEK_SECONDS = 7 * 86_400.0
A_WEEK_MINUTES = 7 * 1_440.0
A_YEAR_MINUTES = 365 * 1_440.0

# The simulated clock starts no earlier than Bitcoin's genesis block and before 2100, so a long run
# never walks off datetime's year 9999 (it used to die there).
EARLIEST_START = datetime(2009, 1, 3, tzinfo=timezone.utc)
LATEST_START = datetime(2100, 1, 1, tzinfo=timezone.utc)

# APScheduler runs the real-time tick job. Measured on 2 busy cores (0.27 ms per default tick):
# every 10 ms it keeps 99.4 ticks/s of 100 with no skipped run; at 5 ms it keeps 177 of 200 and
# logs 11 "maximum number of running instances reached" warnings a second; at 1 us its run-time
# arithmetic eats a core for 62 ticks/s; below 0.5 us timedelta rounds to 0 and APScheduler
# silently runs once a second. --fast is the way to run ticks back to back.
MIN_TICK_INTERVAL_SECONDS = 0.01

# market.speed (and the dashboard's speed control) at most: a simulated week in about a minute of
# wall time, already beyond what a tick of the default market allows; past that, --fast.
MAX_SPEED = 10_000.0

# The simulator pre-generates warmup_candles minutes of ticks before tick 0: at 0.1 s per tick
# the default 600 candles take 0.5 s to build, at 0.01 s 5 s, at 0.001 s 64 s, and at 1e-5 s
# it asks for 27 GiB.
MIN_TICK_SECONDS = 0.1


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest of choices, or '' when none is close."""
    # difflib's default cutoff (0.6) offers 'myokx' for 'mtgox': no hint beats a silly one.
    matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.7)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def check_start_time(value: str) -> str:
    """An ISO 8601 time with a timezone (or Z), from EARLIEST_START to before LATEST_START."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"must be an ISO 8601 time like 2026-01-01T00:00:00Z (got {value!r})") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"must name its timezone: end it with Z for UTC, e.g. 2026-01-01T00:00:00Z (got {value!r})")
    if not EARLIEST_START <= moment < LATEST_START:
        raise ValueError(f"must be from 2009-01-03T00:00:00Z to before 2100-01-01T00:00:00Z (got {value!r})")
    return value


def check_exchange_ids(exchange_ids: Iterable[str]) -> None:
    """Every id must be one ccxt knows (ccxt.exchanges; no network), in every market mode."""
    # Imported here: bot/market/live.py is the one module that imports ccxt, which costs ~0.6 s;
    # Python's module cache and the function's own cache make that a once-per-process cost.
    from bot.market.live import known_exchange_ids

    known = known_exchange_ids()
    for exchange_id in exchange_ids:
        if exchange_id not in known:
            hint = did_you_mean(exchange_id, known) or " (see ccxt.exchanges; e.g. binance, kraken, coinbase)"
            raise ValueError(f"unknown ccxt exchange id {exchange_id!r}{hint}")


def valued_assets(symbols: Iterable[str]) -> set[str]:
    """The assets some market in symbols trades, so the portfolio can put a price on them."""
    return {asset for symbol in symbols for asset in symbol.split("/")}


def balances_for_symbols(defaults: dict[str, float], symbols: Iterable[str]) -> dict[str, float]:
    """The default starting balances less the assets no symbol trades (they could not be valued).

    An asset the symbols trade but the defaults do not name starts at 0: there is no price in the
    config to turn a USDT amount into it, and the strategies buy it with USDT.
    """
    assets = valued_assets(symbols)
    return {asset: amount for asset, amount in defaults.items() if asset in assets}


_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def normalise_host_name(value: str) -> str:
    """A host name or IP literal in the form Host headers are compared in (lower case, no
    trailing dot, IPv6 without brackets); ValueError when it is neither."""
    name = value.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    name = name[:-1] if name.endswith(".") else name
    if 0 < len(name) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in name.split(".")):
        return name
    raise ValueError(f"entry {value!r} is not a host name or IP address (give the bare name, such as "
                     f"bot.example.lan, without scheme, port or path)")
