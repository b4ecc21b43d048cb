"""Property tests (hypothesis) of the whole books over random runs: fills through the real executor
and data flow, transfers from the rebalancer, borrow fees and margin calls from the BooksKeeper,
prices moving. After every step no balance is below zero except declared shorts; at the end the
ledger read back from disk replays to the live books, and an independent replay of the file's
lines (written here, not PortfolioTracker) gives the same wallets, coins in transit, P&L and
costs, and the identity
    equity - initial = realized + unrealized + holdings P&L - fees - transfer fees - borrow fees.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from bot.accounting.ledger import TradeLedger
from bot.accounting.portfolio import PortfolioTracker
from bot.accounting.reconcile import compare_books
from tests.books_setup import books_on, market_at, signal
from tests.builders import T0

EXCHANGES = ("a", "b")
ASSETS = ("BTC", "XRP")
START = {ex: {"USDT": 3000.0, "BTC": 0.03, "XRP": 600.0} for ex in EXCHANGES}
SETTINGS = {"transfers": {"min_share_pct": 60.0, "min_fee_multiple": 2.0, "minutes": {"BTC": 3, "XRP": 1},
                          "withdrawal_fees": {"BTC": 0.0002, "XRP": 0.25}},
            "margin": {"borrow_rate_hourly_pct": {"default": 0.5}, "borrow_booking_seconds": 600}}
TOLERANCE = 1e-9

actions = st.one_of(
    st.tuples(st.just("long"), st.sampled_from(["momentum", "news"]), st.sampled_from(EXCHANGES),
              st.sampled_from(ASSETS), st.sampled_from(["buy", "sell"]), st.floats(0.05, 1.0)),
    st.tuples(st.just("short"), st.just("stat_arb"), st.sampled_from(EXCHANGES), st.sampled_from(ASSETS),
              st.sampled_from(["buy", "sell"]), st.floats(0.05, 1.0)),
    st.tuples(st.just("arbitrage"), st.just("arbitrage"), st.sampled_from(EXCHANGES), st.sampled_from(ASSETS),
              st.just("sell"), st.floats(0.2, 1.0)),
)
steps = st.lists(st.tuples(st.integers(1, 400), st.floats(0.85, 1.2), st.floats(0.85, 1.2), actions),
                 min_size=3, max_size=25)
PRICES = {"BTC": 60_000.0, "XRP": 2.0}


def size(asset: str, fraction: float) -> float:
    """A quantity worth fraction x 1,000 USDT at the starting price (a step-sized amount)."""
    return round(fraction * 1000.0 / PRICES[asset], 5 if asset == "BTC" else 2)


def run(root: Path, plan) -> tuple:
    books = books_on(root, START, **SETTINGS)
    prices = dict(PRICES)
    ts = T0
    worst = []
    for number, (seconds, btc_move, xrp_move, action) in enumerate(plan, start=1):
        ts += seconds
        prices = {"BTC": prices["BTC"] * btc_move, "XRP": prices["XRP"] * xrp_move}
        mids = {(ex, f"{asset}/USDT"): prices[asset] * (1 + 0.001 * i) for i, ex in enumerate(EXCHANGES)
                for asset in ASSETS}
        snap = market_at(mids, ts=ts, tick=number)
        books.tracker.mark(snap)
        books.keeper.on_tick(snap, trading=True)
        kind, strategy, exchange, asset, side, fraction = action
        qty = size(asset, fraction)
        symbol = f"{asset}/USDT"
        if kind == "arbitrage":  # sell here, buy there: drains one wallet of the asset, the other of USDT
            other = EXCHANGES[1 - EXCHANGES.index(exchange)]
            legs = [(exchange, symbol, "sell", qty, 0.0), (other, symbol, "buy", qty, 0.0)]
        else:
            legs = [(exchange, symbol, side, qty, 0.0)]
        books.flow.process_signal(signal(strategy, *legs, number=number), snap, allows_short=strategy == "stat_arb")
        worst.append(lowest_unexplained_balance(books.tracker))
    return books, prices, worst


def lowest_unexplained_balance(tracker) -> float:
    """The lowest balance once every declared short's quantity on its exchange is added back."""
    lowest = 0.0
    for exchange, wallet in tracker.balances.items():
        for asset, amount in wallet.items():
            short = sum(max(0.0, -p.by_exchange.get(exchange, 0.0)) for (s, a), p in tracker.positions.items()
                        if s == "stat_arb" and a == asset)
            lowest = min(lowest, amount + short)
    return lowest


