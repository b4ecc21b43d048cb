"""data/run_settings.json: the settings the last start of the bot on this data dir ran with.

Written at every start (atomic replace), read by the report, so a tearsheet made later from
the data dir states the settings that produced it rather than whatever config is at hand.
Secrets are not kept: the webhook URL (it may carry a token) and the values of
market.exchange_options (they may carry keys) are replaced by "(set)".
"""
from __future__ import annotations

from pathlib import Path

from bot.storage import atomic_write_json
from bot.storage_reading import read_json

RUN_SETTINGS_FILE = "run_settings.json"
RUN_SETTINGS_SCHEMA_VERSION = 1
REDACTED = "(set)"
# The sections a tearsheet shows (dashboard, storage and notifications say nothing about results).
REPORTED_SECTIONS = ("market", "portfolio", "execution", "risk", "analytics", "strategies", "engine")


def settings_document(config) -> dict:
    """The config as plain JSON with its secrets redacted."""
    data = config.model_dump(mode="json")
    options = data.get("market", {}).get("exchange_options") or {}
    data["market"]["exchange_options"] = {exchange: {key: REDACTED for key in values}
                                          for exchange, values in options.items()}
    if data.get("notifications", {}).get("webhook_url"):
        data["notifications"]["webhook_url"] = REDACTED
    return data


def write_run_settings(data_dir: str | Path, config, resume_tick: int, fsync: bool = True) -> None:
    """Record the settings of this start (raises StorageError when the disk refuses)."""
    atomic_write_json(Path(data_dir) / RUN_SETTINGS_FILE,
                      {"schema_version": RUN_SETTINGS_SCHEMA_VERSION, "resume_tick": resume_tick,
                       "config": settings_document(config)}, fsync=fsync)


def read_run_settings(data_dir: str | Path) -> dict | None:
    """The recorded settings document, or None when this data dir has none (CorruptFileError if damaged)."""
    return read_json(Path(data_dir) / RUN_SETTINGS_FILE)


def flatten(data: dict, prefix: str = "") -> list[tuple[str, object]]:
    """[("market.seed", 11), ...]: every leaf of a nested dict under its dotted key, in order."""
    rows: list[tuple[str, object]] = []
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows.extend(flatten(value, dotted + "."))
        else:
            rows.append((dotted, value))
    return rows
