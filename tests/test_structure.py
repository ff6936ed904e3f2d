"""The package's shape: no import cycles, imports only down the floors, modules that stay small.

Parsed from the source (no import runs), every import counted, also those
inside functions: a lazy import is still a dependency.
"""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1] / "kerascnn"
MAX_LINES = 500

# The floors of docs/architecture.md, bottom first. A module imports only from
# its own floor or below; the package root (kerascnn/__init__.py) is the top.
FLOORS = [
    ("kerascnn._checks", "kerascnn._compat", "kerascnn._io", "kerascnn._version"),
    ("kerascnn.registry", "kerascnn.layers"),
    ("kerascnn.models", "kerascnn.augment", "kerascnn.inspect"),
    ("kerascnn.data", "kerascnn.interop"),
    ("kerascnn.evaluate",),
    ("kerascnn.train",),
    ("kerascnn.export",),
    ("kerascnn",),
]


def module_name(path):
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules():
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imports_of(name, path, known):
    """The kerascnn modules `name` imports (a `from package import submodule` counts the submodule)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        else:
            continue
        found |= {t for t in targets if t == "kerascnn" or t.startswith("kerascnn.")}
    return found - {name}


def graph():
    known = modules()
    return {name: imports_of(name, path, known) & set(known) for name, path in known.items()}


def floor_of(name):
    best = None
    for level, prefixes in enumerate(FLOORS):
        for prefix in prefixes:
            if name == prefix or name.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (level, len(prefix))
    assert best is not None, f"{name} is on no floor: add it to FLOORS"
    return best[0]


def find_cycle(edges):
    """One import cycle as a list of modules, or None (depth-first search)."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_import_parser_resolves_submodules_and_relative_imports(tmp_path):
    known = {"kerascnn.augment", "kerascnn.augment.ops", "kerascnn.data.pipeline", "kerascnn.data",
             "kerascnn.data.stats"}
    path = tmp_path / "pipeline.py"
    path.write_text("import numpy\nfrom kerascnn.augment import ops, RandAugment\n"
                    "def f():\n    from . import stats\n    import kerascnn.data\n")
    assert imports_of("kerascnn.data.pipeline", path, known) == {
        "kerascnn.augment.ops", "kerascnn.augment", "kerascnn.data.stats", "kerascnn.data"}


def test_no_import_cycles():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_imports_go_down_the_floors():
    upward = [f"{a} (floor {floor_of(a)}) imports {b} (floor {floor_of(b)})"
              for a, targets in graph().items() for b in sorted(targets)
              if floor_of(b) > floor_of(a)]
    assert not upward, "\n".join(upward)


def test_checks_module_imports_nothing_of_the_package():
    assert graph()["kerascnn._checks"] == set()


def test_modules_are_small():
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    big = {name: n for name, n in sizes.items() if n > MAX_LINES}
    assert not big, f"split these along their seams (lines): {big}"
