"""The layers import one way: knowledge → tools → assistant → app (and evals on top).

Every module's imports are read with `ast`, including imports inside functions (lazy imports are
still dependencies)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP = ("knowledge", "tools", "assistant", "app", "evals")
# (module, package) pairs allowed against the direction, each with its reason
ALLOWED: dict[tuple[str, str], str] = {}


def _modules(layer: str) -> list[Path]:
    if layer == "app":
        return [ROOT / "app.py"]
    return sorted((ROOT / layer).rglob("*.py"))


def imported_tops(path: Path, root: Path = ROOT) -> dict[str, list[str]]:
    """The project's top-level packages a module imports: {package: ["file:line module", ...]}."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:   # a relative import stays inside its own package
                continue
            names = [node.module or ""]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in TOP:
                found.setdefault(top, []).append(f"{path.relative_to(root)}:{node.lineno} {name}")
    return found


def violations(layer: str, forbidden: tuple[str, ...]) -> list[str]:
    out = []
    for path in _modules(layer):
        for top, where in imported_tops(path).items():
            if top in forbidden and (str(path.relative_to(ROOT)), top) not in ALLOWED:
                out += where
    return out


def test_the_scan_sees_lazy_imports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("import os\ndef f():\n    from tools.registry import call_tool\n    import assistant.core\n")
    got = {k: len(v) for k, v in imported_tops(f, root=tmp_path).items()}
    assert got == {"tools": 1, "assistant": 1}


@pytest.mark.parametrize("layer, forbidden", [
    ("knowledge", ("tools", "assistant", "app", "evals")),
    ("tools", ("assistant", "app", "evals")),
    ("assistant", ("app",)),
])
def test_a_layer_imports_nothing_above_it(layer, forbidden):
    assert _modules(layer), f"no modules found for {layer}"
    bad = violations(layer, forbidden)
    assert not bad, f"{layer} imports from above it:\n" + "\n".join(bad)


def _all_modules() -> list[Path]:
    return [p for layer in TOP for p in _modules(layer)]


def test_no_module_imports_another_modules_private_names():
    """`from x import _name` across modules couples them to internals: helpers shared between
    modules get public names."""
    bad = []
    for path in _all_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in TOP:
                bad += [f"{path.relative_to(ROOT)}: from {node.module} import {a.name}" for a in node.names
                        if a.name.startswith("_") and not a.name.startswith("__")]
    assert not bad, bad


def test_no_module_is_over_600_lines_without_saying_why():
    """A long module states its reason in its docstring ("Long on purpose: …")."""
    long = []
    for path in _all_modules():
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 600 and "Long on purpose:" not in (ast.get_docstring(ast.parse(text)) or ""):
            long.append(f"{path.relative_to(ROOT)} ({text.count(chr(10))} lines)")
    assert not long, long


def test_no_import_cycles_between_modules():
    """Module-level imports form no cycle (lazy imports inside functions are how a cycle is broken
    on purpose, and there are none between layers: see the tests above)."""
    mods = {}
    for path in _all_modules():
        rel = path.relative_to(ROOT).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        mods[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        deps = set()
        for node in ast.parse(path.read_text(encoding="utf-8")).body:   # module level only
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            deps |= {t for t in targets if t in mods and t != name}
        graph[name] = deps
    seen, stack, cycles = set(), [], []

    def visit(n):
        if n in stack:
            cycles.append(stack[stack.index(n):] + [n])
            return
        if n in seen:
            return
        seen.add(n)
        stack.append(n)
        for d in sorted(graph.get(n, ())):
            visit(d)
        stack.pop()
    for n in sorted(graph):
        visit(n)
    assert not cycles, cycles[:5]
