"""The rebalancer: which coins to move between exchanges, and what to do with those arriving.

Every `transfers.check_seconds` of market time (on multiples of it, so a restart keeps the
schedule) each asset's target per exchange is its free total (the coins no position holds, on
every exchange and in transit) split in the starting balances' proportions (equal shares for an
asset no wallet started with). An exchange whose free amount plus what is on its way falls below
`min_share_pct` of its target gets the shortfall from the exchange with the most free, which is
left at least at its own target; the withdrawal fee is paid on top by the source. A transfer
below `min_fee_multiple` x its fee, or of an asset with no known fee or transfer time, is not
made. One destination gets one transfer per asset at a time (what is in transit counts).

Who pays: the strategy whose trades took the most of the asset out of the drained exchange
(net, over the run: PortfolioTracker.flows); when no strategy drained it (the drift came from
elsewhere), the one that brought the most of it to the source.

Arrivals are checked every tick. A transfer lands at its arrival time when the destination is
up (it has a fresh quote) and lists the asset; while the destination is down it waits, and after
`retry_minutes` it is cancelled: the coins go back to the source (the fee stays paid). A
destination that no longer lists the asset cancels at once. Both are notified.
"""
from __future__ import annotations

from dataclasses import dataclass

from bot.config_accounting import TransfersConfig
from bot.models import Snapshot, split_symbol
from bot.accounting.entries import Transit


@dataclass(frozen=True, slots=True)
class PlannedTransfer:
    """A transfer the rebalancer wants made: moved arrives, fee is paid on top by the source."""

    strategy: str
    asset: str
    source: str
    destination: str
    moved: float
    fee: float
    minutes: float
    reason: str


@dataclass(frozen=True, slots=True)
class Arrival:
    """What to do with a transfer due: "land", "wait" (destination down) or "cancel" (why)."""

    transit: Transit
    action: str
    reason: str = ""


def check_due(previous_ts: float | None, ts: float, every_seconds: float) -> bool:
    """True when ts is in a later slot of every_seconds than previous_ts; on the first call (no
    previous_ts, as after a restart) only on a slot's first moment, so a restart keeps the schedule."""
    if previous_ts is None:
        return ts % every_seconds < 1e-6
    return int(ts // every_seconds) != int(previous_ts // every_seconds)


def listed_assets(snapshot: Snapshot, exchange: str) -> set[str]:
    """The assets some market of exchange trades, as base or quote."""
    assets = set()
    for ex, symbol in snapshot.markets:
        if ex == exchange:
            assets.update(split_symbol(symbol))
    return assets


def exchanges_up(snapshot: Snapshot) -> set[str]:
    """The exchanges with at least one fresh quote in the snapshot."""
    return {exchange for exchange, _ in snapshot.quotes}


def _shares(starting: dict, exchanges: list[str], asset: str) -> dict[str, float]:
    amounts = {ex: max(0.0, float(starting.get(ex, {}).get(asset, 0.0))) for ex in exchanges}
    total = sum(amounts.values())
    if total <= 0:
        return {ex: 1.0 / len(exchanges) for ex in exchanges}
    return {ex: amount / total for ex, amount in amounts.items()}


def payer(portfolio, asset: str, drained: str, source: str) -> str | None:
    """The strategy that took the most asset out of `drained`, else the one that brought the
    most of it to `source`; None when no strategy's trades moved it."""
    out_flows = portfolio.flows.get((drained, asset), {})
    taker = min(sorted(out_flows), key=lambda name: out_flows[name], default=None)
    if taker is not None and out_flows[taker] < 0:
        return taker
    in_flows = portfolio.flows.get((source, asset), {})
    bringer = max(sorted(in_flows), key=lambda name: in_flows[name], default=None)
    if bringer is not None and in_flows[bringer] > 0:
        return bringer
    return None


def plan_transfers(portfolio, snapshot: Snapshot, config: TransfersConfig) -> tuple[list[PlannedTransfer], set[str]]:
    """The transfers to make now, and the assets that need one but have no known fee or time."""
    exchanges = sorted(snapshot.exchanges)
    up = exchanges_up(snapshot)
    listed = {ex: listed_assets(snapshot, ex) for ex in exchanges}
    assets = sorted({asset for assets in listed.values() for asset in assets})
    planned, unknown = [], set()
    threshold = config.min_share_pct / 100.0
    for asset in assets:
        holders = [ex for ex in exchanges if asset in listed[ex]]
        if len(holders) < 2:
            continue
        free = {ex: portfolio.unreserved(ex, asset) for ex in holders}
        incoming = {ex: 0.0 for ex in holders}
        in_flight = 0.0
        for transit in portfolio.in_transit.values():
            if transit.asset == asset:
                in_flight += transit.amount
                if transit.destination in incoming:
                    incoming[transit.destination] += transit.amount
        shares = _shares(portfolio.starting_balances, holders, asset)
        total = sum(free.values()) + in_flight
        if total <= 0:
            continue
        target = {ex: total * shares[ex] for ex in holders}
        for destination in holders:
            have = free[destination] + incoming[destination]
            if destination not in up or target[destination] <= 0 or have >= threshold * target[destination]:
                continue
            if incoming[destination] > 0:
                continue  # one transfer per asset and destination at a time
            fee, minutes = config.fee_of(asset), config.minutes_of(asset)
            if fee is None or minutes is None:
                unknown.add(asset)
                continue
            sources = [ex for ex in holders if ex != destination and ex in up]
            if not sources:
                continue
            source = max(sources, key=lambda ex: (free[ex], ex))
            spare = free[source] - target[source] - fee
            moved = min(target[destination] - have, spare)
            if moved <= 0 or moved < config.min_fee_multiple * fee:
                continue
            strategy = payer(portfolio, asset, destination, source)
            if strategy is None:
                continue
            reason = (f"{asset} on {destination} at {have:.8g} is below {config.min_share_pct:g}% of its target "
                      f"{target[destination]:.8g}; {source} holds the most free ({free[source]:.8g})")
            planned.append(PlannedTransfer(strategy, asset, source, destination, moved, fee, minutes, reason))
            free[source] -= moved + fee
            incoming[destination] += moved
    return planned, unknown


def arrivals(portfolio, snapshot: Snapshot, config: TransfersConfig) -> list[Arrival]:
    """Every transfer due by the snapshot's time, in arrival order, with what to do with it."""
    due = sorted((t for t in portfolio.in_transit.values() if t.arrival_ts <= snapshot.ts),
                 key=lambda t: (t.arrival_ts, t.ref))
    if not due:
        return []
    up = exchanges_up(snapshot)
    result = []
    for transit in due:
        if transit.asset not in listed_assets(snapshot, transit.destination):
            result.append(Arrival(transit, "cancel", f"{transit.destination} does not list {transit.asset}"))
        elif transit.destination not in up:
            waited_minutes = (snapshot.ts - transit.arrival_ts) / 60.0
            if waited_minutes >= config.retry_minutes:
                result.append(Arrival(transit, "cancel", f"{transit.destination} down for {waited_minutes:.0f} "
                                                         f"minutes after the arrival time"))
            else:
                result.append(Arrival(transit, "wait", f"{transit.destination} is down (no fresh quote)"))
        else:
            result.append(Arrival(transit, "land"))
    return result
