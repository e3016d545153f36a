"""Every default lives once, in vjepa_fer/schemas/config.schema.yaml (docs/architecture.md).

Code takes a default from there (``vjepa_fer.schema.default("encoder.img_size")``) instead of
writing the value again. This test reads the package's source with ``ast`` and fails on a literal
that repeats a schema default under the key's name:

* any command-line option mirroring a config key (``--img-size``, ``--stride`` for
  ``features.eval_stride``, ...), whatever the key;
* function parameters and dataclass fields named after a protocol key (image size, frames per
  clip, frame step, checkpoint key, bootstrap samples and confidence);
* dataclass fields named after a ``probe.*`` key or ``features.pool``;
* module constants named after a key (``FRAME_STEP = 4``, ``DEADLINE = 6 * 3600``: arithmetic of
  literals counts);
* anywhere in the code (docstrings aside), a string that is the default of a key too distinctive
  to be anything else (``"target_encoder"``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from vjepa_fer import schema

SRC = Path(schema.__file__).parent

# Code names that differ from the key's last part: name -> key
ALIASES = {
    "size": "encoder.img_size",
    "stride": "features.eval_stride",
    "views": "features.eval_views",
    "copies": "features.train_copies",
    "num_shards": "features.shards",
    "bootstrap": "evaluation.bootstrap.samples",
    "bootstrap_samples": "evaluation.bootstrap.samples",
    "frames_per_clip": "encoder.num_frames",
    "short_clip": "features.eval_short_clip",
    "encoder": "encoder.name",
    "base_url": "download.ravdess_base_url",
    "record_api": "download.ravdess_record_api",
    "num_train_clips": "probe.clips",
}
# Checked in every function signature and dataclass, not only in command-line options.
PROTOCOL = {
    "encoder.img_size",
    "encoder.num_frames",
    "encoder.frame_step",
    "encoder.checkpoint_key",
    "evaluation.bootstrap.samples",
    "evaluation.bootstrap.confidence",
    "features.eval_stride",
    "features.batch_size",
    "features.dtype",
    "probe.clips",
    "probe.epochs",
    "download.jobs",
    "download.retries",
    "download.timeout",
    "download.min_speed",
    "download.deadline",
}
# Strings no other value would spell: a literal equal to one of these defaults is a copy wherever
# it stands.
DISTINCTIVE = ("encoder.checkpoint_key",)


def schema_leaves() -> dict[str, tuple[str, object]]:
    """Last key part -> (dotted key, default) for every schema default (``datasets`` excluded)."""
    full = schema.load()
    out: dict[str, tuple[str, object]] = {}

    def walk(node: dict, path: tuple[str, ...]) -> None:
        for key, sub in node.get("properties", {}).items():
            if "$ref" in sub:
                sub = {**full["$defs"][sub["$ref"].rsplit("/", 1)[-1]], **sub}
            if key == "datasets":
                continue
            if "properties" in sub and sub.get("type") == "object":
                walk(sub, (*path, key))
            elif "default" in sub:
                out[key] = (".".join((*path, key)), sub["default"])

    walk(full, ())
    by_key = {k: d for k, d in out.values()}
    for name, key in ALIASES.items():
        out[name] = (key, by_key[key])
    return out


LEAVES = schema_leaves()


def _duplicate(name: str | None, value: ast.expr, kind: str) -> str | None:
    """The key whose default ``value`` repeats under ``name``, if this is one to flag."""
    if name is None or not isinstance(value, ast.Constant):
        return None
    name = name.lstrip("-").replace("-", "_")
    if name not in LEAVES or isinstance(value.value, bool) or value.value is None:
        return None  # switches and "not given" are no protocol values
    key, default = LEAVES[name]
    if isinstance(default, bool) or value.value != default:
        return None
    checked = (
        kind in ("option", "constant")
        or key in PROTOCOL
        or (kind == "field" and (key.startswith("probe.") or key == "features.pool"))
    )
    return key if checked else None


def _option_name(call: ast.Call) -> str | None:
    for kw in call.keywords:
        if kw.arg == "dest" and isinstance(kw.value, ast.Constant):
            return kw.value.value
    longs = [a.value for a in call.args if isinstance(a, ast.Constant) and str(a.value)[:2] == "--"]
    return longs[0] if longs else None


_ARITHMETIC = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
    ast.LShift: lambda a, b: a << b,
}


def _folded(value: ast.expr) -> ast.expr:
    """``value`` as one constant when it is arithmetic of number literals (``6 * 3600.0``)."""
    if isinstance(value, ast.BinOp) and type(value.op) in _ARITHMETIC:
        left, right = _folded(value.left), _folded(value.right)
        numbers = (int, float)
        if all(isinstance(v, ast.Constant) and isinstance(v.value, numbers) for v in (left, right)):
            result = _ARITHMETIC[type(value.op)](left.value, right.value)
            return ast.copy_location(ast.Constant(result), value)
    return value


def _prose(tree: ast.Module) -> set[int]:
    """ids of the string statements (docstrings and bare strings): prose, not values."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }


