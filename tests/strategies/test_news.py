"""NewsStrategy on hand-built snapshots and a fake portfolio view."""
import math

import pytest

from bot.config import ExecutionConfig, NewsConfig
from bot.data_flow import DataFlowManager
from bot.execution.executor import PaperExecutor
from bot.accounting.ledger import TradeLedger
from bot.models import NewsItem, PositionView, round_step
from bot.accounting.portfolio import PortfolioTracker
from bot.strategies import news as news_module
from bot.strategies.manager import StrategyManager
from bot.strategies.news import MIN_WEIGHT, NewsStrategy
from bot.strategies.sentiment import SentimentScorer
from tests.builders import T0, flat_book, market, snapshot

SOL, BTC = "SOL/USDT", "BTC/USDT"
SYMBOLS = (BTC, "ETH/USDT", SOL, "XRP/USDT", "ADA/USDT", "ETH/BTC")
GOOD = "Solana ETF approval expected as inflows surge"
BAD = "Solana network outage halts block production"
SCORER = SentimentScorer()


class FakeView:
    """Implements PortfolioView with fixed figures and counts what the strategy asked."""

    def __init__(self, equity=10_000.0, balances=None, positions=()):
        self._equity = equity
        self._balances = balances if balances is not None else {"binance": {"USDT": 10_000.0}}
        self._positions = {p.asset: p for p in positions}
        self.calls = 0

    def position(self, asset):
        self.calls += 1
        return self._positions.get(asset)

    def positions(self):
        self.calls += 1
        return list(self._positions.values())

    def balance(self, exchange, asset):
        self.calls += 1
        return self._balances.get(exchange, {}).get(asset, 0.0)

    def equity(self):
        self.calls += 1
        return self._equity


def params(**changes) -> NewsConfig:
    values = dict(entry_score=0.5, exit_reversal_score=0.1, half_life_minutes=30.0, holding_minutes=60.0,
                  position_pct=5.0, cooldown_seconds=600.0)
    values.update(changes)
    return NewsConfig(**values)


def strategy(exchanges=("binance",), symbols=SYMBOLS, **changes) -> NewsStrategy:
    return NewsStrategy(params(**changes), exchanges, symbols)


_ids = iter(range(10**9))


def item(title, ts=T0, symbols=(), news_id=None):
    return NewsItem(news_id or f"n{next(_ids)}", ts, title, "test", tuple(symbols))


def snap(*news, ts=T0, exchanges=("binance",), sol_mid=100.0, btc_mid=50_000.0, tick=0):
    books, markets = {}, {}
    for exchange in exchanges:
        books[(exchange, SOL)] = flat_book(sol_mid)
        books[(exchange, BTC)] = flat_book(btc_mid)
        markets[(exchange, SOL)] = market(exchange, SOL, amount_step=0.01, min_notional=5.0)
        markets[(exchange, BTC)] = market(exchange, BTC, amount_step=1e-5, min_notional=5.0)
    return snapshot(books, markets=markets, tick=tick, ts=ts, news=tuple(news))


def held(asset="SOL", qty=5.0, avg_cost=100.0, opened_ts=T0 - 60, by_exchange=None):
    return PositionView(asset, qty, avg_cost, by_exchange if by_exchange is not None else {"binance": qty}, opened_ts)


def ask(mid):
    return flat_book(mid)[1][0][0]


def bid(mid):
    return flat_book(mid)[0][0][0]


# -- identity ---------------------------------------------------------------------------------


def test_identity():
    s = strategy()
    assert s.name == "news" and s.allows_short is False and s.warmup_candles == 0
    assert set(s.symbol_by_asset) == {"BTC", "ETH", "SOL", "XRP", "ADA"}


# -- entries ----------------------------------------------------------------------------------


