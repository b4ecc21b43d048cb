"""The words of the simulated headlines (headlines.py): events, framings and slot fillers.

Placeholders: {coin} is an alias of the coin; the other names in braces are SLOTS, filled per
headline. In FRAMINGS, {S} {V} {B} {O} are the event's subject, verb, base verb and object ({Sc}:
the subject capitalised), and {is} {Is} {has} {s} {es} {ies} agree with the subject.
Event.framings lists what an event can be told as: P plainly, F as a fact inside mixed or
"despite" headlines, H hedged, N negated, Q asked, U quoted, D denied by its subject.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happens to a coin, with its polarity for the coin's price (+1 or -1)."""

    polarity: int
    subject: str
    verb: str  # present tense, agreeing with the subject
    base: str  # the base form, after "could", "won't", "will"
    obj: str
    framings: str
    plural: bool = False


E = Event
EVENTS: dict[str, tuple[Event, ...]] = {
    "etf": (
        E(+1, "{regulator}", "clears", "clear", "{issuer}'s spot {coin} fund for trading", "PHNQUD"),
        E(+1, "{regulator}", "approves", "approve", "{issuer}'s spot {coin} exchange-traded fund", "PHNQU"),
        E(-1, "{regulator}", "turns down", "turn down", "{issuer}'s bid for a spot {coin} ETF", "PHNQUD"),
        E(-1, "{regulator}", "postpones", "postpone", "its verdict on {issuer}'s {coin} fund", "PHNQD"),
        E(+1, "{coin} exchange-traded funds", "absorb", "absorb", "{amount} of fresh capital in one session", "PFHQ", True),
        E(-1, "{coin} exchange-traded funds", "shed", "shed", "{amount} as redemptions mount", "PFHQ", True),
        E(+1, "{coin} ETFs", "log", "log", "{amount} in net inflows for a fifth straight day", "PFHQ", True),
    ),
    "hack": (
        E(-1, "{venue}", "loses", "lose", "{amount} in {coin} to a hot-wallet compromise", "PFHQ"),
        E(-1, "{coin}'s top lending protocol", "is drained of", "be drained of", "{amount} through a flash-loan attack",
          "PFHQ"),
        E(-1, "Attackers", "empty", "empty", "{coin}'s largest bridge of {amount}", "PFHQ", True),
        E(+1, "{venue}", "claws back", "claw back", "{amount} of {coin} lost in a breach", "PFHQ"),
        E(-1, "Auditors", "find", "find", "a critical flaw in {coin}'s validator client", "PFHQ", True),
        E(-1, "{coin} holders", "are hit by", "be hit by", "a wallet-draining phishing wave", "PFQ", True),
        E(-1, "{venue}", "confirms", "confirm", "a {amount} hack of its {coin} hot wallet", "PFHNQ"),
        E(-1, "Hackers", "exploit", "exploit", "a signing flaw to take {amount} in {coin} from {venue}", "PFHQ", True),
    ),
    "listing": (
        E(+1, "{venue}", "adds", "add", "{coin} spot trading for retail users", "PFHNQUD"),
        E(+1, "{venue}", "rolls out", "roll out", "{coin} perpetual futures", "PFHNQUD"),
        E(-1, "{venue}", "pulls", "pull", "{coin} from its spot market", "PFHNQUD"),
        E(-1, "{venue}", "will delist", "delist", "{coin} margin pairs", "PFHNQUD"),
        E(-1, "{venue}", "freezes", "freeze", "{coin} deposits pending a review", "PFHNQD"),
        E(-1, "{venue}", "schedules", "schedule", "the delisting of {coin} for next week", "PFHNQD"),
    ),
    "macro": (
        E(+1, "{coin}", "climbs", "climb", "after {macro_up}", "PFHQ"),
        E(-1, "{coin}", "retreats", "retreat", "after {macro_down}", "PFHQ"),
        E(+1, "{coin}", "firms", "firm", "on bets that {macro_up_bet}", "PFHQ"),
        E(-1, "{coin}", "weakens", "weaken", "on fears that {macro_down_bet}", "PFHQ"),
    ),
    "partnership": (
        E(+1, "{firm}", "selects", "select", "{coin} to settle {product}", "PFHNQUD"),
        E(+1, "{coin}'s foundation", "lands", "land", "a tie-up with {firm}", "PFHNQU"),
        E(-1, "{firm}", "walks away from", "walk away from", "its {coin} integration", "PFHNQUD"),
        E(-1, "{firm}", "shelves", "shelve", "its {coin} settlement pilot", "PFHNQUD"),
        E(+1, "{venue} and {firm}", "unveil", "unveil", "a {coin} custody partnership", "PFHNQU", True),
    ),
    "outage": (
        E(-1, "{coin} block production", "grinds to a halt", "grind to a halt", "for {n} hours", "PFQ"),
        E(-1, "{venue}", "goes offline", "go offline", "mid-session, stranding {coin} traders", "PFQ"),
        E(+1, "{coin} mainnet", "comes back online", "come back online", "after a {n}-hour stall", "PFQ"),
        E(-1, "A consensus bug", "knocks", "knock", "{coin} validators offline", "PFHQ"),
        E(-1, "{venue}", "blames", "blame", "an outage on a {coin} node upgrade", "PFQ"),
    ),
    "lawsuit": (
        E(-1, "{regulator}", "files suit against", "file suit against", "{venue} over {coin} staking", "PFHNQUD"),
        E(-1, "{venue}", "is hit with", "be hit with", "a class action over {coin} sales", "PFHQ"),
        E(+1, "A federal judge", "throws out", "throw out", "the case against {venue} over {coin}", "PFHNQU"),
        E(+1, "{regulator}", "closes", "close", "its inquiry into {venue}'s {coin} unit", "PFHNQUD"),
        E(-1, "Prosecutors", "charge", "charge", "{coin} promoters with wire fraud", "PFHNQ", True),
        E(-1, "{coin} investors", "bring", "bring", "a lawsuit against {venue} over frozen accounts", "PFHNQ", True),
    ),
    "regulation": (
        E(+1, "{country}", "legalises", "legalise", "{coin} as a means of payment", "PFHNQUD"),
        E(-1, "{country}", "outlaws", "outlaw", "{coin} trading for residents", "PFHNQUD"),
        E(+1, "{regulator}", "grants", "grant", "{venue} a licence covering {coin}", "PFHNQUD"),
        E(-1, "{regulator}", "orders", "order", "{venue} to wind up its {coin} staking service", "PFHNQUD"),
    ),
    "flows": (
        E(+1, "Whales", "scoop up", "scoop up", "{amount} worth of {coin}", "PFHQ", True),
        E(-1, "Early {coin} holders", "unload", "unload", "{amount} onto exchanges", "PFHQ", True),
        E(+1, "{company}", "adds", "add", "{amount} of {coin} to its balance sheet", "PFHNQUD"),
        E(-1, "{company}", "offloads", "offload", "its entire {coin} stash", "PFHNQUD"),
    ),
    "price": (
        E(+1, "{coin}", "jumps", "jump", "{pct}% to a {n}-week peak", "PFHQ"),
        E(-1, "{coin}", "sinks", "sink", "{pct}% as leveraged longs unwind", "PFHQ"),
        E(+1, "{coin}", "breaks out", "break out", "above a key resistance level", "PFHQ"),
        E(-1, "{coin}", "breaks down", "break down", "below a key support zone", "PFHQ"),
    ),
    "upgrade": (
        E(+1, "{coin}'s {upgrade} upgrade", "goes live", "go live", "on mainnet without incident", "PFHQ"),
        E(-1, "{coin} developers", "push back", "push back", "the {upgrade} upgrade by {n} months", "PFHNQ", True),
    ),
}
del E

