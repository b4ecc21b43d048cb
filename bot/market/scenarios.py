"""Named stress scenarios: deterministic events described as functions of market time.

A scenario is a table of phases and piecewise-linear curves (minutes after its start -> value),
so what it does at any moment is a pure function of the market clock: a restart lands in the
same place without any saved state. bot/market/scenario_market.py plays one on top of a source.

Curves: `price` is the fractional move of the affected assets' USD value (-0.20 = 20% lower),
`spread` and `depth` multiply the half-spread and every book level's size. Outside a curve's
knots it holds its end values, and every curve here starts and ends at no effect.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

import numpy as np

from bot.models import split_symbol

STABLECOINS = frozenset({"USDT", "USDC", "DAI", "BUSD", "TUSD", "FDUSD", "USDP"})
MAJORS = ("BTC", "ETH")


@dataclass(frozen=True)
class Curve:
    """A piecewise-linear function of minutes since the scenario started."""

    knots: tuple[tuple[float, float], ...]
    minutes: np.ndarray = field(init=False, repr=False, compare=False)
    values: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "minutes", np.array([m for m, _ in self.knots], dtype=float))
        object.__setattr__(self, "values", np.array([v for _, v in self.knots], dtype=float))

    def at(self, seconds):
        """The value at `seconds` after the start (a float, or an array for an array)."""
        return np.interp(np.asarray(seconds, dtype=float) / 60.0, self.minutes, self.values)

    def value(self, seconds: float) -> float:
        """at() for one moment, without numpy's per-call cost (a tick asks a few of these)."""
        knots, minutes = self.knots, seconds / 60.0
        if minutes <= knots[0][0]:
            return knots[0][1]
        if minutes >= knots[-1][0]:
            return knots[-1][1]
        i = bisect_right(knots, (minutes, float("inf")))
        (m0, v0), (m1, v1) = knots[i - 1], knots[i]
        return v0 + (v1 - v0) * (minutes - m0) / (m1 - m0)


@dataclass(frozen=True, slots=True)
class Phase:
    """One stretch of a scenario: its name, when it ends (minutes after the start), what happens."""

    name: str
    end_minutes: float
    says: str


@dataclass(frozen=True, slots=True)
class Headline:
    """A headline the scenario publishes, `minutes` after its start, about one asset."""

    minutes: float
    title: str
    asset: str
    sentiment: int  # the headline's true tone, +1 or -1 (what news_sentiment() answers)


@dataclass(frozen=True)
class Scenario:
    """A named event. `scope` says which assets the curves move:

    "coins" every non-stablecoin, "alt" one altcoin (the target), "usdt" USDT itself (a depeg moves
    the USDT's USD value, so every X/USDT price moves by 1/(1+move)), "all" every market (spread and
    depth only), "exchange" the markets of the outage exchange (spread and depth after it is back).
    """

    name: str
    summary: str
    phases: tuple[Phase, ...]
    price: Curve | None = None
    spread: Curve | None = None
    depth: Curve | None = None
    scope: str = "coins"
    book_scope: str | None = None  # where spread and depth apply; None: the same as scope
    lag_seconds: float = 0.0  # exchange k follows the price curve k * lag_seconds late: gaps open
    outage_minutes: tuple[float, float] | None = None  # the first exchange answers nothing meanwhile
    headlines: tuple[Headline, ...] = ()

    @property
    def duration_seconds(self) -> float:
        """From the start to the end of the last phase."""
        return self.phases[-1].end_minutes * 60.0

    def phase_at(self, seconds: float) -> int:
        """Index of the phase running `seconds` after the start: -1 before, len(phases) after."""
        if seconds < 0:
            return -1
        for index, phase in enumerate(self.phases):
            if seconds < phase.end_minutes * 60.0:
                return index
        return len(self.phases)


