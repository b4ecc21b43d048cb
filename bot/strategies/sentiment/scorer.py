"""Headline sentiment for the news strategy: VADER with crypto vocabulary, negation scope and hedges.

Scoring runs in three steps:
1. Phrase pass: each multi-word term ("ETF approval", "rug pull", "no longer", "sources say") is
   replaced by one synthetic token, so VADER sees it as one word and its parts are not counted
   twice ("record high" is not "record" + "high").
2. Cue pass: the headline is cut into sentences and clauses (punctuation and words such as
   "as", "after", "but"), and each token gets a factor from the cues around it (lexicon.py):
   negators reach up to NEGATION_WINDOW words forward within their clause where VADER's own
   rule stops at three ("not expected to see ETF approval"); blocking verbs turn positive
   words around ("SEC delays approval"); reversers turn their object around ("lifts ban",
   "pares gains", "hopes fade"); hedges ("may", "could", "said to") scale their clause,
   attributions ("reportedly", "sources say") the headline, and a yes/no question its sentence.
3. VADER scores the rewritten text with its own rules (boosters, capitals, "but", its three-word
   negation) and each token's valence multiplied by its factor; the score is VADER's compound.

The cue pass sits in a VADER subclass's per-token hook, so VADER's rules still apply to every
word; the factors are computed once per headline and kept on VADER's own text object.
"""
from __future__ import annotations

import math
import re
import string
from functools import lru_cache
from typing import Mapping

from vaderSentiment.vaderSentiment import NEGATE, N_SCALAR, SentimentIntensityAnalyzer

from bot.strategies.sentiment import lexicon as lx

# A headline is a line of a few dozen words. Past that it is not headline text, and VADER's
# cost grows with the square of the token count, so longer input is cut before scoring.
MAX_SCORED_CHARS = 280
MAX_SCORED_WORDS = 50
MAX_VALENCE = 4.0

NEGATOR, BLOCKER, REVERSER, POST_REVERSER, HEDGE, ATTRIBUTION, CONCESSION = (
    "negator", "blocker", "reverser", "post_reverser", "hedge", "attribution", "concession")
_VADER_NEGATORS = frozenset(NEGATE)
_SENTENCE_END = re.compile(r"[?!]$|[^A-Z.]\.$")  # "U.S." does not end a sentence
_CLAUSE_END = re.compile(r"[,;:]$")
_DASHES = frozenset({"-", "–", "—", "|"})
_WH_WORDS = frozenset({"why", "what", "what's", "how", "where", "when", "who", "which"})
# Tag-like runs ("<b>", "</script>") glue to the words beside them in VADER's whitespace
# tokens; to the scorer they are spaces, so markup neither hides nor adds a word.
_MARKUP = re.compile(r"</?[A-Za-z][^<>]{0,200}>")
_PUNCTUATION = string.punctuation + "‘’“”"


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
    return "_".join(w for w in re.split(r"[^0-9a-z]+", phrase.lower()) if w)


def _cue_table() -> tuple[dict[str, tuple[tuple[str, float], ...]], dict[str, str]]:
    """Cue word -> ((kind, factor), ...), and cue phrase -> the token that stands for it."""
    cues: dict[str, list[tuple[str, float]]] = {}
    phrases: dict[str, str] = {}

    def add(word: str, kind: str, factor: float = 1.0) -> None:
        if " " in word:
            token = phrases.setdefault(_phrase_key(word), "cue_" + _phrase_token(word))
            cues.setdefault(token, []).append((kind, factor))
        else:
            cues.setdefault(word, []).append((kind, factor))

    for words, kind in ((lx.NEGATORS, NEGATOR), (lx.NEGATOR_PHRASES, NEGATOR), (lx.BLOCKERS, BLOCKER),
                        (lx.BLOCKER_PHRASES, BLOCKER), (lx.REVERSERS, REVERSER), (lx.REVERSER_PHRASES, REVERSER),
                        (lx.POST_REVERSERS, POST_REVERSER)):
        for word in words:
            add(word, kind)
    for table, kind in ((lx.HEDGES, HEDGE), (lx.HEDGE_PHRASES, HEDGE), (lx.ATTRIBUTIONS, ATTRIBUTION),
                        (lx.ATTRIBUTION_PHRASES, ATTRIBUTION), (lx.CONCESSIVE, CONCESSION)):
        for word, factor in table.items():
            add(word, kind, factor)
    return {word: tuple(kinds) for word, kinds in cues.items()}, phrases


