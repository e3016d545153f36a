"""Stage ``vjepa-fer extract``: encode a dataset's clips once into the feature store.

Used for the cached-probe mode (the training clip pool, optionally K fixed augmented copies) and
for analysis (evaluation clips for the PCA figure). Extraction is split by actor into shards that
run as separate Snakemake jobs (one GPU each); ``vjepa-fer merge-features`` joins their indexes.
A killed job resumes: videos already in complete parts are skipped.

    vjepa-fer extract --manifest results/ravdess/manifest.csv \
        --lengths results/ravdess/lengths.csv --root resources/datasets/ravdess \
        --encoder vit_huge --checkpoint vith16-384.pth.tar --img-size 384 \
        --kind eval --shard 0 --num-shards 4 --out STORE --device cuda
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import pandas as pd

from vjepa_fer.features.build import add_encoder_arguments, build_stream
from vjepa_fer.io import atomic_open

logger = logging.getLogger(__name__)


class StoreSink:
    """Clip-stream consumer writing tokens into a :class:`StoreWriter`, whole videos at a time."""

    def __init__(self, writer) -> None:  # noqa: ANN001 - StoreWriter, imported lazily
        self.writer = writer
        self._video: str | None = None

    def consume(self, requests, tokens) -> None:  # noqa: ANN001
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifest", required=True, type=Path)
    parser.add_argument("--lengths", required=True, type=Path, help="output of vjepa-fer lengths")
    parser.add_argument("--root", required=True, type=Path, help="dataset root")
    parser.add_argument("--out", required=True, type=Path, help="feature store folder")
    parser.add_argument("--done", type=Path, help="JSON written when the shard is complete")
    parser.add_argument("--kind", choices=["eval", "train"], default="eval")
    parser.add_argument("--stride", type=int, default=1, help="eval: step between clip starts")
    parser.add_argument("--views", type=int, default=1, help="eval: 1 centre view or 3 views")
    parser.add_argument(
        "--copies",
        type=int,
        default=0,
        help="train: augmented copies of the 8-clip pool (0 = unaugmented)",
    )
    parser.add_argument("--shard", type=int, default=0)
    parser.add_argument("--num-shards", type=int, default=1)
    parser.add_argument("--pool", choices=["none", "space", "all"], default="none")
    parser.add_argument("--int8", action="store_true")
    add_encoder_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from vjepa_fer.features.plan import eval_requests, shard_of, train_requests, usable_videos
    from vjepa_fer.features.store import StoreConfig, StoreWriter, remove_incomplete
    from vjepa_fer.features.stream import PixelConfig

    if not 0 <= args.shard < args.num_shards:
        raise ValueError(f"--shard {args.shard} outside 0..{args.num_shards - 1}")
    videos = usable_videos(pd.read_csv(args.manifest), pd.read_csv(args.lengths))
    videos = videos[shard_of(videos["actor"], args.num_shards) == args.shard]
    stream, encoder = build_stream(args)
    grid = (
        args.num_frames // encoder.tubelet_size,
        args.img_size // encoder.patch_size,
        args.img_size // encoder.patch_size,
    )
    removed = remove_incomplete(args.out)
    if removed:
        logger.warning("removed parts of a killed run: %s", removed)
    meta = {
        "encoder": args.encoder,
        "checkpoint": str(args.checkpoint),
        "img_size": args.img_size,
        "num_frames": args.num_frames,
        "frame_step": args.frame_step,
        "seed": args.seed,
        "embed_dim": int(encoder.embed_dim),
        "num_heads": int(encoder.num_heads),
    }
    meta.update(
        {"stride": args.stride, "views": args.views}
        if args.kind == "eval"
        else {"copies": args.copies}
    )
    store_cfg = StoreConfig(pool=args.pool, int8=args.int8, grid=grid)
    writer = StoreWriter(args.out, f"{args.kind}{args.shard}", store_cfg, meta=meta)
    done = writer.done_videos()
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
        requests = eval_requests(todo, stride=args.stride, num_views=args.views, **plan)
    elif args.copies == 0:
        requests = train_requests(todo, epoch=0, seed=args.seed, augment=False, **plan)
    else:  # K fixed augmented copies: copy k is epoch k of the keyed augmentation
        requests = [
            r
            for k in range(args.copies)
            for r in train_requests(todo, epoch=k, seed=args.seed, augment=True, **plan)
        ]
        requests.sort(key=lambda r: r.video)  # whole videos together: parts hold whole videos
    sink = stream.register(StoreSink(writer))
    pixels = PixelConfig(
        size=args.img_size,
        num_views=args.views,
        seed=args.seed,
        augment_backend=getattr(args, "augment_backend", "device"),
    )
    stream.run(args.root, requests, pixels)
    sink.close()
    summary = {
        **stream.counts(),
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
