"""Cheap copies on the fill path equal what dataclasses would build: Signal.as_sent is
dataclasses.replace(signal, strategy=..., id=...), the original untouched; round_step with its
per-step digits remembered gives the same amounts as computing them each time."""
import dataclasses
import math

from bot.models import Leg, Signal, round_step


def test_as_sent_is_replace_and_leaves_the_signal_alone():
    legs = (Leg("binance", "BTC/USDT", "buy", 1.5, 100.0), Leg("kraken", "BTC/USDT", "sell", 1.5, 101.0, 100.5))
    signal = Signal(strategy="", kind="cross_exchange", legs=legs, reason="gap", expected_profit_usdt=1.25,
                    expected_profit_pct=0.4, confidence=0.7, closes_position=True)
    sent = signal.as_sent("arbitrage", "arbitrage-7-1")
    assert sent == dataclasses.replace(signal, strategy="arbitrage", id="arbitrage-7-1")
    assert type(sent) is Signal and sent is not signal
    assert (signal.strategy, signal.id) == ("", "")
    assert all(getattr(sent, f.name) is getattr(signal, f.name) for f in dataclasses.fields(Signal)
               if f.name not in ("strategy", "id"))


def _round_step_each_time(value: float, step: float) -> float:
    units = math.floor(value / step + 1e-9)
    decimals = max(0, -int(math.floor(math.log10(step))) + 1) if step < 1 else 0
    return round(units * step, decimals + 8)


def test_round_step_with_remembered_digits_is_the_formula():
    for step in (1e-8, 0.001, 0.01, 0.1, 0.125, 0.5, 1.0, 2.0, 5, 10.0, 0.00025):
        for value in (0.0, 0.3, 1.23456789, 7.5, 1234.5678, 1e-7, 99.99999999):
            for _ in range(2):  # the first call remembers the step's digits, the second uses them
                assert repr(round_step(value, step)) == repr(_round_step_each_time(value, step)), (value, step)
    assert round_step(3.7, 0.0) == 3.7 and round_step(3.7, -1.0) == 3.7
