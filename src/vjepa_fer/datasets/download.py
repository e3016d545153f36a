"""Download stage (``vjepa-fer download``): a downloadable dataset, or a V-JEPA checkpoint.

A dataset is fetched by its own module (``Dataset.download``: RAVDESS in
``datasets/ravdess/download.py``, CREMA-D in ``datasets/cremad/download.py``), which also adds
and reads its own options (RAVDESS's ``--base-url``, CREMA-D's ``--mirror``, ...:
``Dataset.add_arguments``, ``Dataset.own_options``); the checkpoint and the shared machinery
(marker, checksum tables, offline advice) are in :mod:`vjepa_fer.data.download`, HTTP and zip
handling in :mod:`vjepa_fer.data.fetch`.

Every dataset download ends by writing ``<root>/.vjepa-fer-download.json`` atomically; Snakemake
rules use that marker as their output. Reruns skip everything that is already verified.

A checksum table (``--checksums``, config ``datasets.<name>.checksums``) replaces the packaged one:
CSV or TSV with columns ``name, sha256, size`` (CREMA-D) or ``name, md5, size`` (RAVDESS; the
Zenodo record still wins when reachable); only the files it lists are fetched. A host that
refuses connections or does not resolve stops the download at once with one message saying how
to use a local copy instead (:class:`~vjepa_fer.data.fetch.HostUnreachable`). A checkpoint is
renamed into place only after it loads with ``weights_only=True`` and holds the encoder weights.

Run::

    vjepa-fer download --dataset ravdess --root resources/ravdess
    vjepa-fer download --dataset crema-d --root resources/crema-d --jobs 8
    vjepa-fer download --dataset crema-d --root /data/CREMA-D --verify-only
    vjepa-fer download --dataset checkpoint --dest resources/checkpoints/vith16-384.pth.tar
    vjepa-fer download --dataset crema-d --root resources/crema-d --checksums my_sha256.csv
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from vjepa_fer import schema
from vjepa_fer.data.download import (
    DEFAULT_CHECKPOINT_URL,
    MARKER_NAME,
    download_checkpoint,
    now,
)
from vjepa_fer.data.fetch import (
    DEADLINE,
    MIN_SPEED,
    write_json,
)
from vjepa_fer.datasets import add_dataset_arguments, get_dataset

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``vjepa-fer download``."""
    parser.add_argument(
        "--dataset",
        required=True,
        help="what to fetch: a downloadable dataset (ravdess, crema-d) or `checkpoint`",
    )
    parser.add_argument("--root", type=Path, help="dataset folder (ravdess, crema-d)")
    parser.add_argument("--dest", type=Path, help="checkpoint file to write (checkpoint)")
    parser.add_argument("--url", help=f"checkpoint URL (default {DEFAULT_CHECKPOINT_URL})")
    parser.add_argument("--sha256", help="expected checkpoint sha256 (default: record the first)")
    parser.add_argument(
        "--checkpoint-key",
        default=schema.default("encoder.checkpoint_key"),
        help="weights the checkpoint must hold before it is accepted (fallback: encoder)",
    )
    parser.add_argument(
        "--actors",
        type=int,
        nargs="+",
        help="actor IDs to fetch (default all: RAVDESS 1-24, CREMA-D 1001-1091)",
    )
    parser.add_argument(
        "--checksums",
        type=Path,
        help="checksum table (CSV/TSV: name, sha256 (CREMA-D) or md5 (RAVDESS), size) "
        "instead of the packaged one; only the files it lists are fetched",
    )
    parser.add_argument("--marker", type=Path, help=f"marker file (default ROOT/{MARKER_NAME})")
    parser.add_argument(
        "--retries",
        type=int,
        default=schema.default("download.retries"),
        help="failed attempts allowed per file",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=schema.default("download.timeout"),
        help="seconds per network read",
    )
    parser.add_argument(
        "--min-speed",
        type=float,
        default=MIN_SPEED,
        help="bytes/s a transfer must average over 60 s, else it is cut and retried",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=DEADLINE,
        help="seconds a file may take, retries included, before the download fails",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress output (default: a bar on a terminal, else a log line every 30 s)",
    )
    add_dataset_arguments("download", parser)  # each dataset's own, e.g. CREMA-D's --mirror


def run(args: argparse.Namespace) -> int:
    """Run the download stage; raises ValueError / DownloadError (a RuntimeError) on failure."""
    common = {"retries": args.retries, "timeout": args.timeout, "progress": not args.no_progress}
    common |= {"min_speed": args.min_speed, "deadline": args.deadline}
    if args.dataset == "checkpoint":
        if args.dest is None:
            raise ValueError("--dataset checkpoint needs --dest FILE")
        url = args.url or DEFAULT_CHECKPOINT_URL
        digest = download_checkpoint(
            url, args.dest, args.sha256, checkpoint_key=args.checkpoint_key, **common
        )
        if args.marker is not None:
            write_json(
                args.marker,
                {
                    "dataset": "checkpoint",
                    "url": url,
                    "file": str(args.dest),
                    "sha256": digest,
                    "written": now(),
                },
            )
        return 0
    if args.root is None:
        raise ValueError(f"--dataset {args.dataset} needs --root DIR")
    # Each dataset module knows how it is published (vjepa_fer.datasets), and reads its own
    # options (Dataset.own_options).
    ds = get_dataset(args.dataset)
    ds.download(args, common, **ds.own_options("download", args))
    return 0
