"""The base of every config model and the error they raise, shared by bot/config.py and the
per-area config modules (bot/config_<area>.py) so each area keeps its settings beside each other."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConfigError(Exception):
    """A setting is missing, unknown or out of range; the message names the key."""


class ConfigModel(BaseModel):
    """Unknown keys are errors, assignments are validated, and no NaN or infinity passes."""

    # No NaN or infinity anywhere: they pass every range check and crash the first state write.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)
