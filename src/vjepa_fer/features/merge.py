"""Stage ``vjepa-fer merge-features``: join the extraction shards of one store into one index.

Shards never overlap (whole actors per shard), so the merge only concatenates part indexes: per
video, the rows of one complete part written with the store's current settings (``store.json``)
and, when the lengths table records it, the video file's current identity (size:mtime). Parts of
an earlier shard plan are used like any other, never counted twice. It checks that no clip
appears twice and that every usable video of the manifest is present.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import pandas as pd

from vjepa_fer.features.plan import usable_videos
from vjepa_fer.features.store import merge_stores, settings_key
from vjepa_fer.io import atomic_open

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store", required=True, type=Path, help="feature store folder holding the shards"
    )
    parser.add_argument(
        "--kind",
        choices=["eval", "train"],
        required=True,
        help="which store: eval clips or the training pool",
    )
    parser.add_argument("--num-shards", type=int, required=True, help="number of shards to expect")
    parser.add_argument(
        "--manifest", required=True, type=Path, help="manifest CSV written by vjepa-fer index"
    )
    parser.add_argument(
        "--lengths", required=True, type=Path, help="frame counts written by vjepa-fer lengths"
    )
    parser.add_argument("--out", required=True, type=Path, help="merged index CSV")
    parser.add_argument("--counts", nargs="*", type=Path, default=[], help="shards' done JSONs")
    parser.add_argument("--counts-out", type=Path, help="summed clip-forward counts (JSON)")


def run(args: argparse.Namespace) -> int:
    meta = args.store / "store.json"
    if not meta.is_file():
        raise FileNotFoundError(f"{meta}: no feature store here (run vjepa-fer extract first)")
    lengths = pd.read_csv(args.lengths, dtype={"identity": str})
    usable = usable_videos(pd.read_csv(args.manifest), lengths)
    identities = None
    if "identity" in lengths.columns:  # older lengths tables lack it: settings are still checked
        ok = lengths[lengths["video"].isin(usable["video"])]
        identities = dict(zip(ok["video"], ok["identity"], strict=True))
    for tmp in args.out.parent.glob(f".{args.out.name}.*.tmp"):
        tmp.unlink()  # a killed merge's temporary index
    index = merge_stores(
        args.store,
        args.out,
        settings=settings_key(json.loads(meta.read_text())),
        identities=identities,
    )
    expected = set(usable["video"])
    missing = sorted(expected - set(index["video"]))
    if missing:
        args.out.unlink()
        raise ValueError(
            f"{args.store}: {len(missing)} videos missing from the shards: {missing[:10]}"
        )
    if args.counts_out:
        shards = [json.loads(p.read_text()) for p in args.counts]
        total = {
            "clip_forwards": sum(s["clip_forwards"] for s in shards),
            # Forwards the timed encoder_seconds belong to (not those of reused parts).
            "clip_forwards_this_job": sum(
                s.get("clip_forwards_this_job", s["clip_forwards"]) for s in shards
            ),
            "encoder_seconds": round(sum(s["encoder_seconds"] for s in shards), 3),
            "clips_stored": len(index),
            "videos": len(expected),
            "shards": shards,
        }
        with atomic_open(args.counts_out) as fh:
            json.dump(total, fh, indent=2)
    logger.info(
        "merged %d clips of %d videos from %d shards", len(index), len(expected), args.num_shards
    )
    return 0
