"""The config schema, shipped inside the package (``vjepa_fer/schemas/config.schema.yaml``).

It is the one place a protocol default is written (docs/architecture.md, "How a config value
reaches the code"): :func:`default` hands a key's default to the command-line options and the
dataclasses that mirror it, and Snakemake's ``validate()`` reads :data:`SCHEMA_FILE`. Loaded with
:mod:`importlib.resources`, so an installed package (``pip install .``, no checkout) has it too.
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

SCHEMA_RESOURCE = resources.files("vjepa_fer").joinpath("schemas", "config.schema.yaml")
# A plain file for every installed form of the package (a wheel unpacked into site-packages,
# an editable checkout); Snakemake's validate() needs a path.
SCHEMA_FILE = Path(str(SCHEMA_RESOURCE))


@functools.cache
def _schema() -> dict[str, Any]:
    if not SCHEMA_RESOURCE.is_file():
        raise FileNotFoundError(f"{SCHEMA_RESOURCE}: config schema missing from the package")
    return yaml.safe_load(SCHEMA_RESOURCE.read_text(encoding="utf-8"))


def load() -> dict[str, Any]:
    """The schema as a fresh dict (callers may change it)."""
    return copy.deepcopy(_schema())


def _node(path: str) -> dict[str, Any]:
    schema = _schema()
    node: dict[str, Any] = schema
    for part in path.split("."):
        props = node.get("properties", {})
        if part not in props:
            raise KeyError(f"config key {path!r} is not in {SCHEMA_FILE.name} (no {part!r})")
        node = props[part]
        if "$ref" in node:  # e.g. encoder: {$ref: "#/$defs/encoder"}
            node = {**schema["$defs"][node["$ref"].rsplit("/", 1)[-1]], **node}
    return node


def default(path: str) -> Any:
    """The schema's default of the dotted config key ``path`` (e.g. ``"encoder.img_size"``)."""
    node = _node(path)
    if "default" not in node:
        raise KeyError(f"config key {path!r} has no default in {SCHEMA_FILE.name}")
    value = node["default"]
    return list(value) if isinstance(value, list) else value