def independent_replay(lines: list[dict]) -> dict:
    """Wallets, transit, per-strategy P&L and costs from the ledger lines, by plain average cost."""
    wallets = {ex: dict(assets) for ex, assets in START.items()}
    transit: dict[str, tuple[str, float]] = {}
    held: dict[tuple[str, str], list[float]] = {}  # (strategy, asset) -> [qty, average price]
    pnl = {}
    fee_coins: dict[str, list[float]] = {}  # asset -> [coins paid as fees, their USDT value when paid]
    for line in lines:
        figures = pnl.setdefault(line["strategy"], {"realized": 0.0, "fees": 0.0, "transfer": 0.0, "borrow": 0.0})
        if "entry" in line:
            wallet = wallets[line["exchange"]]
            wallet[line["asset"]] = wallet.get(line["asset"], 0.0) + line["amount"]
            if line["entry"] == "transfer_out":
                transit[line["ref"]] = (line["asset"], -line["amount"] - line["fee"])
                figures["transfer"] += line["fee_usdt"]
                paid = fee_coins.setdefault(line["asset"], [0.0, 0.0])
                paid[0] += line["fee"]
                paid[1] += line["fee_usdt"]
            elif line["entry"] == "transfer_in":
                del transit[line["ref"]]
            else:
                figures["borrow"] += line["fee"]
            continue
        base, quote = line["symbol"].split("/")
        sign = 1.0 if line["side"] == "buy" else -1.0
        wallet = wallets[line["exchange"]]
        wallet[base] = wallet.get(base, 0.0) + sign * line["qty"]
        wallet[quote] -= sign * line["qty"] * line["price"]
        wallet[line["fee_asset"]] -= line["fee"]
        figures["fees"] += line["fee"]
        qty, average = held.get((line["strategy"], base), [0.0, 0.0])
        change = sign * line["qty"]
        if qty * change < 0:
            reduced = min(abs(change), abs(qty))
            figures["realized"] += reduced * (line["price"] - average) * (1.0 if qty > 0 else -1.0)
            qty += reduced if qty < 0 else -reduced
            rest = abs(change) - reduced
            if rest > 1e-12:
                qty, average = sign * rest, line["price"]
            elif abs(qty) <= 1e-10:
                qty = 0.0
        else:
            total = qty + change
            average = (qty * average + change * line["price"]) / total
            qty = total
        held[(line["strategy"], base)] = [qty, average]
    return {"wallets": wallets, "transit": transit, "held": held, "pnl": pnl, "fee_coins": fee_coins}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
@example([(1, 1.0, 1.0, ("long", "momentum", "a", "BTC", "sell", 1.0))])  # every signal refused: no ledger file
def test_random_runs_keep_the_books_whole(plan):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        books, prices, worst = run(root, plan)
        tracker = books.tracker
        # No balance below zero except declared shorts (stat_arb's, on their exchange).
        assert min(worst) >= -1e-6
        for wallet in tracker.balances.values():
            assert wallet.get("USDT", 0.0) >= -TOLERANCE
        # The ledger on disk replays to the live books (trades, transfers, borrow fees, margin calls).
        replayed = PortfolioTracker.from_ledger(START, TradeLedger(root).load(), margin=tracker.margin)
        assert compare_books(replayed.to_state(), tracker.to_state()) == []
        # An independent replay of the same lines.
        ledger = root / "trades.jsonl"  # absent when every signal was refused (nothing traded)
        lines = [json.loads(line) for line in ledger.read_text().splitlines()] if ledger.exists() else []
        for kind in sorted({line.get("entry") or line["kind"] for line in lines}):
            event(kind)
        oracle = independent_replay(lines)
        for exchange, wallet in oracle["wallets"].items():
            for asset, amount in wallet.items():
                assert tracker.balance(exchange, asset) == pytest.approx(amount, abs=1e-6), (exchange, asset)
        assert {ref: amount for ref, (_, amount) in oracle["transit"].items()} == \
            pytest.approx({ref: t.amount for ref, t in tracker.in_transit.items()})
        for name, figures in oracle["pnl"].items():
            stats = tracker.stats[name]
            assert stats.realized_pnl == pytest.approx(figures["realized"], abs=1e-6), name
            assert stats.fees_usdt == pytest.approx(figures["fees"], abs=1e-9), name
            assert stats.transfer_fees_usdt == pytest.approx(figures["transfer"], abs=1e-9), name
            assert stats.borrow_fees_usdt == pytest.approx(figures["borrow"], abs=1e-9), name
        # The identity, every figure from the oracle, marks from the last snapshot.
        marks = tracker.marks()
        first = tracker.initial_marks
        equity = sum(amount * marks.get(asset, 0.0) for wallet in oracle["wallets"].values()
                     for asset, amount in wallet.items())
        equity += sum(amount * marks[asset] for asset, amount in oracle["transit"].values())
        initial = sum(amount * first.get(asset, 0.0) for wallet in START.values() for asset, amount in wallet.items())
        holdings = sum(amount * (marks[asset] - first[asset]) for wallet in START.values()
                       for asset, amount in wallet.items())
        holdings -= sum(coins * marks[asset] - value for asset, (coins, value) in oracle["fee_coins"].items())
        unrealized = sum(qty * (marks[asset] - average) for (_, asset), (qty, average) in oracle["held"].items())
        net = sum(f["realized"] - f["fees"] - f["transfer"] - f["borrow"] for f in oracle["pnl"].values())
        assert equity == pytest.approx(tracker.equity(), rel=1e-12)
        assert equity - initial == pytest.approx(net + unrealized + holdings, abs=1e-6)
        # And the books' own decomposition says the same.
        books_net = sum(s.net_pnl(tracker.unrealized_pnl(name)) for name, s in tracker.stats.items())
        assert tracker.equity() - tracker.initial_equity() == pytest.approx(books_net + tracker.holdings_pnl(), abs=1e-6)


def test_the_random_runs_reach_every_kind_of_line():
    """Guards the property test: its runs do make transfers, borrow fees and margin calls."""
    plan = [(60, 1.0, 1.0, ("short", "stat_arb", "a", "XRP", "sell", 0.9)),
            (60, 1.0, 1.0, ("arbitrage", "arbitrage", "a", "BTC", "sell", 0.9)),
            (300, 1.0, 1.2, ("long", "momentum", "b", "BTC", "buy", 0.1)),
            (300, 1.0, 1.2, ("long", "momentum", "b", "BTC", "buy", 0.1)),
            (400, 1.0, 1.0, ("long", "news", "b", "BTC", "buy", 0.1))]
    with tempfile.TemporaryDirectory() as folder:
        run(Path(folder), plan)
        lines = [json.loads(line) for line in (Path(folder) / "trades.jsonl").read_text().splitlines()]
    kinds = {line.get("entry") or line["kind"] for line in lines}
    assert {"transfer_out", "transfer_in", "borrow_fee", "margin_call"} <= kinds