def test_entry_on_strong_positive_news_sized_from_equity():
    score = SCORER.score(GOOD)
    assert score >= 0.5
    (signal,) = strategy().on_snapshot(snap(item(GOOD)), FakeView())
    assert signal.strategy == "news" and signal.kind == "news_entry" and not signal.closes_position
    (leg,) = signal.legs
    expected_qty = round_step(10_000 * 0.05 / ask(100.0), 0.01)
    assert (leg.exchange, leg.symbol, leg.side) == ("binance", SOL, "buy")
    assert leg.expected_price == pytest.approx(ask(100.0))
    assert leg.qty == pytest.approx(expected_qty, abs=1e-12)
    assert signal.reason.startswith(f'News score {score:+.2f} for SOL/USDT from "{GOOD}" ({score:+.2f}); buy 4.99 SOL')
    assert signal.confidence == pytest.approx(score / (score + 0.5), abs=1e-4)


def test_extra_lexicon_from_the_config_is_used():
    title = "Solana wagmi"
    assert strategy().on_snapshot(snap(item(title)), FakeView()) == []
    (signal,) = strategy(extra_lexicon={"wagmi": 3.5}).on_snapshot(snap(item(title)), FakeView())
    assert signal.kind == "news_entry"


def test_no_entry_on_weak_neutral_or_negative_news():
    weak = "Solana developers publish quarterly roadmap update"
    for title in (weak, BAD, "Solana bridge hit by exploit, millions drained"):
        assert strategy().on_snapshot(snap(item(title)), FakeView()) == []
    # a positive headline below a high threshold is not enough on its own
    assert strategy(entry_score=0.95).on_snapshot(snap(item(GOOD)), FakeView()) == []


def test_scores_add_up_over_headlines():
    s = strategy(entry_score=1.0)
    first = "Solana rallies as whales accumulate"
    assert 0.5 < SCORER.score(first) < 1.0
    assert s.on_snapshot(snap(item(first)), FakeView()) == []
    (signal,) = s.on_snapshot(snap(item(GOOD), ts=T0 + 5), FakeView())
    assert signal.kind == "news_entry" and signal.legs[0].symbol == SOL
    assert f'"{GOOD}"' in signal.reason and f'"{first}"' in signal.reason


def test_no_second_entry_while_holding():
    view = FakeView(positions=[held()])
    assert strategy().on_snapshot(snap(item(GOOD)), view) == []


def test_a_dust_position_does_not_block_an_entry():
    view = FakeView(positions=[held(qty=0.004)])
    (signal,) = strategy().on_snapshot(snap(item(GOOD)), view)
    assert signal.kind == "news_entry"


def test_one_headline_about_several_coins_enters_each():
    title = "Solana and Bitcoin ETF approval expected as inflows surge"
    signals = strategy().on_snapshot(snap(item(title)), FakeView())
    assert [s.legs[0].symbol for s in signals] == [BTC, SOL]
    assert signals[0].legs[0].qty == pytest.approx(round_step(500 / ask(50_000.0), 1e-5), abs=1e-12)


def test_source_tags_are_honoured():
    title = "Regulators approve landmark framework; institutional inflows surge"
    assert SCORER.score(title) >= 0.5
    assert strategy().on_snapshot(snap(item(title)), FakeView()) == []  # names no coin
    (signal,) = strategy().on_snapshot(snap(item(title, symbols=("SOL/USDT",))), FakeView())
    assert signal.legs[0].symbol == SOL


def test_entry_respects_the_wallet_on_the_exchange():
    view = FakeView(balances={"binance": {"USDT": 200.0}})
    (signal,) = strategy().on_snapshot(snap(item(GOOD)), view)
    assert signal.legs[0].qty == pytest.approx(round_step(0.95 * 200.0 / ask(100.0), 0.01), abs=1e-12)
    # 95% of 5 USDT is below min_notional: nothing
    assert strategy().on_snapshot(snap(item(GOOD)), FakeView(balances={"binance": {"USDT": 5.0}})) == []
    assert strategy().on_snapshot(snap(item(GOOD)), FakeView(equity=0.0)) == []


