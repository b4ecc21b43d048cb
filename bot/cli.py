"""Command-line plumbing for run_bot.py: arguments, config, verify, report, progress bar, exit summary.

Exit codes: 0 normal stop, 2 bad config, arguments or a damaged ledger, 1 anything else.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bot.config import DEFAULT_SPEED, BotConfig, ConfigError, apply_overrides, load_config
from bot.market.scenarios import known_names
from bot.data_flow import STATE_FILE
from bot.accounting.ledger import TradeLedger
from bot.accounting.portfolio import PortfolioTracker
from bot.accounting.margin_desk import MARGIN_CALL
from bot.accounting.recovery import check_books
from bot.ledger_entries import BORROW_FEE, TRANSFER_IN, TRANSFER_OUT
from bot.storage import DataDirInUse, DataDirLock, StorageError
from bot.storage_reading import CorruptFileError, read_json

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def describe_os_error(exc: OSError) -> str:
    """One line naming the path and the system's cause: '/data: cannot ...: Read-only file system'."""
    if isinstance(exc, StorageError):
        return str(exc)
    where = exc.filename if exc.filename is not None else "(no path)"
    return f"{where}: {exc.strerror or exc}"


def run_parser() -> argparse.ArgumentParser:
    """The arguments of a run: `run_bot.py [options]`."""
    parser = argparse.ArgumentParser(
        prog="run_bot.py",
        description="Paper-trading crypto bot with a live dashboard. It never places a real order.",
        epilog="Other commands: 'run_bot.py download --help' and 'run_bot.py import --help' fetch or load "
               "candles for a backtest (--market candles); 'run_bot.py verify --data-dir DIR' rebuilds the portfolio from the "
               "ledger and compares it with the saved state; 'run_bot.py report --data-dir DIR --out FILE' "
               "writes an HTML tearsheet of the run; 'run_bot.py set-password' and 'run_bot.py token "
               "create|list|revoke' set who may use the dashboard and its API.",
    )
    parser.add_argument("--config", metavar="FILE", help="YAML config file (default: config.yaml if present)")
    parser.add_argument("--data-dir", metavar="DIR", help="where trades and state are kept (storage.data_dir)")
    parser.add_argument("--log-dir", metavar="DIR", help="where logs are written (storage.log_dir)")
    parser.add_argument("--host", help="dashboard address (dashboard.host, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="dashboard port (dashboard.port, default 5000)")
    parser.add_argument("--insecure-no-auth", action="store_true",
                        help="allow a non-loopback --host with no password set (anyone who can connect controls "
                             "the bot); 'run_bot.py set-password' is the safe way")
    parser.add_argument("--seed", type=int, help="simulator seed (market.seed)")
    parser.add_argument("--market", choices=["simulated", "live", "replay", "candles"],
                        help="market source (market.source); replay: a recording (--recording); candles: a "
                             "backtest on stored candles (--data)")
    parser.add_argument("--record", action="store_true",
                        help="record every snapshot to DATA_DIR/recordings/<start>/ (recording.record)")
    parser.add_argument("--recording", metavar="DIR",
                        help="the recording --market replay feeds through the engine (recording.path; implies "
                             "--market replay)")
    parser.add_argument("--data", metavar="DIR", help="candles: the candle dir (candles.data_dir, default data/candles)")
    parser.add_argument("--since", metavar="DATE", help="candles: first bar traded (candles.since, ISO, UTC)")
    parser.add_argument("--until", metavar="DATE", help="candles: bars from this time on are not read (candles.until)")
    parser.add_argument("--no-dashboard", action="store_true", help="run the engine without the web dashboard")
    parser.add_argument("--max-ticks", type=int, metavar="N", help="stop after N ticks")
    parser.add_argument("--fast", action="store_true",
                        help="run ticks back to back (simulated clock as fast as the machine allows)")
    parser.add_argument("--speed", type=float, metavar="N",
                        help=f"simulated seconds per wall-clock second in a real-time run (market.speed, default "
                             f"{DEFAULT_SPEED:g}); the dashboard can change it while running")
    parser.add_argument("--scenario", metavar="NAME",
                        help=f"play a stress scenario on the simulated market (market.simulator.scenario): "
                             f"{known_names()}; 'none' for none. It begins market.simulator.scenario_start_minutes "
                             f"(default 30) of market time after the start")
    return parser


def verify_parser() -> argparse.ArgumentParser:
    """The arguments of `run_bot.py verify`."""
    parser = argparse.ArgumentParser(prog="run_bot.py verify",
                                     description="Rebuild the portfolio from data/trades.jsonl (trades, transfers, borrow fees, "
                                                 "margin calls) and compare it with data/portfolio_state.json. Exit 0 "
                                                 "only if they agree. Changes no data file; refused (exit 2) while a "
                                                 "bot runs on the data dir or when the ledger is damaged.")
    parser.add_argument("--data-dir", metavar="DIR", help="the data dir to check (default: storage.data_dir)")
    parser.add_argument("--config", metavar="FILE", help="config file (for starting balances when the state has none)")
    return parser


def report_parser() -> argparse.ArgumentParser:
    """The arguments of `run_bot.py report`."""
    parser = argparse.ArgumentParser(prog="run_bot.py report",
                                     description="Write one self-contained HTML tearsheet of the run in a data dir "
                                                 "(settings, equity vs trading equity vs buy and hold, drawdown, daily "
                                                 "returns, risk and round-trip figures, best and worst round trips, "
                                                 "fees). Reads the data dir only; exit 2 and no file when it holds no "
                                                 "usable run.")
    parser.add_argument("--data-dir", metavar="DIR", help="the run's data dir (default: storage.data_dir)")
    parser.add_argument("--out", metavar="FILE", required=True, help="where to write the HTML report")
    parser.add_argument("--config", metavar="FILE",
                        help="config file (analytics.period, risk.drawdown_basis, starting balances when the state "
                             "has none; default: config.yaml if present)")
    return parser


def report(argv: list[str]) -> int:
    """The 'report' command: the tearsheet of a data dir, from the same facade the dashboard reads."""
    from bot.report import build_report
    from bot.run_record import RunRecord, UnusableRun
    from bot.storage import atomic_write_text

    args = report_parser().parse_args(argv)
    try:
        config = resolve_config(args)
        record = RunRecord(Path(args.data_dir or config.storage.data_dir), config)
        html = build_report(record.facade, record.settings, config, record.warnings)
    except (ConfigError, UnusableRun) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CorruptFileError as exc:
        print(f"error: the data dir is damaged: {exc}; no report written", file=sys.stderr)
        return EXIT_USAGE
    try:
        atomic_write_text(args.out, html, fsync=False)
    except OSError as exc:
        print(f"error: --out: {describe_os_error(exc)}", file=sys.stderr)
        return EXIT_USAGE
    closed = record.facade.analytics()["overall"]["round_trips"]
    print(f"report: {args.out} ({record.equity_samples} equity samples, {record.ledger.count} fills, "
          f"{closed} closed round trips)")
    return EXIT_OK


def resolve_config(args: argparse.Namespace) -> BotConfig:
    """The config file (or config.yaml beside the working dir, or defaults) plus argument overrides."""
    path = getattr(args, "config", None)
    if path is None and Path("config.yaml").is_file():
        path = "config.yaml"
    config = load_config(path)
    overrides = {
        "storage.data_dir": getattr(args, "data_dir", None),
        "storage.log_dir": getattr(args, "log_dir", None),
        "dashboard.host": getattr(args, "host", None),
        "dashboard.port": getattr(args, "port", None),
        "market.seed": getattr(args, "seed", None),
        "market.source": getattr(args, "market", None),
        "market.speed": getattr(args, "speed", None),
        "recording.record": True if getattr(args, "record", False) else None,
        "recording.path": getattr(args, "recording", None),
        "candles.data_dir": getattr(args, "data", None) if hasattr(args, "market") else None,
        "candles.since": getattr(args, "since", None) if hasattr(args, "market") else None,
        "candles.until": getattr(args, "until", None) if hasattr(args, "market") else None,
    }
    if getattr(args, "recording", None) is not None:
        if getattr(args, "market", None) not in (None, "replay"):
            raise ConfigError(f"--recording: only with --market replay (got --market {args.market})")
        overrides["market.source"] = "replay"
    scenario = getattr(args, "scenario", None)
    if scenario is not None and scenario != "none":
        overrides["market.simulator.scenario"] = scenario
    if getattr(args, "no_dashboard", False):
        overrides["dashboard.enabled"] = False
    max_ticks = getattr(args, "max_ticks", None)
    if max_ticks is not None and max_ticks < 1:
        raise ConfigError(f"--max-ticks: must be >= 1 (got {max_ticks})")
    config = apply_overrides(config, overrides)
    if scenario == "none":
        config.market.simulator.scenario = None
    return config


def verify(argv: list[str]) -> int:
    """The 'verify' command: the ledger replayed and compared with the saved state; changes no file."""
    args = verify_parser().parse_args(argv)
    try:
        config = resolve_config(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    data_dir = Path(args.data_dir or config.storage.data_dir)
    if not data_dir.is_dir():
        print(f"error: --data-dir: no such directory: {data_dir}", file=sys.stderr)
        return EXIT_USAGE
    # A running bot may be mid-write (ledger line, state replace): refuse rather than report a false mismatch.
    lock = DataDirLock(data_dir)
    try:
        lock.acquire(required=False)
        try:
            return _verify_locked(data_dir, config)
        finally:
            lock.release()
    except (DataDirInUse, CorruptFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"error: {describe_os_error(exc)}", file=sys.stderr)
        return EXIT_USAGE


def _verify_locked(data_dir: Path, config: BotConfig) -> int:
    ledger = TradeLedger(data_dir, fsync=False)
    # Read-only: a torn last line is skipped, not set aside. Entries that do not add up (a transfer
    # landing what was never sent, twice, or another amount) are CorruptFileError: exit 2.
    records = ledger.load(repair=False)
    saved = read_json(data_dir / STATE_FILE)
    if saved is None:
        print(f"{data_dir / STATE_FILE}: missing; {ledger.count} trades in the ledger, nothing to compare with")
        return EXIT_ERROR
    default_starting = {ex: dict(config.portfolio.starting_balances) for ex in config.market.exchanges}
    check = check_books(records, saved, default_starting, PortfolioTracker)  # the start-up's replay and comparison
    print(f"ledger: {ledger.count} trades (last seq {check.tracker.last_seq}); state: last seq {saved.get('last_seq')}")
    print(f"entries: {ledger_summary(records, check.tracker)}")
    if check.unusable is not None:
        print(f"MISMATCH: {STATE_FILE} is not a usable state ({check.unusable})")
        return EXIT_ERROR
    differences = check.differences
    if differences:
        print(f"MISMATCH: {len(differences)} difference(s) between the ledger replay and {STATE_FILE}:")
        for line in differences:
            print(f"  {line}")
        return EXIT_ERROR
    from bot.execution.orders_verify import verify_orders  # resting orders (issue 17)

    summary, problems = verify_orders(data_dir, records, check.tracker.balances)
    print("\n".join(summary))
    if problems:
        print(f"MISMATCH: {len(problems)} problem(s) between data/orders.jsonl and the ledger:")
        for line in problems:
            print(f"  {line}")
        return EXIT_ERROR
    print(f"OK: balances, positions, coins in transit and per-strategy P&L and costs rebuilt from the ledger "
          f"agree with {STATE_FILE}")
    return EXIT_OK


def ledger_summary(records, tracker: PortfolioTracker) -> str:
    """'2 transfers (1 in transit, 0 cancelled, fees 3.10 USDT), 4 borrow fees (0.52 USDT), 1 margin call'."""
    sent = cancelled = bills = calls = 0
    for record in records:
        kind = getattr(record, "entry", None)
        if kind == TRANSFER_OUT:
            sent += 1
        elif kind == TRANSFER_IN and record.detail.get("cancelled"):
            cancelled += 1
        elif kind == BORROW_FEE:
            bills += 1
        elif kind is None and record.kind == MARGIN_CALL:
            calls += 1
    stats = tracker.stats.values()
    return (f"{sent} transfers ({len(tracker.in_transit)} in transit, {cancelled} cancelled, fees "
            f"{sum(s.transfer_fees_usdt for s in stats):.2f} USDT), {bills} borrow fees "
            f"({sum(s.borrow_fees_usdt for s in stats):.2f} USDT), {calls} margin call fills")


class ProgressBar:
    """A one-line progress bar on a terminal; silent otherwise."""

    def __init__(self, total: int, stream=sys.stderr):
        self.total = total
        self.stream = stream
        self.enabled = bool(total) and hasattr(stream, "isatty") and stream.isatty()
        self.started = time.monotonic()
        self._last_draw = 0.0

    def __call__(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < self.total and now - self._last_draw < 0.2:
            return
        self._last_draw = now
        fraction = min(1.0, done / self.total)
        width = 30
        filled = int(width * fraction)
        rate = done / max(now - self.started, 1e-9)
        eta = (self.total - done) / rate if rate > 0 else 0.0
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {fraction * 100:5.1f}% "
                          f"{done}/{self.total} ticks  {rate:,.0f} ticks/s  eta {eta:4.0f}s ")
        if done >= self.total:
            self.stream.write("\n")
        self.stream.flush()


def summary_table(facade) -> str:
    """The per-strategy table printed at exit."""
    rows = facade.strategy_performance()
    portfolio = facade.portfolio_summary()
    header = f"{'strategy':<10} {'on':>3} {'trades':>7} {'realized':>11} {'unrealized':>11} {'fees':>9} " \
             f"{'net P&L':>11} {'win rate':>9} {'seen':>7} {'rejected':>9} {'errors':>7}"
    lines = [header, "-" * len(header)]
    for r in rows:
        win = f"{r['win_rate'] * 100:.1f}%" if r["win_rate"] is not None else "-"
        lines.append(f"{r['strategy']:<10} {'yes' if r['enabled'] else 'no':>3} {r['trades']:>7} "
                     f"{r['realized_pnl']:>11.2f} {r['unrealized_pnl']:>11.2f} {r['fees_usdt']:>9.2f} "
                     f"{r['net_pnl']:>11.2f} {win:>9} {r['opportunities']:>7} {r['rejected_total']:>9} "
                     f"{r['errors']:>7}")
    lines.append("-" * len(header))
    lines.append(f"equity {portfolio['equity']:.2f} USDT (start {portfolio['initial_equity']:.2f}); "
                 f"total P&L {portfolio['total_pnl']:+.2f} = strategies {portfolio['strategies_net_pnl']:+.2f} "
                 f"+ starting holdings {portfolio['holdings_pnl']:+.2f}")
    lines.append(f"strategies' net P&L is after {portfolio['transfer_fees_usdt']:.2f} USDT of transfer fees and "
                 f"{portfolio['borrow_fees_usdt']:.2f} USDT of borrow fees; {len(portfolio['in_transit'])} "
                 f"transfer(s) in transit")
    status = facade.status()
    market_line = f"market: {status['market_description']}; last tick {status['tick']} at {status['market_time']}"
    if status["market_source"] == "live":
        feeds = []
        for exchange, health in sorted(status["health"].items()):
            why = f" ({health['reason']})" if health.get("reason") else ""
            feeds.append(f"{exchange} {health['state']}{why}, data {health.get('age_seconds', 0.0):.1f}s old")
        market_line += "\nexchanges: " + "; ".join(feeds)
    lines.append(market_line)
    lines.append("\n" + execution_table(facade))
    return "\n".join(lines)


def _figure(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def execution_table(facade) -> str:
    """Fill quality per strategy (GET /api/execution), printed at exit under the P&L table."""
    header = f"{'execution':<10} {'fills':>7} {'misses':>7} {'fill %':>7} {'slip bps':>9} {'p95 bps':>8} " \
             f"{'latency $':>10} {'transfer $':>10} {'borrow $':>9} {'margin calls':>12}"
    lines = [header, "-" * len(header)]
    for r in facade.execution_quality()["strategies"]:
        ratio = None if r["fill_ratio"] is None else r["fill_ratio"] * 100.0
        lines.append(f"{r['strategy']:<10} {r['fills']:>7} {r['misses_total']:>7} {_figure(ratio, '.1f'):>7} "
                     f"{_figure(r['slippage_bps']['mean'], '.2f'):>9} {_figure(r['slippage_bps']['p95'], '.2f'):>8} "
                     f"{_figure(r['latency_cost_usdt'], '.2f'):>10} {r['transfer_fees_usdt']:>10.2f} "
                     f"{r['borrow_fees_usdt']:>9.2f} {r['margin_calls']:>12}")
    lines.append("slippage vs the decision mid (bps, + is a cost); latency $: cost vs that mid in USDT; "
                 "'-': no fill recorded a decision mid")
    return "\n".join(lines)
