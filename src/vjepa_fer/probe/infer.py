"""Stage ``vjepa-fer infer``: full-video inference, every evaluation clip encoded once.

Implements docs/protocol.md ("Clips": full-video evaluation; "Cross-dataset").
One pass over a dataset's evaluation clips (every start frame, one centre view) feeds every probe
that needs them: each fold probe of the same dataset sees its own test fold, each probe of the other
dataset sees the whole dataset (Table IV), extra probes likewise. Per-clip posteriors are saved,
never the tokens: one CSV per probe × evaluation dataset with ``video, clip, start, view, label``
and ``p_<class>`` per probe output. Optionally the same pass keeps, for one fold, each test clip's
mean encoder token and the probe's pooled token (the paper's Fig. 5).

    vjepa-fer infer --dataset crema-d --manifest results/crema-d/manifest.csv \\
        --lengths results/crema-d/lengths.csv --root DATA --trained results/probes/*/train-*.json \\
        --out results/posteriors/crema-d --encoder tiny
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from vjepa_fer import schema
from vjepa_fer.features.build import (
    add_encoder_arguments,
    add_rank_arguments,
    build_stream,
    pixel_config,
    run_reported,
)
from vjepa_fer.features.gpu_slots import claim_for_job
from vjepa_fer.features.plan import eval_requests, usable_videos
from vjepa_fer.features.ranks import Ranks, gather_objects, launch
from vjepa_fer.features.requests import ClipRequest
from vjepa_fer.features.stream import group_by_video
from vjepa_fer.io import atomic_open, atomic_path, write_csv
from vjepa_fer.probe.attentive import AttentiveProbe

logger = logging.getLogger(__name__)


def load_probe(folder: Path, device: torch.device | str) -> tuple[AttentiveProbe, dict]:
    """A saved probe and its probe.json."""
    info = json.loads((folder / "probe.json").read_text())
    state = load_file(str(folder / "probe.safetensors"))
    embed_dim = state["pooler.query_tokens"].shape[-1]
    probe = AttentiveProbe(embed_dim, info["num_heads"], info["num_outputs"])
    probe.load_state_dict(state)
    return probe.to(device).eval(), info


class PosteriorSink:
    """Clip-stream consumer: softmax posteriors of one probe on the clips it is asked about."""

    def __init__(self, probe, info: dict, labels: dict[str, str], amp, keep_pooled: bool = False):
        self.probe, self.info, self.labels, self.amp = probe, info, labels, amp
        names = list(info["classes"])
        extra = [f"unused{k}" for k in range(len(names), info["num_outputs"])]
        self.columns = [f"p_{c}" for c in names + extra]
        self.rows: list[dict] = []
        self.keep_pooled = keep_pooled
        self.pooled: list = []

    def consume(self, requests, tokens) -> None:
        with (
            torch.no_grad(),
            torch.autocast(tokens.device.type, dtype=self.amp, enabled=self.amp is not None),
        ):
            pooled = self.probe.pool(tokens.float())  # (B, D)
            logits = self.probe.linear(pooled)
        post = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        for r, p in zip(requests, post, strict=True):
            row = {**r.meta(), "label": self.labels[r.video]}
            row.update(zip(self.columns, p.tolist(), strict=True))
            self.rows.append(row)
        if self.keep_pooled:
            self.pooled.append(pooled.float().cpu())

    def frame(self) -> pd.DataFrame:
        cols = ["video", "clip", "start", "view", "epoch", "label", *self.columns]
        return pd.DataFrame(self.rows, columns=cols).drop(columns="epoch")


class MeanTokenSink:
    """Mean of each clip's encoder tokens (Fig. 5a), for the videos it is asked about."""

    def __init__(self) -> None:
        self.keys: list[tuple[str, int]] = []
        self.means: list = []

    def consume(self, requests, tokens) -> None:
        self.keys += [(r.video, r.clip) for r in requests]
        self.means.append(tokens.float().mean(dim=1).cpu())  # (B, D)


