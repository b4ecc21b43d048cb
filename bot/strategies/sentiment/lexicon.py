"""The news scorer's vocabulary: crypto and market words, multi-word terms and the cue words.

Valences are on VADER's scale (-4..4). They were written from how market news uses a word, not
fitted to any headline set: where VADER's everyday value misleads in market news ("trust" in
"Bitcoin Trust", "cuts" in "Fed cuts rates", "fine" as a penalty) the market value replaces it.

Cues carry no valence of their own; they change the words around them (scorer.py applies them):
- NEGATORS flip the lexicon words after them in the same clause ("not expected to see ETF
  approval"), further than VADER's three-word window; BLOCKERS flip only positive ones
  ("SEC delays ETF approval"); REVERSERS flip what follows and lose their own valence when they
  do ("lifts ban", "recovers stolen funds", "pares gains"); POST_REVERSERS flip what precedes
  ("hopes fade", "rally stalls", "hack rumours false").
- HEDGES scale their clause, ATTRIBUTIONS the whole headline ("reportedly", "sources say"), and a
  yes/no question scales its sentence by QUESTION_FACTOR.
"""
from __future__ import annotations

# ---- words ---------------------------------------------------------------------------------

_NEUTRALISED = {  # everyday VADER values that mislead in market news
    "trust": 0.0, "trusts": 0.0, "security": 0.0, "securities": 0.0, "interest": 0.0, "like": 0.0,
    "justice": 0.0, "united": 0.0, "credit": 0.0, "share": 0.0, "shares": 0.0, "support": 0.6,
    "supports": 0.5, "top": 0.0, "free": 0.0, "true": 0.0, "stable": 0.0, "steady": 0.0, "steadies": 0.0,
    "cut": 0.0, "cuts": 0.0, "appeal": 0.0, "appeals": 0.0, "case": 0.0, "commission": 0.0, "cool": 0.0,
    "pet": 0.0, "rock": 0.0, "reserve": 0.0, "reserves": 0.0, "fund": 0.0, "funds": 0.0, "buy": 0.0,
    "sell": 0.0, "demand": 0.3, "hopes": 1.0, "hope": 1.0, "split": 0.0, "no": -0.5, "fast": 0.0, "low": -0.8,
}
_ATTACKS = {
    "hack": -2.5, "hacks": -2.5, "hacked": -2.8, "hacker": -1.8, "hackers": -1.8, "attacker": -1.5,
    "attackers": -1.5, "exploiter": -1.5, "exploit": -2.3, "exploits": -2.3, "exploited": -2.5,
    "drain": -1.5, "drains": -2.0, "drained": -2.0, "theft": -2.5, "stolen": -2.2, "steal": -2.2,
    "steals": -2.2, "breach": -2.2, "breached": -2.2, "phishing": -2.2, "rugpull": -3.0, "ponzi": -2.8,
    "compromised": -2.0, "vulnerability": -2.0, "vulnerabilities": -2.0, "flaw": -1.5, "flaws": -1.5,
    "bug": -1.5, "bugs": -1.5, "glitch": -1.3, "glitches": -1.3, "scam": -2.5, "scams": -2.5,
}
_VENUES = {
    "delist": -2.3, "delists": -2.3, "delisting": -2.3, "delisted": -2.5, "removes": -1.0, "remove": -0.8,
    "outage": -2.2, "outages": -2.2, "downtime": -1.5, "halt": -1.5, "halts": -1.8, "halted": -2.0,
    "suspends": -1.8, "suspended": -1.8, "paused": -1.0, "pauses": -1.2, "insolvent": -2.8,
    "insolvency": -2.8, "bankruptcy": -2.8, "bankrupt": -2.8, "depeg": -2.5, "depegs": -2.5,
    "depegged": -2.5, "congestion": -1.0, "layoffs": -1.5, "shutdown": -1.5, "contagion": -2.0,
    "list": 0.8, "lists": 1.0, "listing": 1.3, "listed": 1.0, "relist": 1.5, "relists": 1.5,
    "relisting": 1.5, "adds": 0.5, "launches": 1.0, "launched": 0.8, "launch": 0.8,
    "upgrade": 1.6, "upgrades": 1.6, "upgraded": 1.6, "integration": 1.0, "integrates": 1.2,
    "partnership": 1.5, "partners": 1.0, "partnering": 1.2, "custody": 0.5, "expands": 0.8,
    "expansion": 0.8, "joins": 0.5, "accept": 0.8, "accepts": 1.0, "taps": 0.6, "picks": 0.5,
    "acquires": 0.8, "acquired": 0.6, "acquisition": 0.8, "pilot": 0.3, "restores": 1.2, "resumes": 1.0,
}
_LAW = {
    "lawsuit": -1.8, "lawsuits": -1.8, "sue": -1.5, "sues": -2.0, "sued": -2.0, "charges": -1.5,
    "charged": -1.5, "indicted": -2.5, "indictment": -2.5, "liable": -1.8, "convicted": -2.5,
    "sentenced": -1.5, "unregistered": -1.2, "violations": -1.5, "enforcement": -0.8, "fine": -1.2,
    "fines": -1.2, "ban": -2.6, "bans": -2.6, "banning": -2.3, "banned": -2.3, "crackdown": -2.2,
    "probe": -1.2, "probes": -1.2, "investigation": -1.2, "subpoena": -1.5, "fined": -2.0,
    "delays": -1.3, "delayed": -1.3, "sanctions": -1.5, "restricts": -1.2, "restrictions": -1.2,
    "tightens": -1.0, "tighten": -1.0, "tougher": -1.0, "tough": -1.0, "seized": -1.0, "denial": -1.5,
    "approval": 2.3, "approve": 2.0, "approves": 2.3, "approved": 2.3, "greenlight": 2.0,
    "greenlights": 2.0, "greenlit": 2.0, "nod": 1.2, "landmark": 1.5, "milestone": 1.5,
    "license": 1.2, "licence": 1.2, "licensed": 1.0, "legalises": 1.8, "legalizes": 1.8,
    "legalise": 1.5, "legalize": 1.5, "recognise": 0.8, "recognize": 0.8, "settlement": 0.5,
    "objection": -1.0, "objections": -1.0,
}
_MACRO = {
    "hawkish": -1.5, "dovish": 1.5, "hotter": -1.2, "softer": 0.8, "cooler": 1.0, "cooling": 0.8,
    "inflation": -0.8, "recession": -1.8, "tariff": -1.2, "tariffs": -1.2, "headwinds": -1.2,
    "tailwinds": 1.2, "winter": -1.0,
}
_FLOWS = {
    "adoption": 1.8, "adopts": 1.5, "adopt": 1.3, "inflow": 1.5, "inflows": 1.8, "outflow": -1.5,
    "outflows": -1.8, "accumulate": 1.0, "accumulates": 1.0, "accumulating": 1.0, "accumulation": 1.0,
    "buys": 0.8, "sells": -0.8, "sold": -0.6, "selling": -1.0, "unlock": -0.8, "unlocks": -1.0,
    "dilution": -1.5, "overhang": -1.2, "liquidation": -1.8, "liquidations": -1.8, "liquidated": -2.0,
    "capitulation": -2.0, "capitulating": -2.0, "halving": 1.2, "bullish": 2.3, "bearish": -2.3,
    "bull": 1.2, "bulls": 1.2, "bear": -1.2, "bears": -1.2, "moon": 2.0, "mooning": 2.5,
    "rocket": 1.5, "rockets": 1.8, "ath": 2.0, "breakout": 1.5, "fud": -1.5, "jitters": -1.2,
    "spooks": -1.5, "spooked": -1.5, "manipulation": -2.0, "sell-off": -2.0, "selloff": -2.0,
    "drawdown": -1.2, "airdrop": 0.8,
}
_PRICE = {
    "dump": -2.0, "dumps": -2.0, "dumping": -2.0, "dumped": -2.0, "pump": 1.0,
    "crash": -2.3, "crashes": -2.3, "crashed": -2.3, "crashing": -2.3, "plunge": -2.5, "plunges": -2.5, "plunged": -2.5,
    "plunging": -2.5, "plummets": -2.5, "craters": -2.5, "nosedives": -2.5, "tumble": -2.0,
    "tumbles": -2.0, "tumbled": -2.0, "tumbling": -2.0, "slump": -2.0, "slumps": -2.0, "slumped": -2.0,
    "sinks": -1.5, "sank": -1.5, "drops": -1.1, "dropped": -1.1, "drop": -1.0, "falls": -1.0,
    "fell": -1.0, "slips": -1.0, "slides": -1.2, "slid": -1.2, "dips": -0.8, "sheds": -1.2,
    "bleed": -1.8, "bleeds": -1.8, "bleeding": -1.8, "lags": -0.8, "underperforms": -1.2,
    "down": -0.8, "lower": -0.8, "weaker": -1.0, "retreat": -1.0, "retreats": -1.0, "retreated": -1.0, "slide": -1.0, "slows": -0.8, "slowed": -0.8,
    "slowing": -0.8,
    "surge": 2.0, "surges": 2.0, "surged": 2.0, "surging": 2.0, "soar": 2.3, "soars": 2.3, "soared": 2.3,
    "soaring": 2.3, "rally": 2.0, "rallies": 2.0, "rallied": 2.0, "rallying": 2.0, "jumps": 1.5,
    "jumped": 1.5, "climbs": 1.3, "climbed": 1.3, "rises": 1.0, "rose": 1.0, "rebound": 1.5,
    "rebounds": 1.5, "recovers": 1.3, "recovery": 1.3, "tops": 1.0, "doubles": 1.8, "triples": 2.0,
    "outperforms": 1.5, "overtakes": 1.2, "reclaims": 1.3, "reclaiming": 1.3, "higher": 0.8,
    "lifts": 1.2, "lifting": 1.2, "lift": 1.0, "gains": 1.4,
}
CRYPTO_LEXICON: dict[str, float] = {
    **_NEUTRALISED, **_ATTACKS, **_VENUES, **_LAW, **_MACRO, **_FLOWS, **_PRICE,
}

