"""Building and running the clip stream from command-line flags, shared by the encoder stages.

``vjepa-fer extract``, ``train`` and ``infer`` all encode clips through one
:class:`~vjepa_fer.features.stream.ClipStream`; their encoder and stream flags, the device choice,
the construction, the pixel settings (:func:`pixel_config`) and the run itself with its CPU
fallback report and progress bar (:func:`run_reported`) live here, written once, so that no stage
imports another stage's CLI module.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import TypeVar

import torch
import torch.nn as nn

from vjepa_fer import schema
from vjepa_fer.features.cpu_fallback import report_cpu_fallback
from vjepa_fer.features.pixels import PixelConfig
from vjepa_fer.features.ranks import SINGLE, Ranks
from vjepa_fer.features.stream import ClipStream
from vjepa_fer.models.registry import build_encoder, require_weights
from vjepa_fer.progress import ClipCounter, Progress
from vjepa_fer.video.augment import AugmentConfig

T = TypeVar("T")


def resolve_device(name: str) -> str:
    """``auto`` becomes ``cuda`` when a GPU is present, else ``cpu``; a missing CUDA is an error."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine")
    return name


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    """``--device`` and ``--dtype`` of every command that runs an encoder (extract, train, infer,
    predict)."""
    parser.add_argument(
        "--device",
        default=schema.default("features.device"),
        help="auto (CUDA when present), cpu, cuda or cuda:N",
    )
    parser.add_argument(
        "--dtype",
        choices=["bf16", "fp16", "fp32"],
        default=schema.default("features.dtype"),
        help="autocast precision on GPU (CPU runs float32)",
    )


def add_encoder_arguments(parser: argparse.ArgumentParser) -> None:
    """Encoder and clip-stream flags shared by extract, train and infer."""
    parser.add_argument(
        "--encoder",
        default=schema.default("encoder.name"),
        help="encoder name in the registry (vit_large, vit_huge, vit_giant, tiny, ...)",
    )
    parser.add_argument("--checkpoint", default=None, help="encoder checkpoint file")
    parser.add_argument(
        "--random-weights",
        action="store_true",
        help="run a non-tiny encoder without a checkpoint (seeded random weights)",
    )
    parser.add_argument(
        "--checkpoint-key",
        default=schema.default("encoder.checkpoint_key"),
        help="state-dict entry holding the weights",
    )
    parser.add_argument(
        "--img-size",
        type=int,
        default=schema.default("encoder.img_size"),
        help="frame size in pixels fed to the encoder",
    )
    parser.add_argument(
        "--num-frames",
        type=int,
        default=schema.default("encoder.num_frames"),
        help="frames per clip",
    )
    parser.add_argument(
        "--frame-step",
        type=int,
        default=schema.default("encoder.frame_step"),
        help="take every n-th frame inside a clip",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=schema.default("features.batch_size"),
        help="clips per encoder forward",
    )
    parser.add_argument(
        "--workers", type=int, default=schema.default("features.workers"), help="decoding processes"
    )
    add_device_arguments(parser)
    parser.add_argument("--compile", action="store_true", help="torch.compile the encoder")
    parser.add_argument(
        "--seed",
        type=int,
        default=schema.default("seed"),
        help="seed of random weights and augmentation",
    )
    parser.add_argument(
        "--augment-backend",
        choices=["device", "reference"],
        default=schema.default("features.augment_backend"),
        help="where clips are assembled and augmented: the encoder's device, or the reference "
        "(float32 clips built with PIL in the loader processes)",
    )
    parser.add_argument(
        "--short-clip",
        choices=["authors", "window"],
        default=schema.default("features.eval_short_clip"),
        help="evaluation clip of a video of at most 64 frames: the authors' rule or the paper's",
    )
    parser.add_argument(
        "--long-window",
        choices=["random", "first"],
        default=schema.default("probe.long_window"),
        help="training clips of ≥ 520-frame videos: a keyed random window per partition (the "
        "authors) or each partition's first window",
    )


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}")
    return value


def add_rank_arguments(parser: argparse.ArgumentParser) -> None:
    """``--devices-per-job``: data-parallel ranks of train and infer (docs/compute.md)."""
    parser.add_argument(
        "--devices-per-job",
        type=positive_int,
        default=schema.default("compute.devices_per_job"),
        help="processes (one per device: cuda:0..N-1 of the visible GPUs, or the CPU) that "
        "share the encoder's work; results equal one device's",
    )


