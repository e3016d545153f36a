"""Datasets as plug-ins: one module per dataset behind :class:`~vjepa_fer.datasets.base.Dataset`.

Built-in modules register themselves here by name; ``get_dataset(name)`` returns the instance.
A dataset that is not built in (a ``custom`` one, named by the user) reaches later stages through
its card, ``results/<run_name>/<name>/dataset.json``, written by ``vjepa-fer index``: stages
that read results call :func:`load_cards` on the run's results folder first.

    from vjepa_fer.datasets import get_dataset
    ds = get_dataset("dfew")
    ds.classes, ds.test_folds, ds.display_name

The parsers of ``vjepa-fer index``, ``synth`` and ``download`` call :func:`add_dataset_arguments`,
which adds every built-in dataset's own options (``Dataset.add_arguments``).

Adding a dataset: docs/adding-a-dataset.md.
"""

from __future__ import annotations

import argparse
import importlib
import os
from pathlib import Path

from vjepa_fer.datasets.base import COMMANDS, CardDataset, Dataset, IndexOptions, read_card

__all__ = [
    "PAPER_DATASETS",
    "Dataset",
    "IndexOptions",
    "add_dataset_arguments",
    "builtin_names",
    "display_name",
    "get_dataset",
    "labels_for",
    "load_cards",
    "register",
    "resolve",
]

# name -> module that defines it (imported on first use, so the Snakefile stays light)
BUILTIN: dict[str, str] = {
    "ravdess": "vjepa_fer.datasets.ravdess",
    "crema-d": "vjepa_fer.datasets.cremad",
    "dfew": "vjepa_fer.datasets.dfew",
    "ferv39k": "vjepa_fer.datasets.ferv39k",
    "mafw": "vjepa_fer.datasets.mafw",
}
# The datasets of Eing et al.: only a run on exactly these compares with the paper's numbers.
PAPER_DATASETS: tuple[str, ...] = ("ravdess", "crema-d")
# Types that are configured rather than fixed: `type: custom` in the config.
TYPES: dict[str, str] = {"custom": "vjepa_fer.datasets.custom"}

_REGISTRY: dict[str, Dataset] = {}


def register(dataset: Dataset) -> Dataset:
    """Make ``dataset`` known under its name (a later registration of the name replaces it)."""
    _REGISTRY[dataset.name] = dataset
    return dataset


def builtin_names() -> list[str]:
    return list(BUILTIN)


def get_dataset(name: str) -> Dataset:
    """The dataset registered as ``name``; ValueError listing the known ones otherwise."""
    if name not in _REGISTRY and name in BUILTIN:
        importlib.import_module(BUILTIN[name])
    try:
        return _REGISTRY[name]
    except KeyError:
        known = sorted(set(BUILTIN) | set(_REGISTRY))
        raise ValueError(
            f"unknown dataset {name!r}; known: {', '.join(known)} "
            "(a custom dataset is known to later stages through its card, "
            "results/<run_name>/<name>/dataset.json)"
        ) from None


def labels_for(dataset: str) -> tuple[str, ...]:
    """Class names of ``dataset`` in probe-index order (from its module)."""
    return tuple(get_dataset(dataset).classes)


def resolve(name: str, cfg: dict | None = None) -> Dataset:
    """The dataset of a config entry: ``type`` (default: the name) picks the module.

    ``type: custom`` builds a :class:`~vjepa_fer.datasets.custom.CustomDataset` from ``cfg``.
    """
    cfg = cfg or {}
    kind = cfg.get("type") or name
    if kind in TYPES:
        module = importlib.import_module(TYPES[kind])
        return register(module.from_config(name, cfg))
    if kind != name:
        raise ValueError(f"dataset {name!r}: type {kind!r} must be 'custom' or equal the name")
    return get_dataset(name)


def add_dataset_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """Every built-in dataset's own options of ``vjepa-fer <command>`` (``Dataset.add_arguments``),
    each in an argument group titled after the datasets it belongs to, so ``--help`` says whose
    it is. Datasets that share one implementation of the hook (DFEW, FERV39k and MAFW inherit
    the split-file sets' options) add them once, in one group."""
    if command not in COMMANDS:
        raise ValueError(f"datasets add options to {', '.join(COMMANDS)}, not {command!r}")
    shared: dict[type, list[Dataset]] = {}
    for name in BUILTIN:
        ds = get_dataset(name)
        owner = next(c for c in type(ds).__mro__ if "add_arguments" in vars(c))
        if owner is not Dataset:  # the default adds nothing
            shared.setdefault(owner, []).append(ds)
    for members in shared.values():
        title = ", ".join(ds.display_name for ds in members)
        names = ", ".join(ds.name for ds in members)
        group = parser.add_argument_group(f"{title} (--dataset {names})")
        members[0].add_arguments(command, group)


def display_name(name: str) -> str:
    """The name a table or figure prints; the plain name for a dataset nobody registered."""
    try:
        return get_dataset(name).display_name
    except ValueError:
        return name


def load_cards(results: str | os.PathLike[str]) -> list[str]:
    """Register every ``<results>/<name>/dataset.json`` not built in; returns the names found."""
    found = []
    for path in sorted(Path(results).glob("*/dataset.json")):
        card = read_card(path)
        if card["name"] not in BUILTIN:
            register(CardDataset(card))
        found.append(card["name"])
    return found
