"""CONVENTIONS.md: a docstring on every public class and function of bot/.

Public: a module-level class or function, or a method of a public class, whose name does not
start with an underscore. Functions nested inside functions are not public.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Files allowed to lack docstrings for a while (another branch editing them); empty now that every
# file of bot/ is documented. The lead adds a file here only with a follow-up that removes it.
NOT_YET_DOCUMENTED: set[str] = set()


def undocumented(source: str) -> list[str]:
    """Dotted names of the public definitions in source that have no docstring."""
    missing = []

    def visit(body, prefix: str) -> None:
        for node in body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if node.name.startswith("_"):
                continue
            if ast.get_docstring(node) is None:
                missing.append(prefix + node.name)
            if isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}{node.name}.")

    visit(ast.parse(source).body, "")
    return missing


def undocumented_by_file() -> dict[str, list[str]]:
    """bot/ file (relative path) -> its undocumented public definitions, for files that have some."""
    found = {}
    for path in sorted((ROOT / "bot").rglob("*.py")):
        missing = undocumented(path.read_text(encoding="utf-8"))
        if missing:
            found[path.relative_to(ROOT).as_posix()] = missing
    return found


def test_the_finder_sees_what_conventions_call_public():
    source = '''
def documented():
    """Yes."""
def bare(): pass
async def bare_async(): pass
def _private(): pass
class Thing:
    """Yes."""
    def __init__(self): pass
    @property
    def size(self): return 1
    def method(self):
        """Yes."""
        def nested(): pass
    class Inner:
        def deep(self): pass
class _Hidden:
    def method(self): pass
class Bare:
    x = 1
'''
    assert undocumented(source) == ["bare", "bare_async", "Thing.size", "Thing.Inner", "Thing.Inner.deep", "Bare"]


def test_every_public_definition_of_bot_has_a_docstring():
    missing = {path: names for path, names in undocumented_by_file().items() if path not in NOT_YET_DOCUMENTED}
    assert missing == {}


def test_the_allow_list_only_shrinks():
    # A listed file that is now fully documented must leave the list, so it stays documented.
    found = undocumented_by_file()
    done = sorted(path for path in NOT_YET_DOCUMENTED if (ROOT / path).exists() and path not in found)
    assert done == [], "fully documented now: remove from NOT_YET_DOCUMENTED"
