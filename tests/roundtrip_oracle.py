"""An independent round-trip computation for the tests, from ledger lines (dicts, as on disk).

Written apart from bot/accounting/roundtrips.py on purpose: position round trips are valued by cash flow
(what selling brought in less what buying cost, in USDT, less every fee), not from the
realized_pnl the books wrote; arbitrage signals are grouped by signal_id with the ledger's
realized_pnl (their legs need not leave the strategy flat). A flip splits the fill pro rata.
"""
from __future__ import annotations

RESIDUE = 1e-3  # a remaining quantity under this share of the largest one is rounding


def fee_usdt(line: dict) -> float:
    quote = line["symbol"].split("/")[1]
    return line["fee"] * (line["quote_usdt_rate"] if line["fee_asset"] == quote else 1.0)


def oracle_round_trips(lines: list[dict]) -> dict[str, list[dict]]:
    """Per strategy, its round trips in opening order: {"net", "closed", "signals", "assets"}."""
    result: dict[str, list[dict]] = {}
    held: dict[tuple[str, str], dict] = {}  # (strategy, asset) -> {"qty", "peak", "trip"}
    last_signal: dict[str, tuple[str, dict]] = {}
    for line in lines:
        if "entry" in line:
            continue  # a transfer or borrow fee line: round trips are made of trades
        strategy = line["strategy"]
        trips = result.setdefault(strategy, [])
        if strategy == "arbitrage":
            previous = last_signal.get(strategy)
            if previous is None or previous[0] != line["signal_id"]:
                trip = {"net": 0.0, "closed": True, "signals": {line["signal_id"]}, "assets": set()}
                trips.append(trip)
                last_signal[strategy] = (line["signal_id"], trip)
            trip = last_signal[strategy][1]
            trip["net"] += line["realized_pnl"] - fee_usdt(line)
            trip["assets"].add(line["symbol"])
            continue
        asset = line["symbol"].split("/")[0]
        signed = line["qty"] if line["side"] == "buy" else -line["qty"]
        flow = -signed * line["price"] * line["quote_usdt_rate"]  # cash in (+) or out (-), USDT
        fee = fee_usdt(line)
        state = held.get((strategy, asset))
        if state is not None and state["qty"] * signed < 0:  # reducing
            closing = min(abs(signed), abs(state["qty"]))
            if abs(signed) - closing <= RESIDUE * state["peak"]:
                closing = abs(signed)
            share = closing / abs(signed)
            trip = state["trip"]
            trip["net"] += (flow - fee) * share
            trip["signals"].add(line["signal_id"])
            state["qty"] += signed * share
            if abs(state["qty"]) <= RESIDUE * state["peak"] or abs(state["qty"]) < 1e-10:
                del held[(strategy, asset)]
                if not any(s["trip"] is trip for s in held.values()):
                    trip["closed"] = True
            if share >= 1.0:
                continue
            signed, flow, fee = signed * (1 - share), flow * (1 - share), fee * (1 - share)
            state = None
        if state is None:
            previous = last_signal.get(strategy)
            if previous is not None and previous[0] == line["signal_id"] and not previous[1]["closed"] \
                    and asset not in previous[1]["assets"]:
                trip = previous[1]
            else:
                trip = {"net": 0.0, "closed": False, "signals": set(), "assets": set()}
                trips.append(trip)
                last_signal[strategy] = (line["signal_id"], trip)
            state = held[(strategy, asset)] = {"qty": 0.0, "peak": 0.0, "trip": trip}
            trip["assets"].add(asset)
        state["trip"]["net"] += flow - fee
        state["trip"]["signals"].add(line["signal_id"])
        state["qty"] += signed
        state["peak"] = max(state["peak"], abs(state["qty"]))
    return result


def oracle_figures(trips: list[dict]) -> dict:
    """Win rate and profit factor over closed round trips (net > 0 wins)."""
    nets = [trip["net"] for trip in trips if trip["closed"]]
    wins = [net for net in nets if net > 0]
    losses = [-net for net in nets if net <= 0]
    return {"round_trips": len(nets), "wins": len(wins),
            "win_rate": len(wins) / len(nets) if nets else None,
            "profit_factor": sum(wins) / sum(losses) if sum(losses) > 0 else None,
            "net": sum(nets)}


def oracle_holdings_pnl(starting: dict, initial_marks: dict, marks: dict, ledger_lines: list[dict]) -> float:
    """The starting inventory's price moves, less the moves of the coins paid from it as transfer fees
    since they were paid (their value at payment is the strategy's cost), from the file's lines."""
    total = sum(qty * (marks[asset] - initial_marks[asset]) for wallet in starting.values()
                for asset, qty in wallet.items())
    for line in ledger_lines:
        if line.get("entry") == "transfer_out" and line["fee"]:
            total += line["fee_usdt"] - line["fee"] * marks[line["asset"]]
    return total
