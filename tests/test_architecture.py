"""The import graph ARCHITECTURE.md draws: no cycle anywhere, the layers in their order, and
``detectors`` reached only through its entry points."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "trustgen"

#: Which trustgen modules each layer may import (its own package's modules always allowed).
LAYERS = {
    "errors": set(),
    "_version": set(),
    "display": set(),
    "evidence": {"errors"},
    "labels": {"evidence"},
    "media": {"errors", "evidence"},
    "watermark": {"errors", "evidence", "media", "pipelines"},
    "credentials": {"errors", "evidence", "media", "_version"},
    "config": {"errors", "credentials"},
    "policy": {"errors", "evidence", "labels", "watermark", "credentials"},
    "engines": {"errors", "evidence", "media", "verify", "_version"},
    "fingerprint": {"errors", "media"},
    "softbinding": {"errors", "fingerprint"},
    "store": {"errors", "evidence", "media", "credentials", "fingerprint", "softbinding", "watermark"},
    "recovery": {"errors", "media", "fingerprint", "softbinding", "credentials", "store"},
    "pipelines": {"errors", "media"},
    "service": {"errors", "evidence", "media", "policy", "verify", "report", "credentials", "_version",
                "store"},
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """trustgen modules ``name`` imports anywhere (inside functions too), TYPE_CHECKING aside."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
            and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING"
            for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_no_import_cycle(graph):
    """Tarjan's strongly connected components: every one must be a single module."""
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
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
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert cycles == []


def test_layers_import_only_what_is_below_them(graph):
    for name, targets in graph.items():
        layer = name.split(".")[1] if name.count(".") else None
        if layer not in LAYERS:
            continue
        for target in targets:
            other = target.split(".")[1] if target.count(".") else None
            if other != layer:
                assert other in LAYERS[layer], f"{name} imports {target}"


def test_trustgen_never_imports_detectors():
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            assert not any(n.split(".")[0] == "detectors" for n in names), path
