"""Recovering the books at start: the saved state checked against the ledger, which wins.

The portfolio is always rebuilt by replaying data/trades.jsonl over the starting balances; the
state file contributes only what the ledger cannot (the equity curve, the tick to resume at,
the enabled flags), and every disagreement becomes a warning.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from bot.data_flow import STATE_FILE
from bot.ledger import TradeLedger
from bot.portfolio import PortfolioTracker
from bot.reconcile import compare_books
from bot.storage import CorruptFileError, read_json


@dataclass(slots=True)
class Recovered:
    """The rebuilt books, the state file as read (or None), where to resume, and the warnings."""

    tracker: PortfolioTracker
    saved: dict | None
    resume_tick: int
    warnings: list[str] = field(default_factory=list)


def recover_books(data_dir: Path, ledger: TradeLedger, default_starting: dict,
                  new_tracker: Callable[[dict], PortfolioTracker]) -> Recovered:
    """Load the ledger (CorruptFileError if damaged) and the state file; rebuild from the ledger."""
    warnings: list[str] = []
    state_path = Path(data_dir) / STATE_FILE
    try:
        saved = read_json(state_path)
    except CorruptFileError as exc:
        saved = None
        warnings.append(f"{exc}; rebuilding the portfolio from the ledger")
    trades = ledger.load()
    starting = default_starting
    if saved and isinstance(saved.get("starting_balances"), dict) and saved["starting_balances"]:
        if saved["starting_balances"] != starting:
            warnings.append("portfolio.starting_balances differ from those this data dir started with; "
                            "keeping the data dir's (start a new --data-dir to use the new ones)")
        starting = saved["starting_balances"]
    tracker = new_tracker(starting)
    for trade in trades:
        tracker.apply(trade)
    resume_tick = ledger.last_tick + 1
    if saved is not None:
        try:
            if saved.get("schema_version") != 1:
                raise ValueError(f"schema_version {saved.get('schema_version')!r} is not 1")
            differences = compare_books(tracker.to_state(), saved)
            if differences:
                shown = "; ".join(differences[:5]) + (" ..." if len(differences) > 5 else "")
                warnings.append(f"{state_path} disagrees with the ledger ({len(differences)} differences: "
                                f"{shown}); rebuilt from the ledger")
            tracker.restore_curve(saved)
            resume_tick = max(resume_tick, int(saved.get("engine", {}).get("next_tick", 0)))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            warnings.append(f"{state_path} is not a usable state ({exc}); rebuilt from the ledger")
    return Recovered(tracker, saved, resume_tick, warnings)
