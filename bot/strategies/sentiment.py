"""Headline sentiment for the news strategy: VADER with crypto vocabulary, and symbol mapping.

Scoring: VADER's lexicon is extended with crypto words (hack, delisting, halving, inflows...).
Multi-word terms VADER cannot see as one token ("ETF approval", "all-time high", "bank run")
go through a phrase pass first: each match is replaced by one synthetic token (etf_approval)
that carries the phrase's valence in the lexicon, so VADER's own negation, boosters, "but"
rule and normalisation apply to the phrase exactly as to a word, and the phrase's parts are
not counted twice ("record high" is not "record" + "high"). A positive phrase within three
words after a blocking verb ("SEC delays ETF approval") takes the opposite sign, scaled as
VADER scales a negated word. The score is VADER's compound of the rewritten text, in [-1, 1].

Mapping: coin names and tickers to the configured USDT symbols, whole words only. Tickers are
case-sensitive (SOL, not "sol"); names that are also ordinary words (Ether, Ripple,
Avalanche) count only when capitalised; "Ada" is a first name, never the ADA ticker; names of
other coins that contain a mapped name ("Bitcoin Cash", "Ethereum Classic") map to their own
ticker, never to BTC or ETH.
"""
from __future__ import annotations

import copy
import math
import re
from functools import lru_cache
from typing import Iterable, Mapping

from vaderSentiment.vaderSentiment import N_SCALAR, SentimentIntensityAnalyzer

from bot.strategies.common import usdt_symbols

# A headline is a line of a few dozen words. Past that it is not headline text, and VADER's
# cost grows with the square of the token count, so longer input is cut before scoring.
MAX_SCORED_CHARS = 280
MAX_SCORED_WORDS = 50
MAX_MAPPED_CHARS = 2_000
MAX_VALENCE = 4.0

# Single words, VADER's scale (-4..4). Where VADER already has the word with an everyday
# meaning that is weaker in market news (exploit -0.4, lawsuit -0.9, landmark 0.3) the
# crypto value replaces it.
CRYPTO_LEXICON: dict[str, float] = {
    # attacks and losses of funds
    "hack": -2.5, "hacks": -2.5, "hacked": -2.8, "hacker": -1.8, "hackers": -1.8,
    "exploit": -2.3, "exploits": -2.3, "exploited": -2.5, "drain": -1.5, "drains": -2.0, "drained": -2.0,
    "theft": -2.5, "breach": -2.2, "breached": -2.2, "phishing": -2.2, "rugpull": -3.0, "ponzi": -2.8,
    "vulnerability": -2.0, "vulnerabilities": -2.0, "bug": -1.5, "bugs": -1.5,
    # venues and operations
    "delist": -2.3, "delists": -2.3, "delisting": -2.3, "delisted": -2.5,
    "outage": -2.2, "outages": -2.2, "downtime": -1.5, "halt": -1.5, "halts": -1.8, "halted": -2.0,
    "suspends": -1.8, "paused": -1.0, "insolvent": -2.8, "insolvency": -2.8, "bankruptcy": -2.8,
    "depeg": -2.5, "depegs": -2.5, "depegged": -2.5,
    "listing": 1.3, "lists": 1.0, "listed": 1.0, "launches": 1.0, "launched": 0.8,
    "upgrade": 1.6, "upgrades": 1.6, "upgraded": 1.6, "integration": 1.0, "integrates": 1.2,
    "partnership": 1.5, "partners": 1.0, "custody": 0.5,
    # regulation and courts
    "lawsuit": -1.8, "lawsuits": -1.8, "sue": -1.5, "sues": -2.0, "sued": -2.0,
    "ban": -2.6, "bans": -2.6, "banning": -2.3, "crackdown": -2.2, "probe": -1.2, "probes": -1.2,
    "investigation": -1.2, "subpoena": -1.5, "fined": -2.0, "delays": -1.3, "delayed": -1.3,
    "approval": 2.3, "approve": 2.0, "approves": 2.3, "approved": 2.3, "greenlight": 2.0,
    "greenlights": 2.0, "landmark": 1.5, "milestone": 1.5,
    # flows, adoption, market structure
    "adoption": 1.8, "adopts": 1.5, "adopt": 1.3, "inflow": 1.5, "inflows": 1.8,
    "outflow": -1.5, "outflows": -1.8, "accumulate": 1.0, "accumulates": 1.0, "accumulation": 1.0,
    "liquidation": -1.8, "liquidations": -1.8, "liquidated": -2.0, "capitulation": -2.0,
    "halving": 1.2, "bullish": 2.3, "bearish": -2.3, "bull": 1.2, "bulls": 1.2, "bear": -1.2, "bears": -1.2,
    "moon": 2.0, "mooning": 2.5, "rocket": 1.5, "rockets": 1.8, "ath": 2.0, "breakout": 1.5, "fud": -1.5, "jitters": -1.2,
    "spooks": -1.5, "spooked": -1.5, "manipulation": -2.0, "sell-off": -2.0, "selloff": -2.0,
    # price moves
    "dump": -2.0, "dumps": -2.0, "dumping": -2.0, "dumped": -2.0, "pump": 1.0,
    "crash": -2.3, "crashes": -2.3, "crashed": -2.3, "plunge": -2.5, "plunges": -2.5, "plunged": -2.5,
    "plunging": -2.5, "tumble": -2.0, "tumbles": -2.0, "tumbled": -2.0, "slump": -2.0, "slumps": -2.0,
    "slumped": -2.0, "sinks": -1.5, "sank": -1.5, "drops": -1.1, "falls": -1.0, "slips": -1.0, "slides": -1.2, "dips": -0.8,
    "surge": 2.0, "surges": 2.0, "surged": 2.0, "surging": 2.0, "soar": 2.3, "soars": 2.3, "soared": 2.3,
    "soaring": 2.3, "rally": 2.0, "rallies": 2.0, "rallied": 2.0, "rallying": 2.0, "jumps": 1.5,
    "climbs": 1.3, "rises": 1.0, "rebound": 1.5, "rebounds": 1.5, "recovers": 1.3, "recovery": 1.3,
}