# ---- multi-word terms ----------------------------------------------------------------------

# Words match case-insensitively with any run of spaces or hyphens between them, the last
# word optionally plural; "*" stands for up to two words of any kind ("approves spot Bitcoin ETF").
PHRASES: dict[str, float] = {
    "etf approval": 3.0, "etf approved": 3.0, "approves * etf": 3.0, "etf greenlight": 3.0,
    "etf rejected": -3.0, "etf rejection": -3.0, "etf denied": -3.0, "etf delayed": -1.5,
    "green light": 2.0, "signs off": 1.5, "all-time high": 2.5, "record high": 2.5, "new high": 1.8,
    "record low": -2.5, "new low": -1.8, "multi-year low": -2.2, "record inflows": 2.5,
    "record outflows": -2.5, "free fall": -2.5, "extends losses": -1.8, "extends gains": 1.8,
    "rate hike": -1.5, "rate cut": 1.5, "cuts rates": 1.5, "cut rates": 1.5, "hikes rates": -1.5,
    "raises rates": -1.5, "holds rates": 0.0, "basis points": 0.0, "hotter than expected": -1.8,
    "cooler than expected": 1.8, "short squeeze": 2.0, "long squeeze": -2.0, "golden cross": 2.0,
    "death cross": -2.0, "to the moon": 2.5, "bank run": -2.8, "rug pull": -3.0, "pump and dump": -2.5,
    "flash crash": -3.0, "sell off": -2.0, "crack down": -2.2, "cracks down": -2.2,
    "halts withdrawals": -3.0, "suspends withdrawals": -3.0, "pauses withdrawals": -2.5,
    "withdrawals halted": -3.0, "withdrawals suspended": -3.0, "withdrawals paused": -2.5,
    "cutting fees": 1.2, "cuts fees": 1.2, "lower fees": 1.0, "rules in favor": 2.3,
    "rules in favour": 2.3, "wells notice": -2.0, "files for bankruptcy": -3.0, "wind down": -2.0,
    "winds down": -2.0, "shuts down": -2.0, "lays off": -1.5, "steps down": 0.0, "hard fork": 0.0,
    "goes live": 1.0, "team up": 1.2, "teams up": 1.2, "opens door": 1.2, "opens the door": 1.2,
    "not a security": 2.0, "not securities": 2.0, "is a security": -1.5, "are securities": -1.5,
    "drops * case": 2.0, "drops * charges": 2.0, "drops * lawsuit": 2.0, "drops * claims": 2.0,
    "drops * probe": 2.0, "drops * investigation": 2.0, "dismisses * lawsuit": 2.0,
    "lawsuit dismissed": 2.0, "wins * lawsuit": 2.0, "weighs on": -1.5, "weigh on": -1.5,
}

