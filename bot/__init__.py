"""The paper-trading engine. Knows nothing of Flask."""

__version__ = "0.12.0"  # named in recordings (bot/market/recorder.py) with the schema and library versions