# Multi-word terms. Words are matched case-insensitively with any run of spaces or hyphens
# between them ("all-time high" = "all time high"), the last word optionally plural; "*"
# stands for up to two words of any kind ("approves spot Bitcoin ETF").
PHRASES: dict[str, float] = {
    "etf approval": 3.0, "etf approved": 3.0, "approves * etf": 3.0, "etf greenlight": 3.0,
    "etf rejected": -3.0, "etf rejection": -3.0, "etf denied": -3.0, "etf delayed": -1.5,
    "all-time high": 2.5, "record high": 2.5, "new high": 1.8, "record low": -2.5, "new low": -1.8,
    "multi-year low": -2.2, "record inflows": 2.5, "record outflows": -2.5,
    "rate hike": -1.5, "rate cut": 1.5, "short squeeze": 2.0, "long squeeze": -2.0,
    "golden cross": 2.0, "death cross": -2.0, "to the moon": 2.5,
    "bank run": -2.8, "rug pull": -3.0, "pump and dump": -2.5, "flash crash": -3.0, "sell off": -2.0,
    "crack down": -2.2, "cracks down": -2.2,
    "halts withdrawals": -3.0, "suspends withdrawals": -3.0, "pauses withdrawals": -2.5,
    "withdrawals halted": -3.0, "withdrawals suspended": -3.0, "withdrawals paused": -2.5,
    "cutting fees": 1.2, "cuts fees": 1.2, "lower fees": 1.0,
    "rules in favor": 2.3, "lawsuit dismissed": 2.0, "dismisses * lawsuit": 2.0,
    "wins * lawsuit": 2.0, "ends * lawsuit": 1.5, "ending * lawsuit": 1.5, "settles * lawsuit": 1.0,
}

# Verbs that turn a following positive phrase around: "SEC delays ETF approval".
BLOCKERS = frozenset({
    "delay", "delays", "delayed", "deny", "denies", "denied", "reject", "rejects", "rejected",
    "block", "blocks", "blocked", "postpone", "postpones", "postponed", "halt", "halts", "halted",
    "scrap", "scraps", "scrapped", "withdraw", "withdraws", "withdrew", "pulls", "pulled",
})
BLOCKER_WINDOW_WORDS = 3

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
# Tag-like runs ("<b>", "</script>") glue to the words beside them in VADER's whitespace
# tokens; to the scorer they are spaces, so markup neither hides nor adds a word.
_MARKUP = re.compile(r"</?[A-Za-z][^<>]{0,200}>")


