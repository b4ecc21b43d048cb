"""Simulated crypto headlines: a small grammar with a ground-truth tone for every headline.

An event (who does what to whom, with a polarity for the coin) is told in one of several
framings: plainly, hedged ("could"), negated ("won't", which turns the tone around), as a
yes/no question (no tone), in a quote, as a denial, or as an explainer; facts also come as
mixed news (two opposite facts: no tone) and as "X despite Y". Coins appear under their
aliases (bitcoin, BTC, btc...), with venues, regulators, issuers, amounts and dates filled in,
so a lexicon cannot be tuned to a handful of fixed sentences.

Headline.weight says how much of a full move the news is worth to the market: 1 for a plain
report, less for hedges, quotes and denials, 0 for questions and mixed news. The market
(sim_news.py) adds its own noise on top.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Iterator

from bot.market.headline_words import (DESPITE_DOWN, DESPITE_UP, EVENTS, FRAMINGS, MIXED_JOINERS, NEUTRAL,
                                       PREFIXES, SLOTS, SUFFIXES, Event)

# How often each kind of headline is drawn (the rest are plain reports of an event).
SHARES = {"neutral": 0.20, "mixed": 0.05, "despite": 0.06, "hedged": 0.12, "negated": 0.09,
          "question": 0.07, "quote": 0.06, "denial": 0.04, "explainer": 0.03}
WEIGHTS = {"plain": 1.0, "attributed": 0.8, "hedged": 0.5, "negated": 0.6, "question": 0.0, "quote": 0.5,
           "denial": 0.5, "explainer": 0.9, "despite": 0.8, "mixed": 0.0, "neutral": 0.0}
PREFIX_SHARE, SUFFIX_SHARE, TITLE_CASE_SHARE = 0.08, 0.15, 0.08
# Which framing needs which letter in an event's `framings`.
_NEEDS = {"hedged": "H", "negated": "N", "question": "Q", "quote": "U", "denial": "D", "explainer": "P"}


@dataclass(frozen=True, slots=True)
class Headline:
    """A generated headline: its text, true tone for the coin (+1, -1, 0) and market weight (0..1).

    family and framing name the grammar parts it came from (for analysis and tests).
    """

    title: str
    tone: int
    weight: float
    family: str
    framing: str


class HeadlineGenerator:
    """Draws headlines about a coin, given the coin's aliases, from a random.Random."""

    def __init__(self):
        self._events = [(family, event) for family, events in EVENTS.items() for event in events]
        self._facts = [(f, e) for f, e in self._events if "F" in e.framings]

    def make(self, aliases: tuple[str, ...], rng: random.Random) -> Headline:
        """One headline about the coin known by aliases (the first alias is its name)."""
        slots = {key: rng.choice(values) for key, values in SLOTS.items()}
        slots["coin"] = rng.choice(aliases)
        slots["speaker_cap"] = slots["speaker"][:1].upper() + slots["speaker"][1:]
        kind = _pick(rng, SHARES)
        if kind == "neutral":
            return self._finish(rng.choice(NEUTRAL).format(**slots), 0, "neutral", "neutral", aliases, rng)
        if kind == "mixed":
            (_, first), (_, second) = rng.sample(self._facts, 2)
            while first.polarity == second.polarity:
                _, second = rng.choice(self._facts)
            text = _plain(first, slots) + rng.choice(MIXED_JOINERS) + _plain(second, slots, lower=True)
            return self._finish(text, 0, "mixed", "mixed", aliases, rng)
        if kind == "despite":
            tone = rng.choice((1, -1))
            main = rng.choice([e for _, e in self._facts if e.polarity == tone and e.subject == "{coin}"])
            reason = rng.choice(DESPITE_UP if tone > 0 else DESPITE_DOWN).format(**slots)
            return self._finish(f"{_plain(main, slots)} despite {reason}", tone, "despite", "despite", aliases, rng)
        candidates = [(f, e) for f, e in self._events if _NEEDS.get(kind, "P") in e.framings]
        family, event = rng.choice(candidates)
        if kind not in FRAMINGS:  # a plain report, sometimes with a source or a flag in front
            text, framing = _plain(event, slots), "plain"
            if rng.random() < SUFFIX_SHARE:
                text, framing = text + rng.choice(SUFFIXES), "attributed"
            elif rng.random() < PREFIX_SHARE:
                text = rng.choice(PREFIXES) + text
            return self._finish(text, event.polarity, family, framing, aliases, rng)
        subject = event.subject.format(**slots)
        if not event.subject.startswith("{") or subject.startswith(("A ", "An ")):
            subject = subject[:1].lower() + subject[1:]  # mid-sentence: "why a federal judge ..."
        parts = {"S": subject, "Sc": subject[:1].upper() + subject[1:], "V": event.verb, "B": event.base,
                 "O": event.obj.format(**slots)}
        text = rng.choice(FRAMINGS[kind]).format(**parts, **_agreement(event), **slots)
        tone = -event.polarity if kind in ("negated", "denial") else 0 if kind == "question" else event.polarity
        return self._finish(text, tone, family, kind, aliases, rng)

    def _finish(self, text: str, tone: int, family: str, framing: str, aliases: tuple[str, ...],
                rng: random.Random) -> Headline:
        """Capitalise the first word (or every word, now and then) and attach tone and weight."""
        words = text.split()
        title_case = rng.random() < TITLE_CASE_SHARE
        for i, word in enumerate(words):
            bare = word.strip("'").removesuffix("'s")
            if bare.islower() and bare.upper() in aliases and (i == 0 or title_case):
                words[i] = word.replace(bare, bare.upper(), 1)  # "btc slides" reads as "BTC slides"
            elif i == 0 or title_case:
                at = len(word) - len(word.lstrip("'"))
                words[i] = word[:at] + word[at:at + 1].upper() + word[at + 1:]
        return Headline(" ".join(words), tone, WEIGHTS[framing] if tone else 0.0, family, framing)