def probe_folders(trained: list[Path]) -> list[Path]:
    folders = []
    for marker in trained:
        folders += [Path(p) for p in json.loads(marker.read_text())["probes"]]
    return folders


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="the dataset evaluated on")
    parser.add_argument(
        "--manifest", required=True, type=Path, help="manifest CSV of the dataset evaluated on"
    )
    parser.add_argument(
        "--lengths", required=True, type=Path, help="frame counts of the dataset evaluated on"
    )
    parser.add_argument("--root", required=True, type=Path, help="dataset root")
    parser.add_argument(
        "--trained",
        required=True,
        type=Path,
        nargs="+",
        help="train-*.json summaries listing the probe folders",
    )
    parser.add_argument("--out", required=True, type=Path, help="folder of posterior CSVs")
    parser.add_argument("--done", type=Path, help="JSON summary written at the end")
    parser.add_argument(
        "--stride",
        type=int,
        default=schema.default("features.eval_stride"),
        help="step between evaluation clip starts (the authors: 1)",
    )
    parser.add_argument(
        "--views",
        type=int,
        default=schema.default("features.eval_views"),
        help="1 centre view, or 3 views along the long side",
    )
    parser.add_argument(
        "--pca-fold",
        type=int,
        default=0,
        help="keep mean and pooled tokens of this fold's test clips (0 = none)",
    )
    add_encoder_arguments(parser)
    add_rank_arguments(parser)


def run(args: argparse.Namespace) -> int:
    for tmp in args.out.glob(".*.tmp"):  # a killed run's atomic-write leftovers
        logger.info("removing a killed job's temporary file %s", tmp)
        tmp.unlink()
    slots = claim_for_job(args.device, args.devices_per_job)  # noqa: F841 - held until exit
    return launch(run_ranks, args, args.devices_per_job)


def merge_sinks(
    sinks: dict[str, PosteriorSink],
    mean_sink: MeanTokenSink | None,
    requests: list[ClipRequest],
    ranks: Ranks,
) -> bool:
    """Gather every rank's posterior rows (and PCA tokens) into rank 0's sinks, in the order one
    device would have produced them (the requests' order). Returns whether this is rank 0."""
    if not ranks.parallel:
        return True
    position = {r.key: i for i, r in enumerate(requests)}

    def key(row: dict) -> int:
        return position[(row["video"], row["clip"], row["view"], row["epoch"])]

    for name in sorted(sinks):
        sink = sinks[name]
        pooled = torch.cat(sink.pooled) if sink.pooled else torch.empty(0)
        parts = gather_objects((sink.rows, pooled), ranks)
        if parts is None:
            continue
        rows = [(row, p) for rows_q, pooled_q in parts for row, p in _pair(rows_q, pooled_q)]
        rows.sort(key=lambda item: key(item[0]))
        sink.rows = [row for row, _ in rows]
        if sink.keep_pooled:
            sink.pooled = [torch.stack([p for _, p in rows])] if rows else []
    if mean_sink is not None:
        means = torch.cat(mean_sink.means) if mean_sink.means else torch.empty(0)
        parts = gather_objects((mean_sink.keys, means), ranks)
        if parts is not None:
            pairs = [
                (k, m) for keys_q, means_q in parts for k, m in zip(keys_q, means_q, strict=True)
            ]
            order = {(r.video, r.clip): i for i, r in reversed(list(enumerate(requests)))}
            pairs.sort(key=lambda item: order[item[0]])
            mean_sink.keys = [k for k, _ in pairs]
            mean_sink.means = [torch.stack([m for _, m in pairs])] if pairs else []
    return ranks.leader


def _pair(rows: list[dict], pooled: torch.Tensor) -> list[tuple[dict, torch.Tensor | None]]:
    if len(pooled) == len(rows) and len(rows):
        return list(zip(rows, pooled, strict=True))
    return [(row, None) for row in rows]


