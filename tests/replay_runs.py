"""Recorded simulator runs and their replays, for the replay fast-forward tests (files on disk)."""
from __future__ import annotations

import copy
import json
from pathlib import Path

from bot.config import parse_config
from bot.engine import BotEngine

# A market where every strategy acts within a thousand ticks: gaps between exchanges live long (no
# competition) and open often, headlines come often and buy big (the wallet they drain is refilled by a
# transfer at a later check), pairs are tested on a short window and taken as cointegrated up to p 0.9.
BUSY = {
    "market": {"seed": 5, "simulator": {"competition": {"enabled": False}, "news_per_hour": 40.0,
                                        "whales_per_hour": 10.0,
                                        "deviations": {"dislocations_per_hour": 30.0, "dislocation_bps": 60.0}}},
    "strategies": {"stat_arb": {"lookback_candles": 120, "entry_z": 1.2, "retest_minutes": 15.0, "p_value_max": 0.9},
                   "news": {"entry_score": 0.3, "holding_minutes": 10.0, "position_pct": 60.0,
                            "max_position_pct": 60.0},
                   "momentum": {"fast": 5, "slow": 12}},
}


def _merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def _storage(folder: Path) -> dict:
    return {"storage": {"data_dir": str(folder / "data"), "log_dir": str(folder / "logs"), "fsync": False},
            "dashboard": {"enabled": False}}


def record(folder: Path, ticks: int, settings: dict) -> Path:
    """A simulator run of `ticks` ticks recorded with --record; the recording's folder."""
    config = _merge(_merge(settings, _storage(folder)), {"recording": {"record": True}})
    engine = BotEngine(parse_config(config))
    engine.open()
    try:
        engine.run_fast(ticks)
    finally:
        engine.close()
    return engine.source.folder


def replay_engine(recording: Path, folder: Path, settings: dict, fast: bool) -> BotEngine:
    """An opened engine replaying the recording (replay.fast_forward as given)."""
    config = _merge(_merge(settings, _storage(folder)),
                    {"market": {"source": "replay"}, "recording": {"path": str(recording)},
                     "replay": {"fast_forward": fast}})
    engine = BotEngine(parse_config(config))
    engine.open()
    return engine


def replay(recording: Path, folder: Path, settings: dict, fast: bool) -> int:
    """Replay the recording to its end; the ticks skipped in bulk."""
    engine = replay_engine(recording, folder, settings, fast)
    try:
        engine.run_fast(None)
    finally:
        engine.close()
    return engine.fast_forward.skipped if engine.fast_forward is not None else 0


def outputs(folder: Path) -> dict:
    """What a run wrote, read from disk: the ledger, equity and misses files as bytes, the state file
    less its wall-clock time, the activity log and notifications less wall-clock fields."""
    data, logs = folder / "data", folder / "logs"
    state = json.loads((data / "portfolio_state.json").read_text())
    state.pop("last_updated", None)

    def lines(path: Path, drop: tuple[str, ...]) -> list[dict]:
        out = []
        for line in path.read_text().splitlines() if path.exists() else ():
            record = json.loads(line)
            for key in drop:
                record.pop(key, None)
            out.append(record)
        return out

    return {"trades": (data / "trades.jsonl").read_bytes(), "equity": (data / "equity.jsonl").read_bytes(),
            "misses": (data / "misses.jsonl").read_bytes() if (data / "misses.jsonl").exists() else b"",
            "state": state, "activity": lines(logs / "activity.jsonl", ("ts", "data_dir")),
            "notifications": lines(logs / "notifications.jsonl", ("ts", "id"))}
