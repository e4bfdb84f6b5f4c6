"""The package's layout: stages import only from their own stage or below, and no module
imports itself back through others (imports inside functions count: they are dependencies too)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import tunesmith

PACKAGE = Path(tunesmith.__file__).parent

#: The pipeline's stages, low to high. A module may import from its own level or below.
LEVELS = [
    {"errors", "version", "config", "files", "keys", "melody", "chords", "shipped"},
    {"export"},
    {"read"},
    {"corpus"},
    {"learn"},
    {"make"},
    {"judge"},
    {"api"},
    {"cli", "web", "__main__"},
]
LEVEL = {stage: i for i, stages in enumerate(LEVELS) for stage in stages}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (anywhere in its code)."""
    modules = _modules()

    def resolve(name: str) -> str:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tunesmith"):
                targets = [resolve(f"{node.module}.{alias.name}") for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [resolve(a.name) for a in node.names if a.name.startswith("tunesmith")]
            else:
                continue
            graph[module].update(t for t in targets if t and t != module)
    return graph


def _stage(module: str) -> str:
    return module.split(".")[1] if "." in module else module


def test_every_stage_is_placed() -> None:
    stages = {_stage(m) for m in _modules()} - {"tunesmith"}
    assert stages <= set(LEVEL), f"place these stages in LEVELS: {stages - set(LEVEL)}"


def test_stages_import_only_from_their_level_or_below() -> None:
    wrong = [
        f"{a} imports {b}"
        for a, targets in _imports().items()
        if a != "tunesmith"  # the package's own lazy names reach the API, by design
        for b in targets
        if b != "tunesmith" and LEVEL[_stage(b)] > LEVEL[_stage(a)]
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle() -> None:
    graph = _imports()
    graph.pop("tunesmith", None)  # the package's lazy ``ts.load`` etc. are its top, not a layer
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, cycles


def _function_bodies() -> list[tuple[int, str]]:
    """(lines, where) of every function's body, its docstring and signature not counted."""
    found = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                body = node.body
                if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                    body = body[1:] or body
                found.append((node.end_lineno - body[0].lineno + 1, f"{name}.{node.name}"))
    return found


def test_no_function_reads_longer_than_eighty_lines() -> None:
    long = sorted(item for item in _function_bodies() if item[0] > 80)
    assert not long, long


def test_no_module_is_much_over_four_hundred_lines() -> None:
    long = {n: len(p.read_text().splitlines()) for n, p in _modules().items()}
    assert not {n: lines for n, lines in long.items() if lines > 420}
