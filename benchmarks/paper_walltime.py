"""Predicted wall time of a config's DAG on one node with G GPUs and C cores.

The job list and the dependencies come from Snakemake's dry run of the config (each job's rule,
wildcards, threads, inputs and outputs; an edge where one job's output is another's input). Each
encoder job's clip count comes from the same arithmetic as ``vjepa-fer forwards`` (the published
datasets' video lists, a mean frame count per dataset); its duration from measured rates:

* ``--clips-per-s``: encoder clips/s of one GPU (ViT-H/16-384 in bf16: the rate you measured with
  ``benchmarks/gpu_throughput.py``; 47 ≈ 55 % of an H100's peak);
* ``--train-loader`` / ``--eval-loader``: clips/s one loader core delivers for training clips
  (decode + keyed augmentation on the device) and evaluation clips (benchmarks/README.md,
  "Loader throughput");
* the probes' own work: one probe update per training clip ≈ 60 GFLOP against 9.3 TFLOP for the
  encoder forward (``--probe-cost``, fraction of a forward); with several devices it all falls on
  rank 0 (docs/compute.md, "Several devices per job"), so a D-rank training job lasts
  clips / (D·rate) + clips · probes · probe-cost / rate.

Jobs are list-scheduled the way Snakemake starts them (longest remaining path first, as many as the
GPUs and cores allow); small CPU jobs get ``--cpu-job-s`` seconds, ``lengths`` a per-video cost,
downloads none (data and checkpoint already present). "today" is one GPU per job
(``compute.devices_per_job: 1``, jobs side by side on distinct GPUs: SLURM, or profiles/gpu-box);
"after" is the best ``devices_per_job`` for G.

    python benchmarks/paper_walltime.py --gpus 8 --cores 64 --clips-per-s 47
    python benchmarks/paper_walltime.py --table 1 2 4 8 --cores 64 --clips-per-s 47
"""

from __future__ import annotations

import argparse
import heapq
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GPU_RULES = {"train_probes", "infer", "extract"}
FREE_RULES = {"all", "download_dataset", "download_checkpoint"}  # data already present
JOB_RE = re.compile(r"^rule (\w+):\n((?:    .*\n)+)", re.MULTILINE)


@dataclass
class Job:
    jobid: int
    rule: str
    wildcards: dict[str, str]
    threads: int
    inputs: list[str]
    outputs: list[str]
    deps: set[int] = field(default_factory=set)
    seconds: float = 0.0
    gpus: int = 0
    start: float = 0.0  # set by schedule()

    @property
    def name(self) -> str:
        keys = ("dataset", "group", "shard", "kind")
        wc = ",".join(f"{k}={self.wildcards[k]}" for k in keys if k in self.wildcards)
        return f"{self.rule}[{wc}]" if wc else self.rule


def dry_run_jobs(config: Path) -> list[Job]:
    """The jobs of ``snakemake -n`` for ``config`` (in an empty working directory)."""
    with tempfile.TemporaryDirectory() as work:
        cmd = [sys.executable, "-m", "snakemake", "-n", "-s", str(REPO / "Snakefile"), "-d", work]
        # many cores, so the dry run shows each rule's own thread count
        cmd += ["--configfile", str(config.resolve()), "--cores", "4096"]
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600)
    if res.returncode != 0:
        raise SystemExit(f"snakemake dry run of {config} failed:\n{res.stderr[-3000:]}")
    jobs = []
    for rule, body in JOB_RE.findall(res.stdout):
        fields_ = dict(
            line.strip().split(": ", 1) for line in body.splitlines() if ": " in line.strip()
        )
        wildcards = dict(
            kv.split("=", 1) for kv in fields_.get("wildcards", "").split(", ") if "=" in kv
        )
        jobs.append(
            Job(
                jobid=int(fields_["jobid"]),
                rule=rule,
                wildcards=wildcards,
                threads=int(fields_.get("threads", 1)),
                inputs=[s for s in fields_.get("input", "").split(", ") if s],
                outputs=[s for s in fields_.get("output", "").split(", ") if s],
            )
        )
    producer = {out: j.jobid for j in jobs for out in j.outputs}
    for j in jobs:
        j.deps = {producer[i] for i in j.inputs if i in producer}
    return jobs


def clip_counts(config: dict, mean_frames: dict[str, int]) -> dict[tuple[str, str], int]:
    """(part, dataset) -> clip forwards of this pipeline (online mode), as `vjepa-fer forwards`."""
    from vjepa_fer.evaluate.forwards import Settings, forwards_table, full_size_tables

    datasets = {d: full_size_tables(d, mean_frames[d]) for d in config["datasets"]}
    table, _ = forwards_table(datasets, Settings())
    ours = table[table["protocol"] == "ours-online"]
    return {(r.part, r.dataset): int(r.forwards) for r in ours.itertuples()}


