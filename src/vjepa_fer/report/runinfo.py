"""Stage ``vjepa-fer run-info``: what a reader of the report needs beside the tables.

Writes, for Snakemake's HTML report: the run's configuration as a flat key/value table, the
software versions that produced it, and an index of every output file under ``results/`` (path,
size, sha256), so a reader can check that a file they hold is the one the report describes.

    vjepa-fer run-info --config-json '{...}' --save-config results/demo/report/config.json
    vjepa-fer run-info --config-file results/demo/report/config.json --results results/demo \
        --out results/demo/report

The workflow passes the config through a file (rule run_config, then run_info): the HTML report
embeds the params of every report output in a ``<script>`` block, so the job whose outputs are in
the report must not carry config strings in its params.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import platform
from pathlib import Path

import pandas as pd

from vjepa_fer.io import atomic_open, file_digest, write_csv

logger = logging.getLogger(__name__)

PACKAGES = (
    "vjepa-fer",
    "torch",
    "numpy",
    "pandas",
    "decord",
    "av",
    "pillow",
    "safetensors",
    "transformers",
    "scikit-learn",
    "matplotlib",
    "seaborn",
    "snakemake",
    "pyyaml",
)


def flatten(config: dict, prefix: str = "") -> list[dict]:
    """Nested config -> rows of (key, value) with dotted keys; lists kept as JSON."""
    rows = []
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += flatten(value, f"{name}.")
        else:
            rows.append({"key": name, "value": json.dumps(value)})
    return rows


def versions() -> pd.DataFrame:
    rows = [
        {"package": "python", "version": platform.python_version()},
        {"package": "platform", "version": platform.platform()},
    ]
    for name in PACKAGES:
        try:
            rows.append({"package": name, "version": importlib.metadata.version(name)})
        except importlib.metadata.PackageNotFoundError:
            rows.append({"package": name, "version": "not installed"})
    try:
        import torch

        cuda = torch.version.cuda or "none"
        gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
        rows += [{"package": "cuda", "version": cuda}, {"package": "gpu", "version": gpu}]
    except ImportError:  # the analysis env (envs/analysis.yaml) has no torch
        pass
    return pd.DataFrame(rows)


def output_index(
    results: Path, skip: tuple[str, ...] = ("synth", "features", "report")
) -> pd.DataFrame:
    """Every file under results/; bulk folders of videos and tokens (``skip``: at the top, as
    results/synth/, or one level down, as an encoder's results/<encoder>/features/) summarised,
    not hashed."""
    rows = []
    bulk: dict[str, list[Path]] = {}
    for path in sorted(p for p in results.rglob("*") if p.is_file()):
        rel = path.relative_to(results)
        folders = rel.parts[:-1][:2]
        depth = next((i for i, part in enumerate(folders) if part in skip), None)
        if depth is not None:
            bulk.setdefault("/".join(rel.parts[: depth + 1]), []).append(path)
            continue
        if path.name.startswith("."):
            continue
        rows.append(
            {
                "file": f"{results.as_posix()}/{rel.as_posix()}",
                "bytes": path.stat().st_size,
                "sha256": file_digest(path),
            }
        )
    for folder, files in sorted(bulk.items()):
        rows.append(
            {
                "file": f"{results.as_posix()}/{folder}/ ({len(files)} files)",
                "bytes": sum(p.stat().st_size for p in files),
                "sha256": "",
            }
        )
    return pd.DataFrame(rows, columns=["file", "bytes", "sha256"])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config-json", help="the run's config as JSON")
    source.add_argument("--config-file", type=Path, help="the run's config as a JSON file")
    parser.add_argument(
        "--save-config",
        type=Path,
        help="only write the config (--config-json) to this JSON file, then stop",
    )
    parser.add_argument(
        "--results", type=Path, help="the run's results folder (results/<run_name>)"
    )
    parser.add_argument("--out", type=Path, help="folder for config, versions and the output index")


def run(args: argparse.Namespace) -> int:
    if args.config_file is not None:
        try:
            config = json.loads(args.config_file.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"{args.config_file}: cannot read the run's config: {err}") from err
    else:
        config = json.loads(args.config_json)
    if args.save_config is not None:
        with atomic_open(args.save_config) as fh:
            json.dump(config, fh, indent=2, sort_keys=True)
        logger.info("config -> %s", args.save_config)
        return 0
    if args.results is None or args.out is None:
        raise ValueError("run-info: --results and --out are needed unless --save-config is given")
    write_csv(pd.DataFrame(flatten(config)), args.out / "config.csv")
    write_csv(versions(), args.out / "versions.csv")
    write_csv(output_index(args.results), args.out / "outputs.csv")
    logger.info("run info -> %s", args.out)
    return 0
