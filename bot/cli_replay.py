"""The replay's start-up check: a recording that cannot be replayed is refused before anything is written."""
from __future__ import annotations

from bot.config import BotConfig


def replay_problem(config: BotConfig) -> str | None:
    """One line naming the recording and what is wrong with it, or None when it can be replayed.

    Runs before the log and data dirs are made, so a refused replay leaves no file behind.
    """
    if config.market.source != "replay":
        return None
    if not config.recording.path:
        return "recording.path: --market replay needs a recording (--recording DIR, made with --record)"
    from bot.market.recording_format import RecordingError, open_recording

    try:
        open_recording(config.recording.path)
    except RecordingError as exc:
        return f"--recording: {exc}"
    return None
