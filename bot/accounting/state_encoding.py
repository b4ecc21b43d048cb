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
        self._points: deque = deque()  # the points as the tracker holds them (alive, so `is` is theirs)
        self._texts: deque[str] = deque()  # and each one's text

    def _curve_text(self, history) -> str:
        points, texts = self._points, self._texts
        if len(history) == 0:
            points.clear()
            texts.clear()
            return "[]"
        # The points appended since the last call: walk back from the end to the last one cached.
        new = len(history)
        if points:
            last = points[-1]
            for k in range(1, len(history) + 1):
                if history[-k] is last:
                    new = k - 1
                    break
        for point in list(history)[len(history) - new:] if new < len(history) else history:
            points.append(point)
            texts.append(_point_text(point))
        while len(points) > len(history):  # fallen off the front
            points.popleft()
            texts.popleft()
        if len(points) != len(history) or points[0] is not history[0]:  # not an append-only change: start over
            points.clear()
            texts.clear()
            points.extend(history)
            texts.extend(_point_text(point) for point in history)
        return "[\n  " + ",\n  ".join(texts) + "\n ]"

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