@dataclass(frozen=True)
class Rates:
    clips_per_s: float
    train_loader: float
    eval_loader: float
    probe_cost: float
    cpu_job_s: float
    lengths_core_s: float


def durations(
    jobs: list[Job], counts, config: dict, rates: Rates, per_job: int, cores: int, videos
) -> list[Job]:
    """Copies of the jobs with GPUs, threads and seconds for ``per_job`` devices per
    train/infer job (the dry run's config has its own devices_per_job: rescaled here)."""
    folds = 5
    extra = len(config.get("probe", {}).get("extra", []))
    planned = int(config.get("compute", {}).get("devices_per_job", 1))
    jobs = [replace(j) for j in jobs]
    for j in jobs:
        if j.rule in FREE_RULES:
            continue
        if j.rule not in GPU_RULES:
            if j.rule == "lengths":
                n = videos[j.wildcards.get("dataset", "")] if "dataset" in j.wildcards else 0
                n = n or max(videos.values())
                j.seconds = n * rates.lengths_core_s / min(j.threads, cores)
            else:
                j.seconds = rates.cpu_job_s
            continue
        d = j.wildcards.get("dataset")
        if j.rule == "train_probes":
            clips = counts[("training", d)]
            probes = (folds - 1) * (1 + extra)
            j.threads = max(1, j.threads // planned) * per_job  # workers per rank
            if j.wildcards.get("group", "all") != "all":  # one fold's probe: 4/5 of the videos
                clips, probes = clips * (folds - 1) // folds, 1 + extra
            j.gpus = per_job
            loader = rates.train_loader
            encode = clips / (per_job * rates.clips_per_s)
            encode += clips * probes * rates.probe_cost / rates.clips_per_s  # on rank 0
        elif j.rule == "infer":
            clips = counts[("evaluation", d)]
            j.threads = max(1, j.threads // planned) * per_job
            j.gpus = per_job
            loader = rates.eval_loader
            encode = clips / (per_job * rates.clips_per_s)
        else:  # extract: one GPU per shard; its clips are not part of the online paper run
            clips = 0
            j.gpus = 1
            loader = rates.eval_loader
            encode = 0.0
        feed = clips / (min(j.threads, cores) * loader)  # loader cores of this job
        j.seconds = max(encode, feed)
    return jobs


def schedule(jobs: list[Job], gpus: int, cores: int) -> tuple[float, list[Job]]:
    """Makespan of a greedy list schedule, and its critical path: from the last job to finish,
    back through whatever it waited for last (a dependency, or the job whose end freed the GPUs
    it needed), so resource waits count like dependencies."""
    by_id = {j.jobid: j for j in jobs}
    # longest remaining path from each job (its priority, as for critical-path scheduling)
    children: dict[int, list[int]] = {j.jobid: [] for j in jobs}
    for j in jobs:
        for dep in j.deps:
            children[dep].append(j.jobid)
    tail: dict[int, float] = {}

    def rest(i: int) -> float:
        if i not in tail:
            tail[i] = by_id[i].seconds + max((rest(c) for c in children[i]), default=0.0)
        return tail[i]

    for j in jobs:
        if j.gpus > gpus:
            raise SystemExit(f"{j.name} needs {j.gpus} GPUs, the node has {gpus}")
    done: set[int] = set()
    running: list[tuple[float, int]] = []
    started: set[int] = set()
    now, free_gpus, free_cores = 0.0, gpus, cores
    while len(done) < len(jobs):
        ready = [j for j in jobs if j.jobid not in started and j.deps <= done]
        ready.sort(key=lambda j: -rest(j.jobid))
        for j in ready:
            threads = min(j.threads, cores)
            if j.gpus <= free_gpus and threads <= free_cores:
                free_gpus -= j.gpus
                free_cores -= threads
                started.add(j.jobid)
                j.start = now
                heapq.heappush(running, (now + j.seconds, j.jobid))
        if not running:
            raise SystemExit("no job can start: a dependency cycle or too few resources")
        now, finished = heapq.heappop(running)
        job = by_id[finished]
        done.add(finished)
        free_gpus += job.gpus
        free_cores += min(job.threads, cores)
    last = max(jobs, key=lambda j: j.start + j.seconds)
    path = [last]
    while True:
        j = path[-1]
        before = [b for b in jobs if b.start + b.seconds <= j.start + 1e-9 and b is not j]
        if j.start <= 0 or not before:
            break
        # what j waited for: the job that ended when j started (a dependency first)
        ended = [b for b in before if abs(b.start + b.seconds - j.start) < 1e-6]
        deps = [b for b in ended if b.jobid in j.deps]
        path.append((deps or ended or [max(before, key=lambda b: b.start + b.seconds)])[0])
    return now, [j for j in reversed(path) if j.seconds > 0]


def predict(jobs, counts, config, rates, gpus, cores, per_job, videos):
    return schedule(durations(jobs, counts, config, rates, per_job, cores, videos), gpus, cores)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, default=REPO / "config.yaml")
    p.add_argument("--gpus", type=int, default=8, help="GPUs of the node")
    p.add_argument("--cores", type=int, default=64, help="CPU cores of the node")
    p.add_argument("--clips-per-s", type=float, required=True, help="encoder clips/s per GPU")
    p.add_argument("--train-loader", type=float, default=23.0, help="training clips/s per core")
    p.add_argument("--eval-loader", type=float, default=144.0, help="evaluation clips/s per core")
    p.add_argument(
        "--probe-cost", type=float, default=60.4 / 9300, help="probe update / encoder forward"
    )
    p.add_argument("--cpu-job-s", type=float, default=60.0, help="seconds of each small CPU job")
    p.add_argument("--lengths-core-s", type=float, default=0.05, help="core-seconds per video")
    p.add_argument(
        "--mean-frames",
        nargs="+",
        default=["ravdess=111", "crema-d=78"],
        help="DATASET=frames: mean video length assumed for the published datasets",
    )
    p.add_argument("--table", type=int, nargs="*", help="also print today/after for these G")
    p.add_argument("--json", type=Path, help="write the predictions here")
    args = p.parse_args(argv)

    import yaml

    config = yaml.safe_load(args.config.read_text())
    frames = {k: int(v) for k, v in (s.split("=", 1) for s in args.mean_frames)}
    counts = clip_counts(config, frames)
    videos = {d: n for (part, d), n in counts.items() if part == "training"}
    videos = {d: n // (8 * 20) for d, n in videos.items()}  # training videos (8 clips, 20 epochs)
    jobs = dry_run_jobs(args.config)
    rates = Rates(
        args.clips_per_s,
        args.train_loader,
        args.eval_loader,
        args.probe_cost,
        args.cpu_job_s,
        args.lengths_core_s,
    )

    def best(g: int) -> tuple[int, float, list[Job]]:
        options = []
        for d in (1, 2, 4, 8, 16):
            if d <= g:
                seconds, path = predict(jobs, counts, config, rates, g, args.cores, d, videos)
                options.append((seconds, d, path))
        seconds, d, path = min(options, key=lambda o: o[0])
        return d, seconds, path

    today, today_path = predict(jobs, counts, config, rates, args.gpus, args.cores, 1, videos)
    per_job, after, path = best(args.gpus)
    gpu_clips = sum(counts[(part, d)] for (part, d) in counts if part in ("training", "evaluation"))
    floor = gpu_clips / (args.gpus * args.clips_per_s)
    print(f"{args.config.name}: {len(jobs)} jobs, {gpu_clips:,} encoder clips (online mode)")
    print(
        f"{args.gpus} GPUs, {args.cores} cores, {args.clips_per_s:g} clips/s per GPU: "
        f"floor {floor / 3600:.2f} h (every GPU busy on encoder work)"
    )
    print(f"today (devices_per_job 1): {today / 3600:.2f} h")
    print(f"after (devices_per_job {per_job}): {after / 3600:.2f} h")
    print("critical path (after): job, start, duration, GPUs")
    for j in path:
        print(
            f"  {j.name:40s} at {j.start / 3600:5.2f} h  {j.seconds / 3600:5.2f} h  gpus={j.gpus}"
        )
    rows = []
    for g in args.table or []:
        t, _ = predict(jobs, counts, config, rates, g, args.cores, 1, videos)
        d, a, _ = best(g)
        rows.append({"gpus": g, "today_h": round(t / 3600, 2), "after_h": round(a / 3600, 2),
                     "devices_per_job": d})  # fmt: skip
    if rows:
        print("\n| GPUs | today (h) | after (h) | devices_per_job |")
        print("|---|---|---|---|")
        for r in rows:
            print(f"| {r['gpus']} | {r['today_h']} | {r['after_h']} | {r['devices_per_job']} |")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "gpus": args.gpus,
                    "cores": args.cores,
                    "clips_per_s": args.clips_per_s,
                    "today_h": today / 3600,
                    "after_h": after / 3600,
                    "devices_per_job": per_job,
                    "critical_path": [j.name for j in path],
                    "table": rows,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
