"""Building the clip stream from command-line flags, shared by the encoder stages.

``vjepa-fer extract``, ``train`` and ``infer`` all encode clips through one
:class:`~vjepa_fer.features.stream.ClipStream`; their encoder and stream flags, the device choice
and the construction live here so that no stage imports another stage's CLI module.
"""

from __future__ import annotations

import argparse


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine")
    return name


def add_encoder_arguments(parser: argparse.ArgumentParser) -> None:
    """Encoder and clip-stream flags shared by extract, train and infer."""
    parser.add_argument("--encoder", default="vit_huge")
    parser.add_argument("--checkpoint", default=None, help="checkpoint (omit: random weights)")
    parser.add_argument("--checkpoint-key", default="target_encoder")
    parser.add_argument("--img-size", type=int, default=384)
    parser.add_argument("--num-frames", type=int, default=16)
    parser.add_argument("--frame-step", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32, help="clips per encoder forward")
    parser.add_argument("--workers", type=int, default=0, help="decoding processes")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], default="bf16")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--augment-backend",
        choices=["device", "reference"],
        default="device",
        help="where clips are assembled and augmented: the encoder's device, or the reference "
        "(float32 clips built with PIL in the loader processes)",
    )


def build_stream(args: argparse.Namespace):  # noqa: ANN201 - (ClipStream, encoder)
    """The encoder named by the flags, wrapped in a clip stream on the chosen device."""
    from vjepa_fer.features.stream import ClipStream
    from vjepa_fer.models.registry import build_encoder

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
        device=resolve_device(args.device),
        dtype=args.dtype,
        batch_size=args.batch_size,
        workers=args.workers,
        compile=args.compile,
    )
    return stream, encoder
