"""Stage ``vjepa-fer train``: attentive probes trained together, online or from the store.

Implements docs/protocol.md ("Training unit", "Optimisation") and docs/compute.md
("What a frozen encoder allows"). Two modes (config ``probe.mode``):

- ``online`` (faithful default): each epoch, each video's 8 augmented clips are encoded once by
  the clip stream and fed to every probe that trains on that video — the 4 fold probes of its
  dataset plus any extra probes (e.g. a learning-rate grid). 20 × 8 × videos forwards per dataset
  instead of the authors' 20 × 8 × 4 × videos.
- ``cached`` (a named deviation: no pixel augmentation, or K fixed augmented copies): probes read
  the training pool from the feature store; the encoder never runs.

Each probe is written as ``<out>/fold<k>/<variant>/probe.safetensors`` with ``probe.json`` (its
spec, classes and training config) and ``curve.csv`` (loss and train accuracy per epoch). A killed
job resumes from its last finished epoch (``<out>/resume-<group>.pt``), with identical results;
its clip-forward count adds the forwards of the epochs run before it was killed.

Defaults follow the authors' code: the last partial batch is kept (``--drop-last`` drops it),
fp16 autocast (``--dtype fp16`` on GPU) trains with a GradScaler, a ≥ 520-frame video draws a
keyed random window inside each partition (``--long-window first`` takes the first).

    vjepa-fer train --dataset ravdess --manifest results/ravdess/manifest.csv \\
        --lengths results/ravdess/lengths.csv --root DATA --folds 1 2 3 4 5 \\
        --out results/probes/ravdess --done results/probes/ravdess/train-all.json --encoder tiny
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import time
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd
import torch
from safetensors.torch import save_file

from vjepa_fer import schema
from vjepa_fer.datasets import labels_for, load_cards
from vjepa_fer.features.build import (
    add_encoder_arguments,
    add_rank_arguments,
    build_stream,
    pixel_config,
    resolve_device,
    run_reported,
)
from vjepa_fer.features.gpu_slots import claim_for_job
from vjepa_fer.features.plan import train_requests, usable_videos
from vjepa_fer.features.ranks import Ranks, broadcast_object, launch
from vjepa_fer.features.store import FeatureStore
from vjepa_fer.features.stream import ClipRequest, autocast_dtype
from vjepa_fer.io import atomic_open, atomic_path, write_csv
from vjepa_fer.probe.inputs import input_spec
from vjepa_fer.probe.trainer import ProbeSpec, ProbeTrainer, TrainConfig, epoch_order

logger = logging.getLogger(__name__)


def parse_extra(text: str) -> tuple[str, dict]:
    """``NAME:key=value,key=value`` (keys of ProbeSpec: lr, weight_decay, seed, ...)."""
    name, _, body = text.partition(":")
    if not name or not body:
        raise ValueError(f"--extra {text!r}: expected NAME:key=value[,key=value]")
    fields = {f for f in ProbeSpec.__dataclass_fields__} - {"dataset", "fold", "variant"}
    values: dict = {}
    for item in body.split(","):
        key, _, raw = item.partition("=")
        if key not in fields:
            raise ValueError(f"--extra {text!r}: unknown key {key!r}; known: {sorted(fields)}")
        values[key] = int(raw) if key in ("seed", "head_classes") else float(raw)
    return name, values


def build_specs(
    dataset: str, folds: list[int], base: ProbeSpec, extras: list[str]
) -> list[ProbeSpec]:
    """The main probe of every fold, plus each extra variant of every fold."""
    specs = [replace(base, dataset=dataset, fold=f) for f in folds]
    for text in extras:
        name, values = parse_extra(text)
        specs += [replace(base, dataset=dataset, fold=f, variant=name, **values) for f in folds]
    return specs


def make_trainers(specs, videos: pd.DataFrame, encoder_dims: tuple[int, int], cfg, device, amp):
    classes = labels_for(specs[0].dataset)
    trainers = []
    for spec in specs:
        train = videos[videos["fold"] != spec.fold]
        labels = {
            v: classes.index(lab) for v, lab in zip(train["video"], train["label"], strict=True)
        }
        n_out = spec.head_classes or len(classes)
        if n_out < len(classes):
            raise ValueError(f"head_classes={n_out} < {len(classes)} classes of {spec.dataset}")
        trainers.append(
            ProbeTrainer(
                spec,
                labels,
                embed_dim=encoder_dims[0],
                num_heads=encoder_dims[1],
                num_classes=n_out,
                cfg=cfg,
                device=device,
                amp_dtype=amp,
            )
        )
    return trainers


def fingerprint(specs: list[ProbeSpec], cfg: TrainConfig, extra: dict) -> str:
    blob = json.dumps([asdict(s) for s in specs] + [asdict(cfg), extra], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class Resume:
    """Per-epoch state of a training job, so a killed job continues where it stopped.

    ``forwards`` is the clip-forward count of the epochs already run (by this job and any killed
    one before it); the caller adds the forwards it runs itself.
    """

    def __init__(self, path: Path, key: str) -> None:
        self.path, self.key = path, key
        self.forwards = 0

    def load(self, trainers: list[ProbeTrainer]) -> int:
        """Restore the trainers; returns the first epoch still to run."""
        self.forwards = 0
        if not self.path.exists():
            return 0
        state = torch.load(self.path, map_location="cpu", weights_only=True)
        if state.get("key") != self.key:
            logger.warning("%s belongs to another configuration; starting afresh", self.path)
            return 0
        for t in trainers:
            t.load_state(state["probes"][t.spec.name])
        self.forwards = int(state.get("forwards", 0))
        logger.info(
            "resuming after epoch %d from %s (%d clip forwards already run)",
            state["epoch"] + 1,
            self.path,
            self.forwards,
        )
        return int(state["epoch"]) + 1

    def save(self, trainers: list[ProbeTrainer], epoch: int, forwards: int = 0) -> None:
        """Save after ``epoch``; ``forwards`` = clip forwards this process ran so far."""
        state = {
            "key": self.key,
            "epoch": epoch,
            "forwards": self.forwards + int(forwards),
            "probes": {t.spec.name: t.state() for t in trainers},
        }
        with atomic_path(self.path) as tmp:
            torch.save(state, tmp)


def run_online(trainers, videos, root, stream, cfg, pixels, resume, epochs) -> None:
    """Epochs of online training. With parallel ranks only rank 0 (the probes' rank) restores,
    trains and saves; the others encode their share of every epoch's clips (docs/compute.md)."""
    ranks = stream.ranks
    if ranks.leader:
        for t in trainers:
            stream.register(t, wants=t.wants)
    needed = set().union(*(t.labels for t in trainers))
    by_video = videos.set_index("video", drop=False)
    first = broadcast_object(resume.load(trainers) if ranks.leader else None, ranks)

    def requests_for(epoch: int) -> list[ClipRequest]:
        # The order is a permutation of the whole dataset, filtered: the same for every grouping.
        order = epoch_order(list(videos["video"]), cfg.seed, epoch if cfg.reshuffle else 0)
        order = [v for v in order if v in needed]
        return train_requests(
            by_video.loc[order],
            epoch=epoch,
            seed=cfg.seed,
            augment=cfg.augment,
            random_clips=cfg.random_clips,
            long_window=cfg.long_window,
            num_clips=cfg.clips,
            frames_per_clip=pixels.frames_per_clip,
            frame_step=pixels.frame_step,
        )

    def end_epoch(epoch: int) -> None:
        if not ranks.leader:
            return
        for t in trainers:
            t.end_epoch(epoch)
        resume.save(trainers, epoch, stream.forwards)
        logger.info(
            "epoch %d/%d: %s",
            epoch + 1,
            epochs,
            {t.spec.name: round(t.curve[-1]["loss"], 4) for t in trainers},
        )

    # One loader for all epochs: its workers decode epoch e + 1 while epoch e's last batches
    # train, instead of draining and restarting at every epoch boundary.
    stream.run_epochs(root, range(first, epochs), requests_for, pixels.config, end_epoch)


def run_cached(trainers, videos, store, cfg, copies, resume, epochs) -> None:
    needed = set().union(*(t.labels for t in trainers))
    index = store.index.set_index(["video", "epoch"]).sort_index()
    for epoch in range(resume.load(trainers), epochs):
        copy = epoch % copies if copies else 0
        order = epoch_order(list(videos["video"]), cfg.seed, epoch if cfg.reshuffle else 0)
        for video in (v for v in order if v in needed):
            rows = index.loc[(video, copy)].reset_index().sort_values("clip")
            tokens = store.tokens(rows)  # (clips, N, D)
            reqs = [
                ClipRequest(video, int(r.clip), int(r.start), (), epoch=epoch)
                for r in rows.itertuples()
            ]
            for t in trainers:
                if video in t.labels:
                    t.consume(reqs, tokens)
        for t in trainers:
            t.end_epoch(epoch)
        resume.save(trainers, epoch)


def save_probe(trainer: ProbeTrainer, out: Path, meta: dict) -> Path:
    folder = out / f"fold{trainer.spec.fold}" / trainer.spec.variant
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in trainer.probe.state_dict().items()}
    with atomic_path(folder / "probe.safetensors") as tmp:
        save_file(state, str(tmp))
    write_csv(pd.DataFrame(trainer.curve), folder / "curve.csv")
    info = {
        "spec": asdict(trainer.spec),
        "classes": list(labels_for(trainer.spec.dataset)),
        "num_outputs": trainer.probe.linear.out_features,
        "embed_dim": trainer.embed_dim,
        "num_heads": trainer.num_heads,
        "train": asdict(trainer.cfg),
        "train_videos": len(trainer.labels),
        **meta,
    }
    with atomic_open(folder / "probe.json") as fh:
        json.dump(info, fh, indent=2)
    return folder


