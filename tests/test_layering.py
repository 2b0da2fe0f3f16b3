"""Import layering: no module imports one above it, none imports the package ``__init__``, no cycle.

Every top-level module or package of ``weightfit`` belongs to one layer of
:data:`LAYERS` (lowest first); a new one must join a layer here. Imports inside
functions and under ``TYPE_CHECKING`` count: a lazy import upwards is still a
dependency upwards.
"""

from __future__ import annotations

import ast
from pathlib import Path

import weightfit

PACKAGE = Path(weightfit.__file__).resolve().parent

LAYERS: list[tuple[str, set[str]]] = [
    (
        "data",
        {
            "_version",
            "errors",
            "display",
            "dtypes",
            "manifest",
            "plan",
            "findings",
            "alignment",
            "tree",
            "security",
            "atomic",
            "knowledge",
            "values",
            "tensor_io",
            "ops",
            "provenance",
            "weightsets",
            "peft",
            "tokenizer_size",
            "fix_hint",
            "placement",
            "source_identity",
            "strict_fit",
            "yaml_limits",
        },
    ),
    ("hub", {"hub"}),
    ("formats", {"formats"}),
    ("targets", {"targets"}),
    ("converters", {"converters"}),
    ("align", {"align"}),
    ("diagnose", {"diagnose"}),
    (
        "check/fix/apply",
        {"ranking", "check", "apply", "destination", "fix", "load", "explain", "adapters", "lint"},
    ),
    ("report", {"report"}),
    ("cli", {"cli", "__main__"}),
]
"""Lowest first. ``__init__`` (the public API, lazy) sits above them all."""

LAYER_OF = {name: level for level, (_, names) in enumerate(LAYERS) for name in names}


def _top(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _submodules() -> set[str]:
    return {
        p.name.removesuffix(".py") for p in PACKAGE.iterdir() if p.suffix == ".py" or p.is_dir()
    }


def imports() -> dict[str, set[str]]:
    """Top-level module → the top-level modules of ``weightfit`` it imports."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "__init__.py":
            continue
        top = _top(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module == "weightfit":
                    names = [alias.name for alias in node.names]
                elif node.module.startswith("weightfit."):
                    names = [node.module.split(".")[1]]
            elif isinstance(node, ast.Import):
                names = [
                    alias.name.split(".")[1] if "." in alias.name else "__init__"
                    for alias in node.names
                    if alias.name.split(".")[0] == "weightfit"
                ]
            graph.setdefault(top, set()).update(n for n in names if n != top)
    return graph


def test_every_top_level_module_has_a_layer() -> None:
    modules = _submodules() - {"__init__", "__pycache__", "py.typed"}
    assert modules - set(LAYER_OF) == set(), "add the new module to LAYERS"
    assert set(LAYER_OF) - modules == set(), "LAYERS names a module that is gone"


def test_no_module_imports_one_above_it() -> None:
    upward = [
        f"{module} ({LAYERS[LAYER_OF[module]][0]}) imports {name} ({LAYERS[LAYER_OF[name]][0]})"
        for module, names in imports().items()
        for name in names
        if name in LAYER_OF and LAYER_OF[name] > LAYER_OF[module]
    ]
    assert upward == []


def test_nothing_inside_imports_the_package_init() -> None:
    modules = _submodules()
    offenders = {
        module: sorted(n for n in names if n not in modules or n == "__init__")
        for module, names in imports().items()
    }
    assert {m: n for m, n in offenders.items() if n} == {}


def test_no_import_cycle_between_top_level_modules() -> None:
    graph = imports()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for child in sorted(graph.get(node, ())):
            if state.get(child) == 1:
                cycles.append([*path[path.index(child) :], child])
            elif child not in state:
                visit(child, [*path, child])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []
