"""BotFacade: the one place that answers what REST, Socket.IO, exports and the exit summary ask.

Every figure is computed here from the engine's books, under the engine's lock, so the
dashboard, the API and the command line never compute the same number three ways.
"""
from __future__ import annotations

from functools import cached_property

from bot.faults import RECENT_TICKS
from bot.models import PORTFOLIO_QUOTE
from bot.timestamps import iso_utc


class BotFacade:
    """Read-only questions about a running (or stopped) BotEngine."""

    def __init__(self, engine):
        self.engine = engine

    @property
    def _portfolio(self):
        return self.engine.portfolio

    def status(self) -> dict:
        """Engine state and why, market source, tick and time, exchanges and their health, storage fault."""
        engine = self.engine
        snapshot = engine.last_snapshot
        return {
            "state": engine.state,
            "pause_reason": engine.pause_reason,
            "market_source": engine.source.kind,
            "market_description": engine.source.description,
            "tick": snapshot.tick if snapshot else None,
            "market_time": iso_utc(snapshot.ts) if snapshot else None,
            "ticks_this_run": engine.ticks_run,
            "exchanges": list(engine.source.exchanges),
            "symbols": list(engine.source.symbols),
            "health": engine.source.health(),
            "paused_by": engine.paused_by(),
            "storage_fault": dict(engine.faults.storage_fault) if engine.faults.storage_fault else None,
            "clock": self.clock(),
            "scenario": engine.source.scenario_status(),
        }

    def clock(self) -> dict:
        """How the market clock runs: speed (simulated s per wall s), tick length, wall s per tick, mode."""
        engine = self.engine
        return {"speed": engine.speed, "tick_seconds": engine.source_tick_seconds(),
                "tick_interval_seconds": engine.loop.interval_seconds, "mode": engine.loop.mode,
                "applies": engine.source.kind in ("simulated", "replay")}

    def health(self) -> dict:
        """ok, or degraded with the reasons: ticks failing, storage failing, the market stale (no
        exchange live), trading paused by a fault (kill switch, storage). A user's pause is ok."""
        engine = self.engine
        faults = engine.faults
        reasons = []
        failed = faults.recent_tick_failures()
        if failed:
            reasons.append(f"ticks failing: {failed} of the last {RECENT_TICKS} ticks raised "
                           f"(last: {faults.last_tick_error})")
        if faults.storage_fault is not None:
            reasons.append(f"storage failing: {faults.storage_fault['error']}")
        feeds = engine.source.health()
        if feeds and all(feed.get("state") != "live" for feed in feeds.values()):
            shown = "; ".join(f"{exchange} {feed.get('state')}" + (f" ({feed['reason']})" if feed.get("reason") else "")
                              for exchange, feed in sorted(feeds.items()))
            reasons.append(f"market stale: no exchange is live ({shown})")
        cause = engine.paused_by()
        if cause in ("storage", "kill_switch"):
            reasons.append(f"trading paused by {cause.replace('_', ' ')}: {engine.pause_reason}")
        snapshot = engine.last_snapshot
        return {
            "status": "degraded" if reasons else "ok",
            "reasons": reasons,
            "state": engine.state,
            "paused_by": cause,
            "pause_reason": engine.pause_reason,
            "market_source": engine.source.kind,
            "tick": snapshot.tick if snapshot else None,
            "trades": engine.ledger.count,
            **faults.counters(),
        }

    def portfolio_summary(self) -> dict:
        """Equity, cash, P&L split, wallets and open positions, in USDT."""
        with self.engine.lock:
            p = self._portfolio
            marks = p.marks()
            equity = p.equity()
            initial = p.initial_equity()
            stats = p.stats.values()
            realized = sum(s.realized_pnl for s in stats)
            fees = sum(s.fees_usdt for s in stats)
            transfer_fees = sum(s.transfer_fees_usdt for s in stats)
            borrow_fees = sum(s.borrow_fees_usdt for s in stats)
            unrealized = p.unrealized_pnl()
            holdings = p.holdings_pnl()
            meter = self.engine.drawdown
            positions = []
            for pos in p.open_positions():
                mark = marks.get(pos.asset, 0.0)
                positions.append({
                    "strategy": pos.strategy, "asset": pos.asset, "symbol": f"{pos.asset}/{PORTFOLIO_QUOTE}",
                    "qty": pos.qty, "avg_cost": pos.avg_cost, "mark": mark, "value_usdt": pos.qty * mark,
                    "unrealized_pnl": pos.qty * mark - pos.cost, "side": "long" if pos.qty > 0 else "short",
                    "by_exchange": dict(sorted(pos.by_exchange.items())), "opened_at": iso_utc(pos.opened_ts),
                })
            history = list(p.equity_history)
            snapshot = self.engine.last_snapshot
            return {
                "equity": equity,
                "initial_equity": initial,
                "cash_usdt": sum(w.get(PORTFOLIO_QUOTE, 0.0) for w in p.balances.values()),
                "total_pnl": equity - initial,
                "pnl_today": equity - _day_open_equity(history, snapshot.ts if snapshot else None, initial),
                "realized_pnl": realized,
                "unrealized_pnl": unrealized,
                "fees_usdt": fees,
                "transfer_fees_usdt": transfer_fees,
                "borrow_fees_usdt": borrow_fees,
                # total_pnl = this + holdings_pnl
                "strategies_net_pnl": realized + unrealized - fees - transfer_fees - borrow_fees,
                "holdings_pnl": holdings,
                "trading_equity": equity - holdings,
                "buy_and_hold_equity": initial + holdings,  # the starting inventory, left alone
                "in_transit": [t.to_dict() for _, t in sorted(p.in_transit.items())],
                "reserved_collateral": {ex: p.balance(ex, PORTFOLIO_QUOTE) - p.available(ex, PORTFOLIO_QUOTE, "")
                                        for ex in sorted(p.balances) if p.margin is not None},
                "peak_equity": p.peak_equity,
                "drawdown_pct": p.drawdown_pct(),
                "trading_peak_equity": meter.trading_peak,
                "trading_drawdown_pct": meter.trading_drawdown_pct(p),
                "drawdown_basis": meter.basis,  # which of the two the kill switch and drawdown alerts use
                "balances": {ex: dict(sorted(w.items())) for ex, w in sorted(p.balances.items())},
                "marks": dict(sorted(marks.items())),
                "positions": positions,
                "last_seq": p.last_seq,
                "as_of": iso_utc(snapshot.ts) if snapshot else None,
            }

    def recent_trades(self, limit: int = 10, strategy: str | None = None) -> list[dict]:
        """The newest `limit` trades held in memory (newest first), optionally of one strategy."""
        with self.engine.lock:
            return [t.to_dict() for t in self.engine.ledger.recent(limit, strategy)]

    def strategy_performance(self) -> list[dict]:
        """Per strategy: P&L (realized, unrealized, fees, net), fills, round-trip win rate and
        profit factor (bot/accounting/statistics.py), counters."""
        figures = self.performance_synced().trade_figures()["strategies"]
        with self.engine.lock:
            p = self._portfolio
            counters = self.engine.manager.stats()
            rows = []
            for name in sorted(set(counters) | set(p.stats)):
                s = p.stats.get(name)
                realized = s.realized_pnl if s else 0.0
                fees = s.fees_usdt if s else 0.0
                unrealized = p.unrealized_pnl(name)
                transfer_fees = s.transfer_fees_usdt if s else 0.0
                borrow_fees = s.borrow_fees_usdt if s else 0.0
                trips = figures.get(name, {})
                rows.append({
                    "strategy": name,
                    "enabled": counters.get(name, {}).get("enabled", False),
                    "trades": s.trades if s else 0,
                    "realized_pnl": realized,
                    "unrealized_pnl": unrealized,
                    "fees_usdt": fees,
                    "transfer_fees_usdt": transfer_fees,
                    "borrow_fees_usdt": borrow_fees,
                    "transfers": s.transfers if s else 0,
                    "net_pnl": realized + unrealized - fees - transfer_fees - borrow_fees,
                    "round_trips": trips.get("round_trips", 0),
                    "open_round_trips": trips.get("open_round_trips", 0),
                    "wins": trips.get("wins", 0),
                    "losses": trips.get("losses", 0),
                    "win_rate": trips.get("win_rate"),
                    "profit_factor": trips.get("profit_factor"),
                    "volume_usdt": s.volume_usdt if s else 0.0,
                    "open_positions": len(p.open_positions(name)),
                    **_counter_defaults(),
                    **{k: v for k, v in counters.get(name, {}).items() if k != "enabled"},
                })
            return rows

    def alerts(self) -> dict:
        """Alert rules, their trigger history, the whale feed and recent notifications (newest first)."""
        state = self.engine.alerts.snapshot_state()
        state["notifications"] = list(reversed(self.engine.notifications.history))[:50]
        return state

    def market_live(self) -> dict:
        """Every quote of the last snapshot plus the widest cross-exchange gap per symbol."""
        snapshot = self.engine.last_snapshot
        health = self.engine.source.health()
        scenario = self.engine.source.scenario_status()
        if snapshot is None:
            return {"as_of": None, "quotes": [], "cross_exchange": [], "health": health, "scenario": scenario}
        quotes = []
        by_symbol: dict[str, list] = {}
        for (exchange, symbol), q in sorted(snapshot.quotes.items()):
            quotes.append({"exchange": exchange, "symbol": symbol, "bid": q.bid, "ask": q.ask, "last": q.last,
                           "spread_pct": q.spread_pct, "change_24h_pct": q.change_24h_pct,
                           "age_seconds": max(0.0, snapshot.ts - q.ts)})
            by_symbol.setdefault(symbol, []).append(q)
        cross = []
        for symbol, qs in sorted(by_symbol.items()):
            if len(qs) < 2:
                continue
            low = min(qs, key=lambda q: q.ask)
            high = max(qs, key=lambda q: q.bid)
            cross.append({"symbol": symbol, "buy_exchange": low.exchange, "ask": low.ask,
                          "sell_exchange": high.exchange, "bid": high.bid,
                          "gap_pct": (high.bid - low.ask) / low.ask * 100.0})
        return {"as_of": iso_utc(snapshot.ts), "tick": snapshot.tick, "quotes": quotes, "cross_exchange": cross,
                "change_window_seconds": self._change_window(snapshot), "health": health, "scenario": scenario}

    def _change_window(self, snapshot) -> float | None:
        """How far back change_24h_pct looks: 24 h on an exchange's ticker; on the simulator, the
        oldest candle it keeps when that is less than a day (so "24h" is not claimed untruthfully)."""
        if self.engine.source.kind != "simulated" or not snapshot.quotes:
            return 86400.0
        exchange, symbol = next(iter(sorted(snapshot.quotes)))
        try:
            candles = snapshot.history.candles(exchange, symbol, 1441)
        except Exception:  # noqa: BLE001 - a source without candle history: the window is unknown
            return None
        if not candles:
            return None
        return min(86400.0, max(0.0, snapshot.ts - candles[0].ts))

    # ----- dashboard questions: analytics, charts, trade lookups, journal -----------------
    @cached_property
    def performance(self):
        """Round trips and the figures on them (bot/accounting/performance.py), made on first use."""
        from bot.accounting.equity_log import EQUITY_FILE
        from bot.accounting.performance import PerformanceFigures

        return PerformanceFigures(self.engine.data_dir / EQUITY_FILE, self.engine.config.analytics.period)

    def performance_synced(self, cooperate=None):
        """self.performance, brought up to date with the ledger."""
        self.performance.sync(self.engine.ledger, self.engine.lock, cooperate)
        return self.performance

    def strategy_names(self) -> list[str]:
        """Every strategy name a trade or a filter may use: the known ones and any in the books."""
        from bot.config import KNOWN_STRATEGIES
        from bot.execution.resting import MANUAL_STRATEGY

        with self.engine.lock:
            names = set(KNOWN_STRATEGIES) | {MANUAL_STRATEGY} | set(self._portfolio.stats)
            if self.engine.manager is not None:
                names |= set(self.engine.manager.strategies)
        return sorted(names)

    def trades(self, limit: int, strategy: str | None = None, cooperate=None) -> list[dict]:
        """The newest `limit` trades (newest first), from memory, or streamed from the ledger file
        when memory holds fewer matching trades than asked for and the file has more."""
        ledger = self.engine.ledger
        with self.engine.lock:
            found = ledger.recent(limit, strategy)
            count = ledger.count
            held = ledger.held
            last_seq = ledger.last_seq
        if len(found) >= limit or held >= count:
            return [t.to_dict() for t in found]
        from collections import deque

        newest: deque = deque(maxlen=limit)
        for number, trade in enumerate(ledger.since(0, last_seq), start=1):
            if strategy is None or trade.strategy == strategy:
                newest.append(trade)
            if cooperate is not None and number % 2000 == 0:
                cooperate()
        return [t.to_dict() for t in reversed(newest)]

    def find_trade(self, trade_id: str, cooperate=None) -> dict | None:
        """The ledger's trade with this id, or None (recent trades from memory, older from the file)."""
        ledger = self.engine.ledger
        with self.engine.lock:
            for trade in ledger.recent(ledger.count):
                if trade.id == trade_id:
                    return trade.to_dict()
            older = ledger.since(0, ledger.first_held_seq - 1)  # the trades memory does not hold
        for number, trade in enumerate(older, start=1):
            if trade.id == trade_id:
                return trade.to_dict()
            if cooperate is not None and number % 2000 == 0:
                cooperate()
        return None

    def analytics(self, cooperate=None) -> dict:
        """Trade figures per round trip and risk figures per period, overall and per strategy
        (definitions: bot/accounting/statistics.py and bot/accounting/performance.py)."""
        performance = self.performance_synced(cooperate)
        return performance.analytics(self.strategy_performance())

    def round_trips(self, cooperate=None, **filters) -> list[dict]:
        """Round trips matching the filters (PerformanceFigures.listing), newest first; open ones
        carry the unrealized P&L of their positions at the current marks."""
        performance = self.performance_synced(cooperate)
        with self.engine.lock:
            marks = self._portfolio.marks()
            unrealized = {(p.strategy, p.asset): p.qty * marks.get(p.asset, 0.0) - p.cost
                          for p in self._portfolio.open_positions()}
        return performance.listing(unrealized, **filters)

    def transfers(self, limit: int = 100) -> dict:
        """Transfers between exchanges, newest first (those held in memory), what is in transit now,
        and each strategy's transfer and borrow fees (bot/accounting/transfers.py)."""
        from bot.ledger_entries import TRANSFER_IN, TRANSFER_OUT

        with self.engine.lock:
            p = self._portfolio
            entries = self.engine.ledger.recent_entries(4 * limit, (TRANSFER_OUT, TRANSFER_IN))
            in_transit = [t.to_dict() for _, t in sorted(p.in_transit.items())]
            fees = {name: {"transfers": s.transfers, "transfer_fees_usdt": s.transfer_fees_usdt,
                           "borrow_fees_usdt": s.borrow_fees_usdt} for name, s in sorted(p.stats.items())
                    if s.transfers or s.borrow_fees_usdt}
            books = self.engine.books.status() if self.engine.books is not None else None
        landed = {e.ref: e for e in entries if e.entry == TRANSFER_IN}
        rows = []
        for entry in entries:
            if entry.entry != TRANSFER_OUT:
                continue
            done = landed.get(entry.ref)
            status = "in_transit" if done is None else ("cancelled" if done.detail.get("cancelled") else "arrived")
            rows.append({"id": entry.ref, "strategy": entry.strategy, "asset": entry.asset,
                         "from": entry.exchange, "to": entry.detail.get("to"), "amount": -entry.amount - entry.fee,
                         "fee": entry.fee, "fee_usdt": entry.fee_usdt, "sent_at": entry.detail.get("sent_ts"),
                         "arrival_at": entry.detail.get("arrival_ts"), "status": status,
                         "landed_at": iso_utc(done.ts) if done is not None else None,
                         "reason": entry.detail.get("reason", "") if done is None or not done.detail.get("cancelled")
                         else done.detail.get("reason", "")})
            if len(rows) >= limit:
                break
        return {"transfers": rows, "in_transit": in_transit, "strategies": fees, "books": books}

    def allocation(self) -> dict:
        """Value in USDT of each asset over all wallets and in transit, largest first."""
        with self.engine.lock:
            marks = self._portfolio.marks()
            totals: dict[str, float] = {}
            for wallet in self._portfolio.balances.values():
                for asset, amount in wallet.items():
                    if amount:
                        totals[asset] = totals.get(asset, 0.0) + amount * marks.get(asset, 0.0)
            for transit in self._portfolio.in_transit.values():
                totals[transit.asset] = totals.get(transit.asset, 0.0) + transit.amount * marks.get(transit.asset, 0.0)
        rows = sorted(((asset, value) for asset, value in totals.items() if value), key=lambda r: (-r[1], r[0]))
        return {"labels": [asset for asset, _ in rows], "values": [value for _, value in rows]}

    def pnl_distribution(self, bins: int = 20, cooperate=None) -> dict:
        """Per strategy: wins, losses and a histogram of closed round trips' net P&L."""
        return {"strategies": self.performance_synced(cooperate).distribution(bins)}

    def cumulative_pnl(self, max_points: int = 2000, cooperate=None) -> dict:
        """The complete equity, trading-equity, buy-and-hold and per-strategy net P&L series
        (data/equity.jsonl), each downsampled to about max_points keeping every bucket's extremes;
        each strategy's line ends now at its net P&L, open positions included."""
        with self.engine.lock:
            initial = self._portfolio.initial_equity()
        series = self.performance_synced(cooperate).chart_series(max_points, initial)
        snapshot = self.engine.last_snapshot
        if snapshot is not None:
            now = iso_utc(snapshot.ts)
            for row in self.strategy_performance():
                points = series["strategies"].get(row["strategy"])
                if points is None and row["trades"]:
                    points = series["strategies"][row["strategy"]] = []
                if points is not None and (not points or points[-1][0] <= now):
                    points.append([now, row["net_pnl"]])
        return series

    # ----- fill quality (bot/execution/quality.py) -------------------------------------------
    @cached_property
    def execution_feed(self):
        """The QualityFeed following this engine's trades.jsonl and misses.jsonl (made on first use)."""
        from bot.execution.quality_feed import QualityFeed

        return QualityFeed(self.engine.data_dir)

    def execution_quality(self, strategy: str | None = None, cooperate=None) -> dict:
        """Fill quality per strategy and per (strategy, exchange): signals, fills, misses by reason,
        fill ratio, slippage vs the decision mid, latency cost, liquidity taken, transfers, borrow
        fees, margin calls, repeat fills within one gap episode. Cached per engine version."""
        with self.engine.lock:
            version = self.engine.version
            sizes = self.execution_feed.sizes()  # appends happen under this lock: whole ticks only
            snapshot = self.engine.last_snapshot
            running = tuple(self.engine.manager.strategies) if self.engine.manager is not None else ()
        cached = self.__dict__.get("_execution_cache")
        if cached is None or cached[0] != (version, sizes):
            self.execution_feed.sync(sizes, cooperate)
            cached = self._execution_cache = ((version, sizes), self.execution_feed.report(include=running))
        rows = [row for row in cached[1] if strategy is None or row["strategy"] == strategy]
        return {"strategies": rows, "as_of": iso_utc(snapshot.ts) if snapshot else None}
    def daily_returns(self, cooperate=None) -> list[dict]:
        """Per UTC day: equity's and trading equity's return in % (PerformanceFigures.daily_returns)."""
        return self.performance_synced(cooperate).daily_returns()

    def drawdown_chart(self, max_points: int = 2000, cooperate=None) -> dict:
        """Equity's and trading equity's fall below their running peak at every sample, downsampled."""
        return self.performance_synced(cooperate).drawdown_chart(max_points)

    def fees_by_kind(self, cooperate=None) -> dict:
        """Entry and exit fees per strategy and in total, from every round trip (open ones too)."""
        return self.performance_synced(cooperate).fees()

    @cached_property
    def journal(self):
        """The TradeJournal on data/trade_journal.json (opened on first use; a failed open is retried next time)."""
        from bot.journal import TradeJournal

        return TradeJournal(self.engine.data_dir, fsync=self.engine.config.storage.fsync)

    def journal_entries(self, trade_id=None, strategy=None, query=None) -> list[dict]:
        """Journal entries matching every given filter, newest first (see TradeJournal.entries)."""
        return self.journal.entries(trade_id, strategy, query)


def _day_open_equity(history: list[tuple[float, float]], now: float | None, fallback: float) -> float:
    """Equity at the first sample of the current UTC day (the start of 'today' on the market clock)."""
    if now is None or not history:
        return fallback
    day_start = now - (now % 86400.0)
    for ts, equity in history:
        if ts >= day_start:
            return equity
    return history[-1][1]


def _counter_defaults() -> dict:
    """Counters for a strategy in the books but not running now (e.g. removed from config)."""
    return {"opportunities": 0, "executed": 0, "rejected": {}, "rejected_total": 0, "errors": 0,
            "last_error": "", "last_rejection": ""}
