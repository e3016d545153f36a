"""Device augmentation: the clip-by-clip loop against the batched path, side by side in one run.

Both paths take the same uint8 frames and the same keyed draws (``draw_clip_params``: RandAugment
ops, random-resized crop, flip, erasing) for a loader item's clips, and return the same
(K, 3, T, S, S) float32 clips (``max_abs_diff`` is checked to be 0):

* ``loop``: :func:`vjepa_fer.video.device_transforms.augment_clip` once per clip, stacked (the
  clip stream's path before batching);
* ``batched``: :func:`vjepa_fer.video.device_transforms.augment_clips`, all clips at once, as
  the clip stream runs it on ``--device`` (one resize per crop size, flips and erasing over the
  batch; RandAugment grouped by op with per-clip arguments on a GPU, clip by clip on the CPU);
* ``batched_grouped_ops``: the same with RandAugment grouped by op on any device (the GPU's way,
  timed here on the CPU too).

Frames are synthetic (smooth gradients, edges and noise) at the source resolution given; every
repeat draws new keys (another epoch), so the ops differ between repeats as in training. Times
are CPU time of this process (``time.process_time``) on ``--threads`` threads, or wall time with
synchronisation on a GPU.

    python benchmarks/device_augment.py --height 360 --width 480 --img-size 224 --json aug.json
    python benchmarks/device_augment.py --device cuda --height 720 --width 1280 --img-size 384
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from vjepa_fer.video import device_transforms as dt
from vjepa_fer.video.augment import AugmentConfig, draw_clip_params


def synthetic_frames(n: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """(n, H, W, 3) uint8 frames with gradients, a flat patch and noise (every op has work)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    out = np.empty((n, height, width, 3), dtype=np.uint8)
    for t in range(n):
        img = np.stack([(xx + 3 * t) % 256, (yy * 2) % 256, (xx + yy + 9 * t) % 256], -1)
        img = img.astype(np.int16) + rng.integers(-10, 11, size=img.shape)
        img[height // 4 : height // 2, width // 4 : width // 2] = (30, 200, 90)
        out[t] = np.clip(img, 15, 240)
    return torch.from_numpy(out)


def clock(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        return time.perf_counter()
    return time.process_time()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=360, help="source frame height")
    parser.add_argument("--width", type=int, default=480, help="source frame width")
    parser.add_argument("--img-size", type=int, default=224, help="clip side after the crop")
    parser.add_argument("--clips", type=int, default=8, help="clips per item (one video's)")
    parser.add_argument("--frames-per-clip", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3, help="items timed per path")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cfg = AugmentConfig()
    k, t = args.clips, args.frames_per_clip
    frames = synthetic_frames(t + 2 * k, args.height, args.width).to(device)
    rows = torch.stack([torch.arange(t) + 2 * c for c in range(k)]).to(device)  # overlapping

    def draws(epoch: int) -> list:
        return [
            draw_clip_params(
                seed=0,
                video="bench.mp4",
                epoch=epoch,
                clip=c,
                height=args.height,
                width=args.width,
                size=args.img_size,
                cfg=cfg,
            )  # fmt: skip
            for c in range(k)
        ]

    totals = {"loop": 0.0, "batched": 0.0, "batched_grouped_ops": 0.0}
    worst = 0.0
    for epoch in range(args.repeats):
        params = draws(epoch)
        t0 = clock(device)
        loop = torch.stack(
            [
                dt.augment_clip(frames[r], p, size=args.img_size, cfg=cfg)
                for r, p in zip(rows, params, strict=True)
            ]
        )
        t1 = clock(device)
        batched = dt.augment_clips(frames, rows, params, size=args.img_size, cfg=cfg)
        t2 = clock(device)
        grouped = dt.augment_clips(
            frames, rows, params, size=args.img_size, cfg=cfg, batch_ops=True
        )
        t3 = clock(device)
        totals["loop"] += t1 - t0
        totals["batched"] += t2 - t1
        totals["batched_grouped_ops"] += t3 - t2
        worst = max(worst, float((loop - batched).abs().max()), float((loop - grouped).abs().max()))
    clips = k * args.repeats
    result = {
        "config": {
            **{key: v for key, v in vars(args).items() if key != "json"},
            "torch": torch.__version__,
        },
        "loop_ms_per_clip": round(1000 * totals["loop"] / clips, 2),
        "batched_ms_per_clip": round(1000 * totals["batched"] / clips, 2),
        "batched_grouped_ops_ms_per_clip": round(1000 * totals["batched_grouped_ops"] / clips, 2),
        "speedup": round(totals["loop"] / max(totals["batched"], 1e-9), 2),
        "max_abs_diff": worst,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if worst == 0.0 else 1


if __name__ == "__main__":
    sys.exit(main())
