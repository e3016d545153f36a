"""Load and validate a pipeline config outside Snakemake (in a user's script or a notebook).

The JSON schema shipped in the package (vjepa_fer/schemas/config.schema.yaml, read by
:mod:`vjepa_fer.schema`) is the single source of defaults;
Snakemake's ``validate()`` fills them for the workflow and :func:`load_config` does the same
here, so both see identical values.

    vjepa-fer validate-config config.yaml
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from vjepa_fer import schema
from vjepa_fer.datasets import BUILTIN

logger = logging.getLogger(__name__)

# Package data, so an installed vjepa-fer (no checkout) validates configs too.
SCHEMA_PATH = schema.SCHEMA_FILE


def _with_defaults(validator_class: type) -> type:
    """A validator that also writes each property's ``default`` into the instance."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def load_schema(path: str | Path | None = None) -> dict[str, Any]:
    """The package's schema (None), or the schema file at ``path``."""
    if path is None:
        return schema.load()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: config schema not found")
    return yaml.safe_load(path.read_text())


def validate_config(config: dict[str, Any], schema: dict[str, Any], source: str) -> dict[str, Any]:
    """A copy of ``config`` with defaults filled; ValueError naming the key path on failure.

    A misspelt key gets a message of its own (the key, where it sits and the keys allowed
    there): it is the commonest config mistake, and jsonschema's wording hides the allowed keys.
    """
    config = copy.deepcopy(config)
    check_markup(config, source)
    check_encoder_blocks(config, schema, source)
    check_dataset_names(config, source)
    check_pca_dataset(config, source)  # only when set: the default may name an absent dataset
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  {_describe(e)}" for e in errors]
        raise ValueError(f"{source}: invalid config\n" + "\n".join(lines))
    check_weights(config, source)
    check_encoder_ids(config, source)
    return config


# Characters no config string may hold: config values reach Markdown tables, LaTeX and the HTML
# report (where Snakemake embeds report jobs' params in a <script> block), so markup and line
# breaks are refused everywhere, before the schema's own patterns for names.
_MARKUP = frozenset("<>") | {chr(c) for c in range(32)} | {"\x7f"}


def check_markup(value: Any, source: str, where: str = "") -> None:
    """Refuse any string of the config (keys too) holding < > or a control character."""
    items: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for key, sub in value.items():
            check_markup(str(key), source, where)
            items.append((f"{where}.{key}" if where else str(key), sub))
    elif isinstance(value, list):
        items = [(f"{where}[{i}]", sub) for i, sub in enumerate(value)]
    elif isinstance(value, str):
        bad = sorted({ch for ch in value if ch in _MARKUP})
        if bad:
            raise ValueError(
                f"{source}: invalid config\n  {where or '<top level>'}: {value!r} holds "
                f"{', '.join(map(repr, bad))}; config strings may not contain < > or control "
                "characters (line breaks, tabs): they reach tables and the HTML report"
            )
    for key, sub in items:
        check_markup(sub, source, key)


def _describe(error: jsonschema.ValidationError) -> str:
    where = "/".join(str(p) for p in error.absolute_path)
    if error.validator == "pattern" and "x-allowed" in error.schema:
        return (
            f"{where or '<top level>'}: {error.instance!r} is not allowed here; allowed: "
            f"{error.schema['x-allowed']} (names reach paths, tables and the HTML report)"
        )
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        keys = ", ".join(".".join([*map(str, error.absolute_path), k]) for k in unknown)
        return f"unknown key {keys}; allowed under {where or 'the top level'}: {', '.join(allowed)}"
    return f"{where or '<top level>'}: {error.message}"


# Encoders whose random weights are their purpose (tests, the demo); must equal
# vjepa_fer.models.registry.RANDOM_BY_DESIGN (kept apart: this module must not import torch).
RANDOM_WEIGHT_ENCODERS = frozenset({"tiny", "tiny_deep"})


def check_weights(config: dict[str, Any], source: str) -> None:
    """A real encoder without a checkpoint needs ``random_weights: true`` (each entry of
    ``encoders``, or the ``encoder`` block)."""
    for where, enc in _encoder_blocks(config):
        name = enc.get("name")
        if (
            enc.get("checkpoint") is None
            and not enc.get("random_weights")
            and name not in RANDOM_WEIGHT_ENCODERS
        ):
            raise ValueError(
                f"{source}: {where}.checkpoint is null for encoder {name!r}: give a checkpoint "
                f"file, or set {where}.random_weights: true to run with random weights on purpose"
            )


# Folders of results/<run_name>/ that are neither an encoder's nor a dataset's: an encoder id or a
# dataset name must not take one of them (docs/outputs.md).
RESERVED_IDS = frozenset({"synth", "logs", "benchmarks", "report", "compare"})


