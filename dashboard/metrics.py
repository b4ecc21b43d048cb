"""Prometheus metrics (GET /metrics): engine figures read at scrape time, dashboard counters.

Each app has its own CollectorRegistry, so several apps (tests) never collide.
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily


class EngineCollector:
    """Reads ticks, trades, equity and per-strategy figures from the engine when scraped."""

    def __init__(self, engine):
        self.engine = engine

    def collect(self):
        engine = self.engine
        with engine.lock:
            ticks = engine.ticks_run
            trades = engine.ledger.count
            equity = engine.portfolio.equity()
            counters = engine.manager.stats() if engine.manager is not None else {}
            state = engine.state
            faults = engine.faults.counters()
        yield CounterMetricFamily("bot_ticks", "Ticks run by this process", value=ticks)
        yield CounterMetricFamily("bot_tick_errors", "Ticks that raised (the loop went on)", value=faults["tick_errors"])
        yield CounterMetricFamily("bot_storage_errors", "Writes under the data dir that failed",
                                  value=faults["storage_errors"])
        side = CounterMetricFamily("bot_side_work_errors", "Failures of per-tick side work, by part", labels=["part"])
        for part, count in sorted(faults["side_errors"].items()):
            side.add_metric([part], count)
        yield side
        yield CounterMetricFamily("bot_trades", "Trades (fills) in the ledger", value=trades)
        yield GaugeMetricFamily("bot_equity_usdt", "Portfolio equity in USDT at the current marks", value=equity)
        running = GaugeMetricFamily("bot_state", "1 for the engine's current state", labels=["state"])
        running.add_metric([state], 1.0)
        yield running
        pnl = GaugeMetricFamily("bot_strategy_realized_pnl_usdt", "Realized P&L per strategy", labels=["strategy"])
        opportunities = CounterMetricFamily("bot_strategy_opportunities", "Signals proposed", labels=["strategy"])
        rejections = CounterMetricFamily("bot_strategy_rejections", "Signals rejected", labels=["strategy"])
        errors = CounterMetricFamily("bot_strategy_errors", "Strategy exceptions", labels=["strategy"])
        enabled = GaugeMetricFamily("bot_strategy_enabled", "1 when the strategy trades", labels=["strategy"])
        net = GaugeMetricFamily("bot_strategy_net_pnl_usdt", "Net P&L per strategy (realized + unrealized - fees)",
                                labels=["strategy"])
        for row in engine.facade.strategy_performance():  # the same figures the API and exit summary show
            pnl.add_metric([row["strategy"]], row["realized_pnl"])
            net.add_metric([row["strategy"]], row["net_pnl"])
        for name, row in sorted(counters.items()):
            opportunities.add_metric([name], row.get("opportunities", 0))
            rejections.add_metric([name], row.get("rejected_total", 0))
            errors.add_metric([name], row.get("errors", 0))
            enabled.add_metric([name], 1.0 if row.get("enabled") else 0.0)
        yield from (pnl, net, opportunities, rejections, errors, enabled)


class DashboardMetrics:
    """The registry behind /metrics and the dashboard's own instruments."""

    def __init__(self, engine):
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(EngineCollector(engine))
        self.clients = Gauge("dashboard_connected_clients", "Socket.IO clients connected",
                             registry=self.registry)
        self.broadcast_seconds = Histogram(
            "dashboard_broadcast_duration_seconds", "Time to send one round of *_update events to every client",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0), registry=self.registry)
        self.send_failures = Counter("dashboard_send_failures", "Sends to a client that failed",
                                     registry=self.registry)
