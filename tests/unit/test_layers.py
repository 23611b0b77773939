"""The layering docs/architecture.md promises, checked on the source itself.

Dependencies point inward (cli -> profile -> subsystems -> domain); nothing but the CLI imports
the CLI; packages form no cycle; the pure packages import no IO library; files stay small.
"""

from __future__ import annotations

import ast
import re
import shutil
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
    ("analysis",),
    ("domain",),
    # The runner imports nothing from tritune (its own modules as top-level names), so it sits at
    # the bottom: domain re-exports its execution-provider names.
    ("errors", "interrupts", "runner", "triton_model"),
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


# --- Beyond the package: the runner travels alone, tools use tritune as a library, scripts stay home.

REPO = Path(__file__).resolve().parents[2]
# A tool (benchmarks/*.py) may import any layer below the CLI, and the CLI only through its entry.
TOOL_LAYERS = {package for row in LAYERS for package in row} - {"__main__", "cli"}
ABSOLUTE_OK = ("/usr", "/bin", "/dev", "/proc")  # system paths; /tmp only through mktemp
_PARENT = re.compile(r"(?<![\w.$}-])\.\.(?=/|$|[\s\"';)])")
_ABSOLUTE = re.compile(r"(?:^|[\s=:(<>|;,!+-])[\"']?(~?/[\w.][^\s\"'`;:|)}]*)")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def runner_import_offenders(runner: Path) -> list[str]:
    """Imports under ``runner`` (the runner package's folder) that reach tritune: absolute ones,
    by statement or by importlib name, and relative ones that climb above the runner's top."""
    offenders = []
    for path in sorted(runner.rglob("*.py")):
        rel = path.relative_to(runner)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level > len(rel.parts):
                offenders.append(
                    f"{rel}:{node.lineno} climbs out of the runner ({'.' * node.level}{node.module or ''})"
                )
                continue
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", None)) in {"import_module", "__import__"}
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                names = [node.args[0].value]
            else:
                continue
            offenders += [f"{rel}:{node.lineno} imports {name}" for name in names if name.split(".")[0] == "tritune"]
    return sorted(offenders)