def test_trading_exchange_first_listing_or_configured():
    s = strategy(exchanges=("kraken", "binance"))
    (signal,) = s.on_snapshot(snap(item(GOOD)), FakeView())  # kraken has no market here
    assert signal.legs[0].exchange == "binance"
    view = FakeView(balances={"kraken": {"USDT": 10_000.0}})
    s = strategy(exchanges=("binance", "kraken"), exchange="kraken")
    (signal,) = s.on_snapshot(snap(item(GOOD), exchanges=("binance", "kraken")), view)
    assert signal.legs[0].exchange == "kraken"
    # the configured exchange lacks the market: no trade rather than a fall-back
    assert s.on_snapshot(snap(item(GOOD)), view) == []


def test_a_refused_entry_is_proposed_again_at_the_minute_check_while_the_score_stands():
    s = strategy()
    view = FakeView()
    assert len(s.on_snapshot(snap(item(GOOD)), view)) == 1  # say the manager refused it
    assert s.on_snapshot(snap(ts=T0 + 30), view) == []  # between checks: nothing
    (again,) = s.on_snapshot(snap(ts=T0 + 60), view)
    assert again.kind == "news_entry"


def test_no_reentry_on_the_same_news_after_the_holding_exit():
    s = strategy(cooldown_seconds=0.0)
    view = FakeView()
    assert len(s.on_snapshot(snap(item("Solana ETF approval: record inflows surge as adoption soars")), view)) == 1
    view._positions = {"SOL": held(opened_ts=T0)}
    assert s.on_snapshot(snap(ts=T0 + 60), view) == []  # holding, nothing to do
    (exit_signal,) = s.on_snapshot(snap(ts=T0 + 3600), view)
    assert exit_signal.kind == "news_exit"
    view._positions = {}
    assert s.aggregate(SOL, T0 + 3660) >= 0.5 / 4  # the story still counts...
    assert s.on_snapshot(snap(ts=T0 + 3660), view) == []  # ...but it has had its position
    (signal,) = s.on_snapshot(snap(item(GOOD, ts=T0 + 3700), ts=T0 + 3700), view)
    assert signal.kind == "news_entry"


def test_no_entry_proposal_inside_the_cooldown_after_an_exit():
    s = strategy(cooldown_seconds=600.0)
    view = FakeView(positions=[held(opened_ts=T0 - 3600)])
    (exit_signal,) = s.on_snapshot(snap(ts=T0), view)
    assert exit_signal.kind == "news_exit"
    view._positions = {}
    assert s.on_snapshot(snap(item(GOOD, ts=T0 + 120), ts=T0 + 120), view) == []
    (signal,) = s.on_snapshot(snap(ts=T0 + 600), view)  # the minute check after the cooldown
    assert signal.kind == "news_entry"


# -- exits ------------------------------------------------------------------------------------


def test_exit_on_reversal():
    view = FakeView(positions=[held(qty=5.004, avg_cost=101.0)])
    (signal,) = strategy().on_snapshot(snap(item(BAD)), view)
    assert signal.kind == "news_exit" and signal.closes_position and signal.confidence == 1.0
    (leg,) = signal.legs
    assert (leg.exchange, leg.symbol, leg.side, leg.qty) == ("binance", SOL, "sell", 5.0)
    assert leg.expected_price == pytest.approx(bid(100.0))
    score = SCORER.score(BAD)
    assert signal.reason.startswith(f'News reversal on SOL/USDT: score {score:+.2f} <= -0.1 from "{BAD}"')
    assert "est. P&L -" in signal.reason


def test_a_mild_negative_headline_against_a_strong_positive_one_is_no_reversal():
    s = strategy()
    assert len(s.on_snapshot(snap(item(GOOD)), FakeView())) == 1
    view = FakeView(positions=[held(opened_ts=T0)])
    mild = "Solana slips as traders turn cautious"
    assert -0.5 < SCORER.score(mild) < -0.1
    assert s.on_snapshot(snap(item(mild), ts=T0 + 10), view) == []
    assert s.aggregate(SOL, T0 + 10) > 0


