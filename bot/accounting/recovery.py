"""The books rebuilt from the ledger and compared with the saved state: once, for start-up and verify.

The portfolio is always rebuilt by replaying data/trades.jsonl (trades, transfers, borrow fees)
over the starting balances.
`check_books` is that replay and comparison and nothing else (it reads and writes no file), so
`run_bot.py verify` and `BotEngine.open` cannot disagree about what "the books agree" means.
At start, `recover_books` adds what the ledger cannot give (the equity curve, the tick to resume
at) from the state file, and turns every disagreement into a warning.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from bot.data_flow import STATE_FILE
from bot.accounting.ledger import TradeLedger
from bot.models import Trade
from bot.ledger_entries import LedgerEntry
from bot.accounting.portfolio import PortfolioTracker
from bot.accounting.reconcile import compare_books
from bot.storage_reading import CorruptFileError, read_json

# The state file's fields that may be malformed in a hand-edited or foreign file.
UNUSABLE_STATE_ERRORS = (ValueError, TypeError, KeyError, AttributeError)


@dataclass(slots=True)
class BooksCheck:
    """The books replayed from the ledger and how the saved state compares with them."""

    tracker: PortfolioTracker
    # True when the saved state names other starting balances than the default (the state's are used).
    starting_differs: bool = False
    # Saved state vs ledger replay, one line each; empty when they agree or nothing was saved.
    differences: list[str] = field(default_factory=list)
    # Why the saved state could not be compared (wrong schema, malformed); None when it could.
    unusable: str | None = None


def check_books(records: Iterable[Trade | LedgerEntry], saved: dict | None, default_starting: dict,
                new_tracker: Callable[[dict], PortfolioTracker]) -> BooksCheck:
    """Replay the ledger over the starting balances (the saved state's when it names them) and compare with saved."""
    starting, starting_differs = default_starting, False
    if saved and isinstance(saved.get("starting_balances"), dict) and saved["starting_balances"]:
        starting_differs = saved["starting_balances"] != default_starting
        starting = saved["starting_balances"]
    tracker = new_tracker(starting)
    for record in records:
        tracker.apply_record(record)
    check = BooksCheck(tracker, starting_differs)
    if saved is not None:
        try:
            if saved.get("schema_version") != 1:
                raise ValueError(f"schema_version {saved.get('schema_version')!r} is not 1")
            check.differences = compare_books(tracker.to_state(), saved)
        except UNUSABLE_STATE_ERRORS as exc:
            check.unusable = str(exc)
    return check


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
    check = check_books(ledger.load(), saved, default_starting, new_tracker)
    if check.starting_differs:
        warnings.append("portfolio.starting_balances differ from those this data dir started with; "
                        "keeping the data dir's (start a new --data-dir to use the new ones)")
    resume_tick = ledger.last_tick + 1
    if saved is not None:
        problem = check.unusable
        if problem is None:
            if check.differences:
                shown = "; ".join(check.differences[:5]) + (" ..." if len(check.differences) > 5 else "")
                warnings.append(f"{state_path} disagrees with the ledger ({len(check.differences)} differences: "
                                f"{shown}); rebuilt from the ledger")
            try:
                check.tracker.restore_curve(saved)
                resume_tick = max(resume_tick, int(saved.get("engine", {}).get("next_tick", 0)))
            except UNUSABLE_STATE_ERRORS as exc:
                problem = str(exc)
        if problem is not None:
            warnings.append(f"{state_path} is not a usable state ({problem}); rebuilt from the ledger")
    return Recovered(check.tracker, saved, resume_tick, warnings)
