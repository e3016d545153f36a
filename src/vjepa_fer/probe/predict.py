"""Stage ``vjepa-fer predict``: apply a dataset's trained fold probes to your own videos.

For each video (any container and codec decord or PyAV reads: mp4, avi, flv, webm, mkv, ...; any
size and frame rate) this

1. **resamples time to the probes' training frame rate** (``fps`` in probe.json: the median of
   the training videos). Frame ``i`` of the resampled video is the source frame shown at time
   ``i / fps``, i.e. ``floor(i * fps_source / fps)``: a 60 fps video uses every other frame, a
   15 fps video shows each frame twice, so a clip spans the same seconds as in training
   (16 frames at step 4 = 64 frames = 2.13 s at 30 fps). Rates within 1 % of an integer multiple
   or fraction of the training rate are resampled by that integer (29.97 and 30 fps alike);
2. cuts the protocol's full-video evaluation clips (every ``--stride``-th start, default 1: every
   start, as the paper's evaluation), each made into the evaluation view (short side
   ``floor(S·256/224)``, centre crop S × S, the training normalisation);
3. encodes every clip once with the probes' encoder (refused unless the encoder name and the
   checkpoint's sha256 equal those recorded by ``vjepa-fer train``);
4. averages the fold probes' softmax posteriors per clip (an ensemble of the 5 fold probes) and
   votes over the clips: **PBV** (argmax of the summed posteriors) and **MV** (most per-clip
   argmax votes, ties to the lowest class index), as the evaluation does.

Outputs: ``--csv`` one row per video (PBV, MV, per-class probabilities = mean clip posterior,
votes); ``--json`` the same plus every clip's posteriors and times; ``--clips`` per-clip CSV;
``--timeline`` a PNG of per-clip posteriors over time (one panel per video). Without any output
option the per-video CSV goes to stdout.

    vjepa-fer predict my_video.webm --probes results/probes/ravdess --timeline timeline.png \\
        --csv predictions.csv
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vjepa_fer import schema
from vjepa_fer.features.build import add_device_arguments, resolve_device
from vjepa_fer.io import atomic_open, write_csv

logger = logging.getLogger(__name__)

FPS_TOLERANCE = 0.01  # relative: 29.97 and 30 fps count as the same rate
MAX_DECODED_FRAMES = 256  # frames decoded at once (memory stays flat for long videos)
TRANSFORM_CHUNK = 16  # frames resized at once (a 1080p float frame is 25 MB)


# ----------------------------------------------------------------------------- probes


@dataclass
class Probes:
    """The fold probes of one prediction, their shared input spec and output names."""

    folders: list[Path]
    modules: list[Any]  # AttentiveProbe
    spec: dict[str, Any]
    outputs: list[str]  # class names, then "unused<k>" for extra outputs of an 8-output head


def find_probe_folders(root: Path, variant: str = "main") -> list[Path]:
    """Probe folders under ``root`` (a dataset's probe folder, or one probe folder)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: probe folder not found")
    if (root / "probe.json").is_file():
        return [root]
    folders = sorted(p.parent for p in root.glob(f"fold*/{variant}/probe.json"))
    if not folders:
        raise FileNotFoundError(
            f"{root}: no fold*/{variant}/probe.json (expected e.g. results/probes/ravdess)"
        )
    return folders


def shared_spec(folders: list[Path]) -> dict[str, Any]:
    """The ``input`` block all probes agree on; refuses probes without one or that disagree."""
    from vjepa_fer.probe.inputs import SHARED_KEYS

    specs = []
    for folder in folders:
        info = json.loads((folder / "probe.json").read_text())
        if "input" not in info:
            raise ValueError(
                f"{folder / 'probe.json'}: no 'input' block (trained by an older vjepa-fer); "
                "retrain the probes to record their encoder, checkpoint and clip geometry"
            )
        specs.append(info["input"])
    first = specs[0]
    for folder, spec in zip(folders[1:], specs[1:], strict=True):
        differ = [k for k in SHARED_KEYS if spec.get(k) != first.get(k)]
        if differ:
            raise ValueError(
                f"{folder}: probe input differs from {folders[0]} in {differ}; "
                "predict averages probes of one encoder and clip geometry only"
            )
    return first


def load_probes(folders: list[Path], device: Any) -> Probes:
    from vjepa_fer.probe.infer import load_probe

    spec = shared_spec(folders)
    modules, outputs = [], None
    for folder in folders:
        probe, info = load_probe(folder, device)
        names = list(info["classes"])
        names += [f"unused{k}" for k in range(len(names), info["num_outputs"])]
        if outputs is not None and names != outputs:
            raise ValueError(f"{folder}: outputs {names} differ from {outputs}")
        outputs = names
        modules.append(probe)
    return Probes(folders, modules, spec, outputs or [])


def build_spec_encoder(spec: dict[str, Any], args: argparse.Namespace) -> Any:
    """The probes' encoder, checked against the recorded name and checkpoint sha256."""
    from vjepa_fer.models.registry import build_encoder
    from vjepa_fer.probe.inputs import check_encoder

    name = args.encoder or spec["encoder"]
    checkpoint = args.checkpoint if args.checkpoint is not None else spec.get("checkpoint")
    check_encoder(spec, name, checkpoint, str(args.probes))
    extra = {"seed": int(spec["encoder_seed"])} if checkpoint is None else {}
    return build_encoder(
        name,
        img_size=int(spec["img_size"]),
        num_frames=int(spec["num_frames"]),
        checkpoint=checkpoint,
        checkpoint_key=spec.get("checkpoint_key") or "target_encoder",
        **extra,
    )


# ----------------------------------------------------------------------------- clips


def resample_frames(num_frames: int, fps_source: float, fps_target: float) -> np.ndarray:
    """Source frame number of each frame of the video resampled to ``fps_target``.

    Rates within 1 % of an integer multiple (60 -> 30: every 2nd frame) or fraction (15 -> 30:
    each frame twice) of the target are resampled exactly by that integer, so 29.97 and 30 fps
    sources behave alike; other rates take the frame on screen at ``i / fps_target``.
    """
    if num_frames < 1:
        raise ValueError("the video has no frames")
    if not (fps_source > 0 and math.isfinite(fps_source)):
        raise ValueError(f"frame rate {fps_source} is unusable")
    ratio = fps_source / fps_target
    if abs(ratio - round(ratio)) <= FPS_TOLERANCE * ratio and round(ratio) >= 1:
        return np.arange(0, num_frames, round(ratio), dtype=np.int64)  # keep every k-th frame
    if abs(1 / ratio - round(1 / ratio)) <= FPS_TOLERANCE / ratio:
        return np.repeat(np.arange(num_frames, dtype=np.int64), round(1 / ratio))  # show k times
    count = max(1, math.floor(num_frames / ratio + 1e-9))
    # +1e-6 guards exact multiples against floating-point rounding.
    src = np.floor(np.arange(count) * ratio + 1e-6).astype(np.int64)
    return np.minimum(src, num_frames - 1)


def video_clips(
    num_frames: int, fps_source: float, spec: dict[str, Any], stride: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts (K,) in resampled frames, source frame numbers (K, T), resampled length).

    Probes trained on frame folders know no frame rate (``fps`` None): frames are then taken as
    they come, at the source's rate."""
    from vjepa_fer.video.clips import eval_clips

    src = resample_frames(num_frames, fps_source, float(spec["fps"] or fps_source))
    starts, indices = eval_clips(
        len(src),
        frames_per_clip=int(spec["num_frames"]),
        frame_step=int(spec["frame_step"]),
        stride=stride,
    )
    return starts, src[indices], np.asarray(len(src))


def clip_chunks(indices: np.ndarray, max_frames: int) -> list[slice]:
    """Consecutive clip ranges whose union of frames stays within ``max_frames``."""
    chunks, start = [], 0
    while start < len(indices):
        stop, union = start + 1, set(indices[start].tolist())
        while stop < len(indices):
            grown = union | set(indices[stop].tolist())
            if len(grown) > max_frames:
                break
            union, stop = grown, stop + 1
        chunks.append(slice(start, stop))
        start = stop
    return chunks


def clip_pixels(path: Path, indices: np.ndarray, spec: dict[str, Any], backend: str):  # noqa: ANN201
    """(K, 3, T, S, S) float32 evaluation-view clips of the given source frames."""
    import torch

    from vjepa_fer.video.decode import decode_frames
    from vjepa_fer.video.transforms import eval_views

    decoded = decode_frames(path, indices, backend=backend)
    norm = spec["normalisation"]
    size = int(spec["img_size"])
    views = [
        eval_views(
            decoded.frames[i : i + TRANSFORM_CHUNK],
            size,
            mean=tuple(norm["mean"]),
            std=tuple(norm["std"]),
        )[0]
        for i in range(0, len(decoded.frames), TRANSFORM_CHUNK)
    ]
    frames = torch.cat(views, dim=1)  # (3, F, S, S)
    pos = {int(f): i for i, f in enumerate(decoded.indices)}
    gather = torch.tensor([[pos[int(f)] for f in clip] for clip in indices])  # (K, T)
    return frames[:, gather].permute(1, 0, 2, 3, 4).contiguous()  # (K, 3, T, S, S)


# ----------------------------------------------------------------------------- prediction


def clip_posteriors(
    path: Path,
    encoder: Any,
    probes: Probes,
    *,
    stride: int = 1,
    batch_size: int = 16,
    device: Any = "cpu",
    dtype: str = "bf16",
    backend: str = "auto",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per-clip posteriors averaged over the fold probes, and facts about the video."""
    import torch

    from vjepa_fer.video.decode import probe_video

    info = probe_video(path, backend=backend)
    spec = probes.spec
    starts, indices, length = video_clips(info.num_frames, info.fps, spec, stride)
    device = torch.device(device)
    amp = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(dtype)
    use_amp = device.type == "cuda" and amp is not None  # float32 on CPU (as the pipeline)
    posts = []
    for chunk in clip_chunks(indices, MAX_DECODED_FRAMES):
        pixels = clip_pixels(path, indices[chunk], spec, backend)
        for b in range(0, len(pixels), batch_size):
            x = pixels[b : b + batch_size].to(device)
            with torch.no_grad(), torch.autocast(device.type, dtype=amp, enabled=use_amp):
                tokens = encoder(x)
                per_probe = [
                    torch.softmax(p.linear(p.pool(tokens.float())).float(), dim=-1)
                    for p in probes.modules
                ]
            posts.append(torch.stack(per_probe).mean(dim=0).cpu().numpy())  # (B, C)
    probs = np.concatenate(posts)  # (K, C)
    fps = float(spec["fps"] or info.fps)
    window = int(spec["num_frames"]) * int(spec["frame_step"])
    table = pd.DataFrame(
        {
            "video": str(path),
            "clip": np.arange(len(starts)),
            "start": starts,
            "start_s": starts / fps,
            # A video shorter than one window gives one clip padded with its last frame.
            "end_s": np.minimum(starts + window, int(length)) / fps,
        }
    )
    for k, name in enumerate(probes.outputs):
        table[f"p_{name}"] = probs[:, k]
    facts = {
        "frames": info.num_frames,
        "fps": round(info.fps, 5),
        "fps_used": fps,
        "resampled_frames": int(length),
        "seconds": round(info.num_frames / info.fps, 3),
        "size": f"{info.width}x{info.height}",
        "decoder": info.backend,
    }
    return table, facts


def decide(clips: pd.DataFrame, outputs: list[str]) -> dict[str, Any]:
    """PBV and MV of one video's averaged clip posteriors (the evaluation's tie rules)."""
    from vjepa_fer.evaluate.voting import mv_decision, pbv_decision

    probs = clips[[f"p_{c}" for c in outputs]].to_numpy(dtype=float)  # (K, C)
    sums = probs.sum(axis=0, keepdims=True)  # (1, C)
    votes = np.bincount(probs.argmax(axis=1), minlength=len(outputs))[None, :]  # (1, C)
    pbv = int(pbv_decision(sums)[0])
    mv = int(mv_decision(votes, sums, "lowest")[0])
    tied = int((votes[0] == votes[0].max()).sum()) > 1
    return {
        "pbv": outputs[pbv],
        "mv": outputs[mv],
        "mv_tied": tied,
        "n_clips": len(probs),
        "probabilities": dict(zip(outputs, (sums[0] / len(probs)).tolist(), strict=True)),
        "votes": dict(zip(outputs, votes[0].astype(int).tolist(), strict=True)),
    }


def predict_videos(
    videos: list[Path], probes: Probes, encoder: Any, args: argparse.Namespace
) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """Per-video predictions, per-clip posteriors and the JSON records of every video."""
    rows, tables, records = [], [], []
    for path in videos:
        clips, facts = clip_posteriors(
            path,
            encoder,
            probes,
            stride=args.stride,
            batch_size=args.batch_size,
            device=args.device_resolved,
            dtype=args.dtype,
            backend=args.backend,
        )
        result = decide(clips, probes.outputs)
        logger.info("%s: PBV %s, MV %s (%d clips)", path, result["pbv"], result["mv"], len(clips))
        row = {"video": str(path), "pbv": result["pbv"], "mv": result["mv"]}
        row.update(mv_tied=result["mv_tied"], n_clips=result["n_clips"], **facts)
        row.update({f"prob_{c}": v for c, v in result["probabilities"].items()})
        row.update({f"votes_{c}": v for c, v in result["votes"].items()})
        rows.append(row)
        tables.append(clips)
        clip_list = clips.drop(columns="video").to_dict(orient="records")
        records.append({"video": str(path), **facts, **result, "clips": clip_list})
    return pd.DataFrame(rows), pd.concat(tables, ignore_index=True), records


def plot_timeline(clips: pd.DataFrame, outputs: list[str], path: Path, title: str) -> None:
    """Per-clip posteriors (averaged over fold probes) against the clip's centre time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    videos = list(dict.fromkeys(clips["video"]))
    fig, axes = plt.subplots(
        len(videos), 1, figsize=(8.5, 2.4 * len(videos) + 0.6), squeeze=False, sharey=True
    )
    cmap = plt.get_cmap("tab10")
    for ax, video in zip(axes[:, 0], videos, strict=True):
        part = clips[clips["video"] == video]
        centre = (part["start_s"] + part["end_s"]) / 2
        for k, name in enumerate(outputs):
            marker = "o" if len(part) < 3 else None
            ax.plot(centre, part[f"p_{name}"], label=name, color=cmap(k % 10), marker=marker)
        ax.set_xlim(0, float(part["end_s"].max()))  # the whole video's clip span
        ax.set_title(Path(video).name, fontsize="small")
        ax.set_ylim(0, 1)
        ax.set_ylabel("posterior")
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("clip centre (s); each clip spans its centre ± half a window")
    axes[0, 0].legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(title, fontsize="small")
    fig.tight_layout()
    with atomic_open(path, mode="wb") as fh:
        fig.savefig(fh, format=path.suffix.lstrip(".") or "png", dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Apply trained fold probes to any video decord or PyAV reads (mp4, avi, flv, webm, ...; "
        "any size and frame rate). Time: each video is resampled to the probes' training frame "
        "rate (frame i = the source frame shown at i/fps), so a clip spans the same seconds as in "
        "training (16 frames at step 4 = 2.13 s at 30 fps); rates within 1 % of an integer "
        "multiple or fraction of it are resampled by that integer (60 fps: every 2nd frame). "
        "Clips: every --stride-th start, each the evaluation view (short side S*256/224, centre "
        "crop). The fold probes' posteriors are averaged per clip; PBV = argmax of the summed "
        "clip posteriors, MV = most clip votes (ties: lowest class index)."
    )
    parser.add_argument(
        "videos", nargs="*", type=Path, metavar="VIDEO", help="video files to classify"
    )
    parser.add_argument(
        "--manifest",
        type=Path,
        help="also predict the videos of a manifest (paths under --root); its labels are kept",
    )
    parser.add_argument("--root", type=Path, help="folder the manifest's video paths start from")
    parser.add_argument("--limit", type=int, help="with --manifest: its first N videos only")
    parser.add_argument(
        "--probes",
        required=True,
        type=Path,
        help="a dataset's probe folder (fold*/VARIANT/probe.json under it), or one probe folder",
    )
    parser.add_argument("--variant", default="main", help="probe variant to use (default main)")
    parser.add_argument("--csv", type=Path, help="per-video predictions (CSV)")
    parser.add_argument("--json", type=Path, help="per-video predictions with every clip (JSON)")
    parser.add_argument("--clips", type=Path, help="per-clip averaged posteriors (CSV)")
    parser.add_argument("--timeline", type=Path, help="PNG of per-clip posteriors over time")
    parser.add_argument(
        "--encoder", help="encoder name; must equal the probes' (default: the recorded one)"
    )
    parser.add_argument(
        "--checkpoint",
        help="encoder checkpoint if it moved; its sha256 must equal the recorded one",
    )
    parser.add_argument(
        "--stride",
        type=int,
        default=schema.default("features.eval_stride"),
        help="step between clip starts",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=schema.default("features.batch_size"),
        help="clips per encoder forward",
    )
    add_device_arguments(parser)
    parser.add_argument(
        "--backend",
        choices=["auto", "decord", "pyav"],
        default="auto",
        help="video decoder (auto: decord, PyAV where decord cannot read the file)",
    )


def run(args: argparse.Namespace) -> int:
    if args.stride < 1:
        raise ValueError(f"--stride must be >= 1, got {args.stride}")
    videos, labels = list(args.videos), {}
    if args.manifest is not None:
        if args.root is None:
            raise ValueError("--manifest needs --root (the folder its video paths start from)")
        rows = pd.read_csv(args.manifest)
        if "video" not in rows.columns:
            raise ValueError(f"{args.manifest}: no 'video' column")
        rows = rows.head(args.limit) if args.limit is not None else rows
        videos += [args.root / v for v in rows["video"]]
        if "label" in rows.columns:
            pairs = zip(rows["video"], rows["label"], strict=True)
            labels = {str(args.root / v): str(y) for v, y in pairs}
    if not videos:
        raise ValueError("no videos given (VIDEO arguments or --manifest)")
    args.videos = videos
    missing = [str(v) for v in args.videos if not v.is_file()]
    if missing:
        raise FileNotFoundError(f"video(s) not found: {missing}")
    args.device_resolved = resolve_device(args.device)
    folders = find_probe_folders(args.probes, args.variant)
    probes = load_probes(folders, args.device_resolved)
    encoder = build_spec_encoder(probes.spec, args).to(args.device_resolved).eval()
    logger.info(
        "%d probes (%s), encoder %s, %d px, %d frames at step %d, %s fps",
        len(folders),
        args.probes,
        probes.spec["encoder"],
        probes.spec["img_size"],
        probes.spec["num_frames"],
        probes.spec["frame_step"],
        probes.spec["fps"],
    )
    table, clips, records = predict_videos(list(args.videos), probes, encoder, args)
    if labels:  # the manifest's true labels beside the predictions
        table.insert(1, "label", table["video"].map(labels))
        for record in records:
            record["label"] = labels.get(record["video"])
    if args.csv:
        write_csv(table, args.csv)
    if args.clips:
        write_csv(clips, args.clips)
    if args.json:
        with atomic_open(args.json, encoding="utf-8") as fh:
            json.dump({"probes": [str(f) for f in folders], "videos": records}, fh, indent=2)
    if args.timeline:
        title = f"{len(folders)} fold probes of {args.probes}, averaged"
        plot_timeline(clips, probes.outputs, args.timeline, title)
    if not (args.csv or args.json or args.clips or args.timeline):
        table.to_csv(sys.stdout, index=False)
    else:
        for _, r in table.iterrows():
            clips = f"{r['n_clips']} clip" + ("s" if r["n_clips"] != 1 else "")
            print(f"{r['video']}: PBV {r['pbv']}, MV {r['mv']} ({clips})")
    return 0
