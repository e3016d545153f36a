"""Does the encoder or the loader limit? Encoder throughput (MFU) and the clip stream end to end.

Three measurements in one run, printed as Markdown tables (and ``--json``):

1. **peak**: a dense square matmul in the encoder's precision (bf16 on GPU), the denominator of
   the model FLOP utilisation (MFU);
2. **encoder**: ``ClipStream.encode`` on random normalised clips for each ``--img-size``:
   clips/s, achieved TFLOP/s (per layer 24 d^2 N + 4 N^2 d) and MFU;
3. **stream**: the clip stream end to end on real-resolution videos (1280x720 H.264, 111
   frames, generated): decode in ``--workers`` processes -> uint8 frames -> device transforms
   (evaluation: resize + normalise; training: RandAugment, crop, erasing) -> encoder, for
   evaluation and augmented training passes, next to the loader alone (workers decoding, no
   encoder). ``limited_by`` names the slower side: ``device`` (encoder + device transforms, run
   one after the other in the main process) or ``loader``.

    python benchmarks/gpu_throughput.py --json gpu.json                     # H100/H200: vit_huge
    python benchmarks/gpu_throughput.py --img-size 384 --skip-stream --json gpu.json  # no av/decord
    python benchmarks/gpu_throughput.py --tiny                              # CPU smoke test

``--json`` is rewritten after each part (peak, each encoder size, the stream), so a run cut short
by a time limit keeps what it measured. ``--skip-stream`` leaves out part 3, the only one that
decodes video (PyAV / decord): parts 1-2 need torch and this package only. To bring ``av`` and
``decord`` to a machine without internet: ``benchmarks/bring-wheels.sh`` (benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # loader_throughput's video maker

from vjepa_fer.evaluate.forwards import encoder_flops  # noqa: E402
from vjepa_fer.features.loader import FrameDataset, plan_items  # noqa: E402
from vjepa_fer.features.plan import eval_requests, train_requests  # noqa: E402
from vjepa_fer.features.stream import ClipStream, PixelConfig, group_by_video  # noqa: E402
from vjepa_fer.models import build_encoder  # noqa: E402


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_tflops(device: torch.device, n: int, dtype: torch.dtype, iters: int) -> float:
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    sync(device)
    t0 = time.perf_counter()
    for _ in range(iters):
        a @ b
    sync(device)
    return 2 * n**3 * iters / (time.perf_counter() - t0) / 1e12


def encoder_row(args, device, size: int, peak: float) -> dict:  # noqa: ANN001
    encoder = build_encoder(args.encoder, img_size=size, num_frames=16, seed=0)
    stream = ClipStream(encoder, device=device, dtype=args.dtype, batch_size=args.batch_size)
    x = torch.randn(args.batch_size, 3, 16, size, size, device=device)
    for _ in range(args.warmup):
        stream.encode(x)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(args.iters):
        stream.encode(x)
    sync(device)
    seconds = time.perf_counter() - t0
    clips = args.iters * args.batch_size
    flop = encoder_flops(
        encoder.embed_dim, len(encoder.blocks), size, 16, encoder.patch_size, encoder.tubelet_size
    )
    achieved = flop * clips / seconds / 1e12
    return {
        "encoder": args.encoder,
        "img_size": size,
        "batch": args.batch_size,
        "clips_per_s": round(clips / seconds, 2),
        "gflop_per_clip": round(flop / 1e9, 1),
        "tflops": round(achieved, 3),
        "mfu": round(achieved / peak, 3),
    }


def loader_only(root: Path, requests, cfg: PixelConfig, workers: int) -> float:  # noqa: ANN001
    """Clips/s the workers deliver as uint8 frames with nothing consuming them."""
    items = plan_items(group_by_video(requests), cfg.max_decoded_frames)
    loader = torch.utils.data.DataLoader(
        FrameDataset(root, items, cfg),
        batch_size=None,
        num_workers=workers,
        prefetch_factor=2 if workers else None,
    )
    t0 = time.perf_counter()
    clips = sum(len(items[item.index].requests) for item in loader)
    return clips / (time.perf_counter() - t0)


def stream_rows(args, device, size: int, root: Path, table: pd.DataFrame) -> list[dict]:  # noqa: ANN001
    encoder = build_encoder(args.encoder, img_size=size, num_frames=16, seed=0)
    rows = []
    for kind in ("eval", "train"):
        if kind == "eval":
            requests = eval_requests(table, stride=1)
        else:
            requests = train_requests(table, epoch=0, seed=0, augment=True)
        cfg = PixelConfig(size=size, seed=0)
        stream = ClipStream(
            encoder,
            device=device,
            dtype=args.dtype,
            batch_size=args.batch_size,
            workers=args.workers,
        )
        t0 = time.perf_counter()
        n = stream.run(root, requests, cfg)
        sync(device)
        wall = time.perf_counter() - t0
        feed = loader_only(root, requests, cfg, args.workers)
        # The main process encodes and transforms one batch after the other.
        device_rate = n / (stream.encoder_seconds + stream.transform_seconds)
        rows.append(
            {
                "pass": kind,
                "img_size": size,
                "workers": args.workers,
                "clips": n,
                "end_to_end_clips_per_s": round(n / wall, 2),
                "encoder_clips_per_s": round(n / stream.encoder_seconds, 2),
                "device_transform_ms_per_clip": round(1e3 * stream.transform_seconds / n, 2),
                "device_clips_per_s": round(device_rate, 2),
                "loader_clips_per_s": round(feed, 2),
                "loader_wait_s": round(stream.loader_wait_seconds, 2),
                "limited_by": "device" if feed >= device_rate else "loader",
            }
        )
    return rows


def markdown(rows: list[dict]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--encoder", default="vit_huge")
    p.add_argument("--img-size", type=int, nargs="+", default=[224, 384])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], default="bf16")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--peak-n", type=int, default=8192, help="matmul size of the peak measure")
    p.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    p.add_argument("--videos", type=int, default=4, help="distinct generated videos")
    p.add_argument("--copies", type=int, default=4, help="each video listed this many times")
    p.add_argument("--frames", type=int, default=111)
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=720)
    p.add_argument("--keep", type=Path, help="folder to keep the generated videos in")
    p.add_argument("--json", type=Path, help="results, rewritten after each part")
    p.add_argument(
        "--skip-stream",
        action="store_true",
        help="peak and encoder only: no video decoding (no av/decord needed)",
    )
    p.add_argument(
        "--tiny",
        action="store_true",
        help="seconds on a CPU: tiny encoder, 32 px, small videos, 2 workers (a smoke test)",
    )
    args = p.parse_args(argv)
    if args.tiny:
        args.encoder, args.img_size, args.batch_size, args.dtype = "tiny", [32], 4, "fp32"
        args.warmup, args.iters, args.peak_n, args.workers = 1, 2, 256, 2
        args.videos, args.copies, args.frames, args.width, args.height = 1, 2, 70, 64, 48
    device = torch.device(args.device)
    mm_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.dtype, torch.float32)
    if device.type != "cuda":
        mm_dtype = torch.float32  # the stream runs float32 on the CPU
    peak = peak_tflops(device, args.peak_n, mm_dtype, max(3, args.iters))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device: {name}; measured {mm_dtype} matmul peak: {peak:.4g} TFLOP/s\n", flush=True)
    result = {"device": name, "peak_tflops": round(peak, 4), "encoder": [], "stream": []}
    save(args.json, result)
    for size in args.img_size:
        result["encoder"].append(encoder_row(args, device, size, peak))
        save(args.json, result)
    print(markdown(result["encoder"]) + "\n", flush=True)
    if args.skip_stream:
        result["stream_skipped"] = True
        save(args.json, result)
        return 0
    from loader_throughput import make_videos  # needs PyAV to write the videos

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        paths = make_videos(root, args.videos, args.frames, args.width, args.height)
        names = []
        for k in range(args.copies):  # distinct names: each copy is its own video to the stream
            for path in paths:
                link = root / f"copy{k}-{path.name}"
                if not link.exists():
                    link.symlink_to(path.name)
                names.append(link.name)
        table = pd.DataFrame({"video": names, "num_frames": args.frames})
        for size in args.img_size:
            result["stream"] += stream_rows(args, device, size, root, table)
            save(args.json, result)
    print(markdown(result["stream"]), flush=True)
    return 0


def save(path: Path | None, result: dict) -> None:
    """Write the results so far (atomically: a run killed mid-write leaves the previous file)."""
    if path is None:
        return
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(path)


if __name__ == "__main__":
    raise SystemExit(main())
