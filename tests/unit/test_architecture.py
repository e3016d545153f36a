"""The package's import graph: no circles, no arrow that runs up the layers (docs/architecture.md).

The graph is read from the source with ``ast``, module-level and function-local imports alike (a
local import is still a dependency; it only hides it), so the test needs no import of the package.
A new circle or an upward arrow fails here with the file and line that made it.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = "vjepa_fer"
SRC = Path(__file__).resolve().parents[2] / "src" / PACKAGE

# Floors from the bottom; a module may import its own floor's rooms and any floor below.
# A room is a top-level module or a subpackage of vjepa_fer (docs/architecture.md, "Layers").
LAYERS: tuple[tuple[str, ...], ...] = (
    ("io", "labels", "progress", "schema", "text"),  # files, labels, progress, schema, escaping
    ("video", "models"),  # decoding and pixels; encoders and checkpoints
    ("data",),  # dataset machinery: verified transfers, fold tables, faces drawing, checks
    ("datasets",),  # the registry, one module per dataset, the stages that dispatch through it
    ("features",),  # clip planning, the clip stream, the encoder pass, the feature store
    ("probe", "evaluate"),  # attentive probes; metrics, voting, statistics, forward accounting
    ("report",),  # tables, figures, run info
    ("config", "cli"),  # the config and its schema checks; the command line
)
# The package's __init__ only resolves names lazily (by string): it sits with the bottom floor.
FLOOR_OF_ROOT = 0
# Rooms of one floor may import each other as long as no room-level circle forms; none is known
# (the data <-> datasets circle went when every dataset moved into its module, issue 19).
KNOWN_ROOM_CIRCLES: set[frozenset[str]] = set()


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _target(name: str) -> str | None:
    """The module ``name`` refers to (``pkg.func`` -> ``pkg``), None outside the package."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, path: Path) -> list[tuple[str, int, bool]]:
    """``(imported module, line, local)`` for every vjepa_fer import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    local_ids = {
        id(node)
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(fn)
        if isinstance(node, ast.Import | ast.ImportFrom)
    }
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # `from pkg import sub` imports the submodule when there is one
            names = [f"{mod}.{a.name}" for a in node.names]
        for name in names:
            if name.split(".")[0] != PACKAGE:
                continue
            target = _target(name)
            edge = (target, node.lineno, id(node) in local_ids)
            if target is not None and target != module and edge not in found:
                found.append(edge)
    return found


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _floor(module: str) -> int:
    room = _room(module)
    if room == "":
        return FLOOR_OF_ROOT
    for i, rooms in enumerate(LAYERS):
        if room in rooms:
            return i
    raise AssertionError(f"{MODULES[module]}: room {room!r} is on no floor of LAYERS")


EDGES = [(m, t, line, local) for m, p in MODULES.items() for t, line, local in imports_of(m, p)]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_graph_is_read() -> None:
    # guards the parser itself: known arrows must be found, local ones marked local
    assert len(MODULES) > 60
    edges = {(m, t) for m, t, _, _ in EDGES}
    assert ("vjepa_fer.features.store", "vjepa_fer.io") in edges
    assert any(local for *_, local in EDGES)


def test_every_room_is_on_a_floor() -> None:
    for module in MODULES:
        _floor(module)


def test_no_module_circles() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for m, t, _, _ in EDGES:
        graph[m].add(t)
    cycles = _cycles(graph)
    where = [
        f"{m} -> {t} ({MODULES[m].relative_to(SRC.parent)}:{line})"
        for cycle in cycles
        for m, t, line, _ in EDGES
        if m in cycle and t in cycle
    ]
    assert not cycles, "import circles:\n" + "\n".join(where)


def test_no_room_circles() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for m, t, _, _ in EDGES:
        if _room(m) != _room(t):
            graph[_room(m)].add(_room(t))
    cycles = {frozenset(c) for c in _cycles(graph)}
    assert cycles <= KNOWN_ROOM_CIRCLES, f"new circles between rooms: {cycles - KNOWN_ROOM_CIRCLES}"


def test_no_upward_arrows() -> None:
    upward = [
        f"{MODULES[m].relative_to(SRC.parent)}:{line}: {m} (floor {_floor(m)}) imports "
        f"{t} (floor {_floor(t)}){' inside a function' if local else ''}"
        for m, t, line, local in EDGES
        if _floor(t) > _floor(m)
    ]
    assert not upward, "imports that run up the layers (docs/architecture.md):\n" + "\n".join(
        upward
    )


# Modules whose function-local imports keep `vjepa-fer predict --help` free of torch; the module is
# being reworked in parallel (issue 20): its local imports get their comments there.
LOCAL_IMPORTS_UNCOMMENTED = {"vjepa_fer.probe.predict"}


def test_local_imports_say_why() -> None:
    """A function-local vjepa_fer import hides an arrow; it is allowed only for a heavy optional
    dependency (torch for a light stage, a decoder), and a comment on its line says which."""
    silent = []
    for m, path in MODULES.items():
        if m in LOCAL_IMPORTS_UNCOMMENTED:
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for _t, line, local in imports_of(m, path):
            if local and "#" not in lines[line - 1] and not lines[line - 2].strip().startswith("#"):
                silent.append(f"{path.relative_to(SRC.parent)}:{line}: {lines[line - 1].strip()}")
    assert not silent, "function-local imports without a reason (move them to the top):\n" + (
        "\n".join(silent)
    )


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from vjepa_fer.report import tables\n", "vjepa_fer.report.tables"),
        ("def f():\n    from vjepa_fer.video.decode import VideoError\n", "vjepa_fer.video.decode"),
        ("from . import store\n", "vjepa_fer.features.store"),
    ],
)
def test_parser_resolves(tmp_path: Path, source: str, expected: str) -> None:
    path = tmp_path / "m.py"
    path.write_text(source)
    assert [t for t, _, _ in imports_of("vjepa_fer.features.m", path)] == [expected]


def _registry() -> dict[str, str]:
    """``BUILTIN`` of datasets/__init__.py (dataset name -> module), read from the source."""
    tree = ast.parse((SRC / "datasets" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        target = node.targets[0] if isinstance(node, ast.Assign) else target
        if isinstance(target, ast.Name) and target.id == "BUILTIN":
            return ast.literal_eval(node.value)
    raise AssertionError("datasets/__init__.py: no BUILTIN registry found")


def _builtin_datasets() -> set[str]:
    """Names and module names of the built-in datasets."""
    registry = _registry()
    return set(registry) | {module.rsplit(".", 1)[-1] for module in registry.values()}


def test_the_data_floor_names_no_dataset() -> None:
    """``data/`` is the machinery below the datasets: no string or name in its code (docstrings
    and comments aside) names a built-in dataset, so its tables and options live in its module."""
    names = _builtin_datasets()
    assert {"ravdess", "crema-d", "cremad", "dfew"} <= names
    found = []
    for path in sorted((SRC / "data").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = "" if id(node) in docstrings else node.value.lower()
            else:
                text = node.id.lower() if isinstance(node, ast.Name) else ""
            hits = sorted(n for n in names if n in text)
            if hits:
                found.append(f"{path.relative_to(SRC.parent)}:{node.lineno}: {hits}")
    assert not found, "the data floor names datasets:\n" + "\n".join(found)


def test_no_code_compares_with_a_datasets_name_outside_its_module() -> None:
    """``if dataset == "ravdess"`` belongs in no shared module, rule or parser: what differs
    between datasets is an attribute or a hook of the dataset's module (docs/adding-a-dataset.md).
    """
    registry = _registry()
    own = {  # name -> the files of its module (a module file, or a package's folder)
        name: {
            p
            for p in MODULES.values()
            if p == SRC.parent.joinpath(*module.split(".")).with_suffix(".py")
            or SRC.parent.joinpath(*module.split(".")) in p.parents
        }
        for name, module in registry.items()
    }
    assert all(own.values()), own
    found = []
    for path in sorted(MODULES.values()):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Compare):
                continue
            for side in (node.left, *node.comparators):
                for c in ast.walk(side):
                    if isinstance(c, ast.Constant) and c.value in own and path not in own[c.value]:
                        found.append(f"{path.relative_to(SRC.parent)}:{node.lineno}: {c.value}")
    pattern = re.compile(r"""[=!]=\s*["']([\w-]+)["']|["']([\w-]+)["']\s*[=!]=""")
    rules = [SRC.parents[1] / "Snakefile", *sorted((SRC.parents[1] / "workflow").rglob("*.smk"))]
    for path in rules:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for m in pattern.finditer(line):
                if (m.group(1) or m.group(2)) in own:
                    found.append(f"{path.name}:{n}: {line.strip()}")
    assert not found, "comparisons with a dataset's name outside its module:\n" + "\n".join(found)


def test_test_files_have_unique_names() -> None:
    """pytest imports test files by base name (no packages under tests/): a second
    ``test_wild.py`` anywhere fails collection of one of them ("import file mismatch")."""
    tests = Path(__file__).resolve().parents[1]
    seen: dict[str, list[str]] = defaultdict(list)
    for path in sorted(tests.rglob("test_*.py")):
        seen[path.name].append(str(path.relative_to(tests)))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not clashes, f"rename one of each: {clashes}"