class _CueAwareAnalyzer(SentimentIntensityAnalyzer):
    """VADER whose per-token valence is multiplied by the cue pass's factor for that token."""

    cues: dict[str, tuple[tuple[str, float], ...]]

    def sentiment_valence(self, valence, sentitext, item, i, sentiments):
        """VADER's valence of token i, times the factor the cues around it give."""
        sentiments = super().sentiment_valence(valence, sentitext, item, i, sentiments)
        factors = getattr(sentitext, "cue_factors", None)
        if factors is None:
            factors = sentitext.cue_factors = token_factors(sentitext.text.split(), self.lexicon, self.cues)
        sentiments[-1] *= factors[i]
        return sentiments


def token_factors(tokens: list[str], lexicon: Mapping[str, float],
                  cues: Mapping[str, tuple[tuple[str, float], ...]]) -> list[float]:
    """Per token: the factor its valence is multiplied by (flips, hedges, questions, concessions)."""
    words = [t.strip(_PUNCTUATION).lower() for t in tokens]
    clause, sentence = _segments(tokens, words, cues)
    n = len(words)
    flips = [1.0] * n
    own = [1.0] * n  # a reverser that turned its object around loses its own valence
    hedge = [1.0] * n
    concession = [1.0] * n
    headline = 1.0
    valence = [lexicon.get(w, 0.0) for w in words]
    for j, word in enumerate(words):
        kinds = cues.get(word, ())
        if "n't" in word and not kinds:
            kinds = ((NEGATOR, 1.0),)
        for kind, factor in kinds:
            ahead = [i for i in range(j + 1, min(n, j + 1 + lx.NEGATION_WINDOW)) if clause[i] == clause[j]]
            if kind == NEGATOR:  # its scope ends at the first word with a valence
                first = next((i for i in ahead if valence[i]), None)
                if first is not None and not _vader_negates(word, first - j, words, first):
                    flips[first] *= N_SCALAR
            elif kind == BLOCKER:
                for i in ahead:
                    if valence[i] > 0:
                        flips[i] *= N_SCALAR
            elif kind in (REVERSER, POST_REVERSER):
                targets = [i for i in ahead if valence[i]] if kind == REVERSER else []
                if not targets and (kind == POST_REVERSER or (POST_REVERSER, 1.0) in kinds):
                    targets = [i for i in range(max(0, j - lx.POST_WINDOW), j) if clause[i] == clause[j] and valence[i]]
                for i in targets:
                    flips[i] *= N_SCALAR
                if targets:
                    own[j] = 0.0
            elif kind == HEDGE and not (j and _is_negator(words[j - 1])):
                for i in range(n):
                    if clause[i] == clause[j]:
                        hedge[i] = min(hedge[i], factor)
            elif kind == ATTRIBUTION:
                headline = min(headline, factor)
            elif kind == CONCESSION and (j == 0 or clause[j - 1] != clause[j]):
                for i in range(j, n):
                    if clause[i] == clause[j]:
                        concession[i] = factor
    questions = _question_factors(tokens, words, sentence)
    return [flips[i] * own[i] * hedge[i] * concession[i] * questions[i] * headline for i in range(n)]


def _is_negator(word: str) -> bool:
    return word in lx.NEGATORS or word in _VADER_NEGATORS or "n't" in word


def _vader_negates(negator: str, distance: int, words: list[str], i: int) -> bool:
    """Whether VADER's own rule already negates the word `distance` tokens after `negator`."""
    if negator in _VADER_NEGATORS or "n't" in negator:
        return distance <= 3
    if negator == "no":
        return distance <= 2 or (distance == 3 and words[i - 1] in ("or", "nor"))
    return False


def _segments(tokens: list[str], words: list[str], cues: Mapping) -> tuple[list[int], list[int]]:
    """Clause and sentence number of each token."""
    clause, sentence = [], []
    c = s = 0
    for i, word in enumerate(words):
        if i:
            before = tokens[i - 1]
            if _SENTENCE_END.search(before):
                s += 1
                c += 1
            elif (_CLAUSE_END.search(before) or before in _DASHES or word in lx.CLAUSE_OPENERS
                  or any(kind == CONCESSION for kind, _ in cues.get(word, ()))):
                c += 1
        clause.append(c)
        sentence.append(s)
    return clause, sentence