FRAMINGS: dict[str, tuple[str, ...]] = {
    "hedged": ("{S} could {B} {O}", "{S} may {B} {O} {when}", "{S} might {B} {O}, {analysts} say",
               "{S} could soon {B} {O}", "{S} {is} said to be ready to {B} {O}"),
    "negated": ("{S} won't {B} {O}", "{S} will not {B} {O} {when}", "{S} {is} unlikely to {B} {O}, {analysts} say",
                "{S} refuse{s} to {B} {O}"),
    "question": ("Will {S} {B} {O}?", "Could {S} {B} {O} {when}?", "Can {S} really {B} {O}?", "{Is} {S} about to {B} {O}?"),
    "quote": ("'{S} will {B} {O},' {speaker} says", "{speaker_cap}: '{Sc} will {B} {O}'",
              "'Expect {S} to {B} {O},' {speaker} tells clients"),
    "denial": ("{S} den{ies} plans to {B} {O}", "{S} push{es} back on reports it will {B} {O}"),
    "explainer": ("Here's why {S} {V} {O}", "Explainer: why {S} {V} {O}"),
}

NEUTRAL = (
    "{coin} core developers set the agenda for their next call",
    "{venue} revises its {coin} withdrawal fee schedule",
    "{coin} foundation names a new executive director",
    "{coin} hovers near its weekly open as traders wait for {macro_event}",
    "{coin} futures open interest holds near last week's level",
    "{coin} community debates a change to its fee market",
    "{venue} publishes monthly {coin} reserve figures",
    "{coin} trades in a narrow band ahead of {macro_event}",
    "Options on {coin} worth {amount} are due to expire on Friday",
    "{speaker_cap} shares a long-term framework for valuing {coin}",
    "A look at {coin}'s on-chain activity over the past seven days",
    "{coin} developers publish minutes of their latest meeting",
)
DESPITE_UP = ("a fresh lawsuit from {regulator}", "reports of a bridge exploit", "a weekend outage at {venue}",
              "heavy fund redemptions")
