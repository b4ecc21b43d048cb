"""Compare the books kept in portfolio_state.json with the books the ledger replays to."""
from __future__ import annotations

# Replay repeats the same float operations in the same order, so books agree to the last
# bit; the tolerance only absorbs JSON round-off of values printed elsewhere.
ABS_TOLERANCE = 1e-8
REL_TOLERANCE = 1e-9
STRATEGY_FIELDS = ("realized_pnl", "fees_usdt", "trades", "transfer_fees_usdt", "transfers", "borrow_fees_usdt")


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= max(ABS_TOLERANCE, REL_TOLERANCE * max(abs(a), abs(b)))


def compare_books(expected: dict, actual: dict) -> list[str]:
    """Differences between two states (as PortfolioTracker.to_state makes them), one line each.

    expected is the ledger replay, actual the saved snapshot. Empty list means they agree.
    """
    differences: list[str] = []
    if expected.get("last_seq") != actual.get("last_seq"):
        differences.append(f"last_seq: ledger {expected.get('last_seq')} vs state {actual.get('last_seq')}")
    exp_bal, act_bal = expected.get("balances", {}), actual.get("balances", {})
    for exchange in sorted(set(exp_bal) | set(act_bal)):
        exp_assets, act_assets = exp_bal.get(exchange, {}), act_bal.get(exchange, {})
        for asset in sorted(set(exp_assets) | set(act_assets)):
            a, b = float(exp_assets.get(asset, 0.0)), float(act_assets.get(asset, 0.0))
            if not _close(a, b):
                differences.append(f"balance {exchange} {asset}: ledger {a!r} vs state {b!r}")
    exp_pos = {(p["strategy"], p["asset"]): p for p in expected.get("positions", [])}
    act_pos = {(p["strategy"], p["asset"]): p for p in actual.get("positions", [])}
    for key in sorted(set(exp_pos) | set(act_pos)):
        for field in ("qty", "cost"):
            a = float(exp_pos.get(key, {}).get(field, 0.0))
            b = float(act_pos.get(key, {}).get(field, 0.0))
            if not _close(a, b):
                differences.append(f"position {key[0]} {key[1]} {field}: ledger {a!r} vs state {b!r}")
    exp_st, act_st = expected.get("strategies", {}), actual.get("strategies", {})
    for name in sorted(set(exp_st) | set(act_st)):
        for field in STRATEGY_FIELDS:
            a = float(exp_st.get(name, {}).get(field, 0.0))
            b = float(act_st.get(name, {}).get(field, 0.0))
            if not _close(a, b):
                differences.append(f"strategy {name} {field}: ledger {a!r} vs state {b!r}")
    differences.extend(_transit_differences(expected.get("in_transit") or [], actual.get("in_transit") or []))
    return differences


def _transit_differences(expected: list, actual: list) -> list[str]:
    """Coins in transit: the same transfers, each with the same asset, amount, route and times."""
    exp = {t["ref"]: t for t in expected}
    act = {t.get("ref"): t for t in actual}
    differences = []
    for ref in sorted(set(exp) | set(act), key=str):
        a, b = exp.get(ref), act.get(ref)
        if a is None or b is None:
            where = "state only" if a is None else "ledger only"
            differences.append(f"in transit {ref}: {where}")
            continue
        for field in ("asset", "from", "to", "strategy", "sent_ts", "arrival_ts"):
            if a.get(field) != b.get(field):
                differences.append(f"in transit {ref} {field}: ledger {a.get(field)!r} vs state {b.get(field)!r}")
        if not _close(float(a["amount"]), float(b.get("amount", 0.0))):
            differences.append(f"in transit {ref} amount: ledger {a['amount']!r} vs state {b.get('amount')!r}")
    return differences
