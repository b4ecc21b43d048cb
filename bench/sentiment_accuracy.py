"""Sentiment accuracy of the news strategy's scorer, and the news information coefficient.

Prints, for the scorer (bot/strategies/sentiment) and for VADER alone (its shipped lexicon,
its documented neutral band |compound| < 0.05):
  1. on the labelled headlines in tests/data (sentiment_headlines.jsonl, and the holdout set
     written after the scorer's rules were fixed): accuracy, per-class precision and recall,
     the confusion matrix, and accuracy at other neutral bands;
  2. the same on a sample of the simulator's generated headlines (ground-truth tones), with
     accuracy per framing;
  3. what the news strategy's entry threshold (strategies.news.entry_score) would buy on one
     headline alone: how many headlines of each label score at or above it;
  4. the news information coefficient for seeds 1-5 (bench/news_ic.py).
A label or tone is +1, -1 or 0; a score is classed 0 when |score| < the band.
Run: .venv/bin/python bench/sentiment_accuracy.py [--quick]   (--quick: 20 hours per IC seed)
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # noqa: E402

from bot.config import NewsConfig  # noqa: E402
from bot.market.headlines import HeadlineGenerator  # noqa: E402
from bot.market.sim_news import NAMES  # noqa: E402
from bot.strategies.sentiment import SentimentScorer  # noqa: E402

LABELLED = ROOT / "tests" / "data" / "sentiment_headlines.jsonl"
HOLDOUT = ROOT / "tests" / "data" / "sentiment_headlines_holdout.jsonl"
NEUTRAL_BAND = 0.05  # VADER's documented band, used for both scorers
BANDS = (0.05, 0.1, 0.2, 0.3)
CLASSES = (-1, 0, 1)
GENERATED_COUNT, GENERATED_SEED = 3000, 7


@dataclass(frozen=True)
class Evaluation:
    """Accuracy, per-class precision and recall, and confusion[true][predicted] for classes -1, 0, 1."""

    count: int
    accuracy: float
    precision: dict
    recall: dict
    confusion: dict


def load_labelled(path: Path) -> list[tuple[str, int]]:
    """(headline, label) pairs of a JSONL file of {"headline", "label"} lines."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            if row.get("label") not in CLASSES or not isinstance(row.get("headline"), str):
                raise ValueError(f"{path.name} line {number}: needs a headline and a label of -1, 0 or 1")
            rows.append((row["headline"], row["label"]))
    return rows


def classify(score: float, band: float = NEUTRAL_BAND) -> int:
    """+1, -1, or 0 inside the neutral band."""
    return 0 if abs(score) < band else (1 if score > 0 else -1)


def evaluate(pairs: list[tuple[int, int]]) -> Evaluation:
    """Evaluation of (true, predicted) pairs."""
    confusion = {t: {p: 0 for p in CLASSES} for t in CLASSES}
    for true, predicted in pairs:
        confusion[true][predicted] += 1
    n = len(pairs)
    precision, recall = {}, {}
    for c in CLASSES:
        predicted = sum(confusion[t][c] for t in CLASSES)
        actual = sum(confusion[c].values())
        precision[c] = confusion[c][c] / predicted if predicted else float("nan")
        recall[c] = confusion[c][c] / actual if actual else float("nan")
    accuracy = sum(confusion[c][c] for c in CLASSES) / n if n else float("nan")
    return Evaluation(n, accuracy, precision, recall, confusion)


def scorers() -> dict:
    """name -> score function: ours and VADER alone."""
    vader = SentimentIntensityAnalyzer()
    return {"ours": SentimentScorer().score, "VADER only": lambda text: vader.polarity_scores(text)["compound"]}


def print_evaluation(title: str, rows: list[tuple[str, int]], score_functions: dict) -> None:
    """Tables for one set of (headline, label) rows and each scorer."""
    print(f"\n== {title}: {len(rows)} headlines, labels {dict(sorted(Counter(l for _, l in rows).items()))}")
    for name, score in score_functions.items():
        scores = [score(text) for text, _ in rows]
        result = evaluate([(label, classify(s)) for s, (_, label) in zip(scores, rows)])
        sweep = "  ".join(f"{band:g}: {evaluate([(l, classify(s, band)) for s, (_, l) in zip(scores, rows)]).accuracy:.3f}"
                          for band in BANDS)
        print(f"-- {name}: accuracy {result.accuracy:.3f}   (by neutral band  {sweep})")
        print(f"   {'class':>5}  {'precision':>9}  {'recall':>6}   confusion (rows true, columns predicted -1 0 +1)")
        for c in CLASSES:
            row = "  ".join(f"{result.confusion[c][p]:>4}" for p in CLASSES)
            print(f"   {c:>+5d}  {result.precision[c]:>9.3f}  {result.recall[c]:>6.3f}   {row}")


def generated(count: int = GENERATED_COUNT, seed: int = GENERATED_SEED) -> list:
    """A fixed sample of the simulator's headlines, coins in turn."""
    generator, rng, coins = HeadlineGenerator(), random.Random(seed), list(NAMES)
    return [generator.make(NAMES[coins[i % len(coins)]], rng) for i in range(count)]


def print_entry_threshold(labelled: list[tuple[str, int]], headlines: list) -> None:
    """What one headline alone buys at the strategy's entry threshold."""
    threshold, score = NewsConfig().entry_score, SentimentScorer().score
    print(f"\n== entry threshold: strategies.news.entry_score = {threshold:g} (one headline alone)")
    buys = Counter(label for text, label in labelled if score(text) >= threshold)
    total = sum(buys.values())
    print(f"labelled: {total} headlines reach it: " + ", ".join(f"label {c:+d}: {buys[c]}" for c in CLASSES)
          + (f"   buy precision {buys[1] / total:.3f}" if total else ""))
    by_framing: dict[str, Counter] = {}
    for h in headlines:
        s = score(h.title)
        counts = by_framing.setdefault(h.framing, Counter())
        counts["n"] += 1
        counts["right"] += classify(s) == h.tone
        if s >= threshold:
            counts[f"buy{h.tone:+d}"] += 1
    print(f"generated, by framing:   {'n':>5}  {'accuracy':>8}  buys: {'tone +1':>7}  {'tone 0':>6}  {'tone -1':>7}")
    for framing, c in sorted(by_framing.items(), key=lambda kv: -kv[1]["n"]):
        print(f"  {framing:<22} {c['n']:>5}  {c['right'] / c['n']:>8.3f}        {c['buy+1']:>7}  {c['buy+0']:>6}  "
              f"{c['buy-1']:>7}")


def main() -> None:
    """Print every table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 simulated hours per IC seed instead of 100")
    args = parser.parse_args()
    functions = scorers()
    labelled = load_labelled(LABELLED)
    print_evaluation(f"labelled set ({LABELLED.name})", labelled, functions)
    print_evaluation(f"holdout set ({HOLDOUT.name})", load_labelled(HOLDOUT), functions)
    headlines = generated()
    print_evaluation(f"generated headlines (seed {GENERATED_SEED})", [(h.title, h.tone) for h in headlines], functions)
    print_entry_threshold(labelled + load_labelled(HOLDOUT), headlines)
    from bench.news_ic import news_ic, print_table

    print()
    print_table([news_ic(seed, hours=20.0 if args.quick else 100.0) for seed in (1, 2, 3, 4, 5)])


if __name__ == "__main__":
    main()