class PixelPlan:
    """Clip geometry plus the stream's pixel settings, from the command-line flags."""

    def __init__(self, args: argparse.Namespace, augment_cfg=None) -> None:
        self.frames_per_clip, self.frame_step = args.num_frames, args.frame_step
        self.config = pixel_config(args, augment=augment_cfg)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset",
        required=True,
        help="dataset the probes are trained on (a name in vjepa_fer.datasets)",
    )
    parser.add_argument(
        "--manifest", required=True, type=Path, help="manifest CSV written by vjepa-fer index"
    )
    parser.add_argument(
        "--lengths", required=True, type=Path, help="frame counts written by vjepa-fer lengths"
    )
    parser.add_argument("--root", type=Path, help="dataset root (online mode)")
    parser.add_argument("--out", required=True, type=Path, help="probe folder of the dataset")
    parser.add_argument("--done", type=Path, help="JSON summary written at the end")
    parser.add_argument(
        "--folds",
        type=int,
        nargs="+",
        default=[1, 2, 3, 4, 5],
        help="folds to train a probe for (each on the other folds' actors)",
    )
    parser.add_argument("--group", default="all", help="name of this job's probe group")
    parser.add_argument(
        "--mode",
        choices=["online", "cached"],
        default=schema.default("probe.mode"),
        help="online: encode augmented clips every epoch; cached: train from the store",
    )
    parser.add_argument("--store", type=Path, help="cached mode: feature store of the pool")
    parser.add_argument("--store-index", type=Path, help="cached mode: merged store index")
    parser.add_argument(
        "--copies",
        type=int,
        default=schema.default("features.train_copies"),
        help="cached: augmented copies stored",
    )
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs, help="training epochs")
    parser.add_argument(
        "--batch-videos",
        type=int,
        default=TrainConfig.batch_videos,
        help="videos per optimiser step",
    )
    parser.add_argument(
        "--lr", type=float, default=ProbeSpec.lr, help="peak learning rate of the cosine schedule"
    )
    parser.add_argument(
        "--final-lr", type=float, default=ProbeSpec.final_lr, help="learning rate at the last step"
    )
    parser.add_argument(
        "--weight-decay",
        type=float,
        default=ProbeSpec.weight_decay,
        help="weight decay at the first step",
    )
    parser.add_argument(
        "--final-weight-decay",
        type=float,
        default=ProbeSpec.final_weight_decay,
        help="weight decay at the last step",
    )
    parser.add_argument(
        "--grad-clip",
        type=float,
        default=TrainConfig.grad_clip,
        help="gradient-norm clipping threshold",
    )
    parser.add_argument(
        "--clips", type=int, default=TrainConfig.clips, help="training clips per video"
    )
    parser.add_argument(
        "--unit",
        choices=["video", "clip"],
        default=TrainConfig.unit,
        help="video: a video's clips pooled at once; clip: one clip per sample",
    )
    parser.add_argument(
        "--drop-last",
        action=argparse.BooleanOptionalAction,
        default=TrainConfig.drop_last,
        help="drop each epoch's last partial batch (default: kept, as the authors' loader)",
    )
    parser.add_argument(
        "--lr-schedule",
        choices=["authors", "aligned"],
        default=TrainConfig.lr_schedule,
        help="authors: their scheduler, one step ahead (default); aligned: step k at cosine(k)",
    )
    parser.add_argument(
        "--reshuffle",
        action=argparse.BooleanOptionalAction,
        default=TrainConfig.reshuffle,
        help="a new video order every epoch (--no-reshuffle: the authors' one fixed order)",
    )
    parser.add_argument(
        "--random-clips",
        action=argparse.BooleanOptionalAction,
        default=TrainConfig.random_clips,
        help="the paper's random clips (--no-random-clips: the authors' 8 fixed clips)",
    )
    parser.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=TrainConfig.augment,
        help="the authors' training augmentation (--no-augment: clean clips)",
    )
    parser.add_argument("--head-classes", type=int, default=0, help="0 = the dataset's classes")
    parser.add_argument("--extra", action="append", default=[], help="NAME:lr=..,weight_decay=..")
    add_encoder_arguments(parser)
    add_rank_arguments(parser)