def cpu_budget(env: dict[str, str] | None = None) -> int:
    """Cores this job may use: ``OMP_NUM_THREADS`` when set (Snakemake sets it to the rule's
    ``threads`` for every job), else every core of the machine."""
    env = os.environ if env is None else env
    try:
        return max(1, int(env.get("OMP_NUM_THREADS", "")))
    except ValueError:
        return os.cpu_count() or 1


# Sets the CPU encoder's intra-op threads per rank outright (a positive integer). For runs that
# ask for more cores than the machine has on purpose: the test suite runs two pipelines at once
# on 2 cores, each with `--cores 8` (docs/development.md, "Test times").
ENCODER_THREADS_ENV = "VJEPA_FER_ENCODER_THREADS"


def encoder_threads(budget: int, ranks: int, override: str | None = None) -> int:
    """Intra-op threads of one rank's CPU encoder: the job's ``budget`` cores split among its
    ``ranks`` encoder processes, or ``override`` (the value of :data:`ENCODER_THREADS_ENV`).

    Left alone, torch gives every rank the whole budget, so ``ranks`` processes would run
    ``ranks x budget`` OpenMP threads on ``budget`` cores. The loader workers beside each rank
    are not subtracted: they wait on a full prefetch queue while the encoder is the bottleneck,
    and taking their cores from the encoder made one job 1.45x slower (benchmarks/README.md,
    "CPU encoder threads").
    """
    if override is not None and override != "":
        try:
            value = int(override)
        except ValueError:
            value = 0
        if value < 1:
            raise ValueError(f"{ENCODER_THREADS_ENV}={override!r}: must be a positive integer")
        return value
    return max(1, budget // max(1, ranks))


def build_stream(
    args: argparse.Namespace, *, ranks: Ranks = SINGLE, shard: str = "gather"
) -> tuple[ClipStream, nn.Module]:
    """The encoder named by the flags, wrapped in a clip stream on the chosen device.

    On the CPU the encoder's threads are set by :func:`encoder_threads`; on a GPU the process's
    CPU threads are left as they are.
    """
    device = resolve_device(args.device)
    if device == "cpu":
        override = os.environ.get(ENCODER_THREADS_ENV)
        torch.set_num_threads(encoder_threads(cpu_budget(), ranks.size, override))

    require_weights(args.encoder, args.checkpoint, args.random_weights)
    encoder = build_encoder(
        args.encoder,
        img_size=args.img_size,
        num_frames=args.num_frames,
        checkpoint=args.checkpoint,
        checkpoint_key=args.checkpoint_key,
        **({"seed": args.seed} if args.checkpoint is None else {}),
    )
    stream = ClipStream(
        encoder,
        device=device,
        dtype=args.dtype,
        batch_size=args.batch_size,
        workers=args.workers,
        compile=args.compile,
        ranks=ranks,
        shard=shard,
    )
    return stream, encoder


def pixel_config(
    args: argparse.Namespace, *, num_views: int = 1, augment: AugmentConfig | None = None
) -> PixelConfig:
    """The stream's pixel settings from the encoder flags (size, seed, augmentation backend)."""
    return PixelConfig(
        size=args.img_size,
        num_views=num_views,
        seed=args.seed,
        augment=augment or AugmentConfig(),
        augment_backend=args.augment_backend,
    )


def run_reported(
    stream: ClipStream,
    encoder: nn.Module,
    args: argparse.Namespace,
    *,
    clips: int,
    desc: str,
    work: Callable[[], T],
) -> T:
    """Run ``work`` (which feeds ``clips`` clips through ``stream``) as every encoder stage does:
    first the CPU-fallback report of ``--device auto`` with its estimated duration, then a
    progress bar counting the clips the stream encodes."""
    report_cpu_fallback(
        args.device, stream.device, encoder, name=args.encoder, img_size=args.img_size,
        num_frames=args.num_frames, clips=clips,
    )  # fmt: skip
    with Progress(clips, desc, "clips") as bar:
        stream.register(ClipCounter(bar))
        return work()
