"""The package's shape: no import cycles between modules, and no module reaching into another's private names."""

from __future__ import annotations

import ast

from conftest import ROOT

PACKAGE = ROOT / "condiag"


def _modules() -> dict[str, ast.Module]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = (path, ast.parse(path.read_text(encoding="utf-8")))
    return modules


def _imports(name: str, path, tree, known, module_level: bool):
    """(target module, imported names) of each ``from``/``import`` in the module (top level only when asked)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = ast.walk(tree) if not module_level else [n for top in tree.body if not isinstance(top, (ast.FunctionDef, ast.ClassDef,
                                                                                                     ast.AsyncFunctionDef))
                                                       for n in ast.walk(top)]
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "condiag":
                yield target, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "condiag":
                    yield alias.name, []


def test_no_module_imports_another_modules_private_names():
    modules = _modules()
    offences = [f"{name} imports {target}.{imported}" for name, (path, tree) in modules.items()
                for target, names in _imports(name, path, tree, modules, module_level=False) if target != name
                for imported in names if imported.startswith("_") and not imported.startswith("__")]
    assert not offences, offences


def test_module_level_imports_form_no_cycle():
    """Imports made when a module loads (not those deferred into functions) form a DAG."""
    modules = _modules()
    graph = {name: set() for name in modules}
    for name, (path, tree) in modules.items():
        for target, names in _imports(name, path, tree, modules, module_level=True):
            graph[name].update(t for t in [target, *(f"{target}.{n}" for n in names)] if t in modules and t != name)
    for package in [n for n in modules if (PACKAGE / n.replace("condiag.", "", 1).replace(".", "/") / "__init__.py").exists()]:
        graph[package] = {t for t in graph[package] if not t.startswith(package + ".")}  # a package loading its own parts
    state: dict[str, int] = {}

    def visit(node, trail):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*trail[trail.index(nxt):], nxt]))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