@lru_cache(maxsize=1)
def _base_analyzer() -> SentimentIntensityAnalyzer:
    """VADER with its shipped lexicon, read once per process (the file takes ~25 ms)."""
    return SentimentIntensityAnalyzer()


def _phrase_key(phrase: str) -> str:
    """One spelling per phrase: "All-time  high" and "all time high" are the same phrase."""
    return " ".join(word for word in re.split(r"[\s\-]+", phrase.lower()) if word)


def _phrase_pattern(phrase: str) -> str:
    separator = r"[\s\-]+"
    words = phrase.split()
    parts = []
    for i, word in enumerate(words):
        if word == "*":
            parts.append(r"(?:\S+\s+){0,2}?")  # follows a separator, ends with one
            continue
        parts.append(re.escape(word))
        if i < len(words) - 1:
            parts.append(separator)
    return "".join(parts) + "s?"


def _phrase_token(phrase: str) -> str:
    words = [w for w in re.split(r"[^0-9a-z]+", phrase.lower()) if w]
    return "_".join(words)


class SentimentScorer:
    """Scores a headline in [-1, 1]: VADER plus crypto words, phrases and extra_lexicon.

    extra_lexicon maps a word (or a phrase: words separated by spaces) to a valence, clipped to
    [-4, 4]; it overrides the built-in values.
    """

    def __init__(self, extra_lexicon: Mapping[str, float] | None = None):
        words = dict(CRYPTO_LEXICON)
        phrases = {_phrase_key(phrase): valence for phrase, valence in PHRASES.items()}
        for key, valence in (extra_lexicon or {}).items():
            term = " ".join(str(key).lower().split())
            if not term:
                continue
            value = float(valence)
            if not math.isfinite(value):
                continue
            value = max(-MAX_VALENCE, min(MAX_VALENCE, value))
            # VADER splits on spaces only, so "sell-off" is one of its tokens; "rate hike" is not.
            if " " in term:
                phrases[_phrase_key(term)] = value
            else:
                words[term] = value
        base = _base_analyzer()
        self._analyzer = copy.copy(base)  # shares VADER's tables, owns its lexicon
        self._analyzer.lexicon = {**base.lexicon, **words}
        self._phrase_tokens: dict[str, tuple[str, str | None]] = {}
        alternatives = []
        # Longest first: at one position the alternation takes the first that matches.
        for index, (phrase, valence) in enumerate(sorted(phrases.items(), key=lambda kv: -len(kv[0]))):
            token = _phrase_token(phrase)
            if not token or token in self._analyzer.lexicon:  # "all-time high" and "all time high"
                token = f"{token or 'phrase'}_{index}"
            self._analyzer.lexicon[token] = valence
            blocked = None
            if valence > 0:
                blocked = f"{token}_blocked"
                self._analyzer.lexicon[blocked] = valence * N_SCALAR
            group = f"p{index}"
            self._phrase_tokens[group] = (token, blocked)
            alternatives.append(f"(?P<{group}>{_phrase_pattern(phrase)})")
        self._phrases = re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)

    def score(self, text: object) -> float:
        """Compound sentiment of one headline in [-1, 1]; 0.0 for empty or non-text input."""
        if not isinstance(text, str):
            return 0.0
        text = text[:MAX_SCORED_CHARS]
        if not text.isascii():
            # VADER's own step, done here so that the word cap below also bounds emoji
            emojis = self._analyzer.emojis
            text = "".join(f" {emojis[ch]} " if ch in emojis else ch for ch in text)
        words = text.split()
        if not words:
            return 0.0
        text = " ".join(words[:MAX_SCORED_WORDS])
        rewritten = self.rewrite(text)
        compound = float(self._analyzer.polarity_scores(rewritten)["compound"])
        return max(-1.0, min(1.0, compound))

    def rewrite(self, text: str) -> str:
        """What VADER scores: markup as spaces, each known phrase replaced by its lexicon token."""
        text = _MARKUP.sub(" ", text)

        def replace(match: re.Match) -> str:
            token, blocked = self._phrase_tokens[match.lastgroup]
            if blocked is not None:
                before = _WORD.findall(text[max(0, match.start() - 80): match.start()])
                if any(word.lower() in BLOCKERS for word in before[-BLOCKER_WINDOW_WORDS:]):
                    token = blocked
            return f" {token} "

        return self._phrases.sub(replace, text)


# ---- symbol mapping -----------------------------------------------------------------------