def run_ranks(args: argparse.Namespace, ranks: Ranks) -> int:
    """One rank's part of :func:`run`: with parallel ranks each encodes every size-th video and
    runs every probe on it; rank 0 merges the rows and writes the tables."""
    videos = usable_videos(pd.read_csv(args.manifest), pd.read_csv(args.lengths))
    labels = dict(zip(videos["video"], videos["label"], strict=True))
    fold_of = dict(zip(videos["video"], videos["fold"], strict=True))
    stream, encoder = build_stream(args, ranks=ranks, shard="local")
    sinks: dict[str, PosteriorSink] = {}
    for folder in probe_folders(args.trained):
        probe, info = load_probe(folder, stream.device)
        spec = info["spec"]
        own = spec["dataset"] == args.dataset
        name = f"{spec['dataset']}-fold{spec['fold']}-{spec['variant']}"
        keep = own and spec["fold"] == args.pca_fold and spec["variant"] == "main"
        sink = PosteriorSink(probe, info, labels, stream.amp, keep_pooled=keep)
        # Own-dataset probes see only their held-out fold; the other dataset's see everything.
        wants = (lambda r, f=spec["fold"]: fold_of[r.video] == f) if own else None
        stream.register(sink, wants=wants)
        sinks[name] = sink
    mean_sink = None
    if args.pca_fold:
        mean_sink = stream.register(
            MeanTokenSink(), wants=lambda r: fold_of[r.video] == args.pca_fold
        )
    requests = eval_requests(
        videos,
        frames_per_clip=args.num_frames,
        frame_step=args.frame_step,
        stride=args.stride,
        num_views=args.views,
        short=args.short_clip,
    )
    pixels = pixel_config(args, num_views=args.views)
    run_reported(
        stream, encoder, args, clips=len(requests), desc=f"infer {args.dataset}",
        work=lambda: stream.run(args.root, requests, pixels),
    )  # fmt: skip
    requests = [r for _, group in group_by_video(requests) for r in group]
    forwards = gather_objects(stream.forwards, ranks)  # every rank's own encoder work
    if not merge_sinks(sinks, mean_sink, requests, ranks):
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, sink in sinks.items():
        path = args.out / f"{name}.csv"
        write_csv(sink.frame(), path)
        files[name] = str(path)
        if sink.keep_pooled and mean_sink is not None:
            keys = [(r["video"], r["clip"]) for r in sink.rows]
            if keys != mean_sink.keys:
                raise RuntimeError("PCA tokens: probe and encoder sinks saw different clips")
            tensors = {
                "encoder_mean": torch.cat(mean_sink.means).contiguous(),
                "probe_pooled": torch.cat(sink.pooled).contiguous(),
            }
            with atomic_path(args.out / f"pca-{name}.safetensors") as tmp:
                save_file(tensors, str(tmp))
            write_csv(
                sink.frame()[["video", "clip", "start", "label"]], args.out / f"pca-{name}.csv"
            )
    # Tables of probes no longer trained (a removed extra or dataset) would otherwise stay beside
    # this run's: the folder holds exactly what `files` lists, plus the PCA tokens just written.
    kept = {Path(p).name for p in files.values()}
    for stale in sorted(args.out.glob("*.csv")) + sorted(args.out.glob("pca-*.safetensors")):
        name = stale.name.removeprefix("pca-").replace(".safetensors", ".csv")
        if stale.name not in kept and name not in kept:
            logger.info("removing %s: not a table of this run's probes", stale)
            stale.unlink()
    summary = {
        **stream.counts(),  # times: rank 0's
        "clip_forwards": sum(forwards),
        "devices_per_job": ranks.size,
        "dataset": args.dataset,
        "videos": len(videos),
        "clips": len(requests),
        "probes": len(sinks),
        "posteriors": files,
    }
    if args.done:
        with atomic_open(args.done) as fh:
            json.dump(summary, fh, indent=2)
    logger.info("evaluated %d probes on %d clips of %s", len(sinks), len(requests), args.dataset)
    return 0
