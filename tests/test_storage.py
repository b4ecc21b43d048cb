"""Atomic documents and append-only logs, and how damage to them is recognised."""
import json
import os

import pytest

from bot.storage import JsonlWriter, atomic_write_json, repair_torn_tail
from bot.storage_reading import CorruptFileError, iter_jsonl, read_json, read_jsonl


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


# ----- storage faults: loud and lossless -------------------------------------------------------
def test_a_failed_jsonl_append_is_cut_back_and_raises_with_the_cause(tmp_path, monkeypatch):
    import bot.storage
    from bot.storage import StorageError
    from tests.disk import FullDisk

    path = tmp_path / "log.jsonl"
    writer = JsonlWriter(path)
    writer.append({"n": 1})
    disk = FullDisk(room=12)  # '{"n":2}\n' lands whole, '{"n":3}' in part
    monkeypatch.setattr(bot.storage, "os", disk)
    with pytest.raises(StorageError) as info:
        writer.append_many([{"n": 2}, {"n": 3}])
    assert info.value.cause == "No space left on device"
    assert str(info.value) == f"{path}: cannot append: No space left on device"
    assert path.read_bytes() == b'{"n":1}\n'
    disk.free()
    writer.append({"n": 4})  # nothing held back from the failed block reaches the file later
    writer.close()
    assert path.read_bytes() == b'{"n":1}\n{"n":4}\n'


def test_a_failed_atomic_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    import bot.storage
    from bot.storage import StorageError
    from tests.disk import FullDisk

    path = tmp_path / "state.json"
    atomic_write_json(path, {"a": 1})
    monkeypatch.setattr(bot.storage, "os", FullDisk(room=5))
    with pytest.raises(StorageError, match="cannot replace the file: No space left on device"):
        atomic_write_json(path, {"a": 2, "padding": "x" * 100})
    assert read_json(path) == {"a": 1}
    assert os.listdir(tmp_path) == ["state.json"]


def test_a_document_that_cannot_be_encoded_is_refused_before_any_file_is_made(tmp_path):
    path = tmp_path / "alerts.json"
    atomic_write_json(path, {"note": "ok"})
    with pytest.raises(UnicodeEncodeError):
        atomic_write_json(path, {"note": "\ud800"})
    assert read_json(path) == {"note": "ok"} and os.listdir(tmp_path) == ["alerts.json"]


def test_probe_write_leaves_nothing_and_reports_a_full_disk(tmp_path, monkeypatch):
    import bot.storage
    from bot.storage import StorageError, probe_write
    from tests.disk import FullDisk

    probe_write(tmp_path)
    assert os.listdir(tmp_path) == []
    monkeypatch.setattr(bot.storage, "os", FullDisk())
    with pytest.raises(StorageError, match="No space left on device"):
        probe_write(tmp_path)
    assert os.listdir(tmp_path) == []


def test_prepare_dir_names_the_path_and_the_cause(tmp_path):
    from bot.storage import StorageError, prepare_dir

    assert prepare_dir(tmp_path / "a" / "b", "data dir").is_dir()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError) as info:
        prepare_dir(blocker / "data", "data dir")
    assert str(info.value).startswith(f"{blocker / 'data'}: cannot use it as the data dir: ")
    assert "Not a directory" in str(info.value) or "exists" in str(info.value)


# ----- one process per data dir -----------------------------------------------------------------
def test_the_data_dir_lock_refuses_a_second_holder_and_names_the_pid(tmp_path):
    from bot.storage import DataDirInUse, DataDirLock

    first = DataDirLock(tmp_path)
    first.acquire()
    assert (tmp_path / ".lock").read_text() == f"{os.getpid()}\n"
    second = DataDirLock(tmp_path)
    with pytest.raises(DataDirInUse) as info:
        second.acquire()
    assert info.value.pid == os.getpid()
    assert str(tmp_path) in str(info.value) and f"PID {os.getpid()}" in str(info.value)
    assert not second.held
    first.release()
    second.acquire()  # released: the next one gets it
    second.release()


HOLD_LOCK = """
import sys, time
from bot.storage import DataDirLock
DataDirLock(sys.argv[1]).acquire()
print("locked", flush=True)
time.sleep(600)
"""


def test_a_lock_held_by_a_process_killed_with_sigkill_is_free_at_once(tmp_path):
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from bot.storage import DataDirInUse, DataDirLock

    root = Path(__file__).resolve().parents[1]
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp_path)], cwd=root, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(DataDirInUse) as info:
            DataDirLock(tmp_path).acquire()
        assert info.value.pid == holder.pid
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert holder.returncode == -signal.SIGKILL
    assert (tmp_path / ".lock").read_text() == f"{holder.pid}\n", "the stale file is still there"
    lock = DataDirLock(tmp_path)
    lock.acquire()  # ...and blocks nothing: the kernel dropped the flock with the process
    assert (tmp_path / ".lock").read_text() == f"{os.getpid()}\n"
    lock.release()