def tool_import_offenders(folder: Path, public_cli: set[str]) -> list[str]:
    """tritune imports of the scripts in ``folder`` outside the layers a tool may use: a package
    not in TOOL_LAYERS, the CLI beyond its entry (``public_cli``: names of ``tritune.cli``), or a
    private (``_name``) module or name."""
    offenders = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module == "tritune":  # from tritune import cli, ...: the names are packages
                    targets = [(f"tritune.{alias.name}", None) for alias in node.names]
                else:
                    targets = [(node.module, alias.name) for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [(alias.name, None) for alias in node.names]
            else:
                continue
            for module, name in targets:
                parts = module.split(".")
                if parts[0] != "tritune" or len(parts) == 1:
                    continue
                where = f"{path.name}:{node.lineno} {module}{f' {name}' if name else ''}"
                if any(_private(part) for part in [*parts[1:], name or ""]):
                    offenders.append(f"{where}: a private name")
                elif parts[1] == "cli":
                    if len(parts) > 2 or (name is not None and name not in public_cli):
                        offenders.append(f"{where}: the CLI's internals (a tool may use tritune.cli.main)")
                elif parts[1] not in TOOL_LAYERS:
                    offenders.append(f"{where}: not a layer a tool may use")
    return sorted(offenders)


def tool_path_offenders(tools: Path) -> list[str]:
    """Lines of the shell scripts under ``tools`` that name a path outside the repository: a
    parent (``..``) or an absolute path other than ABSOLUTE_OK's (and /tmp where mktemp makes it)."""
    offenders = []
    for path in sorted(p for p in tools.rglob("*") if p.is_file()):
        text = path.read_text(errors="replace")
        if path.suffix != ".sh" and not (text.startswith("#!") and text.split("\n", 1)[0].endswith("sh")):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            where = f"{path.relative_to(tools)}:{number}"
            if _PARENT.search(line):
                offenders.append(f"{where}: a parent folder: {line.strip()}")
            for found in _ABSOLUTE.findall(line):
                system = any(found == root or found.startswith(f"{root}/") for root in ABSOLUTE_OK)
                made = (found == "/tmp" or found.startswith("/tmp/")) and "mktemp" in line
                if not (system or made):
                    offenders.append(f"{where}: {found}")
    return sorted(offenders)


def test_the_runner_imports_nothing_from_tritune() -> None:
    assert runner_import_offenders(SRC / "runner") == []


def test_the_runner_check_reports_what_reaches_tritune(tmp_path: Path) -> None:
    runner = tmp_path / "runner"
    shutil.copytree(SRC / "runner", runner, ignore=shutil.ignore_patterns("__pycache__"))
    assert runner_import_offenders(runner) == []
    (runner / "uses_errors.py").write_text("from tritune.errors import TrituneError\n")
    (runner / "runtimes" / "climbs.py").write_text("from ...errors import TrituneError\nfrom ..device import as_host\n")
    (runner / "by_name.py").write_text(
        "import importlib\n\nimportlib.import_module('tritune.domain')\nimport tritune\n"
    )
    assert runner_import_offenders(runner) == [
        "by_name.py:3 imports tritune.domain",
        "by_name.py:4 imports tritune",
        "runtimes/climbs.py:1 climbs out of the runner (...errors)",
        "uses_errors.py:1 imports tritune.errors",
    ]


def _public_cli() -> set[str]:
    import tritune.cli

    return set(tritune.cli.__all__)


def test_benchmarks_use_only_the_layers_a_tool_may_use() -> None:
    assert sorted((REPO / "benchmarks").glob("*.py")), "no benchmark found: is REPO the repository?"
    assert tool_import_offenders(REPO / "benchmarks", _public_cli()) == []


def test_the_benchmark_check_reports_cli_internals_and_private_names(tmp_path: Path) -> None:
    for path in (REPO / "benchmarks").glob("*.py"):
        shutil.copy(path, tmp_path)
    assert tool_import_offenders(tmp_path, _public_cli()) == []
    (tmp_path / "zz_bad.py").write_text(
        "import tritune.cli.perf\n"
        "from tritune.cli import main\n"  # the entry: allowed
        "from tritune.cli.app import App\n"
        "from tritune.cli import options\n"
        "from tritune.profile._internal import x\n"
        "from tritune.domain.serving import _default\n"
        "from tritune import __main__\n"
        "from tritune.elsewhere import y\n"
    )
    assert tool_import_offenders(tmp_path, _public_cli()) == [
        "zz_bad.py:1 tritune.cli.perf: the CLI's internals (a tool may use tritune.cli.main)",
        "zz_bad.py:3 tritune.cli.app App: the CLI's internals (a tool may use tritune.cli.main)",
        "zz_bad.py:4 tritune.cli options: the CLI's internals (a tool may use tritune.cli.main)",
        "zz_bad.py:5 tritune.profile._internal x: a private name",
        "zz_bad.py:6 tritune.domain.serving _default: a private name",
        "zz_bad.py:7 tritune.__main__: not a layer a tool may use",
        "zz_bad.py:8 tritune.elsewhere y: not a layer a tool may use",
    ]


def test_tool_scripts_stay_inside_the_repository() -> None:
    assert sorted((REPO / "tools").rglob("*.sh")), "no tool script found: is REPO the repository?"
    assert tool_path_offenders(REPO / "tools") == []


def test_the_tool_check_reports_paths_outside_the_repository(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    shutil.copytree(REPO / "tools", tools)
    assert tool_path_offenders(tools) == []
    script = next(tools.rglob("*.sh"))
    script.write_text(
        script.read_text()
        + 'cp a ../shared/b\ncd "$ROOT"/..\nOUT=${OUT:-/tmp/out}\ntar -xf x -C /opt/site\nls ~/cache >/dev/null\n'
        + "scratch=$(mktemp -d /tmp/run.XXXXXX)\n#!/usr/bin/env bash\n"  # allowed
    )
    found = [line.split(": ", 1)[1] for line in tool_path_offenders(tools)]
    assert found == [
        "a parent folder: cp a ../shared/b",
        'a parent folder: cd "$ROOT"/..',
        "/tmp/out",
        "/opt/site",
        "~/cache",
    ]
