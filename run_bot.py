"""Start the paper-trading bot (and its dashboard), verify a data dir or report on it. See --help.

eventlet must patch the standard library before anything else is imported, so the decision
is made here from the arguments and the raw config file, before the bot is imported.
"""
import os
import sys

# One BLAS thread: the occasional cointegration test is small, and multi-threaded BLAS on a
# busy 2-core machine made it ten times slower. Must be set before numpy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _dashboard_wants_eventlet(argv):
    if argv[:1] in (["verify"], ["report"], ["set-password"], ["token"], ["download"], ["import"]) or "--no-dashboard" in argv or "-h" in argv or "--help" in argv:
        return False
    import yaml

    path = None
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            path = argv[i + 1]
        elif arg.startswith("--config="):
            path = arg.split("=", 1)[1]
    if path is None and os.path.isfile("config.yaml"):
        path = "config.yaml"
    dashboard = {}
    if path is not None:
        try:
            with open(path, encoding="utf-8") as handle:
                dashboard = (yaml.safe_load(handle) or {}).get("dashboard") or {}
        except (OSError, yaml.YAMLError, AttributeError):
            return False  # start-up reports the problem with the file
    if not isinstance(dashboard, dict):
        return False
    return dashboard.get("enabled", True) is not False and dashboard.get("async_mode", "eventlet") == "eventlet"


if __name__ == "__main__" and _dashboard_wants_eventlet(sys.argv[1:]):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import eventlet
    eventlet.monkey_patch()

import logging  # noqa: E402
import signal  # noqa: E402

from bot import cli, cli_auth  # noqa: E402
from bot.cli_replay import replay_problem  # noqa: E402
from bot import cli_candles  # noqa: E402
from bot.market.candle_store import CandleFileError  # noqa: E402
from bot.notify.activity import setup_text_log  # noqa: E402
from bot.config import ConfigError, config_warnings  # noqa: E402
from bot.engine import BotEngine  # noqa: E402
from bot.market.resilience import MarketError  # noqa: E402
from bot.storage import DataDirInUse  # noqa: E402
from bot.storage_reading import CorruptFileError  # noqa: E402

log = logging.getLogger("bot.run")


class _RealThreadRunner:
    """Under eventlet, threads are green: heavy work (cointegration re-tests) would stall every
    dashboard client. This runs it in eventlet's pool of real OS threads instead."""

    def submit(self, fn, *args):
        import concurrent.futures

        from eventlet import spawn, tpool

        future = concurrent.futures.Future()

        def work():
            try:
                future.set_result(tpool.execute(fn, *args))
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
                future.set_exception(exc)

        spawn(work)
        return future


def _background_runner():
    if "eventlet" in sys.modules:
        from eventlet import patcher

        if patcher.is_monkey_patched("thread"):
            return _RealThreadRunner()
    return None


def main(argv):
    if argv[:1] == ["verify"]:
        return cli.verify(argv[1:])
    if argv[:1] == ["report"]:
        return cli.report(argv[1:])
    if argv[:1] == ["set-password"]:
        return cli_auth.set_password(argv[1:])
    if argv[:1] == ["token"]:
        return cli_auth.token(argv[1:])
    if argv[:1] == ["download"]:
        return cli_candles.download(argv[1:])
    if argv[:1] == ["import"]:
        return cli_candles.import_(argv[1:])
    args = cli.run_parser().parse_args(argv)
    try:
        config = cli.resolve_config(args)
        if config.market.source == "candles":  # every candle file checked before anything is written
            config, refusals = cli_candles.prepare_backtest(config)
            for line in refusals:
                print(f"warning: {line}", file=sys.stderr)
    except (ConfigError, CandleFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return cli.EXIT_USAGE
    for warning in config_warnings(config):
        print(f"warning: {warning}", file=sys.stderr)
    # Before any dir is made or any port bound: a refused recording leaves nothing behind, and an
    # address beyond loopback without a password never serves.
    problem = replay_problem(config) or cli_auth.startup_problem(config, args.insecure_no_auth)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return cli.EXIT_USAGE
    try:
        setup_text_log(config.storage.log_dir, config.storage.log_max_bytes, config.storage.log_backups)
        engine = BotEngine(config, runner=_background_runner())
        warnings = engine.open()
    except DataDirInUse as exc:
        print(f"error: {exc}", file=sys.stderr)
        return cli.EXIT_USAGE
    except CorruptFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print("The ledger is the record of truth, so the bot will not run on it; nothing was modified. "
              "Repair or move the file, then start again.", file=sys.stderr)
        return cli.EXIT_USAGE
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return cli.EXIT_USAGE
    except MarketError as exc:
        print(f"error: the market cannot be read: {exc}", file=sys.stderr)
        return cli.EXIT_ERROR
    except OSError as exc:  # StorageError included: a read-only, full, missing or forbidden dir
        print(f"error: {cli.describe_os_error(exc)}", file=sys.stderr)
        return cli.EXIT_USAGE
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not args.fast and engine.source.kind == "simulated":
        print(f"Simulated clock: {engine.speed:g} simulated seconds per wall-clock second (market.speed; "
              f"--speed N or the dashboard changes it)", flush=True)
    if engine.source.kind == "replay":
        pace = "as fast as the machine allows" if args.fast else f"{engine.speed:g} market seconds per wall second"
        print(f"{engine.source.description}; {pace}", flush=True)
    scenario = engine.source.scenario_status()
    if scenario is not None:
        print(f"Scenario {scenario['name']}: {scenario['summary']}; {scenario['starts_at']} to {scenario['ends_at']} "
              f"market time", flush=True)

    def on_signal(signum, _frame):
        engine.request_stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        if config.dashboard.enabled:
            from dashboard.server import DashboardServer

            server = DashboardServer(engine, config.dashboard)
            scheme = "https" if config.dashboard.tls_cert else "http"
            print(f"Dashboard: {scheme}://{config.dashboard.host}:{config.dashboard.port}  "
                  f"({engine.source.description})", flush=True)
            if args.fast:
                def fast_run():
                    engine.run_fast(args.max_ticks, cooperate=server.cooperate)
                    engine.request_stop()

                server.start_background_task(fast_run)
            else:
                engine.start_realtime(args.max_ticks)
            server.serve()  # returns once engine.request_stop() was called
        elif args.fast:
            progress = cli.ProgressBar(args.max_ticks or 0)
            engine.run_fast(args.max_ticks, progress)
        else:
            engine.start_realtime(args.max_ticks)
            print(f"Running on the {engine.source.description} without a dashboard; Ctrl+C stops.", flush=True)
            while not engine.wait_for_stop(0.5):
                pass
    except Exception:  # noqa: BLE001 - whatever happens, flush state before exiting
        log.exception("the bot stopped on an error")
        _close(engine)  # a second failure while closing is logged, never shown instead of the first
        print("error: the bot stopped on an unexpected error; see logs/bot.log", file=sys.stderr)
        return cli.EXIT_ERROR
    failure = _close(engine)
    print(cli.summary_table(engine.facade))
    if failure is not None:
        print(f"error: shutting down: {cli.describe_os_error(failure) if isinstance(failure, OSError) else failure}; "
              "the ledger holds every trade and the next start rebuilds the rest", file=sys.stderr)
        return cli.EXIT_ERROR
    return cli.EXIT_OK


def _close(engine):
    """engine.close(); returns its first error (logged) instead of raising it."""
    try:
        engine.close()
    except Exception as exc:  # noqa: BLE001 - reported by the caller in one line
        log.error("closing the bot failed: %s", exc, exc_info=True)
        return exc
    return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
