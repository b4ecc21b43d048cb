"""Atomic documents and append-only logs, and how damage to them is recognised."""
import json
import os

import pytest

from bot.storage import CorruptFileError, JsonlWriter, atomic_write_json, iter_jsonl, read_json, read_jsonl, repair_torn_tail


def test_atomic_write_replaces_whole_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "state.json"
    atomic_write_json(path, {"a": 1})
    atomic_write_json(path, {"a": 2, "b": [1.5, "x"]})
    assert read_json(path) == {"a": 2, "b": [1.5, "x"]}
    assert os.listdir(tmp_path) == ["state.json"]


def test_read_json_missing_is_none_and_half_written_is_corrupt(tmp_path):
    assert read_json(tmp_path / "absent.json") is None
    path = tmp_path / "state.json"
    path.write_text('{"balances": {"binance": {"USDT": 10')
    with pytest.raises(CorruptFileError, match="not valid JSON"):
        read_json(path)


def test_jsonl_roundtrip_and_torn_last_line(tmp_path):
    path = tmp_path / "log.jsonl"
    writer = JsonlWriter(path)
    writer.append_many([{"n": 1}, {"n": 2}])
    writer.close()
    with open(path, "a") as handle:
        handle.write('{"n": 3, "par')  # the process died mid-append
    contents = read_jsonl(path)
    assert [r["n"] for r in contents.records] == [1, 2]
    assert contents.torn_tail == '{"n": 3, "par'
    repair_torn_tail(path, contents)
    assert path.read_text() == '{"n":1}\n{"n":2}\n'
    assert (tmp_path / "log.jsonl.torn").read_text() == '{"n": 3, "par\n'
    assert [r["n"] for r in iter_jsonl(path)] == [1, 2]


def test_jsonl_corrupt_middle_line_names_the_line_and_changes_nothing(tmp_path):
    path = tmp_path / "log.jsonl"
    original = '{"n":1}\nnot json\n{"n":3}\n'
    path.write_text(original)
    with pytest.raises(CorruptFileError) as info:
        read_jsonl(path)
    assert info.value.line == 2
    assert f"{path}:2" in str(info.value)
    assert path.read_text() == original


def test_complete_last_record_without_newline_is_kept_and_next_append_starts_fresh(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"n":1}\n{"n":2}')
    contents = read_jsonl(path)
    assert [r["n"] for r in contents.records] == [1, 2]
    repair_torn_tail(path, contents)
    JsonlWriter(path).append({"n": 3})
    assert [json.loads(line)["n"] for line in path.read_text().splitlines()] == [1, 2, 3]


def test_set_aside_keeps_every_damaged_copy(tmp_path):
    from bot.storage import set_aside

    path = tmp_path / "alerts.json"
    path.write_text("{broken 1")
    first = set_aside(path)
    path.write_text("{broken 2")
    second = set_aside(path)
    assert (first.name, second.name) == ("alerts.json.corrupt", "alerts.json.corrupt.2")
    assert first.read_text() == "{broken 1" and second.read_text() == "{broken 2"
    assert not path.exists()