def _encoder_blocks(config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(where in the config, block) of every encoder the run uses."""
    if config.get("encoders") is not None:
        return [(f"encoders[{i}]", e) for i, e in enumerate(config["encoders"])]
    if config.get("encoder") is None:  # a part of a config (e.g. one dataset entry) on its own
        return []
    return [("encoder", config["encoder"])]


def check_encoder_blocks(config: dict[str, Any], schema: dict[str, Any], source: str) -> None:
    """``encoder`` and ``encoders`` together would leave it open which one runs: refuse (an
    ``encoder`` block that only holds the schema's defaults, as a filled config has, is none)."""
    block = config.get("encoder")
    if config.get("encoders") is None or block is None or block == {}:
        return
    if "encoder" in schema.get("$defs", {}):
        defaults: dict[str, Any] = {}
        entry_schema = {**schema["$defs"]["encoder"], "$defs": schema["$defs"]}
        _with_defaults(jsonschema.Draft202012Validator)(entry_schema).validate(defaults)
        if block == defaults:
            return
    raise ValueError(
        f"{source}: invalid config\n  both 'encoder' and 'encoders' are given: a run uses "
        "either one 'encoder' block or an 'encoders' list (each entry a full encoder block "
        "with an id); move the encoder block into the list"
    )


def encoder_id(entry: dict[str, Any]) -> str:
    """An entry's id: its own, else (the ``encoder`` block) its registry name."""
    return entry.get("id") or entry["name"]


def check_encoder_ids(config: dict[str, Any], source: str) -> None:
    """Encoder ids are unique, differ from the run's dataset names and results/' own folders
    (both share results/ with them), and entries sharing a checkpoint file share its URL."""
    blocks = _encoder_blocks(config)
    datasets = set(config.get("datasets", {}))
    seen: dict[str, str] = {}
    urls: dict[str, tuple[str, str]] = {}
    for where, enc in blocks:
        ident = encoder_id(enc)
        if ident in seen:
            raise ValueError(
                f"{source}: invalid config\n  {where}.id: {ident!r} is also the id of "
                f"{seen[ident]}; encoder ids must be unique (they name results/<id>/)"
            )
        if ident in datasets or ident in RESERVED_IDS:
            what = "a dataset of this run" if ident in datasets else "a folder of results/"
            raise ValueError(
                f"{source}: invalid config\n  {where}.id: {ident!r} is {what}; choose another "
                f"id (taken: {sorted(datasets | RESERVED_IDS)})"
            )
        seen[ident] = where
        ckpt, url = enc.get("checkpoint"), enc.get("url")
        if ckpt and url:
            other = urls.setdefault(ckpt, (where, url))
            if other[1] != url:
                raise ValueError(
                    f"{source}: invalid config\n  {where}.url: checkpoint {ckpt!r} is also "
                    f"{other[0]}'s, downloaded from another URL ({other[1]}); give each set of "
                    "weights its own checkpoint path"
                )


def encoder_entries(config: dict[str, Any], schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The run's encoders by id, in config order, each with the schema's defaults filled: the
    ``encoders`` entries, else the ``encoder`` block (id: its own, else its registry name)."""
    entry_schema = {**schema["$defs"]["encoder"], "$defs": schema["$defs"]}
    out: dict[str, dict[str, Any]] = {}
    for where, enc in _encoder_blocks(config):
        entry = validate_config(enc, entry_schema, where)
        out[encoder_id(entry)] = entry
    return out


def check_dataset_names(config: dict[str, Any], source: str) -> None:
    """A dataset name that is not built in must be declared ``type: custom`` (a likely typo
    otherwise): say so with the built-in names, before the schema's generic message."""
    datasets = config.get("datasets")
    if not isinstance(datasets, dict):
        return
    for name, entry in datasets.items():
        if name in RESERVED_IDS:  # results/<run_name>/<name>/ would be one of the run's folders
            raise ValueError(
                f"{source}: invalid config\n  datasets: {name!r} is a folder of "
                f"results/<run_name>/; choose another name (taken: {sorted(RESERVED_IDS)})"
            )
        if name in BUILTIN or (isinstance(entry, dict) and entry.get("type") == "custom"):
            continue
        raise ValueError(
            f"{source}: invalid config\n  datasets: {name!r} is not one of {list(BUILTIN)} "
            "(the built-in datasets); a dataset of your own needs `type: custom` "
            "(docs/adding-a-dataset.md)"
        )


def check_pca_dataset(config: dict[str, Any], source: str) -> None:
    """``evaluation.pca_dataset`` must be one of the run's datasets (any name is a dataset, so
    the schema cannot list them)."""
    name = config.get("evaluation", {}).get("pca_dataset")
    datasets = list(config.get("datasets", {}))
    if name is not None and datasets and name not in datasets:
        raise ValueError(
            f"{source}: invalid config\n  evaluation.pca_dataset: {name!r} is not one of "
            f"{datasets} (the datasets of this run)"
        )


def load_config(path: str | Path, schema_path: str | Path | None = None) -> dict[str, Any]:
    """Read a YAML config, validate it and fill in every default."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a config must be a mapping of keys to values")
    return validate_config(raw, load_schema(schema_path), str(path))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="YAML config file")
    parser.add_argument(
        "--schema", type=Path, default=SCHEMA_PATH, help="JSON schema of the config (YAML)"
    )
    parser.add_argument("--print", action="store_true", help="print the config with defaults")


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.schema)
    if args.print:
        print(json.dumps(config, indent=2))
    logger.info("%s is valid", args.config)
    return 0