# Names by ticker. "Cap:" marks a name that is also an everyday word: it counts only as
# "Ether" or "ETHER", never "ether". Other names match in any case.
ASSET_NAMES: dict[str, tuple[str, ...]] = {
    "BTC": ("Bitcoin", "XBT"),
    "ETH": ("Ethereum", "Cap:Ether"),
    "SOL": ("Solana",),
    "XRP": ("Cap:Ripple",),
    "ADA": ("Cardano",),
    "BNB": ("BNB Chain", "Binance Coin"),
    "DOGE": ("Dogecoin",),
    "LTC": ("Litecoin",),
    "DOT": ("Polkadot",),
    "LINK": ("Chainlink",),
    "AVAX": ("Cap:Avalanche",),
    "MATIC": ("Cap:Polygon",),
    "TRX": ("Cap:Tron",),
    "SHIB": ("Shiba Inu",),
    "ATOM": ("Cosmos",),
    "XLM": ("Stellar",),
    "UNI": ("Uniswap",),
    "NEAR": ("NEAR Protocol",),
    # Other coins whose names contain a name above: they map to themselves (usually to nothing).
    "BCH": ("Bitcoin Cash",),
    "BSV": ("Bitcoin SV",),
    "WBTC": ("Wrapped Bitcoin",),
    "ETC": ("Ethereum Classic",),
    "ETHW": ("EthereumPoW", "Ethereum PoW"),
}


class SymbolMapper:
    """Finds which configured USDT symbols a text is about, by coin name and ticker."""

    def __init__(self, symbols: Iterable[str]):
        self.symbol_by_base: dict[str, str] = usdt_symbols(symbols)
        self._order = {symbol: i for i, symbol in enumerate(self.symbol_by_base.values())}
        # alias -> base; exact aliases are compared as written, folded ones in lower case.
        self._exact: dict[str, str] = {}
        self._folded: dict[str, str] = {}
        alternatives: list[tuple[str, str]] = []  # (alias, regex)
        bases = set(ASSET_NAMES) | set(self.symbol_by_base)
        for base in bases:
            if base.isalnum():
                self._exact[base] = base  # tickers: case-sensitive
                alternatives.append((base, re.escape(base)))
            for name in ASSET_NAMES.get(base, ()):
                capitalised_only = name.startswith("Cap:")
                name = name.removeprefix("Cap:")
                words = r"\s+".join(re.escape(word) for word in name.split())
                if capitalised_only:
                    for form in (name, name.upper()):
                        self._exact[form] = base
                    alternatives.append((name, f"(?:{words}|{words.upper()})"))
                else:
                    self._folded[name.lower()] = base
                    alternatives.append((name, f"(?i:{words})"))
        alternatives.sort(key=lambda pair: -len(pair[0]))
        body = "|".join(regex for _, regex in alternatives)
        self._pattern = re.compile(rf"(?<!\w)(?:{body})(?!\w)") if body else None

    def symbols_for(self, text: object, tagged: Iterable[str] = ()) -> tuple[str, ...]:
        """Configured USDT symbols named in text, unioned with a source's own tags, in config order.

        A tag may be a symbol ("SOL/USDT", "SOL/BTC") or a bare ticker ("SOL"); either names
        the asset, which trades here against USDT.
        """
        found: set[str] = set()
        for tag in tagged or ():
            if isinstance(tag, str):
                symbol = self.symbol_by_base.get(tag.partition("/")[0].strip().upper())
                if symbol is not None:
                    found.add(symbol)
        if isinstance(text, str) and self._pattern is not None:
            for match in self._pattern.finditer(text[:MAX_MAPPED_CHARS]):
                alias = " ".join(match.group().split())
                base = self._exact.get(alias) or self._folded.get(alias.lower())
                symbol = self.symbol_by_base.get(base) if base else None
                if symbol is not None:
                    found.add(symbol)
        return tuple(sorted(found, key=self._order.__getitem__))


@lru_cache(maxsize=32)
def _mapper(symbols: tuple[str, ...]) -> SymbolMapper:
    return SymbolMapper(symbols)


def symbols_for(text: object, symbols: Iterable[str], tagged: Iterable[str] = ()) -> tuple[str, ...]:
    """The configured USDT symbols a headline is about (see SymbolMapper.symbols_for)."""
    return _mapper(tuple(symbols)).symbols_for(text, tagged)
