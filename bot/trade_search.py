"""Search the whole ledger for trades (the journal's trade picker), newest first.

The newest trades come from memory (Ledger.recent); when they hold fewer matches than asked
for, the older part of trades.jsonl is streamed (Ledger.since), keeping only the newest
`limit` matches, so memory stays flat whatever the ledger's size.
"""
from __future__ import annotations

from collections import deque

SEARCHED_FIELDS = ("id", "symbol", "exchange", "side", "strategy", "kind", "reason", "signal_id")


def trade_matches(trade, needle: str | None, strategy: str | None) -> bool:
    """True when the trade is of strategy (if given) and needle (casefolded) is in one of its text fields."""
    if strategy is not None and trade.strategy != strategy:
        return False
    if not needle:
        return True
    return any(needle in str(getattr(trade, name) or "").casefold() for name in SEARCHED_FIELDS)


def search_trades(ledger, lock, query: str | None = None, strategy: str | None = None, limit: int = 50,
                  cooperate=None) -> dict:
    """{"trades": [trade dicts, newest first], "matched", "searched": trades read, "complete"}.

    When memory alone holds `limit` matches the file is not read: matched then counts only
    those (complete False), which is all a picker showing `limit` rows needs."""
    needle = query.casefold().strip() if query else None
    with lock:
        held = ledger.recent(ledger.count)  # newest first
        older = ledger.since(0, ledger.first_held_seq - 1) if ledger.first_held_seq > 1 else iter(())
    found = [t for t in held if trade_matches(t, needle, strategy)]
    matched, searched = len(found), len(held)
    if len(found) >= limit:
        return {"trades": [t.to_dict() for t in found[:limit]], "matched": matched, "searched": searched,
                "complete": False}
    older_matches: deque = deque(maxlen=max(0, limit - len(found)))
    for number, trade in enumerate(older, start=1):
        searched += 1
        if trade_matches(trade, needle, strategy):
            matched += 1
            older_matches.append(trade)
        if cooperate is not None and number % 2000 == 0:
            cooperate()
    trades = found[:limit] + list(reversed(older_matches))
    return {"trades": [t.to_dict() for t in trades], "matched": matched, "searched": searched, "complete": True}


def trades_by_id(ledger, lock, ids) -> dict:
    """{trade id: Trade} for the ids found: from memory, then one pass over the older file."""
    wanted = set(ids)
    found = {}
    with lock:
        for trade in ledger.recent(ledger.count):
            if trade.id in wanted:
                found[trade.id] = trade
        older = ledger.since(0, ledger.first_held_seq - 1) if ledger.first_held_seq > 1 else iter(())
    if len(found) < len(wanted):
        for trade in older:
            if trade.id in wanted:
                found[trade.id] = trade
                if len(found) == len(wanted):
                    break
    return found
