"""The import graph of bot/ and dashboard/ held to DESIGN.md's Layout rules (dependency direction).

Every import is read with ast, at any depth: module level, inside functions, under TYPE_CHECKING.
A module name covers its submodules: "bot.strategies" stands for bot.strategies.news too.
"""
from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

BOT, DASHBOARD, ENGINE = ("bot",), ("dashboard",), ("bot.engine",)
LIVE = ("bot.market.live", "bot.market.live_stream")  # ccxt (REST) and ccxt.pro (streams): one module each
STRATEGIES, CCXT = ("bot.strategies",), ("ccxt",)
WEB_LAYER = ("dashboard", "flask", "flask_socketio", "socketio", "engineio", "eventlet")
# Modules split out of bot/models.py: the same layer (value objects and their text), importable wherever it is.
VALUE_SIBLINGS = ("bot.timestamps", "bot.lookahead", "bot.ledger_entries")
# What a strategy may import from the project. Adding a name here is a design decision:
# strategies receive a snapshot and a read-only view and return Signals, nothing else.
STRATEGY_MAY_IMPORT = (
    "bot.models",                  # value objects and the views (PositionView, PortfolioView)
    *VALUE_SIBLINGS,               # value objects kept beside bot/models.py (times, lookaheads, ledger entries)
    "bot.config",                  # each strategy's typed parameters (pydantic models, no I/O)
    "bot.execution.fills", "bot.accounting.positions",  # pure arithmetic: book walks, wallet changes, average cost
    "bot.strategies.base",         # the Strategy interface
    "bot.strategies.common",       # pure helpers shared by the strategies
    "bot.strategies.indicators", "bot.strategies.cointegration", "bot.strategies.sentiment",
    "bot.strategies.arbitrage_math", "bot.strategies.stat_arb_pairs",
    # the fast-forward screens (quiet_ticks), pure arithmetic on a Lookahead
    "bot.strategies.arbitrage_screen", "bot.strategies.stat_arb_screen", "bot.strategies.news_screen",
    "bot.strategies.momentum_screen",
)
PURE_ARITHMETIC = ("bot.execution.fills", "bot.accounting.positions", "bot.strategies.common")
PURE_MAY_IMPORT = ("bot.models", *VALUE_SIBLINGS) + PURE_ARITHMETIC
# Third-party libraries a strategy or a pure module may use besides the standard library.
NUMERIC_LIBRARIES = ("numpy", "scipy", "statsmodels", "pandas",
                     "vaderSentiment")  # the news strategy's sentiment lexicon
BUILDERS = ("bot.strategies.registry", "bot.strategies.manager")  # build and run strategies; not strategies
ENTRY_POINTS = BUILDERS + ("bot.strategies.base",)  # what the engine may import of bot/strategies

ONLY, NEVER = "may import only", "never imports"


@dataclass(frozen=True)
class Rule:
    """Modules under `who` (minus `except_who`) import only / never `targets` (minus `except_targets`)."""

    name: str
    who: tuple[str, ...]
    except_who: tuple[str, ...]
    verdict: str
    targets: tuple[str, ...]
    except_targets: tuple[str, ...] = ()


# DESIGN.md's dependency direction, one rule a row; a sixth column exempts targets from a NEVER.
RULES = (
    #    name                                   who              except who           verdict targets
    Rule("bot/ knows no web layer",             BOT,             (),                  NEVER, WEB_LAYER),
    Rule("one module imports ccxt",             BOT + DASHBOARD, LIVE,                NEVER, CCXT),
    Rule("strategies stay pure",                STRATEGIES,      BUILDERS,            ONLY,  STRATEGY_MAY_IMPORT),
    Rule("pure arithmetic stays pure",          PURE_ARITHMETIC, (),                  ONLY,  PURE_MAY_IMPORT),
    Rule("only the engine reaches strategies",  BOT,             STRATEGIES + ENGINE, NEVER, STRATEGIES),
    Rule("engine: registry, manager, base",     ENGINE,          (),                  NEVER, STRATEGIES, ENTRY_POINTS),
)
# Arrows that break a rule today, each with the follow-up that removes it. The test fails when one
# is no longer needed, so this list only shrinks.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}
# Import edges that close a cycle today, each with why it is there.
KNOWN_CYCLE_EDGES = {
    # The config check asks ccxt's own list of exchange ids, and live.py is the one module that
    # imports ccxt; the import is inside the check, so it runs only once both modules are loaded.
    ("bot.config_rules", "bot.market.live"),
}