def test_exit_after_holding_time():
    s = strategy()
    view = FakeView(positions=[held(opened_ts=T0 - 3590)])
    assert s.on_snapshot(snap(ts=T0), view) == []
    assert s.on_snapshot(snap(ts=T0 + 30), view) == []  # not a check
    (signal,) = s.on_snapshot(snap(ts=T0 + 60), view)
    assert signal.kind == "news_exit" and signal.closes_position
    assert signal.reason.startswith("Holding time reached on SOL/USDT: held 61 min >= 60 min (score +0.00)")


def test_exit_sells_each_exchange_rounded_to_its_step():
    view = FakeView(positions=[held(qty=5.5, by_exchange={"binance": 2.345, "kraken": 3.155}, opened_ts=T0 - 7200)])
    (signal,) = strategy(exchanges=("binance", "kraken")).on_snapshot(snap(exchanges=("binance", "kraken")), view)
    assert [(leg.exchange, leg.qty, leg.side) for leg in signal.legs] == [("binance", 2.34, "sell"), ("kraken", 3.15, "sell")]


def test_no_exit_without_a_quote_and_positions_in_unknown_assets_are_ignored():
    view = FakeView(positions=[held(opened_ts=T0 - 7200, by_exchange={"bitstamp": 5.0}),
                               held(asset="PEPE", opened_ts=T0 - 7200)])
    assert strategy().on_snapshot(snap(), view) == []


# -- decay and memory -------------------------------------------------------------------------


def test_score_halves_after_each_half_life_and_old_news_is_forgotten():
    s = strategy(half_life_minutes=10.0)
    s.on_snapshot(snap(item(GOOD)), FakeView(positions=[held(opened_ts=T0)]))
    score = SCORER.score(GOOD)
    assert s.aggregate(SOL, T0) == pytest.approx(score)
    assert s.aggregate(SOL, T0 + 600) == pytest.approx(score / 2)
    assert s.aggregate(SOL, T0 + 1800) == pytest.approx(score / 8)
    forget = 600 * math.log2(1 / MIN_WEIGHT)
    assert s.aggregate(SOL, T0 + forget - 1) > 0
    assert s.aggregate(SOL, T0 + forget + 1) == 0.0
    assert SOL not in s._headlines


def test_headline_time_drives_the_decay_and_stale_or_future_stamps_are_handled():
    s = strategy(half_life_minutes=10.0)
    view = FakeView(positions=[held(opened_ts=T0)])
    s.on_snapshot(snap(item(GOOD, ts=T0 - 600), ts=T0), view)  # published ten minutes ago
    assert s.aggregate(SOL, T0) == pytest.approx(SCORER.score(GOOD) / 2)
    s.on_snapshot(snap(item(GOOD, ts=T0 - 86_400, symbols=(BTC,)), ts=T0), view)  # a day old: ignored
    assert BTC not in s._headlines
    s.on_snapshot(snap(item(GOOD, ts=T0 + 3600, symbols=(BTC,)), ts=T0), view)  # from the future: counts from now
    assert s.aggregate(BTC, T0) == pytest.approx(SCORER.score(GOOD))


def test_a_repeated_story_counts_once():
    s = strategy()
    view = FakeView(positions=[held(opened_ts=T0)])
    s.on_snapshot(snap(item(GOOD, news_id="same")), view)
    s.on_snapshot(snap(item(GOOD, news_id="same"), ts=T0 + 1), view)
    assert s.aggregate(SOL, T0 + 1) == pytest.approx(SCORER.score(GOOD), rel=1e-3)


