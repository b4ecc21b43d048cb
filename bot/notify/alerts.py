"""AlertEngine: user rules on prices, moves, drawdown, loss streaks and whales, kept in data/alerts.json.

A rule fires when its condition holds while it is armed; it then disarms until the condition
stops holding (so a price hovering at the level fires once, and a gap over the level counts as
a crossing). One-shot rules deactivate after firing; repeating ones re-arm after their cooldown.
Per tick the cost is one cheap check per active rule plus one price sample per minute per
watched market: it does not grow with the number of ticks.
"""
from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Callable

from bot.models import Snapshot, split_symbol, trade_fee_usdt
from bot.timestamps import iso_utc
from bot.storage import SCHEMA_VERSION, atomic_write_json, set_aside
from bot.storage_reading import CorruptFileError, read_json

log = logging.getLogger(__name__)

ALERTS_FILE = "alerts.json"


@dataclass(slots=True)
class AlertRule:
    """One alert rule and its state."""

    id: str
    condition: str
    symbol: str | None = None
    exchange: str | None = None
    price: float | None = None
    pct: float | None = None
    window_minutes: float | None = None
    min_usd: float | None = None
    strategy: str | None = None
    count: int | None = None
    repeat: bool = False
    cooldown_minutes: float = 0.0
    active: bool = True
    armed: bool = True
    created_at: str = ""
    last_triggered_at: str | None = None
    last_triggered_ts: float | None = None
    trigger_count: int = 0
    note: str = ""

    def describe(self) -> str:
        """The rule in words, as alert messages and the alerts page show it."""
        where = f" on {self.exchange}" if self.exchange else ""
        if self.condition in ("above", "below"):
            return f"{self.symbol}{where} {self.condition} {self.price:g}"
        if self.condition == "pct_move":
            return f"{self.symbol}{where} moves {self.pct:g}% within {self.window_minutes:g} min"
        if self.condition == "drawdown":
            return f"portfolio drawdown beyond {self.pct:g}%"
        if self.condition == "whale":
            asset = split_symbol(self.symbol)[0] if self.symbol else "any asset"
            return f"whale transfer of {asset} above {self.min_usd:,.0f} USD"
        return f"{self.strategy} loses {self.count} trades in a row"


RULE_FIELDS = {f.name for f in fields(AlertRule)}