def _question_factors(tokens: list[str], words: list[str], sentence: list[int]) -> list[float]:
    """QUESTION_FACTOR for the tokens of a yes/no question, WH_QUESTION_FACTOR for a why/how one."""
    factors = [1.0] * len(words)
    start = 0
    for i in range(len(words)):
        if i + 1 == len(words) or sentence[i + 1] != sentence[i]:
            if tokens[i].rstrip(_PUNCTUATION.replace("?", "")).endswith("?"):
                opener = next((w for w in words[start:i + 1] if w), "")
                factor = lx.WH_QUESTION_FACTOR if opener in _WH_WORDS else lx.QUESTION_FACTOR
                for k in range(start, i + 1):
                    factors[k] = factor
            start = i + 1
    return factors


class SentimentScorer:
    """Scores a headline in [-1, 1]: VADER plus crypto words, phrases, cues and extra_lexicon.

    extra_lexicon maps a word (or a phrase: words separated by spaces) to a valence, clipped to
    [-4, 4]; it overrides the built-in values.
    """

    def __init__(self, extra_lexicon: Mapping[str, float] | None = None):
        words = dict(lx.CRYPTO_LEXICON)
        phrases = {_phrase_key(phrase): valence for phrase, valence in lx.PHRASES.items()}
        for key, valence in (extra_lexicon or {}).items():
            term = " ".join(str(key).lower().split())
            value = float(valence)
            if not term or not math.isfinite(value):
                continue
            value = max(-MAX_VALENCE, min(MAX_VALENCE, value))
            # VADER splits on spaces only, so "sell-off" is one of its tokens; "rate hike" is not.
            if " " in term:
                phrases[_phrase_key(term)] = value
            else:
                words[term] = value
        base = _base_analyzer()
        self._analyzer = _CueAwareAnalyzer.__new__(_CueAwareAnalyzer)
        self._analyzer.__dict__.update(base.__dict__)  # shares VADER's tables, owns its lexicon
        self._analyzer.lexicon = {**base.lexicon, **words}
        cues, cue_phrases = _cue_table()
        self._analyzer.cues = cues
        self._phrase_tokens: dict[str, str] = {}
        alternatives = []
        entries = [(phrase, valence, None) for phrase, valence in phrases.items()]
        entries += [(phrase, None, token) for phrase, token in cue_phrases.items() if phrase not in phrases]
        # Longest first: at one position the alternation takes the first that matches.
        for index, (phrase, valence, token) in enumerate(sorted(entries, key=lambda e: -len(e[0]))):
            if token is None:
                token = _phrase_token(phrase)
                if not token or token in self._analyzer.lexicon or token in cues:
                    token = f"{token or 'phrase'}_{index}"  # "all-time high" and "all time high"
                self._analyzer.lexicon[token] = valence
            group = f"p{index}"
            self._phrase_tokens[group] = token
            alternatives.append(f"(?P<{group}>{_phrase_pattern(phrase)})")
        self._phrases = re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)

    def score(self, text: object) -> float:
        """Compound sentiment of one headline in [-1, 1]; 0.0 for empty or non-text input."""
        if not isinstance(text, str):
            return 0.0
        text = text[:MAX_SCORED_CHARS].replace("’", "'").replace("‘", "'")
        if not text.isascii():
            # VADER's own step, done here so that the word cap below also bounds emoji
            emojis = self._analyzer.emojis
            text = "".join(f" {emojis[ch]} " if ch in emojis else ch for ch in text)
        words = text.split()
        if not words:
            return 0.0
        rewritten = self.rewrite(" ".join(words[:MAX_SCORED_WORDS]))
        compound = float(self._analyzer.polarity_scores(rewritten)["compound"])
        return max(-1.0, min(1.0, compound))

    def rewrite(self, text: str) -> str:
        """What VADER scores: markup as spaces, each known phrase replaced by its token."""
        text = _MARKUP.sub(" ", text)
        return self._phrases.sub(lambda match: f" {self._phrase_tokens[match.lastgroup]} ", text)