def test_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(news_module, "MAX_HEADLINES_PER_SYMBOL", 20)
    monkeypatch.setattr(news_module, "SEEN_IDS_KEPT", 50)
    s = strategy()
    view = FakeView(positions=[held(opened_ts=T0)])
    for i in range(60):
        s.on_snapshot(snap(*(item(GOOD if j % 2 else BAD, ts=T0 + i) for j in range(3)), ts=T0 + i), view)
    assert len(s._headlines[SOL]) == 20
    assert len(s._seen_ids) == 50


# -- quiet ticks and odd input ----------------------------------------------------------------


def test_quiet_ticks_produce_nothing_and_touch_nothing_between_checks():
    s = strategy()
    view = FakeView(positions=[held(opened_ts=T0)])
    assert s.on_snapshot(snap(ts=T0), view) == []  # the first tick is a check
    calls = view.calls
    for second in range(1, 60):
        assert s.on_snapshot(snap(ts=T0 + second), view) == []
    assert view.calls == calls
    assert s.on_snapshot(snap(ts=T0 + 60), view) == []
    assert view.calls > calls


def test_quiet_ticks_when_flat_and_without_news_do_not_throw():
    s = strategy()
    view = FakeView()
    for second in range(0, 600, 7):
        assert s.on_snapshot(snap(ts=T0 + second), view) == []


def test_script_headline_is_handled_as_text():
    (signal,) = strategy(entry_score=0.3).on_snapshot(
        snap(item("<script>alert(1)</script> Bitcoin surges")), FakeView())
    assert signal.legs[0].symbol == BTC
    assert '"<script>alert(1)</script> Bitcoin surges"' in signal.reason


@pytest.mark.parametrize("title", [
    "", " ", "\x00\x01", "🚀" * 500, "Solana " + "surges! " * 20_000, "ビットコイン Solana 急騰 🚀",
    "Solana\nETF\tapproval\r\nexpected", '"Solana" ETF approval "expected"', None,
])
def test_odd_headlines_never_crash(title):
    s = strategy()
    view = FakeView()
    for signal in s.on_snapshot(snap(NewsItem("odd", T0, title, "test", ())), view):
        quoted = signal.reason.split(' from "', 1)[1].split('" (', 1)[0]
        assert len(quoted) <= 120 and "\n" not in quoted and "\t" not in quoted
    assert s.on_snapshot(snap(ts=T0 + 60), view) is not None


def test_long_headline_is_shortened_in_the_reason():
    title = "Solana ETF approval expected as inflows surge " + "and more " * 40
    (signal,) = strategy().on_snapshot(snap(item(title)), FakeView())
    quoted = signal.reason.split(' from "', 1)[1].split('" (', 1)[0]
    assert len(quoted) == 120 and quoted.endswith("...")


# -- through the real trade path --------------------------------------------------------------


def test_round_trip_through_manager_executor_and_portfolio(tmp_path):
    tracker = PortfolioTracker({"binance": {"USDT": 10_000.0}})
    ledger = TradeLedger(str(tmp_path), fsync=False)
    flow = DataFlowManager(PaperExecutor(ExecutionConfig()), ledger, tracker, str(tmp_path), fsync=False)
    config = params()
    manager = StrategyManager([NewsStrategy(config, ("binance",), SYMBOLS)], {"news": config}, tracker,
                              flow.process_signal)
    executed = []
    for second in range(0, 2 * 3600, 10):
        news = (item(GOOD, ts=T0 + second),) if second == 600 else ()
        s = snap(*news, ts=T0 + second, sol_mid=100.0 + second / 3600, tick=second)
        tracker.mark(s)
        if manager.run(s):
            executed.append((second, tracker.position_view("news", "SOL")))
    ledger.close()
    (entry_at, opened), (exit_at, closed) = executed
    assert entry_at == 600 and opened.qty == pytest.approx(round_step(500 / ask(100.0 + 600 / 3600), 0.01))
    assert exit_at == 600 + 3600 and closed is None
    assert [t.kind for t in TradeLedger(str(tmp_path)).load()] == ["news_entry", "news_exit"]
    assert tracker.stats["news"].realized_pnl > 0  # the price rose 1 USDT over the hour
