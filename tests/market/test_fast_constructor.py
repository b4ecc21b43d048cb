"""The hot paths' positional constructors (the sources' quotes, snapshots, books and lookaheads, the
executor's fills): the same objects as the dataclass's own __init__, and still the fast path after a
field is added at the end (a new `received` field on Quote once sent every quote through the keyword
fallback: +60 us a tick, caught by a bench)."""
from bot import models
from bot.execution import executor, fills
from bot.market import candle_source, replay
from bot.models import Quote


def test_the_fast_quote_is_the_dataclass_quote_with_its_later_defaults():
    values = ("binance", "BTC/USDT", 100.0, 100.5, 100.2, 1.5, 2.5, 1_767_225_600.0, -0.3)
    for make in (models.new_quote, replay._new_quote):
        assert make(*values) == Quote(*values)
        assert make(*values).received == 0.0


def test_no_constructor_fell_back_to_keywords():
    # The fallback is a lambda; the fast path is generated as make().
    for make in (models.new_quote, models.new_snapshot, replay._new_quote, candle_source._new_book,
                 candle_source._new_ahead, candle_source._new_lookahead, executor._new_fill, executor._new_result,
                 fills._new_amounts):
        assert make.__name__ == "make"
