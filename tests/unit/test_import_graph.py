"""The dependency rule, checked on the source (``ast``, nothing imported): ``schemas`` imports
nothing of ours; no stage package (ingest, tickets, classify, route, notify) imports another
stage or ``runtime``; no two modules import each other, directly or round a circle. Every
import counts: at module level, inside a function, under ``TYPE_CHECKING``."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "runtime", "ingest", "tickets", "classify", "route", "notify")
STAGES = ("ingest", "tickets", "classify", "route", "notify")

Graph = dict[str, set[str]]


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(node: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, list[str]]]:
    """(module named by the statement, names it takes from it) for each import under ``node``."""
    for n in ast.walk(node):
        if isinstance(n, ast.Import):
            for alias in n.names:
                yield alias.name, []
        elif isinstance(n, ast.ImportFrom):
            base = n.module or ""
            if n.level:  # relative: from the module's package, up level-1 more
                package = module.split(".") if is_package else module.split(".")[:-1]
                anchor = package[: len(package) - (n.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            yield base, [a.name for a in n.names]


def import_graph(root: Path, packages: tuple[str, ...] = PACKAGES) -> Graph:
    """Module -> the modules of ours it imports, for every ``.py`` file under ``packages``."""
    files = {_module_name(root, p): p for pkg in packages if (root / pkg).is_dir()
             for p in sorted((root / pkg).rglob("*.py"))}
    graph: Graph = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: set[str] = set()
        for base, names in _imported(tree, module, path.name == "__init__.py"):
            if base.split(".")[0] not in packages:
                continue
            subs = [f"{base}.{n}" for n in names if f"{base}.{n}" in files]
            edges.update(subs)
            if len(subs) < len(names) or not names:  # names from the module itself
                edges.add(base)
        edges.discard(module)
        graph[module] = edges
    return graph


def layer_violations(graph: Mapping[str, set[str]]) -> list[str]:
    out = []
    for module, targets in sorted(graph.items()):
        top = module.split(".")[0]
        for target in sorted(targets):
            other = target.split(".")[0]
            if top == "schemas" and other != "schemas":
                out.append(f"{module} -> {target}: schemas imports nothing of ours")
            elif top in STAGES and other != top and (other in STAGES or other == "runtime"):
                out.append(f"{module} -> {target}: a stage imports no other stage nor runtime")
    return out


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:  # recursion depth is bounded by the number of modules
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def test_the_source_tree_is_read() -> None:
    graph = import_graph(ROOT)
    assert {"schemas.errors", "runtime.runner", "tickets.stage", "notify.stage"} <= set(graph)
    assert "schemas.errors" in graph["runtime.errors"]
    assert "schemas.reply_token" in graph["notify.stage"]


def test_layers() -> None:
    assert layer_violations(import_graph(ROOT)) == []


def test_no_import_cycles() -> None:
    assert cycles(import_graph(ROOT)) == []


def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_a_violation_is_detected(tmp_path: Path) -> None:
    """The checks can fail: a synthetic tree with one of each violation."""
    _write(tmp_path, {
        "schemas/__init__.py": "",
        "schemas/base.py": "def f():\n    from runtime.settings import Settings\n",
        "runtime/__init__.py": "",
        "runtime/settings.py": "Settings = 1\n",
        "tickets/__init__.py": "",
        "tickets/stage.py": "from notify import render\nfrom . import state\n",
        "tickets/state.py": "from typing import TYPE_CHECKING\n"
                            "if TYPE_CHECKING:\n    from tickets.stage import X\n",
        "notify/__init__.py": "",
        "notify/render.py": "import runtime.settings\n",
        "route/__init__.py": "",
        "route/ok.py": "from schemas import base\nfrom schemas.base import f\n",
    })
    graph = import_graph(tmp_path)
    assert graph["tickets.stage"] == {"notify.render", "tickets.state"}
    assert graph["route.ok"] == {"schemas.base"}
    assert layer_violations(graph) == [
        "notify.render -> runtime.settings: a stage imports no other stage nor runtime",
        "schemas.base -> runtime.settings: schemas imports nothing of ours",
        "tickets.stage -> notify.render: a stage imports no other stage nor runtime",
    ]
    assert cycles(graph) == [["tickets.stage", "tickets.state"]]
