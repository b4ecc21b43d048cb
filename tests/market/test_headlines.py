"""The simulated headline generator (bot/market/headlines.py): variety, and tones that match the text."""
from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from bot.market.headline_words import SLOTS
from bot.market.headlines import HeadlineGenerator, template_phrases
from bot.market.sim_news import NAMES

# The first 45 headlines of random.Random(2024), one coin after another in NAMES order, with the
# tone a reader gives each (labelled by reading the text, not the generator's code).
HAND_LABELLED = [
    (+1, "BTC's Atlas upgrade goes live on mainnet without incident"),
    (0, "Ether breaks out above a key resistance level, but Gemini will delist ether margin pairs"),
    (-1, "SOL might retreat after the Fed signals rates will stay higher for longer, researchers at a crypto fund say"),
    (+1, "'Expect Argentina to legalise Ripple as a means of payment,' a veteran macro trader tells clients"),
    (+1, "ADA breaks out above a key resistance level, a filing shows"),
    (+1, "'SEC will grant Coinbase a licence covering BNB,' a veteran macro trader says"),
    (+1, "Brazil will not outlaw dogecoin trading for residents by the summer"),
    (+1, "Flash: Litecoin's foundation lands a tie-up with Societe Generale"),
    (-1, "BNY Mellon refuses to select DOT to settle payroll in 14 markets"),
    (0, "Brazil legalises Chainlink as a means of payment, but Bitstamp goes offline mid-session, stranding "
        "Chainlink traders"),
    (+1, "Avalanche's Lisbon upgrade might go live on mainnet without incident, researchers at a crypto fund say"),
    (+1, "BTC climbs after Treasury yields pull back despite reports of a bridge exploit"),
    (+1, "Bitfinex rolls out Ethereum perpetual futures, people familiar with the matter say"),
    (+1, "'Expect KuCoin to roll out SOL perpetual futures,' a Bernstein strategist tells clients"),
    (+1, "Here's why a Texas energy firm adds $2.4 billion of XRP to its balance sheet"),
    (-1, "JPMorgan denies plans to select Cardano to settle tokenised deposits"),
    (-1, "Bitstamp could freeze BNB deposits pending a review"),
    (-1, "DOGE's top lending protocol is said to be ready to be drained of $2.4 billion through a flash-loan attack"),
    (-1, "'Hong Kong's SFC will file suit against KuCoin over LTC staking,' the exchange's chief executive says"),
    (-1, "DOT's foundation refuses to land a tie-up with Visa"),
    (+1, "SEC approves Franklin Templeton's spot LINK exchange-traded fund"),
    (0, "AVAX community debates a change to its fee market"),
    (0, "Bitcoin Community Debates A Change To Its Fee Market"),
    (0, "Ether Breaks Out Above A Key Resistance Level; Meanwhile, Coinbase Confirms A $48 Million Hack Of Its "
        "Ether Hot Wallet"),
    (0, "SOL trades in a narrow band ahead of the Fed decision"),
    (+1, "'A federal judge will throw out the case against OKX over XRP,' a former SEC commissioner says"),
    (-1, "Prosecutors charge ADA promoters with wire fraud"),
    (+1, "Bitfinex denies plans to pull BNB Chain from its spot market"),
    (0, "Dogecoin ETFs log $2.4 billion in net inflows for a fifth straight day even as dogecoin holders are hit "
        "by a wallet-draining phishing wave"),
    (-1, "Kraken pulls LTC from its spot market, a filing shows"),
    (0, "Polkadot core developers set the agenda for their next call"),
    (+1, "ESMA refuses to order Coinbase to wind up its Chainlink staking service"),
    (+1, "Kraken won't pull AVAX from its spot market"),
    (-1, "Standard Chartered Won't Select BTC To Settle Merchant Payouts"),
    (+1, "ETH jumps 18% to a 6-week peak"),
    (+1, "Singapore's MAS won't order Binance to wind up its SOL staking service"),
    (+1, "XRP firms on bets that the dollar has topped out"),
    (-1, "Hackers exploit a signing flaw to take $2.4 billion in Cardano from Binance"),
    (+1, "The exchange's chief executive: 'A Nasdaq-listed miner will add $12 million of BNB to its balance sheet'"),
    (0, "DOGE community debates a change to its fee market"),
    (-1, "Explainer: why Argentina outlaws LTC trading for residents"),
    (-1, "DOT may weaken on fears that the Fed will hike again by the summer"),
    (0, "LINK developers publish minutes of their latest meeting"),
    (-1, "'Expect Argentina to outlaw AVAX trading for residents,' a former SEC commissioner tells clients"),
    (+1, "BTC climbs after US inflation undershoots forecasts"),
]


