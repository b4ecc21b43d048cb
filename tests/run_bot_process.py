"""run_bot.py as a user runs it, for the command-line tests: one run, a headless fast run, a copy of a run."""
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bot(*args, timeout=180, **kwargs) -> subprocess.CompletedProcess:
    """run_bot.py with these arguments, from the repository root; its output captured as text."""
    return subprocess.run([sys.executable, "run_bot.py", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, **kwargs)


def headless(data, *extra, **kwargs) -> subprocess.CompletedProcess:
    """A --fast run without the dashboard on this data dir (logs beside it)."""
    return bot("--no-dashboard", "--fast", "--data-dir", data, "--log-dir", Path(data).parent / "logs", *extra,
               **kwargs)


def copy_of(ran, tmp_path) -> Path:
    """A test's own copy of a finished run's data dir (the run is deterministic: as if it ran here)."""
    data = tmp_path / "data"
    shutil.copytree(ran, data)
    return data