class AlertEngine:
    """Evaluates rules each tick; notify(rule, message, data) is called when one fires."""

    def __init__(self, data_dir: str | Path, notify: Callable[[AlertRule, str, dict], None] | None = None,
                 history_size: int = 500, fsync: bool = True):
        self.path = Path(data_dir) / ALERTS_FILE
        self.notify = notify
        self.fsync = fsync
        self.rules: dict[str, AlertRule] = {}
        self.history: deque[dict] = deque(maxlen=history_size)
        self.whale_feed: deque[dict] = deque(maxlen=100)
        self._prices: dict[tuple, deque[tuple[float, float]]] = {}
        self._last_minute: float | None = None
        self._loss_streaks: dict[str, int] = {}
        self._lock = threading.RLock()
        self._dirty = False

    # ----- persistence --------------------------------------------------------------------------
    def load(self) -> list[str]:
        """Read data/alerts.json; a damaged file is kept aside and the rules start empty (warning)."""
        try:
            document = read_json(self.path)
        except CorruptFileError as exc:
            aside = set_aside(self.path)
            return [f"{exc}; moved to {aside.name}, starting with no alert rules"]
        if document is None:
            return []
        warnings = []
        for raw in document.get("rules", []):
            try:
                rule = AlertRule(**{k: v for k, v in raw.items() if k in RULE_FIELDS})
            except TypeError as exc:
                warnings.append(f"{self.path}: skipped an unreadable rule ({exc})")
                continue
            self.rules[rule.id] = rule
        self.history.extend(document.get("history", [])[-self.history.maxlen:])
        return warnings

    def save(self) -> None:
        """Write the rules as they are in memory (the tick's trigger bookkeeping)."""
        with self._lock:
            self._write(self.rules)
            self._dirty = False

    def _write(self, rules: dict[str, AlertRule]) -> None:
        document = {"schema_version": SCHEMA_VERSION, "rules": [asdict(r) for r in rules.values()],
                    "history": list(self.history)}
        atomic_write_json(self.path, document, fsync=self.fsync)

    def _commit(self, rules: dict[str, AlertRule]) -> None:
        """Save rules, and only then make them the rules in memory: a failed write changes nothing."""
        self._write(rules)
        self.rules = rules
        self._dirty = False

    # ----- rule management: each builds the new rules, saves them, then swaps them in -----------
    def add(self, now_ts: float, **spec) -> AlertRule:
        """Add a rule from validated fields (bot/requests.py checks them); raises if it cannot be saved."""
        with self._lock:
            rule = AlertRule(id=uuid.uuid4().hex[:12], created_at=iso_utc(now_ts), **spec)
            self._commit({**self.rules, rule.id: rule})
            return rule

    def delete(self, rule_id: str) -> bool:
        """Remove a rule; False when there is none. The rule stays if the file cannot be written."""
        with self._lock:
            if rule_id not in self.rules:
                return False
            self._commit({key: rule for key, rule in self.rules.items() if key != rule_id})
            return True

    def toggle(self, rule_id: str) -> AlertRule | None:
        """Pause or resume a rule (resuming re-arms it); None when there is none."""
        with self._lock:
            rule = self.rules.get(rule_id)
            if rule is None:
                return None
            changed = replace(rule, active=not rule.active, armed=True)
            self._commit({**self.rules, rule_id: changed})
            return changed

    def snapshot_state(self) -> dict:
        """Rules, recent history (newest first) and the whale feed, for the dashboard."""
        with self._lock:
            return {"rules": [asdict(r) for r in self.rules.values()], "history": list(reversed(self.history)),
                    "whales": list(reversed(self.whale_feed))}

    # ----- evaluation ---------------------------------------------------------------------------
    def on_trade(self, trade) -> None:
        """Track loss streaks from closing trades (called for every fill)."""
        if not trade.realized_pnl:
            return
        fee_usdt = trade_fee_usdt(trade)
        if trade.realized_pnl - fee_usdt < 0:
            self._loss_streaks[trade.strategy] = self._loss_streaks.get(trade.strategy, 0) + 1
        else:
            self._loss_streaks[trade.strategy] = 0

    def check(self, snapshot: Snapshot, drawdown_pct: Callable[[], float], marks: Callable[[], dict]) -> list[dict]:
        """Evaluate every active rule against this tick; returns the triggers (also notified)."""
        for whale in snapshot.whales:
            self.whale_feed.append({"id": whale.id, "ts": iso_utc(whale.ts), "asset": whale.asset,
                                    "amount": whale.amount, "usd_value": whale.usd_value,
                                    "from": whale.from_owner, "to": whale.to_owner})
        if not self.rules:
            return []
        minute = snapshot.ts // 60.0
        new_minute = minute != self._last_minute
        self._last_minute = minute
        fired = []
        with self._lock:
            for rule in self.rules.values():
                if not rule.active:
                    continue
                value = self._evaluate(rule, snapshot, drawdown_pct, marks, new_minute)
                if value is None:
                    continue
                holds, detail = value
                if not holds:
                    if not rule.armed and self._cooled_down(rule, snapshot.ts):
                        rule.armed = True
                        self._dirty = True
                    continue
                if rule.armed and self._cooled_down(rule, snapshot.ts):
                    fired.append(self._fire(rule, snapshot, detail))
        if fired or self._dirty:
            self.save()
        return fired

    def _cooled_down(self, rule: AlertRule, now: float) -> bool:
        return rule.last_triggered_ts is None or now - rule.last_triggered_ts >= rule.cooldown_minutes * 60.0

    def _fire(self, rule: AlertRule, snapshot: Snapshot, detail: str) -> dict:
        rule.armed = False
        rule.trigger_count += 1
        rule.last_triggered_ts = snapshot.ts
        rule.last_triggered_at = iso_utc(snapshot.ts)
        if not rule.repeat:
            rule.active = False
        message = f"Alert: {rule.describe()} - {detail}"
        event = {"rule_id": rule.id, "condition": rule.condition, "symbol": rule.symbol, "ts": rule.last_triggered_at,
                 "tick": snapshot.tick, "message": message}
        self.history.append(event)
        if self.notify is not None:
            self.notify(rule, message, event)
        return event

    def _price(self, rule: AlertRule, snapshot: Snapshot, marks: Callable[[], dict]) -> float | None:
        if rule.exchange:
            quote = snapshot.quotes.get((rule.exchange, rule.symbol))
            return quote.mid if quote is not None else None
        base, quote_asset = split_symbol(rule.symbol)
        if quote_asset == "USDT":
            return marks().get(base)
        mids = [q.mid for (ex, sym), q in snapshot.quotes.items() if sym == rule.symbol]
        return sum(mids) / len(mids) if mids else None

    def _evaluate(self, rule, snapshot, drawdown_pct, marks, new_minute) -> tuple[bool, str] | None:
        condition = rule.condition
        if condition in ("above", "below"):
            price = self._price(rule, snapshot, marks)
            if price is None:
                return None
            holds = price >= rule.price if condition == "above" else price <= rule.price
            return holds, f"price {price:.6g}"
        if condition == "pct_move":
            price = self._price(rule, snapshot, marks)
            if price is None:
                return None
            key = (rule.symbol, rule.exchange, rule.window_minutes)
            samples = self._prices.setdefault(key, deque())
            window = rule.window_minutes * 60.0
            if new_minute or not samples:
                samples.append((snapshot.ts, price))
            while len(samples) > 1 and snapshot.ts - samples[1][0] >= window:
                samples.popleft()
            reference = samples[0][1]
            change = (price - reference) / reference * 100.0 if reference else 0.0
            return abs(change) >= rule.pct, f"moved {change:+.2f}% from {reference:.6g} to {price:.6g}"
        if condition == "drawdown":
            drawdown = drawdown_pct()
            return drawdown >= rule.pct, f"drawdown {drawdown:.2f}%"
        if condition == "whale":
            asset = split_symbol(rule.symbol)[0] if rule.symbol else None
            for whale in snapshot.whales:
                if whale.usd_value >= rule.min_usd and (asset is None or whale.asset == asset):
                    return True, (f"{whale.amount:,.2f} {whale.asset} ({whale.usd_value:,.0f} USD) "
                                  f"from {whale.from_owner} to {whale.to_owner}")
            return False, ""
        if condition == "loss_streak":
            streak = self._loss_streaks.get(rule.strategy, 0)
            return streak >= rule.count, f"{streak} losing trades in a row"
        return None