def _storm_headlines() -> tuple[Headline, ...]:
    """45 headlines, one every 20 s for 15 minutes, bullish and bearish in turn, about the majors
    and then the alts: loud, contradictory and without information about what prices do next."""
    bullish = ("{n} surges as record inflows hit exchange-traded funds",
               "Analysts see {n} breaking out to new highs this week",
               "Major bank to offer {n} custody to its wealth clients",
               "{n} network activity hits an all-time high",
               "Whales accumulate {n} at the fastest pace this year")
    bearish = ("{n} plunges as regulators threaten a crackdown",
               "Exchange halts {n} withdrawals after a security breach",
               "Traders dump {n} on fears of a liquidity crisis",
               "{n} rally fizzles as large holders sell into strength",
               "Lawsuit alleges {n} market manipulation by insiders")
    names = {"BTC": "Bitcoin", "ETH": "Ether", "SOL": "Solana", "XRP": "XRP", "ADA": "Cardano"}
    order = ("BTC", "ETH", "BTC", "SOL", "ETH", "XRP", "BTC", "ADA", "ETH")
    out = []
    for i in range(45):
        asset = order[i % len(order)]
        sentiment = 1 if i % 2 == 0 else -1
        template = (bullish if sentiment > 0 else bearish)[(i // 2) % 5]
        out.append(Headline(i / 3.0, template.format(n=names[asset]), asset, sentiment))
    return tuple(out)


def _pump_headlines() -> tuple[Headline, ...]:
    hype = ((0.0, "{n} trends on social media as influencers promise a 10x", 1),
            (6.0, "{n} volume explodes as retail piles in, price up double digits", 1),
            (12.0, "Telegram groups call {n} the trade of the year", 1),
            (26.0, "{n} collapses as early holders dump on latecomers", -1),
            (30.0, "{n} pump was coordinated, on-chain sleuths say; buyers left with losses", -1))
    return tuple(Headline(minutes, title, "*", tone) for minutes, title, tone in hype)  # "*" = the target alt


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario(
        "flash_crash", "every coin falls 20% in 5 minutes on thin books and wide spreads, then recovers half",
        (Phase("crash", 5, "coins fall 20% in 5 minutes; books thin to a quarter, spreads x6, exchanges seconds apart"),
         Phase("trough", 15, "prices hold about 20% down on thin books"),
         Phase("rebound", 45, "half the fall comes back (-10%); books and spreads return to normal"),
         Phase("aftermath", 150, "the remaining 10% fades out")),
        price=Curve(((0, 0.0), (1, -0.02), (3, -0.09), (5, -0.20), (15, -0.19), (45, -0.10), (150, 0.0))),
        spread=Curve(((0, 1.0), (2, 4.0), (5, 6.0), (15, 4.0), (45, 1.0))),
        depth=Curve(((0, 1.0), (3, 0.4), (5, 0.25), (15, 0.35), (45, 1.0))),
        scope="coins", book_scope="all", lag_seconds=4.0),
    Scenario(
        "exchange_outage", "the first exchange stops answering for 20 minutes, then comes back on thin books",
        (Phase("outage", 20, "no quotes, books or candles from the exchange: its markets are stale"),
         Phase("catch_up", 25, "the exchange answers again; its books are half as deep, spreads x2, then normal")),
        spread=Curve(((0, 1.0), (20, 1.0), (20.01, 2.0), (25, 1.0))),
        depth=Curve(((0, 1.0), (20, 1.0), (20.01, 0.5), (25, 1.0))),
        scope="exchange", outage_minutes=(0.0, 20.0)),
    Scenario(
        "stablecoin_depeg", "USDT slides to 0.95 USD over an hour, stays off its peg an hour, then re-pegs",
        (Phase("drift", 60, "USDT slides from 1.00 to 0.95 USD: USDT prices of coins rise about 5%"),
         Phase("off_peg", 120, "USDT trades near 0.95 USD; books of USDT markets 30% thinner, spreads x1.5"),
         Phase("repeg", 240, "USDT climbs back to 1.00 USD")),
        price=Curve(((0, 0.0), (15, -0.005), (45, -0.03), (60, -0.05), (90, -0.055), (120, -0.05),
                     (180, -0.02), (240, 0.0))),
        spread=Curve(((0, 1.0), (60, 1.5), (120, 1.5), (240, 1.0))),
        depth=Curve(((0, 1.0), (60, 0.7), (120, 0.7), (240, 1.0))),
        scope="usdt", lag_seconds=2.0),
    Scenario(
        "liquidity_drought", "order book depth falls to 15% for an hour, with spreads x3",
        (Phase("draining", 10, "market makers pull out: depth falls to 15%, spreads widen to x3"),
         Phase("drought", 70, "an hour of books at 15% depth and x3 spreads"),
         Phase("refilling", 80, "depth and spreads return to normal")),
        spread=Curve(((0, 1.0), (10, 3.0), (70, 3.0), (80, 1.0))),
        depth=Curve(((0, 1.0), (10, 0.15), (70, 0.15), (80, 1.0))),
        scope="all"),
    Scenario(
        "news_storm", "45 contradictory headlines in 15 minutes that carry no information; spreads x1.5",
        (Phase("storm", 15, "a headline every 20 seconds, bullish and bearish in turn; prices do not follow"),),
        spread=Curve(((0, 1.0), (1, 1.5), (14, 1.5), (15, 1.0))),
        scope="all", headlines=_storm_headlines()),
    Scenario(
        "pump_and_dump", "one altcoin is pumped 60% in 20 minutes on hype, then collapses 15% below where it began",
        (Phase("pump", 20, "the target alt rises 60%, faster and faster, on hype headlines"),
         Phase("top", 25, "it stalls near +60%"),
         Phase("dump", 35, "it collapses to 15% below its start; its books thin out, spreads x3"),
         Phase("bleed", 100, "it drifts back to where it would have been")),
        price=Curve(((0, 0.0), (5, 0.05), (10, 0.15), (15, 0.32), (20, 0.60), (25, 0.55), (28, 0.20),
                     (35, -0.15), (100, 0.0))),
        spread=Curve(((0, 1.0), (20, 1.5), (25, 2.0), (30, 3.0), (35, 3.0), (60, 1.0))),
        depth=Curve(((0, 1.0), (20, 0.7), (28, 0.4), (35, 0.5), (60, 1.0))),
        scope="alt", lag_seconds=3.0, headlines=_pump_headlines()),
)}


def known_names() -> str:
    """The scenario names, comma separated (for error messages)."""
    return ", ".join(SCENARIOS)


def target_alt(symbols: tuple[str, ...]) -> str:
    """The altcoin a pump_and_dump moves: the last non-major base asset with a USDT market
    (ADA on the default symbols), else the last base asset with a USDT market."""
    bases = [split_symbol(s)[0] for s in symbols if split_symbol(s)[1] == "USDT"]
    bases = [b for b in bases if b not in STABLECOINS]
    alts = [b for b in bases if b not in MAJORS]
    return (alts or bases or ["BTC"])[-1]


def moved_assets(scenario: Scenario, symbols: tuple[str, ...]) -> frozenset[str]:
    """The assets whose USD value the scenario's price curve moves, on these symbols."""
    assets = {asset for s in symbols for asset in split_symbol(s)}
    if scenario.scope == "coins":
        return frozenset(a for a in assets if a not in STABLECOINS)
    if scenario.scope == "alt":
        return frozenset({target_alt(symbols)})
    if scenario.scope == "usdt":
        return frozenset({"USDT"} & assets)
    return frozenset()
