"""The import rules of ARCHITECTURE.md, enforced: which layer may import which, and no
import cycle between finews's modules.

The graph is read from the source (AST), so it counts what a test run would not see: an
import inside a function, ``importlib.import_module("finews.…")``, and a ``"finews.x:name"``
string that a module loads lazily (``cli.py``'s subcommands).

The store split of issue #16 removed the last violations and cycles, so both lists below are
empty; the test fails on any violation not listed, and also when a listed one is gone, so
that the lists only shrink.

Tests hold to the same public surface: they import no private name of finews (a name with
one leading underscore) and patch none, so code can move without tests reaching into it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import finews

SRC = Path(finews.__file__).parent
TESTS = Path(__file__).parent
#: the command line: cli.py, its command modules and its lazily loaded siblings
CLI = (
    "finews.cli",
    "finews.cli_context",
    "finews.fetch_cli",
    "finews.sources_cli",
    "finews.archive_cli",
    "finews.site_cli",
    "finews.settings_cli",
    "finews.feeds_cli",
    "finews.probe_cli",
    "finews.search_cli",
    "finews.alerts.cli",
)
#: what runs the stages: it may import everything, nothing below may import it
ORCHESTRATION = (
    "finews.refresh",
    "finews.reparse",
    "finews.importing",
    "finews.daemon",
    "finews.demo",
    *CLI,
)

#: (who, may not import any of): module prefixes
RULES: list[tuple[tuple[str, ...], tuple[str, ...]]] = [
    # pure stages: bytes and values in, values out (the Jekyll post format too: its
    # export writes in publish/, its import runs in importing.py)
    (
        ("finews.sources", "finews.normalize", "finews.process", "finews.jekyll"),
        ("finews.fetch", "finews.store", "finews.publish", *ORCHESTRATION),
    ),
    # settings are read before anything runs
    (("finews.config",), ("finews.fetch", "finews.store", "finews.publish", *ORCHESTRATION)),
    # the network, and only that: validators and state arrive as arguments
    (("finews.fetch",), ("finews.store", "finews.publish", *ORCHESTRATION)),
    # the SQL layer: it stores, others compute (derive is handed to it when it is opened)
    (
        ("finews.store",),
        ("finews.process", "finews.derive", "finews.publish", "finews.fetch", *ORCHESTRATION),
    ),
    # readers of the change log: they compute from the store's items and write through it
    (("finews.derive",), ("finews.fetch", "finews.publish", *ORCHESTRATION)),
    # read-only consumers of the store: publishing never fetches
    (("finews.publish",), ("finews.fetch", *ORCHESTRATION)),
    # rules and alerts: a reader of the change log and a sender; they never fetch (Apprise
    # is their network) and are driven by the daemon and the CLI, not the reverse
    (("finews.alerts",), ("finews.fetch", *[m for m in ORCHESTRATION if m != "finews.alerts.cli"])),
]

#: violations of RULES that today's code has (importer, imported): remove a line when its
#: import goes; never add one
KNOWN_VIOLATIONS: set[tuple[str, str]] = set()

#: import cycles that today's code has (each as its set of modules): same rule as above;
#: none is left
KNOWN_CYCLES: set[frozenset[str]] = set()

_LAZY = re.compile(r"(finews(?:\.\w+)*):\w+")


def _modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The finews module ``name`` is in (``finews.store.Store`` → ``finews.store``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imported(module: str, path: Path) -> Iterator[str | None]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (_resolve(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield full if full in MODULES else _resolve(base)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
            if name == "import_module" and node.args and isinstance(node.args[0], ast.Constant):
                yield _resolve(str(node.args[0].value))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            lazy = _LAZY.fullmatch(node.value)
            if lazy:
                yield _resolve(lazy[1])


def _graph() -> dict[str, set[str]]:
    graph = {}
    for module, path in MODULES.items():
        found = {name for name in _imported(module, path) if name and name.startswith("finews")}
        graph[module] = found - {module}
    return graph


GRAPH = _graph()


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _violations() -> set[tuple[str, str]]:
    return {
        (module, target)
        for who, banned in RULES
        for module, targets in GRAPH.items()
        if _within(module, who)
        for target in targets
        if _within(target, banned)
    }


def _cycles() -> set[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(GRAPH[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == node:
                    break
            if len(component) > 1:
                found.add(frozenset(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_imports_in_functions_and_lazy_strings() -> None:
    # config/specs.py imports the source registry inside a function; cli.py names its siblings
    # in strings
    assert "finews.sources" in GRAPH["finews.config.specs"]
    assert "finews.normalize.times" in GRAPH["finews.search_cli"]
    assert {"finews.search_cli", "finews.daemon.command"} <= GRAPH["finews.cli"]
    assert "finews.store.validators" in GRAPH["finews.refresh"]


def test_layers_import_only_what_they_may() -> None:
    found = _violations()
    assert sorted(found - KNOWN_VIOLATIONS) == [], "new imports against ARCHITECTURE.md's rules"
    assert sorted(KNOWN_VIOLATIONS - found) == [], "gone: remove them from KNOWN_VIOLATIONS"


def test_no_new_import_cycles() -> None:
    found = _cycles()
    assert sorted(map(sorted, found - KNOWN_CYCLES)) == [], "new import cycles"
    assert sorted(map(sorted, KNOWN_CYCLES - found)) == [], "gone: remove from KNOWN_CYCLES"


def test_rules_catch_a_violation() -> None:
    # the checker itself: a pure stage importing the store, and a two-module cycle
    GRAPH["finews.process.index"].add("finews.store.base")
    GRAPH["finews.store.base"].add("finews.store.leases")
    GRAPH["finews.store.leases"].add("finews.store.base")
    try:
        assert ("finews.process.index", "finews.store.base") in _violations()
        assert any({"finews.store.base", "finews.store.leases"} <= c for c in _cycles())
    finally:
        GRAPH["finews.process.index"].discard("finews.store.base")
        GRAPH["finews.store.base"].discard("finews.store.leases")
        GRAPH["finews.store.leases"].discard("finews.store.base")


def _private_uses(tree: ast.AST) -> Iterator[str]:
    """Private finews names a test module imports (``from finews.x import _y``) or patches
    (``monkeypatch.setattr(module, "_y", …)``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("finews"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    yield f"{node.module}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "setattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and node.args[1].value.startswith("_")
            and not node.args[1].value.startswith("__")
        ):
            yield f"setattr(…, {node.args[1].value!r})"


def test_tests_use_no_private_names() -> None:
    found = {
        f"{path.relative_to(TESTS)}: {use}"
        for path in sorted(TESTS.rglob("*.py"))
        for use in _private_uses(ast.parse(path.read_text(encoding="utf-8")))
    }
    assert sorted(found) == []


def test_the_private_name_check_sees_imports_and_patches() -> None:
    tree = ast.parse(
        "from finews.store.base import _Broken, Store\n"
        "from os import _exit\n"
        "monkeypatch.setattr(skeleton, '_SHAPES', 8)\n"
        "monkeypatch.setattr(skeleton, '__name__', 'x')\n"
    )
    assert list(_private_uses(tree)) == ["finews.store.base._Broken", "setattr(…, '_SHAPES')"]


def _reaches_into(path: Path, private: set[str]) -> list[str]:
    """Where ``path`` reads a name of ``private`` off anything but ``self``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in private
            and not (isinstance(node.value, ast.Name) and node.value.id == "self")
        ):
            found.append(f"{path.name}:{node.lineno} .{node.attr}")
    return found


def test_no_module_reaches_into_the_sql_store() -> None:
    # SqlStore's own methods (connection, placeholders, locks, migration hooks) are its and
    # its backends' alone: every other module goes through the Store and Transaction API
    from finews.store.sql import SqlStore

    private = {
        name
        for name, value in vars(SqlStore).items()
        if name.startswith("_") and not name.startswith("__") and callable(value)
    } | {"_conn"}
    assert {"_sql", "_lock_change_log", "_after_import", "_connect"} <= private
    own = {"finews.store.sql", "finews.store.sqlite", "finews.store.postgres"}
    found = [
        where
        for module, path in sorted(MODULES.items())
        if module not in own
        for where in _reaches_into(path, private)
    ]
    assert found == []


def test_reaching_into_the_sql_store_is_seen() -> None:
    # the checker itself, on the one module that may: its transaction calls the hooks of
    # its store (``self.store._sql``)
    assert _reaches_into(MODULES["finews.store.sql"], {"_sql", "_lock_derived"}) != []