# ---- cues ------------------------------------------------------------------------------------

NEGATORS = frozenset({
    "not", "no", "never", "without", "cannot", "unlikely", "fails", "fail", "failed", "hardly",
    "lacks", "neither", "nor", "none", "nobody", "nothing", "refuse", "refuses", "refused", "declines",
    "declined",
})
NEGATOR_PHRASES = ("no longer", "far from", "nowhere near", "yet to", "rules out", "ruled out",
                   "rule out", "not so")
BLOCKERS = frozenset({
    "delay", "delays", "delayed", "reject", "rejects", "rejected",
    "block", "blocks", "blocked", "postpone", "postpones", "postponed", "scrap", "scraps",
    "scrapped", "withdraw", "withdraws", "withdrew", "pulls", "pulled", "slash", "slashes", "dims",
    "dim", "dashing", "dashes", "dashed", "kills", "quashes", "dampens",
})
BLOCKER_PHRASES = ("pushes back", "push back", "pushed back", "walks back")
REVERSERS = frozenset({
    "ends", "ending", "ended", "end", "lift", "lifts", "lifted", "lifting", "overturn", "overturns",
    "overturned", "overturning", "dismiss", "dismisses", "dismissed", "settle", "settles", "settled",
    "resolve", "resolves", "resolved", "recover", "recovers", "recovered", "return", "returns", "returned",
    "erase", "erases", "erased", "pare", "pares", "pared", "ease", "eases", "easing", "snaps", "survive",
    "survives", "fix", "fixes", "fixed", "patch", "patches", "patched", "refute", "refutes", "calm",
    "calms", "soothes", "deny", "denies", "denied",
})
REVERSER_PHRASES = ("gives back", "give back", "gave back", "wipes out", "shrugs off", "brushes off",
                    "shakes off")