def run(args: argparse.Namespace) -> int:
    for tmp in args.out.glob(f".resume-{args.group}.pt.*.tmp"):
        logger.info("removing a killed job's temporary file %s", tmp)
        tmp.unlink()
    if args.devices_per_job > 1 and args.mode != "online":
        raise ValueError("--devices-per-job > 1 splits the encoder's work: online mode only")
    slots = claim_for_job(args.device, args.devices_per_job)  # noqa: F841 - held until exit
    return launch(run_ranks, args, args.devices_per_job)


def run_ranks(args: argparse.Namespace, ranks: Ranks) -> int:
    """One rank's part of :func:`run` (the whole of it on one device)."""
    load_cards(Path(args.manifest).parent.parent)  # custom datasets' classes, beside the manifest
    videos = usable_videos(pd.read_csv(args.manifest), pd.read_csv(args.lengths))
    if set(videos["dataset"]) != {args.dataset}:
        raise ValueError(f"{args.manifest}: not a {args.dataset} manifest")
    base = ProbeSpec(
        args.dataset,
        0,
        lr=args.lr,
        final_lr=args.final_lr,
        weight_decay=args.weight_decay,
        final_weight_decay=args.final_weight_decay,
        seed=args.seed,
        head_classes=args.head_classes,
    )
    specs = build_specs(args.dataset, args.folds, base, args.extra)
    cfg = TrainConfig(
        epochs=args.epochs,
        batch_videos=args.batch_videos,
        grad_clip=args.grad_clip,
        clips=args.clips,
        unit=args.unit,
        drop_last=args.drop_last,
        reshuffle=args.reshuffle,
        random_clips=args.random_clips,
        long_window=args.long_window,
        augment=args.augment,
        seed=args.seed,
        lr_schedule=args.lr_schedule,
    )
    encoder_meta = {
        "encoder": args.encoder,
        "checkpoint": args.checkpoint,
        "img_size": args.img_size,
        "num_frames": args.num_frames,
        "frame_step": args.frame_step,
        "mode": args.mode,
        "copies": args.copies,  # cached mode: 0 = trained on clean clips (read by the figures)
    }
    resume = Resume(
        args.out / f"resume-{args.group}.pt",
        fingerprint(specs, cfg, {**encoder_meta, "copies": args.copies}),
    )
    t0 = time.perf_counter()
    forwards = 0
    if args.mode == "online":
        if args.root is None:
            raise ValueError("online training needs --root (the dataset's videos)")
        stream, encoder = build_stream(args, ranks=ranks, shard="gather")
        trainers = make_trainers(
            specs, videos, (encoder.embed_dim, encoder.num_heads), cfg, stream.device, stream.amp
        )
        # Every epoch encodes each training video's clips once (for all its probes).
        clips = len(set().union(*(t.labels for t in trainers))) * cfg.clips * cfg.epochs
        run_reported(
            stream, encoder, args, clips=clips, desc=f"train {args.dataset} ({cfg.epochs} epochs)",
            work=lambda: run_online(
                trainers, videos, args.root, stream, cfg, PixelPlan(args), resume, cfg.epochs
            ),
        )  # fmt: skip
        forwards = resume.forwards + stream.forwards  # a resumed job adds the killed one's
        if not ranks.leader:
            return 0
    else:
        if args.store is None:
            raise ValueError("cached training needs --store (a feature store of the train pool)")
        store = FeatureStore(args.store, args.store_index)
        dims = (store.cfg["embed_dim"], store.cfg["num_heads"])
        device = resolve_device(args.device)

        trainers = make_trainers(
            specs, videos, dims, cfg, device, autocast_dtype(torch.device(device), args.dtype)
        )
        run_cached(trainers, videos, store, cfg, args.copies, resume, cfg.epochs)
    # Everything `vjepa-fer predict` needs to rebuild this probe's input for any video.
    fps = pd.read_csv(args.lengths).set_index("video").loc[videos["video"], "fps"].median()
    meta = {
        **encoder_meta,
        "input": input_spec(
            encoder=args.encoder,
            checkpoint=args.checkpoint,
            checkpoint_key=args.checkpoint_key,
            seed=args.seed,
            img_size=args.img_size,
            num_frames=args.num_frames,
            frame_step=args.frame_step,
            fps=float(fps),
            classes=list(labels_for(args.dataset)),
        ),
    }
    folders = [str(save_probe(t, args.out, meta)) for t in trainers]
    summary = {
        "probes": folders,
        "clip_forwards": forwards,  # this job's and, when resumed, the killed job's epochs
        "clip_forwards_this_job": forwards - resume.forwards,
        "mode": args.mode,
        "videos": len(videos),
        "seconds": round(time.perf_counter() - t0, 2),
        "final": {t.spec.name: t.curve[-1] for t in trainers},
    }
    if args.done:
        with atomic_open(args.done) as fh:
            json.dump(summary, fh, indent=2)
    resume.path.unlink(missing_ok=True)
    logger.info("trained %d probes with %d clip forwards", len(trainers), forwards)
    return 0
