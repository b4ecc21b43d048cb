"""The fast-forward's margin cut (bot/fast_margin.py) against the books stepped tick by tick: the first
tick it names is never after the first margin call or borrow bill the BooksKeeper books, and it is that
very tick when the price path is not within the margin of the maintenance level."""
from __future__ import annotations

import numpy as np

from bot.fast_margin import first_margin_tick, margin_idle
from bot.lookahead import Lookahead, MarketAhead
from tests.books_setup import flat_book
from tests.builders import T0
from tests.test_margin import XRP, lines, short_books, tick


def path_lookahead(mids: list[float], start_ts: float) -> Lookahead:
    """The quotes market_at gives for these mids, one tick a second from start_ts."""
    bids = np.array([flat_book(mid, qty=50.0)[0][0][0] for mid in mids])
    asks = np.array([flat_book(mid, qty=50.0)[1][0][0] for mid in mids])
    return Lookahead(0, start_ts + np.arange(len(mids), dtype=float), np.zeros(len(mids), dtype=bool),
                     {XRP: MarketAhead(bids, np.zeros(len(mids), dtype=np.int64), np.empty(0), asks)})


def first_booked(books, mids: list[float], start_ts: float) -> int:
    """Step the keeper over the path; the index of the first tick on which it booked anything."""
    before = len(lines(books.path))
    for j, mid in enumerate(mids):
        tick(books, mid, start_ts + j)
        if len(lines(books.path)) != before:
            return j
    return len(mids)


def test_the_cut_is_the_first_margin_call(tmp_path):
    books = short_books(tmp_path, usdt=300.0)
    books.path = tmp_path
    mids = list(np.linspace(2.0, 2.6, 300))  # the short's level falls through 1.25 on the way
    lookahead = path_lookahead(mids, T0 + 10)
    assert margin_idle(books.keeper, books.tracker)
    cut = first_margin_tick(books.keeper, books.tracker, lookahead, len(mids))
    called = first_booked(books, mids, T0 + 10)
    assert called < len(mids) and cut == called
    assert any(line.get("kind") == "margin_call" for line in lines(tmp_path))


def test_the_cut_is_the_first_borrow_bill(tmp_path):
    books = short_books(tmp_path, usdt=1000.0)  # plenty of collateral: no call, only the hourly bill
    books.path = tmp_path
    mids = [2.0] * 4000
    lookahead = path_lookahead(mids, T0 + 1)
    cut = first_margin_tick(books.keeper, books.tracker, lookahead, len(mids))
    billed = first_booked(books, mids, T0 + 1)
    assert billed < len(mids) and cut == billed
    assert lines(tmp_path)[-1]["entry"] == "borrow_fee"
