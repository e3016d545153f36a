"""Loader throughput: the reference (float32 clips built on the CPU) against the device backend
(uint8 frames from the loader, clips assembled and augmented on the encoder's device).

Measured side by side in one run, on one CPU thread, on real-resolution videos: 1280x720 H.264
RAVDESS-format videos of 111 frames rendered by the project's synthetic face generator unless
``--videos`` names a folder of ``*.mp4``/``*.flv`` files. For each path and each kind of pass:

* ``clips_per_s``: clips one loader core supplies (decode + everything the loader does), i.e.
  what each worker process must sustain for the encoder; the reference does all pixel work here,
  the device backend only decoding and, for evaluation, the uint8 resize and centre crop. Timed
  as the process's CPU time (user + system, ``time.process_time``), which a machine shared with
  other work inflates far less than wall time; ``wall_*`` keys give wall-clock rates too;
* ``loader_bytes_per_clip``: bytes each clip costs crossing the worker -> main process boundary
  (float32 clips for the reference, shared uint8 frames for the device backend);
* ``device_ms_per_clip``: the device backend's remaining work per clip (clip gathering, float
  conversion, normalisation, RandAugment, crop, erasing) on ``--device`` (CPU time on the CPU;
  on a GPU read ``wall_device_ms_per_clip``, which includes synchronisation);
* ``decode_only_clips_per_s``: decoding the same frames and nothing else, the ceiling of any
  loader that decodes on the CPU;
* ``max_abs_diff``: largest difference between the two backends' pixels (normalised units; one
  grey level is about 0.017), evaluation only (training differs by the rare PIL rounding).

    python benchmarks/loader_throughput.py --img-size 384 --json loader-384.json
    python benchmarks/loader_throughput.py --img-size 224 --json loader-224.json --num-videos 4
"""

from __future__ import annotations

import argparse
import fractions
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from vjepa_fer.features.loader import DECODE_CHUNK, load_item, plan_items
from vjepa_fer.features.plan import eval_requests, train_requests
from vjepa_fer.features.stream import DeviceClips, PixelConfig, clip_pixels, group_by_video
from vjepa_fer.video.decode import iter_decoded, probe_video


