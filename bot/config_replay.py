"""replay: settings of a recording's replay beyond the recording section (bot/market/replay.py)."""
from __future__ import annotations

from bot.config_base import ConfigModel


class ReplayConfig(ConfigModel):
    """How a --market replay --fast run goes through the recording."""

    # Skip, in bulk, the ticks no strategy can act on (bot/fast_forward.py); results are identical either way.
    fast_forward: bool = True
