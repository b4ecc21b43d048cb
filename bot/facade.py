"""BotFacade: the one place that answers what REST, Socket.IO, exports and the exit summary ask.

Every figure is computed here from the engine's books, under the engine's lock, so the
dashboard, the API and the command line never compute the same number three ways.
"""
from __future__ import annotations

from bot.models import PORTFOLIO_QUOTE, iso_utc


class BotFacade:
    """Read-only questions about a running (or stopped) BotEngine."""

    def __init__(self, engine):
        self.engine = engine

    @property
    def _portfolio(self):
        return self.engine.portfolio

    def status(self) -> dict:
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
            unrealized = p.unrealized_pnl()
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
                "holdings_pnl": p.holdings_pnl(),
                "peak_equity": p.peak_equity,
                "drawdown_pct": p.drawdown_pct(),
                "balances": {ex: dict(sorted(w.items())) for ex, w in sorted(p.balances.items())},
                "marks": dict(sorted(marks.items())),
                "positions": positions,
                "last_seq": p.last_seq,
                "as_of": iso_utc(snapshot.ts) if snapshot else None,
            }

    def recent_trades(self, limit: int = 10, strategy: str | None = None) -> list[dict]:
        with self.engine.lock:
            return [t.to_dict() for t in self.engine.ledger.recent(limit, strategy)]

    def strategy_performance(self) -> list[dict]:
        """Per strategy: P&L (realized, unrealized, fees, net), trades, win rate, counters."""
        with self.engine.lock:
            p = self._portfolio
            counters = self.engine.manager.stats()
            rows = []
            for name in sorted(set(counters) | set(p.stats)):
                s = p.stats.get(name)
                realized = s.realized_pnl if s else 0.0
                fees = s.fees_usdt if s else 0.0
                unrealized = p.unrealized_pnl(name)
                closed = (s.wins + s.losses) if s else 0
                rows.append({
                    "strategy": name,
                    "enabled": counters.get(name, {}).get("enabled", False),
                    "trades": s.trades if s else 0,
                    "realized_pnl": realized,
                    "unrealized_pnl": unrealized,
                    "fees_usdt": fees,
                    "net_pnl": realized + unrealized - fees,
                    "wins": s.wins if s else 0,
                    "losses": s.losses if s else 0,
                    "win_rate": (s.wins / closed) if closed else None,
                    "profit_factor": (s.gross_profit / s.gross_loss) if s and s.gross_loss > 0 else None,
                    "volume_usdt": s.volume_usdt if s else 0.0,
                    "open_positions": len(p.open_positions(name)),
                    **{k: v for k, v in counters.get(name, {}).items() if k != "enabled"},
                })
            return rows

    def market_live(self) -> dict:
        """Every quote of the last snapshot plus the widest cross-exchange gap per symbol."""
        snapshot = self.engine.last_snapshot
        if snapshot is None:
            return {"as_of": None, "quotes": [], "cross_exchange": []}
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
        return {"as_of": iso_utc(snapshot.ts), "tick": snapshot.tick, "quotes": quotes, "cross_exchange": cross}


def _day_open_equity(history: list[tuple[float, float]], now: float | None, fallback: float) -> float:
    """Equity at the first sample of the current UTC day (the start of 'today' on the market clock)."""
    if now is None or not history:
        return fallback
    day_start = now - (now % 86400.0)
    for ts, equity in history:
        if ts >= day_start:
            return equity
    return history[-1][1]

