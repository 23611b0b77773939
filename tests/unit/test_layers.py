"""The layering docs/architecture.md promises, checked on the source itself.

Dependencies point inward (cli -> profile -> subsystems -> domain); nothing but the CLI imports
the CLI; packages form no cycle; the pure packages import no IO library; files stay small.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import tritune

SRC = Path(tritune.__file__).parent
PURE = ("domain", "search", "analysis")
IO_MODULES = {"sqlite3", "socket", "subprocess", "urllib", "http", "tritonclient", "grpc", "psutil", "requests"}
MAX_LINES = 400


def _modules() -> dict[str, ast.Module]:
    return {
        ".".join(path.relative_to(SRC.parent).with_suffix("").parts): ast.parse(path.read_text())
        for path in SRC.rglob("*.py")
        if "runner" not in path.relative_to(SRC).parts  # travels into the server as tritune_runner
    }


def _imports(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, tree in _modules().items():
        for name in _imports(tree):
            if name.startswith("tritune.") and _package(name) != _package(module):
                graph[_package(module)].add(_package(name))
    return graph


def test_only_the_cli_imports_the_cli() -> None:
    offenders = sorted(
        f"{module} imports {name}"
        for module, tree in _modules().items()
        if _package(module) not in {"cli", "__main__"}
        for name in _imports(tree)
        if name == "tritune.cli" or name.startswith("tritune.cli.")
    )
    assert offenders == []


def test_packages_form_no_cycle() -> None:
    graph = _package_graph()
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif len(path) < len(graph) + 1:
                visit(nxt, [*path, nxt])

    for start in sorted(graph):
        visit(start, [start])
    assert cycles == []


def test_pure_packages_do_no_io() -> None:
    offenders = sorted(
        f"{module} imports {name}"
        for module, tree in _modules().items()
        if _package(module) in PURE
        for name in _imports(tree)
        if name.split(".")[0] in IO_MODULES
    )
    assert offenders == []


def test_source_files_stay_small() -> None:
    long_files = sorted(
        f"{path.relative_to(SRC)}: {count} lines"
        for path in SRC.rglob("*.py")
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    )
    assert long_files == []


# docs/architecture.md draws these rows: a package imports only from rows below its own.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__main__",),
    ("cli", "testing"),
    ("profile",),
    ("prepare", "report", "search", "loadgen"),
    ("config", "store", "monitor", "system"),
    ("triton", "inputs", "cpus"),
    ("analysis", "runner", "triton_model"),  # the runner imports its own modules as top-level names
    ("domain",),
    ("errors", "interrupts"),
)


def test_every_import_points_down_the_layers() -> None:
    row = {package: index for index, packages in enumerate(LAYERS) for package in packages}
    graph = _package_graph()
    unplaced = sorted((set(graph) | {p for targets in graph.values() for p in targets}) - set(row) - {"tritune"})
    assert unplaced == [], "add these packages to LAYERS and to docs/architecture.md"
    upward = sorted(
        f"{source} -> {target}" for source, targets in graph.items() for target in targets if row[target] <= row[source]
    )
    assert upward == []
