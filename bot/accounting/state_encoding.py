"""StateEncoder: portfolio_state.json's text, with the equity curve's points encoded once each.

The state file is replaced after every trade, and its equity curve (storage.equity_history_points,
2,000 by default) was most of the cost of a trade in a backtest: json.dumps went over every point
each time. The points only ever append (and fall off the front), so each is encoded once and the
curve is spliced into the document's text. The text is exactly json.dumps(document,
ensure_ascii=False, indent=1, allow_nan=False) + "\\n", what storage.atomic_write_json writes.
"""
from __future__ import annotations

import json
import uuid
from collections import deque

CURVE_KEY = "equity_history"


class StateEncoder:
    """Encodes state documents, remembering the curve's encoded points between calls."""

    def __init__(self):
        self._sentinel = f"@@{CURVE_KEY}-{uuid.uuid4().hex}@@"
        self._points: deque[tuple[tuple, str]] = deque()  # (the point as the tracker holds it, its text)

    def _curve_text(self, history) -> str:
        points = self._points
        if len(history) == 0:
            points.clear()
            return "[]"
        # Reuse the cached texts of the points still in the history, in order; encode the new ones.
        cached = {id(point): text for point, text in points}
        fresh: deque[tuple[tuple, str]] = deque()
        for point in history:
            text = cached.get(id(point))
            if text is None or not isinstance(point, tuple):
                text = _point_text(point)
            fresh.append((point, text))
        self._points = fresh  # keeps the points alive, so their ids stay theirs
        return "[\n  " + ",\n  ".join(text for _, text in fresh) + "\n ]"

    def encode(self, document: dict) -> str:
        """The document as atomic_write_json would write it (ValueError for nan or infinity)."""
        history = document.get(CURVE_KEY)
        if history is None or not isinstance(history, (list, deque)):
            return json.dumps(document, ensure_ascii=False, indent=1, allow_nan=False) + "\n"
        shell = {**document, CURVE_KEY: self._sentinel}
        text = json.dumps(shell, ensure_ascii=False, indent=1, allow_nan=False)
        return text.replace(json.dumps(self._sentinel), self._curve_text(history), 1) + "\n"


def _point_text(point) -> str:
    """One curve point at its depth in the document (indent=1: a list inside a top-level list)."""
    return "[\n   " + ",\n   ".join(json.dumps(v, allow_nan=False) for v in point) + "\n  ]"
