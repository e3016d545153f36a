"""Encoder throughput of the frozen-feature stage: clips/s and the fraction of the GPU's peak.

Measures the clip stream's encoder call (`ClipStream.encode`: autocast bf16/fp16 on GPU, float32
on CPU, SDPA attention) on random normalised clips, after warm-up, with CUDA synchronisation.
FLOPs per clip follow docs/compute.md (24·d²·N + 4·N²·d per layer).

    python benchmarks/extract_throughput.py                      # CPU: tiny encoder, 64 px
    python benchmarks/extract_throughput.py --encoder vit_huge --img-size 384 --batch-size 32 \
        --device cuda --dtype bf16 --peak-tflops 800   # H100: 8192^3 bf16 matmul, docs/compute.md

Prints one JSON line per configuration; nothing is assumed, everything is measured.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from vjepa_fer.evaluate.forwards import encoder_flops, encoder_tokens
from vjepa_fer.features.stream import ClipStream
from vjepa_fer.models import build_encoder


def measure(args: argparse.Namespace, img_size: int) -> dict:
    encoder = build_encoder(args.encoder, img_size=img_size, num_frames=args.num_frames, seed=0)
    stream = ClipStream(
        encoder,
        device=args.device,
        dtype=args.dtype,
        batch_size=args.batch_size,
        compile=args.compile,
    )
    x = torch.randn(args.batch_size, 3, args.num_frames, img_size, img_size)
    if stream.device.type == "cuda":
        x = x.pin_memory()
    sync = torch.cuda.synchronize if stream.device.type == "cuda" else (lambda: None)
    for _ in range(args.warmup):
        stream.encode(x)
    sync()
    t0 = time.perf_counter()
    for _ in range(args.iters):
        tokens = stream.encode(x)
    sync()
    seconds = time.perf_counter() - t0
    clips = args.iters * args.batch_size
    flop = encoder_flops(
        encoder.embed_dim,
        len(encoder.blocks),
        img_size,
        args.num_frames,
        encoder.patch_size,
        encoder.tubelet_size,
    )
    result = {
        "encoder": args.encoder,
        "img_size": img_size,
        "tokens": encoder_tokens(
            img_size, args.num_frames, encoder.patch_size, encoder.tubelet_size
        ),
        "device": torch.cuda.get_device_name() if stream.device.type == "cuda" else "cpu",
        "dtype": args.dtype if stream.device.type == "cuda" else "fp32",
        "batch_size": args.batch_size,
        "compile": args.compile,
        "clips": clips,
        "clips_per_s": round(clips / seconds, 2),
        "gflop_per_clip": round(flop / 1e9, 3),
        "achieved_tflops": round(flop * clips / seconds / 1e12, 4),
        "out_shape": list(tokens.shape),
        "torch": torch.__version__,
    }
    if args.peak_tflops:
        result["fraction_of_peak"] = round(result["achieved_tflops"] / args.peak_tflops, 3)
    if stream.device.type == "cuda":
        result["max_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--encoder", default="tiny")
    p.add_argument("--img-size", type=int, nargs="+", default=[64])
    p.add_argument("--num-frames", type=int, default=16)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], default="bf16")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument(
        "--peak-tflops",
        type=float,
        default=0.0,
        help="dense peak of the device for the dtype (H100 SXM bf16: 989)",
    )
    args = p.parse_args()
    for size in args.img_size:
        print(json.dumps(measure(args, size)), flush=True)


if __name__ == "__main__":
    main()
