"""The layers: every import points from the controller down to the hardware, and no two
modules need each other.

``hardware/`` (drivers, their twins, the clock, the sample types, the units) must never import
``controller/`` (decisions): a driver that reaches up for a verdict or a setting is how "drivers
stay dumb" erodes. And a cycle between modules — even through an import inside a function —
means neither can be read, tested or replaced alone.

Imports are read with :mod:`ast` from every ``.py`` file, wherever they stand: at the top,
inside functions, under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("controller", "hardware")


def module_files(root: Path) -> dict[str, Path]:
    """Every module of :data:`PACKAGES` under ``root``, by dotted name (packages by their own
    name, e.g. ``controller.detect`` for ``controller/detect/__init__.py``)."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``name`` (at ``path``) imports, anywhere in the file. ``from pkg
    import x`` counts as importing ``pkg.x`` when that is a module, else ``pkg``."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = name.split(".")
                anchor = anchor[:len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
    return {module for module in found if module in known and module != name}


def import_graph(root: Path) -> dict[str, set[str]]:
    files = module_files(root)
    known = set(files)
    return {name: imported_modules(name, path, known) for name, path in files.items()}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """``hardware`` modules importing ``controller`` ones, as ``"a -> b"`` lines."""
    return sorted(f"{module} -> {target}" for module, targets in graph.items()
                  if module.split(".")[0] == "hardware"
                  for target in targets if target.split(".")[0] == "controller")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), sorted: each is a set
    of modules that import each other, directly or round a loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(groups)


def test_hardware_never_imports_controller() -> None:
    assert upward_imports(import_graph(ROOT)) == []


def test_no_two_modules_import_each_other() -> None:
    assert cycles(import_graph(ROOT)) == []


def test_the_graph_sees_the_project() -> None:
    """A guard on the guard: the walk finds the modules and the edges it should."""
    graph = import_graph(ROOT)
    assert "controller.app" in graph and "hardware.safety_io" in graph
    assert "controller.detect" in graph  # a package's __init__
    assert "hardware.safety_io" in graph["controller.app"]
    assert "controller.daemon" in graph["controller.cli"]  # an import inside a function


# ------------------------------------------------------------ the checks catch what they should

def write(root: Path, packages: dict[str, dict[str, str]]) -> None:
    """A tree of :data:`PACKAGES` under ``root``: file name → text, per package."""
    for package in PACKAGES:
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").touch()
        for file_name, text in packages.get(package, {}).items():
            (root / package / file_name).write_text(text, encoding="utf-8")


def test_an_upward_import_is_caught_wherever_it_stands(tmp_path: Path) -> None:
    write(tmp_path, {
        "controller": {"config.py": "X = 1\n", "clock.py": "X = 1\n", "verdict.py": "X = 1\n"},
        "hardware": {
            "top.py": "from controller.config import X\n",
            "inside.py": "def f() -> None:\n    import controller.clock\n",
            "typing_only.py": ("from typing import TYPE_CHECKING\n"
                               "if TYPE_CHECKING:\n    from controller import verdict\n"),
            "fine.py": "import os\nfrom hardware import top\n",
        },
    })
    assert upward_imports(import_graph(tmp_path)) == [
        "hardware.inside -> controller.clock",
        "hardware.top -> controller.config",
        "hardware.typing_only -> controller.verdict",
    ]


def test_a_cycle_is_caught_directly_or_round_a_loop(tmp_path: Path) -> None:
    write(tmp_path, {"controller": {
        "a.py": "from controller import b\n",
        "b.py": "def f() -> None:\n    from controller.a import f\n",
        "c.py": "from . import d\n",
        "d.py": "import controller.e\n",
        "e.py": "from controller.c import X\n",
        "f.py": "import controller.a\n",  # imports into a cycle, is not in one
    }})
    assert cycles(import_graph(tmp_path)) == [
        ["controller.a", "controller.b"], ["controller.c", "controller.d", "controller.e"]]
