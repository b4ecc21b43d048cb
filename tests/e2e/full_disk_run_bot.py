"""run_bot.py with a disk that fills up on request, for disk-full tests that cannot mount a tmpfs.

    python tests/e2e/full_disk_run_bot.py FLAG_FILE DATA_DIR run_bot-arguments...

While FLAG_FILE exists, every os.write that bot.storage makes to a file under DATA_DIR fails
with ENOSPC (a short write first, as a nearly full disk does); remove FLAG_FILE to give the
space back. Only bot.storage is affected, the storage layer the bot writes its data dir
through; the rest of run_bot.py runs unchanged, eventlet included (nothing here imports
threading before run_bot.py monkey-patches).
"""
import importlib.abc
import importlib.machinery
import os
import runpy
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class FlagDisk:
    """bot.storage's `os`: full while the flag file exists, for files under the data dir."""

    def __init__(self, real_os, flag: str, data_dir: str):
        self._os = real_os
        self._flag = flag
        self._data_dir = os.path.realpath(data_dir)

    def __getattr__(self, name):
        return getattr(self._os, name)

    def write(self, fd, data):
        if self._os.path.exists(self._flag):
            target = self._os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(self._data_dir):
                if len(data) > 1:
                    return self._os.write(fd, bytes(data[: len(data) // 2]))
                raise OSError(28, "No space left on device")
        return self._os.write(fd, data)


class PatchStorage(importlib.abc.MetaPathFinder):
    """After bot.storage is imported, give it the FlagDisk."""

    def __init__(self, flag: str, data_dir: str):
        self.flag, self.data_dir = flag, data_dir

    def find_spec(self, fullname, path, target=None):
        if fullname != "bot.storage":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        original = spec.loader.exec_module
        flag, data_dir = self.flag, self.data_dir

        def exec_module(module):
            original(module)
            module.os = FlagDisk(module.os, flag, data_dir)

        spec.loader.exec_module = exec_module
        return spec


if __name__ == "__main__":
    flag_file, data_dir, *arguments = sys.argv[1:]
    sys.meta_path.insert(0, PatchStorage(flag_file, data_dir))
    sys.path.insert(0, REPO)
    sys.argv = [os.path.join(REPO, "run_bot.py"), *arguments]
    runpy.run_path(sys.argv[0], run_name="__main__")
