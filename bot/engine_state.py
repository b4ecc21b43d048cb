"""EngineState: the engine's states, which user changes lead where, and what each arrival records."""
from __future__ import annotations

from enum import StrEnum


class EngineState(StrEnum):
    """What the engine is doing. A str-Enum, so JSON, the API and the state file carry the plain
    strings ("running", ...) and a member compares equal to its string."""

    RUNNING = "running"  # the market moves and the strategies trade
    PAUSED = "paused"    # the market moves and positions are marked; no trading
    STOPPED = "stopped"  # the market is halted too; start() goes on from here
    CLOSED = "closed"    # close() has run: files closed, data dir let go

    @property
    def holds_a_reason(self) -> bool:
        """Paused and stopped say why (pause_reason); running and closed do not."""
        return self in (EngineState.PAUSED, EngineState.STOPPED)


# A user's change_state(target) applies only from these states.
ALLOWED_FROM = {
    EngineState.RUNNING: (EngineState.PAUSED, EngineState.STOPPED),
    EngineState.PAUSED: (EngineState.RUNNING,),
    EngineState.STOPPED: (EngineState.RUNNING, EngineState.PAUSED),
}
# The activity-log event recorded on arriving in a state.
ARRIVAL_EVENT = {
    EngineState.RUNNING: "bot_resumed",
    EngineState.PAUSED: "bot_paused",
    EngineState.STOPPED: "bot_halted",
}
