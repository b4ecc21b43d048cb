"""Headline sentiment for the news strategy (scorer.py) and headline -> symbol mapping (symbols.py)."""
from bot.strategies.sentiment.scorer import SentimentScorer
from bot.strategies.sentiment.symbols import SymbolMapper, symbols_for

__all__ = ["SentimentScorer", "SymbolMapper", "symbols_for"]