def covers(prefixes: tuple[str, ...], module: str) -> bool:
    """True when module is one of prefixes or inside one of them."""
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def project_sources(root: Path = ROOT) -> dict[str, tuple[str, bool]]:
    """Dotted module name -> (source text, is a package __init__) for every .py in bot/ and dashboard/."""
    sources = {}
    for top in ("bot", "dashboard"):
        for path in sorted((root / top).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            sources[".".join(parts)] = (path.read_text(encoding="utf-8"), is_package)
    return sources


def imports_of(module: str, source: str, is_package: bool, known: set[str]) -> set[str]:
    """Every module that source imports, wherever the import statement sits."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[:len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            for alias in node.names:
                # `from bot.strategies import news` imports the module bot.strategies.news.
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in known else base)
    return found


def import_graph(sources: dict[str, tuple[str, bool]]) -> dict[str, set[str]]:
    """Module -> every module it imports (project and third-party names alike)."""
    known = set(sources)
    return {module: imports_of(module, source, is_package, known)
            for module, (source, is_package) in sources.items()}


def _allowed_library(target: str) -> bool:
    top = target.split(".")[0]
    return top in sys.stdlib_module_names or top in NUMERIC_LIBRARIES


def breaks(rule: Rule, target: str) -> bool:
    """True when importing target breaks rule (for a module the rule applies to)."""
    if rule.verdict == NEVER:
        return covers(rule.targets, target) and not covers(rule.except_targets, target)
    if covers(("bot", "dashboard"), target):
        return not covers(rule.targets, target)
    return not _allowed_library(target)


def violations(graph: dict[str, set[str]]) -> list[tuple[str, str, str]]:
    """(importer, imported, rule name) for every arrow that breaks a rule."""
    found = []
    for rule in RULES:
        for importer in sorted(graph):
            if not covers(rule.who, importer) or covers(rule.except_who, importer):
                continue
            found.extend((importer, target, rule.name) for target in sorted(graph[importer]) if breaks(rule, target))
    return found


def cycles(graph: dict[str, set[str]], ignored: set[tuple[str, str]] = frozenset()) -> list[list[str]]:
    """The import cycles among bot modules (strongly connected groups, Tarjan), each sorted."""
    edges = {module: sorted(target for target in targets if target in graph and covers(("bot",), target)
                            and (module, target) not in ignored)
             for module, targets in graph.items() if covers(("bot",), module)}
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in edges[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while not group or group[-1] != module:
                group.append(stack.pop())
                on_stack.discard(group[-1])
            if len(group) > 1 or module in edges[module]:
                groups.append(sorted(group))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return sorted(groups)


def unexcused(graph: dict[str, set[str]]) -> list[tuple[str, str, str]]:
    """The violations that are not in KNOWN_VIOLATIONS."""
    return [found for found in violations(graph) if KNOWN_VIOLATIONS.get(found[:2]) != found[2]]


@pytest.fixture(scope="module")
def sources():
    return project_sources()


def test_imports_are_found_at_every_depth():
    source = (
        "import os, numpy.linalg\n"
        "from typing import TYPE_CHECKING\n"
        "from bot.strategies import news, not_a_module\n"
        "from . import sibling\n"
        "from ..models import Trade\n"
        "if TYPE_CHECKING:\n"
        "    from bot.engine import BotEngine\n"
        "def lazy():\n"
        "    class Inner:\n"
        "        def method(self):\n"
        "            import ccxt.async_support\n"
    )
    known = {"bot.strategies.news", "bot.market.sibling", "bot.models"}
    assert imports_of("bot.market.thing", source, False, known) == {
        "os", "numpy.linalg", "typing", "bot.strategies.news", "bot.strategies", "bot.market.sibling",
        "bot.models", "bot.engine", "ccxt.async_support"}
    # In a package's __init__, "." is the package itself.
    assert imports_of("bot.market", "from . import sibling", True, known) == {"bot.market.sibling"}


def test_the_tree_is_read(sources):
    # Guards the walk itself: a broken glob would make every rule pass on an empty graph.
    graph = import_graph(sources)
    assert {"bot.engine", "bot.strategies.news", "bot.market.live", "dashboard.app"} <= set(graph)
    assert "bot.strategies.registry" in graph["bot.engine"]  # imported inside a function
    assert "bot.market.live_parsing" in graph["bot.market.live_source"]
    assert "ccxt" in graph["bot.market.live"]


def test_every_arrow_follows_the_design(sources):
    assert unexcused(import_graph(sources)) == []


def test_no_import_cycles_among_bot_modules(sources):
    assert cycles(import_graph(sources), KNOWN_CYCLE_EDGES) == []


def test_known_exceptions_are_still_needed(sources):
    graph = import_graph(sources)
    found = {(importer, target): rule for importer, target, rule in violations(graph)}
    stale = {edge: rule for edge, rule in KNOWN_VIOLATIONS.items() if found.get(edge) != rule}
    assert stale == {}, "fixed: remove these from KNOWN_VIOLATIONS"
    for edge in KNOWN_CYCLE_EDGES:
        assert edge[1] in graph[edge[0]], f"{edge} is gone: remove it from KNOWN_CYCLE_EDGES"
        assert cycles(graph, KNOWN_CYCLE_EDGES - {edge}), f"{edge} no longer closes a cycle: remove it"


def test_the_rule_lists_name_modules_that_exist(sources):
    # A renamed module left in a list would silently widen or narrow a rule.
    named = set(STRATEGY_MAY_IMPORT) | set(PURE_ARITHMETIC) | set(ENTRY_POINTS)
    named |= {module for edge in list(KNOWN_VIOLATIONS) + list(KNOWN_CYCLE_EDGES) for module in edge}
    assert sorted(named - set(sources)) == []


MUTATIONS = [
    # (module, line added to its source, the rule or "cycle" that must catch it)
    ("bot.strategies.news", "import bot.engine", "strategies stay pure"),
    ("bot.strategies.momentum", "from bot.accounting.portfolio import PortfolioTracker", "strategies stay pure"),
    ("bot.strategies.stat_arb", "import requests", "strategies stay pure"),
    ("bot.execution.fills", "from bot.storage import append_line", "pure arithmetic stays pure"),
    ("bot.accounting.ledger", "from dashboard import app", "bot/ knows no web layer"),
    ("bot.notify.alerts", "def later():\n    import flask_socketio", "bot/ knows no web layer"),
    ("bot.market.simulator", "import ccxt", "one module imports ccxt"),
    ("dashboard.api", "import ccxt", "one module imports ccxt"),
    ("bot.accounting.statistics", "from bot.strategies.common import format_qty", "only the engine reaches strategies"),
    ("bot.engine", "from bot.strategies.news import NewsStrategy", "engine: registry, manager, base"),
    ("bot.storage", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import bot.accounting.ledger", "cycle"),
]


@pytest.mark.parametrize("module, added, catcher", MUTATIONS,
                         ids=[f"{m}:{a.splitlines()[-1].strip()}" for m, a, _ in MUTATIONS])
def test_a_forbidden_arrow_fails(sources, module, added, catcher):
    source, is_package = sources[module]
    mutated = dict(sources, **{module: (source + "\n" + added + "\n", is_package)})
    graph = import_graph(mutated)
    if catcher == "cycle":
        assert unexcused(graph) == []
        assert any(module in group for group in cycles(graph, KNOWN_CYCLE_EDGES))
    else:
        assert catcher in {rule for importer, _target, rule in unexcused(graph) if importer == module}