def make_videos(out: Path, n: int, frames: int, width: int, height: int) -> list[Path]:
    """``n`` RAVDESS-format H.264 videos of synthetic faces (x264 as the synth stage runs it)."""
    import av

    from vjepa_fer.datasets import synth
    from vjepa_fer.datasets.ravdess.naming import RAVDESS_EMOTIONS
    from vjepa_fer.datasets.ravdess.synth import ravdess_trials

    trials = ravdess_trials([1, 2], [1], [1], [1, 2], [2], list(RAVDESS_EMOTIONS))
    paths = []
    for trial in trials[:n]:
        path = out / f"{trial.key}.mp4"
        paths.append(path)
        if path.exists():
            continue
        rendered = synth.video_frames(trial, seed=0, size=(width, height))
        while len(rendered) < frames:  # play back and forth up to the wanted length
            rendered = np.concatenate([rendered, rendered[::-1]])
        with av.open(str(path), "w", format="mp4") as container:
            opts = {"preset": "superfast", "crf": "20", "threads": "1"}
            vs = container.add_stream("libx264", rate=fractions.Fraction(30000, 1001), options=opts)
            vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
            for img in rendered[:frames]:
                container.mux(vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
            container.mux(vs.encode(None))
    return paths


def measure(root: Path, table: pd.DataFrame, kind: str, args: argparse.Namespace) -> dict:
    """Both backends on every video of ``table``, interleaved so load changes hit both alike."""
    if kind == "eval":
        requests = eval_requests(table, stride=1)
    else:
        requests = train_requests(table, epoch=0, seed=0, augment=True)
    ref_cfg = PixelConfig(size=args.img_size, augment_backend="reference")
    dev_cfg = PixelConfig(size=args.img_size)
    device = torch.device(args.device)
    totals = dict(clips=0, ref_s=0.0, ref_bytes=0, load_s=0.0, load_bytes=0, dev_s=0.0, dec_s=0.0)
    wall = dict(ref_s=0.0, load_s=0.0, dev_s=0.0)
    max_diff = 0.0
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(args.rounds):
        for video, reqs in group_by_video(requests):
            t0, w0 = time.process_time(), time.perf_counter()
            ref = clip_pixels(root, video, reqs, ref_cfg)
            totals["ref_s"] += time.process_time() - t0
            wall["ref_s"] += time.perf_counter() - w0
            totals["ref_bytes"] += ref.numel() * ref.element_size()
            totals["clips"] += len(reqs)
            t0 = time.process_time()  # decoding alone: the floor of any loader's work
            for _ in iter_decoded(root / video, [r.frames for r in reqs], chunk=DECODE_CHUNK):
                pass
            totals["dec_s"] += time.process_time() - t0
            for plan in plan_items([(video, reqs)], dev_cfg.max_decoded_frames):
                t0, w0 = time.process_time(), time.perf_counter()
                item = load_item(root, plan, dev_cfg)
                totals["load_s"] += time.process_time() - t0
                wall["load_s"] += time.perf_counter() - w0
                totals["load_bytes"] += item.nbytes
                sync()
                t0, w0 = time.process_time(), time.perf_counter()
                maker = DeviceClips(item, plan, dev_cfg, device)
                made = [
                    maker.clips(s, min(s + args.batch_size, len(plan.requests)))
                    for s in range(0, len(plan.requests), args.batch_size)
                ]
                sync()
                totals["dev_s"] += time.process_time() - t0
                wall["dev_s"] += time.perf_counter() - w0
                if kind == "eval":
                    new = torch.cat(made).cpu()
                    rows = [reqs.index(r) for r in plan.requests]
                    max_diff = max(max_diff, float((new - ref[rows]).abs().max()))
            del ref
    clips = totals["clips"]
    out = {
        "clips": clips,
        "reference_clips_per_s": round(clips / totals["ref_s"], 3),
        "clips_per_s": round(clips / totals["load_s"], 3),
        "speedup": round(totals["ref_s"] / totals["load_s"], 2),
        "decode_only_clips_per_s": round(clips / totals["dec_s"], 3),
        "reference_loader_bytes_per_clip": totals["ref_bytes"] // clips,
        "loader_bytes_per_clip": totals["load_bytes"] // clips,
        "bytes_ratio": round(totals["ref_bytes"] / totals["load_bytes"], 2),
        "device_ms_per_clip": round(1e3 * totals["dev_s"] / clips, 2),
        "wall_reference_clips_per_s": round(clips / wall["ref_s"], 3),
        "wall_clips_per_s": round(clips / wall["load_s"], 3),
        "wall_device_ms_per_clip": round(1e3 * wall["dev_s"] / clips, 2),
    }
    if kind == "eval":
        out["max_abs_diff"] = round(max_diff, 5)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--img-size", type=int, default=384)
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument("--videos", type=Path, help="folder of videos (default: generated)")
    parser.add_argument("--num-videos", type=int, default=2)
    parser.add_argument("--frames", type=int, default=111, help="frames of generated videos")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--keep", type=Path, help="folder to keep generated videos in")
    parser.add_argument("--rounds", type=int, default=1, help="passes over the videos")
    parser.add_argument("--batch-size", type=int, default=32, help="clips per device call")
    parser.add_argument("--device", default="cpu", help="where the device backend's work runs")
    parser.add_argument("--kinds", nargs="+", choices=["train", "eval"], default=["train", "eval"])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # one loader core; decord already decodes on one thread

    with tempfile.TemporaryDirectory() as tmp:
        if args.videos:
            root = args.videos
            paths = sorted([*root.glob("**/*.mp4"), *root.glob("**/*.flv")])[: args.num_videos]
            if not paths:
                raise SystemExit(f"{root}: no .mp4 or .flv videos")
        else:
            root = args.keep or Path(tmp)
            root.mkdir(parents=True, exist_ok=True)
            paths = make_videos(root, args.num_videos, args.frames, args.width, args.height)
        infos = [probe_video(p) for p in paths]
        table = pd.DataFrame(
            {
                "video": [str(p.relative_to(root)) for p in paths],
                "num_frames": [i.num_frames for i in infos],
            }
        )
        result = {
            "config": {
                "img_size": args.img_size,
                "videos": len(paths),
                "frames": [i.num_frames for i in infos],
                "resolution": sorted({f"{i.width}x{i.height}" for i in infos}),
                "device": args.device,
                "threads": torch.get_num_threads(),
                "torch": torch.__version__,
                "command": " ".join(["python", *sys.argv]),
            }
        }
        for kind in args.kinds:
            result[kind] = measure(root, table, kind, args)
            print(kind, json.dumps(result[kind]), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