POST_REVERSERS = frozenset({
    "fade", "fades", "faded", "fading", "stall", "stalls", "stalled", "evaporate", "evaporates",
    "cools", "cooled", "subside", "subsides", "recede", "recedes", "false", "unfounded", "untrue",
    "baseless", "overblown", "eases", "ease", "ebb", "ebbs", "wanes", "unlikely", "doubtful",
})
# Hedge cue -> factor on its clause. "expected" alone is a forecast; "not expected" is a negation.
HEDGES: dict[str, float] = {
    "may": 0.5, "might": 0.5, "could": 0.5, "possibly": 0.5, "perhaps": 0.5, "potentially": 0.5,
    "potential": 0.6, "if": 0.5, "considers": 0.5, "considering": 0.5, "mulls": 0.5, "weighs": 0.6,
    "explores": 0.5, "exploring": 0.5, "eyes": 0.6, "proposes": 0.6, "proposal": 0.7, "plans": 0.7,
    "expected": 0.7, "likely": 0.7, "poised": 0.7, "hints": 0.6, "hint": 0.6, "suggest": 0.7,
    "suggests": 0.7, "speculation": 0.5, "odds": 0.7, "would": 0.7, "bet": 0.7, "bets": 0.7,
    "predicts": 0.6, "forecast": 0.7, "think": 0.7, "thinks": 0.7,
}
HEDGE_PHRASES = {"even if": 0.5, "said to": 0.5, "in talks": 0.5, "set to": 0.8, "aims to": 0.7, "hopes to": 0.6}
# Attribution cue -> factor on the whole headline.
ATTRIBUTIONS: dict[str, float] = {
    "reportedly": 0.7, "rumor": 0.6, "rumors": 0.6, "rumour": 0.6, "rumours": 0.6, "rumored": 0.6,
    "rumoured": 0.6, "unconfirmed": 0.6, "allegedly": 0.7,
}
ATTRIBUTION_PHRASES = {"sources say": 0.7, "report says": 0.8, "reports say": 0.8, "according to": 0.9}
QUESTION_FACTOR = 0.25  # a yes/no question asks; it does not report
WH_QUESTION_FACTOR = 0.8  # "why is X down?" takes the move as given
QUESTION_OPENERS = frozenset({
    "is", "are", "was", "were", "will", "would", "can", "could", "should", "does", "do", "did",
    "has", "have", "may", "might", "shall",
})
# A clause that opens with one of these concedes a point; the headline's weight is elsewhere.
CONCESSIVE = {"though": 0.3, "although": 0.3, "while": 0.4, "whereas": 0.4, "even as": 0.3, "even though": 0.3}
# Words that open a new clause (a cue's scope ends before them).
CLAUSE_OPENERS = frozenset({
    "but", "yet", "as", "after", "while", "though", "although", "despite", "amid", "before", "because",
    "since", "following", "when", "whereas", "however", "says", "said", "say", "if",
})
# How far a negator, blocker or reverser reaches forward, and a post-reverser back (words).
NEGATION_WINDOW = 6
POST_WINDOW = 6
