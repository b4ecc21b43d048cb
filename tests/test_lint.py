"""Static checks over our own Python: undefined names, unused imports, and the layering rules."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_pyflakes_finds_nothing():
    result = subprocess.run([sys.executable, "-m", "pyflakes", "bot", "dashboard", "bench", "tests", "run_bot.py"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.stdout == "", result.stdout


def test_the_engine_never_imports_the_web_layer():
    pattern = re.compile(r"^\s*(from|import)\s+(flask|flask_socketio|dashboard|eventlet)\b", re.MULTILINE)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "bot").rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_only_the_live_source_imports_ccxt():
    pattern = re.compile(r"^\s*(from|import)\s+ccxt\b", re.MULTILINE)
    importers = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "bot").rglob("*.py") if pattern.search(p.read_text()))
    # live.py holds ccxt's REST side, live_stream.py its streaming side (ccxt.pro), nothing else.
    assert importers == ["bot/market/live.py", "bot/market/live_stream.py"]
