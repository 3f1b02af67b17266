"""The layout is the architecture: where each module's code runs, read statically from its imports.

Every import is read with `ast`, those inside functions included, so an import moved into a
function to dodge a cycle or to hide TensorFlow from the server is caught here, in seconds.
"""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cifar_core"
HEAVY = {"tensorflow", "keras", "tf_keras"}


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name):
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(path, body_only=False):
    """Every module `path` imports, as absolute dotted names (relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in (tree.body if body_only else ast.walk(tree)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            submodules = {f"{base}.{alias.name}" for alias in node.names if is_module(f"{base}.{alias.name}")}
            found.update(submodules or {base})  # `from pkg import module` imports the module
    return found


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
IMPORTS = {name: imports_of(path) for name, path in MODULES.items()}


def top(name):
    return name.split(".")[0]


def in_worker(name):
    return name == "cifar_core.worker" or name.startswith("cifar_core.worker.")


def product_imports(name):
    """The product's own modules that `name` imports (a `from pkg import name` that is not a module
    is dropped; a package's parents are not counted as imports)."""
    return {m for m in IMPORTS[name] if m in MODULES and m != name}


def test_only_the_worker_imports_tensorflow_or_keras():
    offenders = {name: sorted(m for m in IMPORTS[name] if top(m) in HEAVY)
                 for name in MODULES if not in_worker(name) or name == "cifar_core.worker"}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_outside_the_worker_only_its_interface_is_imported():
    """The server submits `cifar_core.worker.run`; it never imports the modules that load TensorFlow."""
    users = [*(n for n in MODULES if not in_worker(n))]
    outside = {**{n: IMPORTS[n] for n in users},
               **{str(p.relative_to(ROOT)): imports_of(p)
                  for p in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]}}
    leaks = {n: sorted(m for m in found if m in MODULES and m.startswith("cifar_core.worker."))
             for n, found in outside.items()}
    assert {k: v for k, v in leaks.items() if v} == {}
    # Importing the package (what the server does) loads nothing: its one import is in `run`.
    assert imports_of(MODULES["cifar_core.worker"], body_only=True) == set()


def test_the_worker_never_imports_the_server_or_the_cli():
    leaks = {n: sorted(m for m in product_imports(n) if m.startswith(("cifar_core.server", "cifar_core.cli")))
             for n in MODULES if in_worker(n)}
    assert {k: v for k, v in leaks.items() if v} == {}


@pytest.mark.parametrize("area", ["data", "config", "runs", "export"])
def test_shared_code_imports_neither_side(area):
    names = [n for n in MODULES if n.startswith(f"cifar_core.{area}")]
    leaks = {n: sorted(m for m in product_imports(n)
                       if m.startswith(("cifar_core.server", "cifar_core.worker", "cifar_core.cli")))
             for n in names}
    assert {k: v for k, v in leaks.items() if v} == {}


def test_the_core_never_imports_streamlit():
    assert {n: "streamlit" for n in MODULES if any(top(m) == "streamlit" for m in IMPORTS[n])} == {}


def test_no_import_cycle():
    graph = {name: product_imports(name) for name in MODULES}
    state, path, cycles = {}, [], []

    def visit(node):
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = "done"

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert [" -> ".join(c) for c in cycles] == []
