"""The package's shape, held by a test: imports point one way, and the runtime never loads dev tooling.

Each room of ``bot/`` has a rank; a module may import its own room and rooms of lower rank, never a
higher one or another room of the same rank. ``bot.__main__`` (the launcher) is the one module outside
``bot.dev`` that may import it, and only inside a function, on the paths that run without credentials.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "bot"

# Lower ranks are more basic; a room may only import rooms of a lower rank (and itself).
RANKS: dict[str, float] = {
    "bot.errors": 0,
    "bot.runtime": 0,  # logs, metrics, tasks, rate limits, dedupe, secrets: leaves
    "bot.domain": 1,  # the clue, text safety, ids, locales: pure
    "bot.config": 2,
    "bot.store": 2.5,  # the alerts database (SQLAlchemy, Alembic): subscriptions, deliveries, the lease
    "bot.crm": 3,
    "bot.cache": 4,
    "bot.fleet": 4,  # Redis state shared by instances; wired to the cache by the composition root
    "bot.slack": 5,
    "bot.alerts": 5.5,  # new-clue poll and delivery: the CRM, the store and Slack's Web API together
    "bot.compose": 6,
    "bot.check": 6.5,  # python -m bot check: the composition root's CRM parts, Slack and Redis, tried
    "bot.web": 7,
    "bot.__main__": 8,
    "bot.dev": 9,  # sandbox CRM, playground, fake Slack, loopback servers, signed request builder
}
LAZY_ALLOWED = {("bot.__main__", "bot.dev")}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


# Every module but the top package (an empty __init__), by dotted name.
MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if _module_name(p) != "bot"}


def room(module: str) -> str:
    matches = [r for r in RANKS if module == r or module.startswith(r + ".")]
    if not matches:
        raise AssertionError(f"{module} is in no room: add it to RANKS in tests/test_layers.py")
    return max(matches, key=len)


def imports(path: Path) -> list[tuple[str, bool]]:
    """``(imported bot module, at module level)`` for every import of ``bot`` in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from bot.pkg import mod`` imports the submodule when there is one, else names of bot.pkg.
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                     for a in node.names]
        found += [(name, id(node) in top_level) for name in names if name == "bot" or name.startswith("bot.")]
    return found


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module: str) -> None:
    here = room(module)
    for target, top_level in imports(MODULES[module]):
        there = room(target)
        if there == here:
            continue
        if (here, there) in LAZY_ALLOWED:
            assert not top_level, f"{module} may import {target} only inside a function"
            continue
        assert RANKS[there] < RANKS[here], f"{module} ({here}) imports {target} ({there}): an upward edge"


def test_no_import_cycles() -> None:
    # Imports inside functions count: deferring one side of a cycle only hides it.
    graph = {m: {t for t, _ in imports(p) if t in MODULES} for m, p in MODULES.items()}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            raise AssertionError("import cycle: " + " -> ".join((*path[path.index(module):], module)))
        if module in done:
            return
        for target in graph[module]:
            visit(target, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())


@pytest.fixture(scope="module")
def entry_point_modules() -> list[str]:
    """What a fresh interpreter holds after importing the production entry points (``python -m bot serve``
    with credentials, and uvicorn's factory): one interpreter for both tests below."""
    code = "import sys, bot.__main__, bot.web.app, bot.compose; print(chr(10).join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return out.stdout.split()


def test_the_production_entry_points_load_no_dev_tooling(entry_point_modules: list[str]) -> None:
    assert "bot.compose" in entry_point_modules
    assert [m for m in entry_point_modules if m.startswith("bot.dev")] == []


def test_redis_is_loaded_only_with_redis_url(entry_point_modules: list[str]) -> None:
    """redis-py is ~150 ms of start-up: the entry points import it only when REDIS_URL asks for it."""
    assert [m for m in entry_point_modules if m == "redis" or m.startswith(("redis.", "bot.fleet"))] == []


def test_every_room_exists() -> None:
    """The table names real rooms (a renamed package must update it, not silently escape it)."""
    for name in RANKS:
        path = ROOT / Path(*name.split("."))
        assert path.is_dir() or path.with_suffix(".py").is_file(), name


def test_the_top_package_imports_nothing() -> None:
    """``bot/__init__.py`` is in no room: it imports nothing, so importing any room loads only that room."""
    assert imports(PACKAGE / "__init__.py") == []
