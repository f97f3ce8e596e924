"""The package's shape: imports point one way (data -> tokens / metrics -> model -> rollout -> training
-> cli) and no module grows past ~400 lines. Both are read from the source, function-level imports
included, so a late `import` inside a function cannot sneak a dependency past the test."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "smartr1"
MAX_LINES = 400

# What each layer may import (besides itself and the standard / third-party libraries).
ALLOWED: dict[str, set[str]] = {
    "data": set(),
    "tokens": {"data"},
    "metrics": {"data"},
    "viz": {"data"},
    "model": {"data", "tokens"},
    "rollout": {"data", "tokens", "metrics", "model"},
    "training": {"data", "tokens", "metrics", "model", "rollout"},
    "sim": {"data", "tokens", "metrics", "model", "rollout"},
    "distributed": {"data", "tokens", "metrics", "model", "rollout", "training"},
    "testing": {"data", "tokens"},
    "machine": set(),
    "reports": {"data", "tokens", "metrics", "viz", "model", "rollout", "training", "machine"},
    "demo": {"data", "tokens", "metrics", "viz", "model", "rollout", "training", "machine", "reports"},
    "cli": {
        "data",
        "tokens",
        "metrics",
        "viz",
        "model",
        "rollout",
        "training",
        "machine",
        "reports",
        "demo",
        "sim",
        "distributed",
    },
}


def _modules():
    for f in sorted(SRC.rglob("*.py")):
        if "_pb2" not in f.name:
            yield f


def _layer(path: Path) -> str:
    return path.relative_to(SRC).parts[0].removesuffix(".py")


def _imported_layers(tree: ast.AST) -> set[str]:
    out = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "smartr1":  # `from smartr1 import tokens`
                names = [f"smartr1.{a.name}" for a in node.names]
        for n in names:
            parts = n.split(".")
            if parts[0] == "smartr1" and len(parts) > 1:
                out.add(parts[1])
    return out


def test_every_module_belongs_to_a_known_layer():
    unknown = sorted({_layer(f) for f in _modules()} - set(ALLOWED) - {"__init__"})
    assert not unknown, f"place these packages in ALLOWED (what may they import?): {unknown}"


@pytest.mark.parametrize("path", list(_modules()), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_one_way(path):
    layer = _layer(path)
    if layer == "__init__":
        return
    used = _imported_layers(ast.parse(path.read_text(), str(path))) - {layer}
    upward = sorted(used - ALLOWED[layer])
    assert not upward, f"{path.relative_to(SRC)} ({layer}) imports {upward}, above or beside it"


def test_no_module_is_too_long():
    long = {
        str(f.relative_to(SRC)): n for f in _modules() if (n := len(f.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these modules by job (over {MAX_LINES} lines): {long}"


def test_the_checker_sees_function_level_imports():
    tree = ast.parse(
        "def f():\n    from smartr1.training.cache import x\n    import smartr1.rollout.engine\n"
    )
    assert _imported_layers(tree) == {"training", "rollout"}