def template_phrases(min_words: int = 3) -> list[str]:
    """Every literal run of at least min_words words in the generator's templates and fillers,
    as normalised_words() spells it."""
    found = []
    for text in _all_template_text():
        for run in re.split(r"\{[^}]*\}", text):
            words = normalised_words(run)
            if len(words.split()) >= min_words:
                found.append(words)
    return sorted(set(found))


def normalised_words(text: str) -> str:
    """Text as lower-case words separated by single spaces, punctuation dropped ("$1.1bn" stays one word)."""
    return " ".join(re.findall(r"[a-z0-9$%'](?:[a-z0-9$%'.-]*[a-z0-9$%'])?", text.lower()))


def _all_template_text() -> Iterator[str]:
    for events in EVENTS.values():
        for event in events:
            yield f"{event.subject} {event.verb} {event.obj}"
            yield f"{event.subject} {event.base} {event.obj}"
    for patterns in FRAMINGS.values():
        yield from patterns
    for table in (NEUTRAL, DESPITE_UP, DESPITE_DOWN, MIXED_JOINERS, PREFIXES, SUFFIXES):
        yield from table
    for values in SLOTS.values():
        yield from values


def _plain(event: Event, slots: dict, lower: bool = False) -> str:
    """The event told plainly; lower: as a second clause ("whales scoop up", not "Whales scoop up")."""
    text = f"{event.subject} {event.verb} {event.obj}".format(**slots)
    if lower and not event.subject.startswith("{"):
        text = text[:1].lower() + text[1:]
    return text


def _agreement(event: Event) -> dict[str, str]:
    """Verb forms that agree with the event's subject."""
    plural = event.plural
    return {"is": "are" if plural else "is", "Is": "Are" if plural else "Is", "has": "have" if plural else "has",
            "s": "" if plural else "s", "es": "" if plural else "es", "ies": "y" if plural else "ies"}


def _pick(rng: random.Random, shares: dict[str, float]) -> str:
    u = rng.random()
    for name, share in shares.items():
        u -= share
        if u < 0:
            return name
    return "plain"
