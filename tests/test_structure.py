"""The package's shape: folders are the pipeline's stages, imports flow one way, modules stay small.

Layers, lowest first: the base modules (layout, errors, defaults, _version, _jit, registry...), io, sources,
database, targets, selection, outputs, pipeline, evaluation, then the applications (demo, live, web) and cli. A
module imports only from its own layer or lower ones -- at module level or inside a function alike, and by a
registry's ``"sketchsynth.module:attribute"`` string too -- and never another module's private name.
"""

import ast
import importlib
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sketchsynth"
LAYERS = ["", "io", "sources", "database", "targets", "selection", "outputs", "pipeline", "evaluation",
          ("demo", "live", "web"), "cli"]
MAX_LINES = 420
LONG_KERNELS = {"io/_jsonscan.py"}  # one numba kernel with its hand-written number parser (docs/architecture.md)


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        yield path, name


REGISTERED = re.compile(r"(sketchsynth(?:\.\w+)+):(\w+)(?:\.\w+)*")
"""A registry's built-in part, ``"sketchsynth.module:attribute"``: imported when asked for, so an import too."""


def _imports(path, name, registered: bool = False):
    """(line, imported module, [names]) for every import of a sketchsynth module in ``path``; with
    ``registered``, also every ``"sketchsynth.module:attribute"`` string (a registry's part)."""
    pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if registered and isinstance(node, ast.Constant) and isinstance(node.value, str):
            m = REGISTERED.fullmatch(node.value)
            if m:
                yield node.lineno, m.group(1), [m.group(2)]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").split(".")[0] == "sketchsynth":
                target = node.module
            else:
                continue
            yield node.lineno, target, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "sketchsynth":
                    yield node.lineno, a.name, []


def _layer(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()) else ""
    return next(i for i, layer in enumerate(LAYERS) if top in (layer if isinstance(layer, tuple) else (layer,)))


def _is_module(dotted: str) -> bool:
    p = PACKAGE.parent / Path(*dotted.split("."))
    return p.with_suffix(".py").is_file() or (p / "__init__.py").is_file()


def test_no_module_is_long():
    long = [f"{p.relative_to(PACKAGE)}: {n} lines" for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES and str(p.relative_to(PACKAGE)) not in LONG_KERNELS]
    assert not long, long


def test_imports_flow_one_way_and_no_private_name_crosses_a_module():
    upward, private = [], []
    for path, name in _modules():
        for line, target, names in _imports(path, name, registered=True):
            for n in names or [None]:
                mod = f"{target}.{n}" if n and _is_module(f"{target}.{n}") else target
                if _layer(mod) > _layer(name):
                    upward.append(f"{name}:{line} imports {mod}")
                if n and n.startswith("_") and not n.startswith("__") and mod == target:
                    private.append(f"{name}:{line} imports {target}.{n}")
    assert not upward, upward
    assert not private, private


def test_no_import_cycle_between_modules():
    graph = {}
    for path, name in _modules():
        graph[name] = {f"{t}.{n}" if n and _is_module(f"{t}.{n}") else t
                       for _, t, names in _imports(path, name) for n in (names or [None])} - {name}
    # a package's __init__ is not an edge target unless named: drop edges to packages
    graph = {m: {t for t in ts if t in graph and not (PACKAGE.parent / Path(*t.split(".")) / "__init__.py").is_file()}
             for m, ts in graph.items()}
    state, cycles = {}, []

    def visit(m, stack):
        state[m] = 1
        for t in graph[m]:
            if state.get(t) == 1:
                cycles.append(" -> ".join(stack[stack.index(t):] + [t]))
            elif t not in state:
                visit(t, stack + [t])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [m])
    assert not cycles, cycles


@pytest.mark.parametrize("path, name", list(_modules()), ids=lambda v: str(v) if isinstance(v, str) else "")
def test_every_import_resolves(path, name):
    """Imports inside functions too (they run only on some paths): each names a module and what it has."""
    pytest.importorskip("numba")
    for line, target, names in _imports(path, name):
        mod = importlib.import_module(target)
        for n in names:
            assert n == "*" or hasattr(mod, n) or _is_module(f"{target}.{n}"), f"{name}:{line}: {target}.{n}"
