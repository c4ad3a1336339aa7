"""The package's shape: imports point one way down a declared layer order, there are no import
circles (function-local imports included), and no module grows past 400 lines.

The import graph is read statically from every ``import`` statement in ``rnn_control/``,
wherever it stands (module level, inside a function, under ``if``), with the semantics Python
gives it: ``from rnn_control.runtime import Controller`` depends on the package
``rnn_control.runtime`` (its ``__init__``), and a package's ``__init__`` depends on what it
imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "rnn_control"
MAX_LINES = 400

# The declared layer order (DESIGN.md "Layers"), lowest first. A module may import modules of its
# own package and of packages strictly below it; packages on one line may not import each other.
LAYERS: list[tuple[str, ...]] = [
    # 1. leaves: standard library, yaml and numpy only
    ("errors", "atomic", ""),  # "" is rnn_control/__init__.py (the version)
    ("config",),
    ("contract",),  # the bundle contract: field grammar, metadata, tensor names, io overrides, layouts
    ("scenario",),  # every scenario section's schema (the io: section is the contract's)
    # 2. the three worlds: torch models, the torch-free runtime, simulators
    ("models", "runtime"),
    ("envs", "bags"),  # envs/bundle_returns.py drives a bundle through the runtime in-process;
    # bags/: rosbag2 recordings -> aligned episodes (numpy + rosbags; no torch, no rclpy)
    # 3. pipelines and nodes
    ("train", "ros"),
    ("export",),  # reads training checkpoints
    # 4. what users run
    ("explain",),
    ("demo",),  # its report explains the trained policy
    ("commands",),
    ("cli",),
    ("__main__",),
]
RANK = {name: rank for rank, layer in enumerate(LAYERS) for name in layer}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _package(module: str) -> str:
    """The top-level subpackage (``rnn_control.train.ppo`` -> ``train``; the root -> ``""``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _resolve(name: str) -> str | None:
    """The project module ``name`` refers to: itself, or the nearest enclosing module."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, source: str | None = None) -> dict[str, int]:
    """Project modules imported by ``module`` (its file, or ``source``) -> line of the first import."""
    path = MODULES[module]
    is_package = path.name == "__init__.py"
    out: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text() if source is None else source, filename=str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                origin = ".".join([*base, node.module] if node.module else base)
            else:
                origin = node.module or ""
            targets = [f"{origin}.{a.name}" if f"{origin}.{a.name}" in MODULES else origin
                       for a in node.names]  # fmt: skip
            # (``from pkg import submodule`` imports the submodule, ``from mod import name`` the module)
        for target in targets:
            if target == "rnn_control" or target.startswith("rnn_control."):
                resolved = _resolve(target)
                if resolved and resolved != module:
                    out.setdefault(resolved, node.lineno)
    return out


GRAPH = {m: _imports(m) for m in MODULES}


def test_every_package_has_a_declared_layer():
    undeclared = sorted({_package(m) for m in MODULES} - set(RANK))
    assert not undeclared, f"declare the layer of {undeclared} in LAYERS (tests/test_architecture.py)"


def test_imports_point_down_the_layers():
    wrong = []
    for module, deps in GRAPH.items():
        own = _package(module)
        for dep, line in deps.items():
            other = _package(dep)
            if other != own and RANK[other] >= RANK[own]:
                where = f"{MODULES[module].relative_to(PKG.parent)}:{line}"
                wrong.append(f"{where} imports {dep} ({other or 'rnn_control'} is not below {own})")
    assert not wrong, "imports that point up or sideways:\n" + "\n".join(wrong)


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    return found


def test_no_import_circles():
    cycles = _cycles()
    assert not cycles, "import circles (function-local imports included):\n" + "\n".join(map(str, cycles))


def test_the_analysis_sees_function_local_imports_and_circles():
    # The checks above must be able to fail: an import inside a function is an edge, relative
    # imports resolve, and a circle through it is found.
    local = "def f():\n    from rnn_control.scenario.loading import load_scenario\n"
    relative = "from .metadata import BundleMetadata\n"
    edges = _imports("rnn_control.contract.fields", local)
    assert edges == {"rnn_control.scenario.loading": 2}
    assert _imports("rnn_control.contract.fields", relative) == {"rnn_control.contract.metadata": 1}
    saved = GRAPH["rnn_control.contract.fields"]
    GRAPH["rnn_control.contract.fields"] = edges
    try:
        assert any("rnn_control.contract.fields" in c for c in _cycles())
    finally:
        GRAPH["rnn_control.contract.fields"] = saved


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_over_400_lines(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{MODULES[module].relative_to(PKG.parent)} has {lines} lines (> {MAX_LINES})"