def literal_defaults(source: str) -> list[tuple[int, str, str]]:
    """``(line, name, key)`` of every duplicated default in ``source``."""
    found = []
    distinctive = {schema.default(key): key for key in DISTINCTIVE}

    def check(name: str | None, value: ast.expr, kind: str) -> None:
        key = _duplicate(name, value, kind)
        if key is not None:
            found.append((value.lineno, str(name), key))

    tree = ast.parse(source)
    prose = _prose(tree)
    for node in tree.body:  # module constants: NAME = value, NAME: type = value
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id.isupper():
                    check(target.id.lower(), _folded(node.value), "constant")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value in distinctive
            and id(node) not in prose
        ):
            found.append((node.lineno, repr(node.value), distinctive[node.value]))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            a = node.args
            positional = a.posonlyargs + a.args
            for arg, value in zip(
                positional[len(positional) - len(a.defaults) :], a.defaults, strict=True
            ):
                check(arg.arg, value, "parameter")
            for arg, value in zip(a.kwonlyargs, a.kw_defaults, strict=True):
                if value is not None:
                    check(arg.arg, value, "parameter")
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    if item.value is not None:
                        check(item.target.id, item.value, "field")
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument":
            for kw in node.keywords:
                if kw.arg == "default":
                    check(_option_name(node), kw.value, "option")
    return sorted(found)


def test_no_default_is_written_twice() -> None:
    found = [
        f"{path.relative_to(SRC.parent)}:{line}: {name} repeats the default of {key}"
        for path in sorted(SRC.rglob("*.py"))
        for line, name, key in literal_defaults(path.read_text(encoding="utf-8"))
    ]
    assert not found, "use vjepa_fer.schema.default(KEY) instead:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "source, key",
    [
        ('p.add_argument("--img-size", type=int, default=384)', "encoder.img_size"),
        ('p.add_argument("--stride", type=int, default=1)', "features.eval_stride"),
        ("def f(x, *, num_frames: int = 16): ...", "encoder.num_frames"),
        ("def f(confidence=0.95): ...", "evaluation.bootstrap.confidence"),
        ("class C:\n    size: int = 384\n", "encoder.img_size"),
        ("class C:\n    epochs: int = 20\n", "probe.epochs"),
        ("FRAME_STEP = 4\n", "encoder.frame_step"),
        ("NUM_TRAIN_CLIPS: int = 8\n", "probe.clips"),
        ("DEADLINE = 6 * 3600.0\n", "download.deadline"),
        ("def f(*, stride: int = 1): ...", "features.eval_stride"),
        ("def f(batch_size=32): ...", "features.batch_size"),
        ("def f(*, retries: int = 5, timeout: float = 61): ...", "download.retries"),
        ("key = spec.get('key') or 'target_encoder'\n", "encoder.checkpoint_key"),
    ],
)
def test_the_scan_finds_a_duplicate(source: str, key: str) -> None:
    assert [k for _, _, k in literal_defaults(source)] == [key]


def test_the_scan_leaves_other_values_alone() -> None:
    source = (
        'p.add_argument("--img-size", type=int, default=224)\n'  # another value: not a copy
        'p.add_argument("--compile", action="store_true", default=False)\n'
        "def f(seed: int = 0, size: int = 64): ...\n"  # seed: a helper's own RNG default
        "SPEED_WINDOW = 60.0\nframe_step = 4\n"  # no such key; not a module constant
        'def g():\n    """Reads target_encoder."""\n    FRAME_STEP = 4\n'  # prose; a local
    )
    assert literal_defaults(source) == []


def test_cli_defaults_come_from_the_schema() -> None:
    from vjepa_fer.cli import build_parser

    parser = build_parser("predict")
    sub = next(a for a in parser._actions if a.dest == "command")
    options = {a.dest: a.default for a in sub.choices["predict"]._actions}
    assert options["batch_size"] == schema.default("features.batch_size")  # was 16, schema 32
