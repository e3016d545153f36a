"""CPU encoder threads: the job's whole budget against one thread per encoder.

A Snakemake job of an encoder stage on the CPU runs one encoder process and ``--workers``
decoding processes, and Snakemake sets ``OMP_NUM_THREADS`` to the job's ``threads``; with
``--cores`` above the machine's cores several such jobs run at once (the paper config's
``--cores 8`` on a small box, or the test suite's parallel workers). This benchmark starts
``--jobs`` encoding jobs at once, each a real clip stream (``features.build.build_stream``)
over the same generated videos, twice per round:

* ``budget``: ``build_stream`` as shipped, the encoder on the job's ``OMP_NUM_THREADS`` cores;
* ``one``: the same with ``VJEPA_FER_ENCODER_THREADS=1``, what ``make test`` sets.

Rounds alternate the two so that load changes hit both alike; each job reports its wall time and
clips/s, the summary the median job wall time per path (``speedup`` = budget / one).

    python benchmarks/cpu_threads.py --jobs 1 --workers 2 --img-size 224 --width 1280 --height 720
    python benchmarks/cpu_threads.py --jobs 2 --workers 2 --img-size 224 --width 1280 --height 720
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from vjepa_fer.features import build
from vjepa_fer.features.plan import eval_requests
from vjepa_fer.video.decode import probe_video

HERE = Path(__file__).resolve().parent
PATHS = ("budget", "one")


class Count:
    """A consumer that only counts the clips it is fed."""

    def __init__(self) -> None:
        self.clips = 0

    def consume(self, reqs: list, tokens: torch.Tensor) -> None:
        self.clips += len(reqs)


def job(args: argparse.Namespace) -> dict:
    """One encoding job (runs in its own process, as Snakemake would start it)."""
    flags = argparse.ArgumentParser()
    build.add_encoder_arguments(flags)
    argv = ["--encoder", args.encoder, "--random-weights", "--device", "cpu"]
    argv += ["--img-size", str(args.img_size), "--workers", str(args.workers)]
    argv += ["--batch-size", str(args.batch_size)]
    stream_args = flags.parse_args(argv)
    stream, _ = build.build_stream(stream_args)
    table = pd.read_csv(args.table)
    requests = eval_requests(table, stride=args.stride)
    counter = stream.register(Count())
    t0 = time.perf_counter()
    stream.run(args.root, requests, build.pixel_config(stream_args))
    wall = time.perf_counter() - t0
    return {
        "path": args.job,
        "threads": torch.get_num_threads(),
        "clips": counter.clips,
        "wall_s": round(wall, 2),
        "clips_per_s": round(counter.clips / wall, 2),
    }


def run_jobs(path: str, args: argparse.Namespace, root: Path, table: Path) -> list[dict]:
    """``--jobs`` jobs of one path at once, each with the environment Snakemake gives it."""
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, args.workers))}
    env.pop(build.ENCODER_THREADS_ENV, None)
    if path == "one":
        env[build.ENCODER_THREADS_ENV] = "1"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--job", path, "--root", str(root)]
    cmd += ["--table", str(table), "--encoder", args.encoder, "--img-size", str(args.img_size)]
    cmd += ["--workers", str(args.workers), "--batch-size", str(args.batch_size)]
    cmd += ["--stride", str(args.stride)]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) for _ in range(args.jobs)
    ]
    results = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"a {path} job failed (exit {proc.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="encoding jobs at once")
    parser.add_argument("--workers", type=int, default=2, help="loader processes per job")
    parser.add_argument("--rounds", type=int, default=2, help="old/new pairs")
    parser.add_argument("--encoder", default="tiny")
    parser.add_argument("--img-size", type=int, default=160)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--stride", type=int, default=2, help="evaluation stride (frames)")
    parser.add_argument("--num-videos", type=int, default=4)
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument("--job", choices=PATHS, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--table", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.job:
        print(json.dumps(job(args)), flush=True)
        return 0

    sys.path.insert(0, str(HERE))
    from loader_throughput import make_videos

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = make_videos(root, args.num_videos, args.frames, args.width, args.height)
        table = root / "videos.csv"
        pd.DataFrame(
            {
                "video": [p.name for p in paths],
                "num_frames": [probe_video(p).num_frames for p in paths],
            }
        ).to_csv(table, index=False)
        runs: dict[str, list[dict]] = {path: [] for path in PATHS}
        for _ in range(args.rounds):
            for path in PATHS:
                jobs = run_jobs(path, args, root, table)
                runs[path] += jobs
                print(path, json.dumps(jobs), flush=True)
    summary = {
        path: {
            "median_job_wall_s": round(statistics.median(j["wall_s"] for j in jobs), 2),
            "encoder_threads": sorted({j["threads"] for j in jobs}),
            "clips_per_job": jobs[0]["clips"],
        }
        for path, jobs in runs.items()
    }
    summary["speedup"] = round(
        summary["budget"]["median_job_wall_s"] / summary["one"]["median_job_wall_s"], 2
    )
    result = {
        "config": {
            "jobs": args.jobs,
            "workers": args.workers,
            "cores": os.cpu_count(),
            "encoder": args.encoder,
            "img_size": args.img_size,
            "torch": torch.__version__,
            "command": " ".join(["python", *sys.argv]),
        },
        "runs": runs,
        "summary": summary,
    }
    print(json.dumps(summary), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
