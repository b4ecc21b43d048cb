"""SentimentScorer (VADER + crypto words and phrases) and the headline -> symbol mapping."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from bot.strategies.sentiment import SentimentScorer, SymbolMapper, symbols_for

SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "ADA/USDT", "ETH/BTC")


@pytest.fixture(scope="module")
def scorer():
    return SentimentScorer()


@pytest.fixture(scope="module")
def vanilla():
    return SentimentIntensityAnalyzer()


# -- direction ------------------------------------------------------------------------------

POSITIVE = [
    "SEC grants ETF approval for Bitcoin",
    "Solana hits record high as inflows surge",
    "Bitcoin rallies to all-time high as ETF inflows soar",
    "Ethereum network upgrade goes live, cutting fees",
    "XRP soars after court rules in favor of Ripple",
    "Analysts turn bullish on Cardano as adoption grows",
]
NEGATIVE = [
    "Exchange hack drains $40M in ETH",
    "Cardano delisting announced by major exchange",
    "Solana network outage halts block production",
    "SEC sues exchange in new lawsuit over XRP sales",
    "Bitcoin plunges as liquidations pile up",
    "Bank run fears hit stablecoin issuer",
    "SEC delays ETF approval for Solana",
]
NEUTRAL = [
    "Bitcoin developers publish quarterly roadmap update",
    "What's next for Ethereum? Analysts weigh in",
    "Kraken updates Solana deposit confirmation times",
]


@pytest.mark.parametrize("text", POSITIVE)
def test_clearly_positive_headlines_score_positive(scorer, text):
    assert scorer.score(text) > 0.3


@pytest.mark.parametrize("text", NEGATIVE)
def test_clearly_negative_headlines_score_negative(scorer, text):
    assert scorer.score(text) < -0.3


@pytest.mark.parametrize("text", NEUTRAL)
def test_neutral_headlines_score_near_zero(scorer, text):
    assert abs(scorer.score(text)) < 0.1


def test_positive_set_ranks_above_neutral_above_negative(scorer):
    lowest_positive = min(scorer.score(t) for t in POSITIVE)
    highest_negative = max(scorer.score(t) for t in NEGATIVE)
    neutral = [scorer.score(t) for t in NEUTRAL]
    assert lowest_positive > max(neutral) >= min(neutral) > highest_negative


@pytest.mark.parametrize("text, sign", [
    ("Exchange hack", -1), ("Bridge exploit", -1), ("Token delisted", -1), ("Bitcoin halving", +1),
    ("Traders turn bullish", +1), ("Traders turn bearish", -1), ("Network outage", -1), ("ETF outflows", -1),
    ("ETF inflows", +1), ("Rugpull", -1),
])
def test_crypto_words_drive_the_score_where_vanilla_vader_is_silent_or_weak(scorer, vanilla, text, sign):
    ours = scorer.score(text)
    plain = vanilla.polarity_scores(text)["compound"]
    assert sign * ours > 0.25
    assert sign * ours > sign * plain + 0.2


@pytest.mark.parametrize("text, sign", [
    ("Solana hits record high", +1), ("Bitcoin at an all time high", +1), ("Bitcoin sets all-time highs", +1),
    ("Short squeeze lifts XRP", +1), ("Fed rate hike weighs on crypto", -1), ("Stablecoin faces bank run", -1),
    ("ETF rejected", -1), ("ETH slides to a record low", -1), ("Pump and dump scheme uncovered", -1),
])
def test_phrases_are_scored_as_one_term(scorer, vanilla, text, sign):
    assert sign * scorer.score(text) > 0.25
    assert sign * scorer.score(text) > sign * vanilla.polarity_scores(text)["compound"]


def test_phrase_parts_are_not_counted_twice(scorer):
    # "record high" carries its phrase valence only, not "record" + "high" on top
    assert scorer.rewrite("Solana hits record high").split() == ["Solana", "hits", "record_high"]
    assert scorer.score("Solana hits record high") == pytest.approx(scorer.score("Solana hits all-time high"))


def test_vader_rules_apply_to_phrases(scorer):
    # VADER's own negation ("no") and the blocking verbs turn a positive phrase around
    assert scorer.score("SEC grants ETF approval") > 0.5
    assert scorer.score("No ETF approval this year") < -0.3
    assert scorer.score("SEC delays ETF approval") < -0.3
    assert scorer.score("SEC rejects spot ETF approval") < -0.3


def test_extra_lexicon_words_and_phrases(scorer):
    assert scorer.score("Foo network") == 0.0
    custom = SentimentScorer({"foo": 3.0, "Gas War": -2.5, "hack": 0.0, "huge": 99})
    assert custom.score("Foo network") > 0.5
    assert custom.score("a gas   war breaks out") < -0.4
    assert custom.score("Exchange hack") == 0.0  # overrides the built-in crypto word
    # valences are clipped to VADER's -4..4: 99 scores as 4 would
    assert custom.score("huge") == pytest.approx(SentimentScorer({"huge": 4.0}).score("huge"))
    assert custom.score("huge") < 0.8
    # a phrase is one phrase however it is spelled; a value that is not a number is ignored
    flipped = SentimentScorer({"all time high": -3.0, "moon": float("nan")})
    assert flipped.score("Bitcoin hits all-time high") < -0.3
    assert flipped.score("moon") == scorer.score("moon") > 0
    # the base scorer is not changed by another scorer's extra words
    assert scorer.score("Exchange hack") < 0


@pytest.mark.parametrize("text", [
    "", "   ", "\n\t", "!!!???", "🚀🚀🚀", "<script>alert(1)</script>", "x" * 100_000, "Bitcoin " * 5_000,
    "Ethereum\x00 hack\x1b[31m", "ビットコイン急騰", "no no no never not", "but but but", "$$$ ### ETF",
])
def test_odd_input_gives_a_bounded_score(scorer, text):
    value = scorer.score(text)
    assert -1.0 <= value <= 1.0


def test_emoji_count_as_their_descriptions(scorer):
    assert scorer.score("Bitcoin 🚀🚀") > 0.3  # "rocket" is crypto vocabulary
    assert scorer.score("Bitcoin 😢") < 0


def test_non_text_scores_zero(scorer):
    assert scorer.score(None) == 0.0
    assert scorer.score(42) == 0.0


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_scores_within_bounds(text):
    value = _shared.score(text)
    assert -1.0 <= value <= 1.0


_shared = SentimentScorer()


def test_html_is_scored_as_text(scorer):
    assert scorer.score("<script>alert(1)</script> Bitcoin surges") > 0.3
    assert scorer.score("<b>Exchange hack</b>") < -0.3


# -- symbol mapping -------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("Bitcoin climbs", ("BTC/USDT",)),
    ("bitcoin miners sell", ("BTC/USDT",)),
    ("BTC breaks out", ("BTC/USDT",)),
    ("Ethereum upgrade", ("ETH/USDT",)),
    ("Ether slides", ("ETH/USDT",)),
    ("ETH gas fees fall", ("ETH/USDT",)),
    ("Solana's outage", ("SOL/USDT",)),
    ("$SOL pumps", ("SOL/USDT",)),
    ("Ripple wins in court", ("XRP/USDT",)),
    ("XRP rallies", ("XRP/USDT",)),
    ("Cardano founder speaks", ("ADA/USDT",)),
    ("ADA holders vote", ("ADA/USDT",)),
    ("BITCOIN AND ETHEREUM SLIDE", ("BTC/USDT", "ETH/USDT")),
    ("Solana, XRP and Bitcoin ETFs filed", ("BTC/USDT", "SOL/USDT", "XRP/USDT")),
    ("ETH/BTC ratio at a low", ("BTC/USDT", "ETH/USDT")),
])
def test_names_and_tickers_map_to_configured_usdt_symbols(text, expected):
    assert symbols_for(text, SYMBOLS) == expected


@pytest.mark.parametrize("text", [
    "A new solution for payments",   # SOL inside a word
    "Banks adapt to regulation",     # ADA inside a word
    "Ethernet cables and Ethereal art",
    "Ada Lovelace day celebrated",   # a first name, not the ADA ticker
    "sol and ada in lower case",     # tickers are case-sensitive
    "vanished into the ether",       # the everyday word
    "Bitcoin Cash forks again",      # another coin
    "Ethereum Classic hit by attack",
    "Binance expands in Europe",     # the exchange, not BNB
    "Bitcoiners meet",               # whole words only
])
def test_no_false_matches(text):
    assert symbols_for(text, SYMBOLS) == ()


def test_other_configured_bases_map_by_ticker_and_unconfigured_names_do_not():
    symbols = ("BTC/USDT", "DOGE/USDT", "PEPE/USDT")
    assert symbols_for("DOGE and PEPE rally", symbols) == ("DOGE/USDT", "PEPE/USDT")
    assert symbols_for("Dogecoin rallies", symbols) == ("DOGE/USDT",)
    assert symbols_for("Solana rallies", symbols) == ()  # SOL is not configured


def test_only_usdt_markets_are_targets():
    assert symbols_for("ETH rallies", ("ETH/BTC",)) == ()
    assert SymbolMapper(("ETH/BTC", "BTC/USDT")).symbol_by_base == {"BTC": "BTC/USDT"}


def test_source_tags_are_unioned_with_the_text():
    mapper = SymbolMapper(SYMBOLS)
    assert mapper.symbols_for("Regulators meet on Friday", ("SOL/USDT",)) == ("SOL/USDT",)
    assert mapper.symbols_for("Bitcoin slides", ("XRP/USDT",)) == ("BTC/USDT", "XRP/USDT")
    # a bare ticker or another quote still names the asset; unknown tags are ignored
    assert mapper.symbols_for("", ("ADA", "SOL/BTC", "DOGE/USDT", None, 7)) == ("SOL/USDT", "ADA/USDT")


def test_mapping_survives_odd_input():
    mapper = SymbolMapper(SYMBOLS)
    assert mapper.symbols_for(None) == ()
    assert mapper.symbols_for("<script>alert(1)</script> Bitcoin surges") == ("BTC/USDT",)
    assert mapper.symbols_for("🚀 Solana 🚀") == ("SOL/USDT",)
    assert mapper.symbols_for("x" * 1_000_000) == ()


# -- negation scope, hedges and questions (hand-labelled) -------------------------------------

NEGATED_GOOD_NEWS = [  # good news denied or ruled out: negative, never a buy
    "Ethereum not expected to see ETF approval this year",
    "Analysts say the SEC is unlikely to approve a spot XRP fund",
    "No approval for a Solana ETF yet, regulator says",
    "Exchange will no longer support Monero deposits",
    "South Korea won't lift its ban on corporate crypto trading",
    "Regulators refuse to grant the exchange a license",
    "Bitcoin pares gains after jobs report",
    "Hopes for a quick ETF decision fade",
    "Solana's rally stalls below $200",
    "Approval of a spot fund looks doubtful",
]
NEGATED_BAD_NEWS = [  # bad news denied or reversed: positive
    "XRP is not a security, judge rules",
    "Hong Kong lifts ban on retail crypto trading",
    "Kraken denies reports of a hack",
    "Exchange recovers stolen funds from attacker",
    "Rumours of a Binance exploit are false, team says",
    "Bitcoin ETF demand hasn't slowed",
]


@pytest.mark.parametrize("text", NEGATED_GOOD_NEWS)
def test_negated_or_reversed_good_news_scores_negative(scorer, text):
    assert scorer.score(text) < -0.05


@pytest.mark.parametrize("text", NEGATED_BAD_NEWS)
def test_negated_or_reversed_bad_news_scores_positive(scorer, text):
    assert scorer.score(text) > 0.05


def test_negation_reaches_past_vaders_three_words_but_stops_at_the_clause(scorer, vanilla):
    far = "Ethereum not expected to see ETF approval this year"
    assert vanilla.polarity_scores("not expected to see approval")["compound"] > 0  # VADER alone misses it
    assert scorer.score(far) < -0.3
    # the scope ends at a comma or a new clause: the second clause keeps its own sign
    assert scorer.score("No change to fees, and the ETF approval lifts the price") > 0.3
    # and at the first word with a valence: "no objection to ... license" keeps the license positive
    assert scorer.score("Regulator raises no objection to exchange license") > 0


@pytest.mark.parametrize("hedged, plain", [
    ("SEC could approve a spot Solana ETF", "SEC approves a spot Solana ETF"),
    ("Bitcoin may rally after the halving", "Bitcoin rallies after the halving"),
    ("Binance reportedly hacked", "Binance hacked"),
    ("Ether might plunge, analysts say", "Ether plunges, analysts say"),
    ("Exchange said to be considering a delisting of XRP", "Exchange announces a delisting of XRP"),
])
def test_hedges_keep_the_direction_and_dampen_it(scorer, hedged, plain):
    h, p = scorer.score(hedged), scorer.score(plain)
    assert h * p > 0 and abs(h) < 0.8 * abs(p)
    assert h < NewsStrategyThreshold


NewsStrategyThreshold = 0.5  # the default strategies.news.entry_score


@pytest.mark.parametrize("text", [
    "Will the SEC approve a spot ether ETF?",
    "Is the bitcoin crash over?",
    "Could Solana hit a record high this year?",
    "Partnership with Visa? Not confirmed, foundation says",
])
def test_yes_no_questions_do_not_report_a_direction(scorer, text):
    assert abs(scorer.score(text)) < 0.25


def test_a_why_question_takes_the_move_as_given(scorer):
    assert scorer.score("Why is bitcoin crashing today?") < -0.2
    assert scorer.score("What's behind ether's surge?") > 0.2


@pytest.mark.parametrize("text, sign", [
    ("Rug pull drains memecoin investors", -1), ("SEC lawsuit targets exchange", -1), ("Stablecoin depegs", -1),
    ("Exchange receives Wells notice", -1), ("Coinbase listing for Solana token", +1), ("ETF approval for ether", +1),
    ("Fed rate cut lifts crypto", +1), ("Hotter than expected CPI hits bitcoin", -1),
])
def test_more_crypto_terms(scorer, vanilla, text, sign):
    assert sign * scorer.score(text) > 0.2
    assert sign * scorer.score(text) > sign * vanilla.polarity_scores(text)["compound"]
