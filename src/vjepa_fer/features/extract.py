"""Stage ``vjepa-fer extract``: encode a dataset's clips once into the feature store.

Used for the cached-probe mode (the training clip pool, optionally K fixed augmented copies) and
for analysis (evaluation clips for the PCA figure). Extraction is split by actor into shards that
run as separate Snakemake jobs (one GPU each); ``vjepa-fer merge-features`` joins their indexes.
A killed job resumes: videos already in complete parts are skipped. The store is a cache keyed by
content and settings (features/store.py): a stored video is reused only when its file (size and
modification time) and every token-changing setting are unchanged; otherwise it is encoded again
and the log says why. A shard only deletes its own files (a killed job's temporaries, parts of
other settings); a changed shard count reuses every shard's parts.

    vjepa-fer extract --manifest results/ravdess/manifest.csv \
        --lengths results/ravdess/lengths.csv --root resources/datasets/ravdess \
        --encoder vit_huge --checkpoint vith16-384.pth.tar --img-size 384 \
        --kind eval --shard 0 --num-shards 4 --out STORE --device cuda
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path

import pandas as pd

from vjepa_fer import schema
from vjepa_fer.features.build import add_encoder_arguments, build_stream, pixel_config, run_reported
from vjepa_fer.features.gpu_slots import claim_for_job
from vjepa_fer.features.plan import eval_requests, shard_of, train_requests, usable_videos
from vjepa_fer.features.store import StoreConfig, StoreWriter
from vjepa_fer.io import atomic_open, file_identity, identity_mode

logger = logging.getLogger(__name__)


class StoreSink:
    """Clip-stream consumer writing tokens into a :class:`StoreWriter`, whole videos at a time."""

    def __init__(self, writer) -> None:
        self.writer = writer
        self._video: str | None = None

    def consume(self, requests, tokens) -> None:
        start = 0
        for k in range(1, len(requests) + 1):
            if k == len(requests) or requests[k].video != requests[start].video:
                if self._video is not None and requests[start].video != self._video:
                    self.writer.end_video()
                self._video = requests[start].video
                self.writer.add([r.meta() for r in requests[start:k]], tokens[start:k])
                start = k

    def close(self) -> None:
        self.writer.close()


def video_identities(videos: pd.DataFrame, root: Path) -> dict[str, str]:
    """video -> file identity now; ValueError if a file changed since ``lengths`` measured it
    (its frame count, hence its clips, may be wrong), when the lengths table records identities."""
    recorded = videos["identity"] if "identity" in videos.columns else [None] * len(videos)
    # Recomputed the way lengths computed it (stat or content: features.identity).
    out = {
        v: file_identity(root / v, identity_mode(rec))
        for v, rec in zip(videos["video"], recorded, strict=True)
    }
    if "identity" in videos.columns:
        stale = [
            v
            for v, rec in zip(videos["video"], videos["identity"], strict=True)
            if isinstance(rec, str) and rec and rec != out[v]
        ]
        if stale:
            raise ValueError(
                f"{len(stale)} videos under {root} changed since the lengths step measured them "
                f"(their identities differ), e.g. {stale[:5]}; run the lengths step again "
                "(snakemake -R lengths)"
            )
    return out


def token_settings(args: argparse.Namespace, encoder) -> dict:  # noqa: ANN001
    """Every setting that changes what the store holds for a video (the store's cache key)."""
    checkpoint = None
    if args.checkpoint:
        path = Path(args.checkpoint)
        checkpoint = {"path": str(path), "identity": file_identity(path) if path.exists() else None}
    meta = {
        "encoder": args.encoder,
        "checkpoint": checkpoint,
        "checkpoint_key": args.checkpoint_key,
        "img_size": args.img_size,
        "num_frames": args.num_frames,
        "frame_step": args.frame_step,
        "dtype": args.dtype,
        "seed": args.seed,
        "embed_dim": int(encoder.embed_dim),
        "num_heads": int(encoder.num_heads),
        "kind": args.kind,
    }
    if args.kind == "eval":
        meta.update(stride=args.stride, views=args.views, short_clip=args.short_clip)
    else:
        meta.update(copies=args.copies, long_window=args.long_window)
        if args.copies:  # augmented copies: the backends differ in interpolation details
            meta.update(augment_backend=args.augment_backend)
    return meta


def _exit_on_sigterm() -> None:
    """SIGTERM (Snakemake or SLURM stopping the job) unwinds like an error, so atomic writes
    remove their temporary files instead of leaving them behind."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--manifest", required=True, type=Path, help="manifest CSV written by vjepa-fer index"
    )
    parser.add_argument("--lengths", required=True, type=Path, help="output of vjepa-fer lengths")
    parser.add_argument("--root", required=True, type=Path, help="dataset root")
    parser.add_argument("--out", required=True, type=Path, help="feature store folder")
    parser.add_argument("--done", type=Path, help="JSON written when the shard is complete")
    parser.add_argument(
        "--kind",
        choices=["eval", "train"],
        default="eval",
        help="eval: every evaluation clip; train: the 8-clip training pool",
    )
    parser.add_argument(
        "--stride",
        type=int,
        default=schema.default("features.eval_stride"),
        help="eval: step between clip starts",
    )
    parser.add_argument(
        "--views",
        type=int,
        default=schema.default("features.eval_views"),
        help="eval: 1 centre view or 3 views",
    )
    parser.add_argument(
        "--copies",
        type=int,
        default=schema.default("features.train_copies"),
        help="train: augmented copies of the 8-clip pool (0 = unaugmented)",
    )
    parser.add_argument(
        "--shard", type=int, default=0, help="this job's shard (0-based); shards split the actors"
    )
    parser.add_argument(
        "--num-shards",
        type=int,
        default=schema.default("features.shards"),
        help="number of extraction jobs",
    )
    parser.add_argument(
        "--pool",
        choices=["none", "space", "all"],
        default=schema.default("features.pool"),
        help="token pooling before storing: none, over space, or everything",
    )
    parser.add_argument(
        "--int8", action="store_true", help="store tokens as 8 bit with a per-token scale"
    )
    add_encoder_arguments(parser)


def run(args: argparse.Namespace) -> int:

    if not 0 <= args.shard < args.num_shards:
        raise ValueError(f"--shard {args.shard} outside 0..{args.num_shards - 1}")
    _exit_on_sigterm()
    lengths = pd.read_csv(args.lengths, dtype={"identity": str})
    videos = usable_videos(pd.read_csv(args.manifest), lengths)
    if "identity" in lengths.columns:
        videos = videos.merge(lengths[["video", "identity"]], on="video", how="left")
    videos = videos[shard_of(videos["actor"], args.num_shards) == args.shard]
    identities = video_identities(videos, Path(args.root))
    slots = claim_for_job(args.device, 1)  # noqa: F841 - this box's GPU slot, held until exit
    stream, encoder = build_stream(args)
    grid = (
        args.num_frames // encoder.tubelet_size,
        args.img_size // encoder.patch_size,
        args.img_size // encoder.patch_size,
    )
    store_cfg = StoreConfig(pool=args.pool, int8=args.int8, grid=grid)
    meta = token_settings(args, encoder)
    writer = StoreWriter(args.out, f"{args.kind}{args.shard}", store_cfg, meta=meta)
    writer.identities = identities
    done = writer.reusable(identities)
    reused_forwards = writer.stored_forwards(done, identities)
    todo = videos[~videos["video"].isin(done)]
    logger.info(
        "shard %d/%d: %d videos (%d already stored)",
        args.shard,
        args.num_shards,
        len(videos),
        len(videos) - len(todo),
    )
    plan = dict(frames_per_clip=args.num_frames, frame_step=args.frame_step)
    if args.kind == "eval":
        requests = eval_requests(
            todo, stride=args.stride, num_views=args.views, short=args.short_clip, **plan
        )
    elif args.copies == 0:
        requests = train_requests(
            todo, epoch=0, seed=args.seed, augment=False, long_window=args.long_window, **plan
        )
    else:  # K fixed augmented copies: copy k is epoch k of the keyed augmentation
        requests = [
            r
            for k in range(args.copies)
            for r in train_requests(
                todo, epoch=k, seed=args.seed, augment=True, long_window=args.long_window, **plan
            )
        ]
        requests.sort(key=lambda r: r.video)  # whole videos together: parts hold whole videos
    sink = stream.register(StoreSink(writer))
    pixels = pixel_config(args, num_views=args.views)
    run_reported(
        stream, encoder, args, clips=len(requests),
        desc=f"extract {args.kind} shard {args.shard}",
        work=lambda: stream.run(args.root, requests, pixels),
    )  # fmt: skip
    sink.close()
    counts = stream.counts()
    summary = {
        **counts,
        # The forwards behind this shard's store: this job's and those of earlier jobs whose
        # parts it reuses (a job killed after its last part counted 0 forwards before).
        "clip_forwards": counts["clip_forwards"] + reused_forwards,
        "clip_forwards_this_job": counts["clip_forwards"],
        "clip_forwards_reused": reused_forwards,
        "videos": len(videos),
        "videos_skipped_already_stored": len(videos) - len(todo),
        "kind": args.kind,
        "shard": args.shard,
        "num_shards": args.num_shards,
        "encoder": args.encoder,
        "img_size": args.img_size,
        "device": str(stream.device),
        "dtype": args.dtype,
    }
    if stream.encoder_seconds > 0:
        summary["clips_per_second"] = round(stream.forwards / stream.encoder_seconds, 2)
    if args.done:
        with atomic_open(args.done) as fh:
            json.dump(summary, fh, indent=2)
    logger.info("%s", summary)
    return 0