DESPITE_DOWN = ("record fund inflows", "a new bank partnership", "its listing on {venue}",
                "a smooth network upgrade")
MIXED_JOINERS = (", but ", " even as ", " while ", "; meanwhile, ")
PREFIXES = ("BREAKING: ", "UPDATE: ", "Flash: ")
SUFFIXES = (", sources say", " - report", ", people familiar with the matter say", ", a filing shows")

SLOTS: dict[str, tuple[str, ...]] = {
    "venue": ("Binance", "Coinbase", "Kraken", "OKX", "Bitfinex", "Bybit", "Gemini", "Bitstamp", "KuCoin", "Upbit"),
    "regulator": ("SEC", "CFTC", "Hong Kong's SFC", "Japan's FSA", "the UK's FCA", "ESMA", "Singapore's MAS"),
    "issuer": ("BlackRock", "Fidelity", "VanEck", "21Shares", "Bitwise", "Invesco", "WisdomTree", "Franklin Templeton"),
    "firm": ("Visa", "Mastercard", "Stripe", "PayPal", "JPMorgan", "Standard Chartered", "BNY Mellon", "Nomura",
             "Shopify", "Societe Generale"),
    "country": ("Brazil", "Thailand", "Argentina", "the UAE", "Vietnam", "Turkey", "Kenya"),
    "company": ("A Nasdaq-listed miner", "A Tokyo-listed hotel chain", "A German software maker",
                "A Texas energy firm"),
    "amount": ("$12 million", "$48 million", "$150 million", "$310 million", "$1.1 billion", "$2.4 billion",
               "$75M", "$600M"),
    "pct": ("4", "7", "9", "12", "18"),
    "n": ("2", "3", "5", "6", "8"),
    "when": ("this quarter", "before year-end", "as early as next month", "in the coming weeks", "by the summer"),
    "speaker": ("a Bernstein strategist", "a veteran macro trader", "the exchange's chief executive",
                "a former SEC commissioner", "one hedge fund manager"),
    "analysts": ("analysts", "strategists", "traders", "researchers at a crypto fund"),
    "product": ("cross-border payouts", "merchant payouts", "tokenised deposits", "payroll in 14 markets"),
    "upgrade": ("Prague", "Lisbon", "Atlas", "Orion", "Helix"),
    "macro_up": ("the Fed trims its policy rate by a quarter point", "US inflation undershoots forecasts",
                 "a weak payrolls print revives easing bets", "Treasury yields pull back"),
    "macro_down": ("a red-hot consumer price reading", "a hotter-than-forecast CPI print", "the Fed signals rates will stay higher for longer",
                   "payrolls blow past forecasts", "the dollar index jumps to a two-year high"),
    "macro_up_bet": ("the Fed will ease in September", "inflation has peaked", "the dollar has topped out"),
    "macro_down_bet": ("the Fed will hike again", "inflation is reaccelerating", "a recession is coming"),
    "macro_event": ("the Fed decision", "Friday's jobs report", "the CPI release", "the ECB meeting"),
}
