"""RunRecord: a run read back from its data dir, read-only, for `run_bot.py report`.

It has the parts of a BotEngine that BotFacade reads (books, ledger, drawdown peaks, config,
data dir), so the report asks the same facade the dashboard asks and no figure is computed a
second way. The books are the ledger replayed over the starting balances (as at every start);
the last marks, the first marks and the peaks come from portfolio_state.json. Nothing in the
data dir is written, and no market source is built.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from bot.accounting.equity_log import EQUITY_FILE, read_equity
from bot.accounting.ledger import TradeLedger
from bot.accounting.portfolio import PortfolioTracker
from bot.accounting.recovery import UNUSABLE_STATE_ERRORS, check_books
from bot.data_flow import STATE_FILE
from bot.drawdown import DrawdownMeter
from bot.models import Trade
from bot.run_settings import read_run_settings
from bot.storage_reading import read_json


class UnusableRun(Exception):
    """The data dir holds no run to report on, or one whose files cannot be used; one line why."""


@dataclass(slots=True)
class RecordedSource:
    """What a report needs of the market source: its kind, words for it, exchanges and symbols."""

    kind: str
    exchanges: tuple[str, ...]
    symbols: tuple[str, ...]
    description: str = ""

    def health(self) -> dict:
        """A recorded run has no live feeds."""
        return {}


@dataclass(slots=True)
class RecordedCounters:
    """The strategy manager's read side: which strategies were enabled when the run was last saved."""

    enabled: dict[str, bool] = field(default_factory=dict)
    strategies: dict = field(default_factory=dict)

    def stats(self) -> dict[str, dict]:
        """Per strategy {"enabled"}; the run's opportunity and rejection counters are not kept on disk."""
        return {name: {"enabled": on} for name, on in sorted(self.enabled.items())}


class RunRecord:
    """The engine-shaped, read-only view of one data dir (see the module docstring)."""

    def __init__(self, data_dir: str | Path, config):
        self.data_dir = Path(data_dir)
        self.config = config
        self.lock = threading.RLock()
        self.last_snapshot = None
        self.warnings: list[str] = []
        if not self.data_dir.is_dir():
            raise UnusableRun(f"--data-dir: no such directory: {self.data_dir}")
        self.ledger = TradeLedger(self.data_dir, fsync=False)
        trades = self.ledger.load(repair=False)  # CorruptFileError names file and line; a torn tail is skipped
        self.saved = self._saved_state()
        self.equity_samples = len(read_equity(self.data_dir / EQUITY_FILE))  # CorruptFileError if damaged
        if self.equity_samples == 0:
            raise UnusableRun(f"{self.data_dir}: no equity samples in {EQUITY_FILE} "
                              f"({sum(isinstance(line, Trade) for line in trades)} trades in the ledger): nothing to report on")
        engine = self.saved.get("engine") if isinstance(self.saved.get("engine"), dict) else {}
        default_starting = {ex: dict(config.portfolio.starting_balances) for ex in config.market.exchanges}
        check = check_books(trades, self.saved, default_starting, PortfolioTracker)
        if check.unusable is not None:
            raise UnusableRun(f"{self.data_dir / STATE_FILE}: not a usable state ({check.unusable})")
        if check.differences:
            self.warnings.append(f"{STATE_FILE} disagreed with the ledger in {len(check.differences)} place(s); "
                                 f"the books are the ledger's replay")
        self.portfolio = check.tracker
        try:
            self.portfolio.restore_curve(self.saved)
        except UNUSABLE_STATE_ERRORS as exc:
            raise UnusableRun(f"{self.data_dir / STATE_FILE}: not a usable state ({exc})") from None
        self.drawdown = DrawdownMeter(config.risk.drawdown_basis)
        self.drawdown.restore(engine.get("trading_peak_equity"))
        self.state = str(engine.get("state", "stopped"))
        self.next_tick = engine.get("next_tick")
        self.settings = read_run_settings(self.data_dir)
        enabled = engine.get("enabled") if isinstance(engine.get("enabled"), dict) else {}
        self.manager = RecordedCounters({str(k): bool(v) for k, v in enabled.items()})
        symbols = sorted({line.symbol for line in trades if isinstance(line, Trade)}) or list(config.market.symbols)
        kind = str(engine.get("market_source", config.market.source))
        self.source = RecordedSource(kind, tuple(sorted(self.portfolio.starting_balances)), tuple(symbols),
                                     f"recorded run ({kind} market)")
        from bot.facade import BotFacade

        self.facade = BotFacade(self)

    def _saved_state(self) -> dict:
        saved = read_json(self.data_dir / STATE_FILE)  # CorruptFileError when it is not JSON
        if saved is None:
            if not (self.data_dir / EQUITY_FILE).exists() and self.ledger.count == 0:
                raise UnusableRun(f"{self.data_dir}: empty (no ledger, no equity samples, no state): nothing to report on")
            raise UnusableRun(f"{self.data_dir / STATE_FILE}: missing, so the last marks are unknown")
        if not isinstance(saved, dict):
            raise UnusableRun(f"{self.data_dir / STATE_FILE}: not a usable state (not a JSON object)")
        return saved