def generate(count: int, seed: int):
    generator, rng, coins = HeadlineGenerator(), random.Random(seed), list(NAMES)
    return [generator.make(NAMES[coins[i % len(coins)]], rng) for i in range(count)]


@pytest.fixture(scope="module")
def sample():
    return generate(5000, seed=11)


def test_tones_match_hand_labels():
    made = generate(len(HAND_LABELLED), seed=2024)
    assert [(h.tone, h.title) for h in made] == HAND_LABELLED


def test_weights_follow_the_framing():
    for h in generate(2000, seed=5):
        assert 0.0 <= h.weight <= 1.0
        if h.tone == 0:
            assert h.weight == 0.0
        if h.framing == "plain":
            assert h.weight == 1.0
        if h.framing in ("hedged", "quote", "denial", "negated"):
            assert 0.0 < h.weight < 1.0  # told with less certainty than a plain report


def structure(title: str) -> str:
    """The title with every filler and coin alias replaced by a placeholder: its sentence structure."""
    fillers = {value for values in SLOTS.values() for value in values} | {a for names in NAMES.values() for a in names}
    text = title.lower()
    for value in sorted(fillers, key=len, reverse=True):
        text = re.sub(rf"(?<![\w$]){re.escape(value.lower())}(?!\w)", "#", text)
    return text


def test_many_distinct_structures_and_every_framing(sample):
    structures = {structure(h.title) for h in sample}
    assert len(structures) > 300
    framings = Counter(h.framing for h in sample)
    assert set(framings) == {"plain", "attributed", "hedged", "negated", "question", "quote", "denial", "explainer",
                             "despite", "mixed", "neutral"}
    assert min(framings.values()) > 50
    assert {h.family for h in sample} >= {"etf", "hack", "listing", "macro", "partnership", "outage", "lawsuit",
                                          "regulation", "flows", "price", "upgrade", "neutral", "mixed"}


def test_the_words_of_each_category_appear(sample):
    text = " ".join(h.title for h in sample)
    lowered = text.lower()
    for word in ("etf", "hack", "exploit", "delisting", "lawsuit", "partnership", "outage", "cpi", "rate",
                 "inflows", "licence", "legalise", "won't", "will not", "unlikely", "could", "might", "may",
                 "denies", "despite", "?", "'"):
        assert word in lowered, word
    for alias in NAMES["BTC"] + NAMES["ETH"]:
        assert re.search(rf"(?<!\w){re.escape(alias)}(?!\w)", text), alias


def test_questions_and_mixed_news_carry_no_tone(sample):
    for h in sample:
        if h.title.endswith("?"):
            assert h.tone == 0 and h.framing == "question"
    assert all(h.tone == 0 for h in sample if h.framing in ("mixed", "neutral", "question"))
    tones = Counter(h.tone for h in sample)
    assert min(tones.values()) > 1000  # each of +1, -1 and 0 is common


def test_template_phrases_cover_the_fixed_text():
    phrases = template_phrases()
    for fixed in ("as redemptions mount", "on mainnet without incident", "said to be ready to",
                  "the fed trims its policy rate by a quarter point", "people familiar with the matter say"):
        assert any(fixed in phrase for phrase in phrases), fixed
    assert all(len(p.split()) >= 3 for p in phrases)
    assert len(phrases) > 100
