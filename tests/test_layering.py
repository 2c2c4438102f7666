"""Layering: the package's modules import each other without cycles, and importing it is cheap.

The import graph is read from the source with :mod:`ast`. Its nodes are the modules of
``botorch_joint``; an edge is an ``import`` statement in one naming another, wherever it
stands: at module level or inside a function. Imports inside functions count because a
lazy import that closes a cycle still ties two layers together; it only hides the tie
until run time. The deliberate exceptions are listed in :data:`ALLOWED_LAZY`, each with
its reason; a module-level import has no exception. Imports under
``if TYPE_CHECKING:`` never run and are left out, as are dynamic imports
(``importlib.import_module`` in the registries), which name no module statically.

An edge points at the module named, not at its parent packages: ``import a.b.c`` also
runs ``a/b/__init__.py``, but counting that would make every package that re-exports
its submodules a cycle with them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "botorch_joint"

#: (importer, imported) function-level imports that may close a cycle, and why.
ALLOWED_LAZY: dict[tuple[str, str], str] = {}

#: Optional or heavy packages that ``import botorch_joint`` must not load.
HEAVY = ("ax", "mpi4py", "neuron", "bluepyopt", "efel", "torch", "botorch", "gpytorch")
#: Optional packages that no light module (run loop, CLI, problems registry) loads.
OPTIONAL = ("ax", "mpi4py", "neuron", "bluepyopt", "efel")


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return ast.unparse(test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def _imports(path: Path, module: str) -> list[tuple[str, bool]]:
    """``(dotted name, inside a function)`` of every import statement in ``path``.

    ``from package import name`` yields ``package.name`` (``name`` may be a module or an
    attribute; :func:`import_graph` resolves it).
    """
    is_package = path.name == "__init__.py"
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child, in_function)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, in_function) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                package = module.split(".") if is_package else module.split(".")[:-1]
                base = package[: len(package) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            found.extend((f"{source}.{alias.name}", in_function) for alias in node.names)
        inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(ast.parse(path.read_text(), filename=str(path)), False)
    return found


def import_graph() -> dict[str, dict[str, bool]]:
    """``importer -> {imported: only inside functions}`` over the package's modules."""
    files = module_files()

    def resolve(name: str) -> str | None:
        while name and name not in files:  # "pkg.mod.attr" -> "pkg.mod"
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, dict[str, bool]] = {}
    for module, path in files.items():
        edges: dict[str, bool] = {}
        for name, in_function in _imports(path, module):
            target = resolve(name)
            if target is not None and target != module:
                edges[target] = edges.get(target, True) and in_function
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, ..., a]``, or ``None`` if it has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := dfs(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := dfs(start)) is not None:
            return cycle
    return None


def test_the_graph_sees_the_package() -> None:
    graph = import_graph()
    assert "botorch_joint.loop" in graph and "botorch_joint.models.joint" in graph
    # a module-level import and a function-level one, both seen
    assert graph["botorch_joint.loop"]["botorch_joint.strategies"] is False
    assert graph["botorch_joint.problems.base"]["botorch_joint.problems.command"] is True


def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_among_modules() -> None:
    graph = import_graph()
    edges = {
        src: {dst for dst, lazy in out.items() if not (lazy and (src, dst) in ALLOWED_LAZY)}
        for src, out in graph.items()
    }
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_import_cycle_at_module_level() -> None:
    graph = import_graph()
    eager = {src: {dst for dst, lazy in out.items() if not lazy} for src, out in graph.items()}
    cycle = find_cycle(eager)
    assert cycle is None, "module-level import cycle: " + " -> ".join(cycle or [])


def test_every_allowed_lazy_import_still_exists() -> None:
    graph = import_graph()
    stale = [edge for edge in ALLOWED_LAZY if graph.get(edge[0], {}).get(edge[1]) is not True]
    assert not stale, f"remove these from ALLOWED_LAZY, they are gone or no longer lazy: {stale}"


def _loaded_after(code: str) -> set[str]:
    """Top-level names of the modules a fresh interpreter has loaded after ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return set(out.stdout.split())


def test_importing_the_package_loads_no_heavy_or_optional_package() -> None:
    loaded = _loaded_after("import botorch_joint")
    assert "botorch_joint" in loaded
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


@pytest.mark.parametrize(
    "code",
    [
        "import botorch_joint.loop, botorch_joint.strategies, botorch_joint.problems",
        "import botorch_joint.cli",
        "import botorch_joint.models, botorch_joint.acquisition",
    ],
)
def test_light_modules_load_no_optional_package(code: str) -> None:
    loaded = _loaded_after(code)
    assert not loaded & set(OPTIONAL), sorted(loaded & set(OPTIONAL))
