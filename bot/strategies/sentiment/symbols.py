"""Which configured symbols a headline is about: coin names and tickers, whole words only.

Tickers are case-sensitive (SOL, not "sol") except BTC, ETH and XRP, which are no English word;
names that are also ordinary words (Ether, Ripple, Avalanche) count only when capitalised; "Ada"
is a first name, never the ADA ticker; names of other coins that contain a mapped name
("Bitcoin Cash", "Ethereum Classic") map to their own ticker, never to BTC or ETH.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable

from bot.strategies.common import usdt_symbols

MAX_MAPPED_CHARS = 2_000

# Names by ticker. "Cap:" marks a name that is also an everyday word: it counts only as
# "Ether" or "ETHER", never "ether". Other names match in any case; a ticker listed as a name
# also matches in lower case ("btc"), which only tickers that are no English word may do.
ASSET_NAMES: dict[str, tuple[str, ...]] = {
    "BTC": ("Bitcoin", "XBT", "BTC"),
    "ETH": ("Ethereum", "Cap:Ether", "ETH"),
    "SOL": ("Solana",),
    "XRP": ("Cap:Ripple", "XRP"),
    "ADA": ("Cardano",),
    "BNB": ("BNB Chain", "Binance Coin"),
    "DOGE": ("Dogecoin",),
    "LTC": ("Litecoin",),
    "DOT": ("Polkadot",),
    "LINK": ("Chainlink",),
    "AVAX": ("Cap:Avalanche",),
    "MATIC": ("Cap:Polygon",),
    "TRX": ("Cap:Tron",),
    "SHIB": ("Shiba Inu",),
    "ATOM": ("Cosmos",),
    "XLM": ("Stellar",),
    "UNI": ("Uniswap",),
    "NEAR": ("NEAR Protocol",),
    # Other coins whose names contain a name above: they map to themselves (usually to nothing).
    "BCH": ("Bitcoin Cash",),
    "BSV": ("Bitcoin SV",),
    "WBTC": ("Wrapped Bitcoin",),
    "ETC": ("Ethereum Classic",),
    "ETHW": ("EthereumPoW", "Ethereum PoW"),
}


class SymbolMapper:
    """Finds which configured USDT symbols a text is about, by coin name and ticker."""

    def __init__(self, symbols: Iterable[str]):
        self.symbol_by_base: dict[str, str] = usdt_symbols(symbols)
        self._order = {symbol: i for i, symbol in enumerate(self.symbol_by_base.values())}
        # alias -> base; exact aliases are compared as written, folded ones in lower case.
        self._exact: dict[str, str] = {}
        self._folded: dict[str, str] = {}
        alternatives: list[tuple[str, str]] = []  # (alias, regex)
        bases = set(ASSET_NAMES) | set(self.symbol_by_base)
        for base in bases:
            if base.isalnum():
                self._exact[base] = base  # tickers: case-sensitive
                alternatives.append((base, re.escape(base)))
            for name in ASSET_NAMES.get(base, ()):
                capitalised_only = name.startswith("Cap:")
                name = name.removeprefix("Cap:")
                words = r"\s+".join(re.escape(word) for word in name.split())
                if capitalised_only:
                    for form in (name, name.upper()):
                        self._exact[form] = base
                    alternatives.append((name, f"(?:{words}|{words.upper()})"))
                else:
                    self._folded[name.lower()] = base
                    alternatives.append((name, f"(?i:{words})"))
        alternatives.sort(key=lambda pair: -len(pair[0]))
        body = "|".join(regex for _, regex in alternatives)
        self._pattern = re.compile(rf"(?<!\w)(?:{body})(?!\w)") if body else None

    def symbols_for(self, text: object, tagged: Iterable[str] = ()) -> tuple[str, ...]:
        """Configured USDT symbols named in text, unioned with a source's own tags, in config order.

        A tag may be a symbol ("SOL/USDT", "SOL/BTC") or a bare ticker ("SOL"); either names
        the asset, which trades here against USDT.
        """
        found: set[str] = set()
        for tag in tagged or ():
            if isinstance(tag, str):
                symbol = self.symbol_by_base.get(tag.partition("/")[0].strip().upper())
                if symbol is not None:
                    found.add(symbol)
        if isinstance(text, str) and self._pattern is not None:
            for match in self._pattern.finditer(text[:MAX_MAPPED_CHARS]):
                alias = " ".join(match.group().split())
                base = self._exact.get(alias) or self._folded.get(alias.lower())
                symbol = self.symbol_by_base.get(base) if base else None
                if symbol is not None:
                    found.add(symbol)
        return tuple(sorted(found, key=self._order.__getitem__))


@lru_cache(maxsize=32)
def _mapper(symbols: tuple[str, ...]) -> SymbolMapper:
    return SymbolMapper(symbols)


def symbols_for(text: object, symbols: Iterable[str], tagged: Iterable[str] = ()) -> tuple[str, ...]:
    """The configured USDT symbols a headline is about (see SymbolMapper.symbols_for)."""
    return _mapper(tuple(symbols)).symbols_for(text, tagged)
