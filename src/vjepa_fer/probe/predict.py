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
   argmax votes, ties by ``--mv-tie``: the evaluation's rule, by default the authors' label map of
   the probes' dataset, so a CREMA-D angry/sad tie says sad in both).

Videos are files or frame folders (numbered images, as the datasets ship them; a folder has no
frame rate, so its frames are taken at the probes' training rate). A video that cannot be used
(missing, unreadable, corrupt) gets ``status`` ``error`` and the reason in ``error`` while the
others are predicted; the exit status is then 1. ``warning`` flags a video shorter than one
clip (its one clip is padded with the last frame) and a low-confidence answer (the mean clip
posterior's entropy above ``LOW_CONFIDENCE`` of its maximum: the probes cannot tell, e.g. when
no face is visible; see docs/predict.md for why this is not a face detector). The first line
states the encoder and whether its weights are random (the demo's: predictions mean nothing).

Outputs: ``--csv`` one row per video (status, PBV, MV, per-class probabilities = mean clip
posterior, votes); ``--json`` the same plus every clip's posteriors and times; ``--clips``
per-clip CSV; ``--timeline`` a PNG of per-clip posteriors over time with the PBV and MV decisions
(one panel per video, 1,600 px wide). Without any output option the per-video CSV goes to
stdout; with one, one line per video.

    vjepa-fer predict my_video.webm --probes results/vit_huge/probes/ravdess \\
        --timeline timeline.png --csv predictions.csv
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vjepa_fer import schema
from vjepa_fer.evaluate.voting import authors_tie_order, mv_decision, pbv_decision, tie_ranks
from vjepa_fer.features.build import add_device_arguments, resolve_device
from vjepa_fer.io import atomic_open, write_csv
from vjepa_fer.models.registry import build_encoder
from vjepa_fer.probe.infer import load_probe
from vjepa_fer.probe.inputs import SHARED_KEYS, check_encoder
from vjepa_fer.video.clips import eval_clips
from vjepa_fer.video.decode import VideoError, decode_frames, frame_timestamps, probe_video
from vjepa_fer.video.transforms import eval_views

logger = logging.getLogger(__name__)

FPS_TOLERANCE = 0.01  # relative: 29.97 and 30 fps count as the same rate
FOLDER_FPS = 30.0  # a frame folder when the probes know no rate either (times are then nominal)
# Normalised entropy (H / log C) of a video's mean clip posterior above which the answer is
# flagged as low confidence: 0.9 of the maximum is close to "no idea" for 6-8 classes.
LOW_CONFIDENCE = 0.9
TIMELINE_WIDTH_PX = 1600
TIMELINE_DPI = 100
# Characters of the title per line at 15 px on 1,600 px (measured: 150 fit the left 86 %).
TIMELINE_TITLE_CHARS = 140
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
    dataset: str = ""  # the dataset the probes were trained on (its authors' MV tie order)


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
            f"{root}: no fold*/{variant}/probe.json (expected a dataset's probe folder, "
            "results/<encoder>/probes/<dataset>, e.g. results/vit_huge/probes/ravdess)"
        )
    return folders


def shared_spec(folders: list[Path]) -> dict[str, Any]:
    """The ``input`` block all probes agree on; refuses probes without one or that disagree."""
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
    spec = shared_spec(folders)
    modules, outputs, dataset = [], None, ""
    for folder in folders:
        probe, info = load_probe(folder, device)
        dataset = str(info.get("spec", {}).get("dataset", "")) or dataset
        names = list(info["classes"])
        names += [f"unused{k}" for k in range(len(names), info["num_outputs"])]
        if outputs is not None and names != outputs:
            raise ValueError(f"{folder}: outputs {names} differ from {outputs}")
        outputs = names
        modules.append(probe)
    return Probes(folders, modules, spec, outputs or [], dataset)


def encoder_statement(spec: dict[str, Any]) -> tuple[str, bool]:
    """One line naming the probes' encoder and whether its weights are random, and that flag."""
    random = spec.get("checkpoint") is None
    if random:
        seed = spec.get("encoder_seed")
        return (
            f"encoder {spec['encoder']} with RANDOM weights (seed {seed}), as in the offline "
            "demo: these predictions test the pipeline and say nothing about expressions",
            True,
        )
    digest = str(spec.get("checkpoint_sha256") or "")[:12]
    return f"encoder {spec['encoder']}, pre-trained weights {spec['checkpoint']} ({digest})", False


def build_spec_encoder(spec: dict[str, Any], args: argparse.Namespace) -> Any:
    """The probes' encoder, checked against the recorded name and checkpoint sha256."""
    name = args.encoder or spec["encoder"]
    checkpoint = args.checkpoint if args.checkpoint is not None else spec.get("checkpoint")
    check_encoder(spec, name, checkpoint, str(args.probes))
    extra = {"seed": int(spec["encoder_seed"])} if checkpoint is None else {}
    return build_encoder(
        name,
        img_size=int(spec["img_size"]),
        num_frames=int(spec["num_frames"]),
        checkpoint=checkpoint,
        checkpoint_key=spec.get("checkpoint_key") or schema.default("encoder.checkpoint_key"),
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
    src = resample_frames(num_frames, fps_source, float(spec["fps"] or fps_source))
    starts, indices = eval_clips(
        len(src),
        frames_per_clip=int(spec["num_frames"]),
        frame_step=int(spec["frame_step"]),
        stride=stride,
    )
    return starts, src[indices], np.asarray(len(src))


def frame_times(path: Path, num_frames: int) -> np.ndarray | None:
    """Each frame's presentation time in seconds (sorted), or None where the container's
    timestamps do not give one time per frame (then the average rate is used)."""
    try:
        times = frame_timestamps(path)
    except VideoError:
        return None
    return times if len(times) == num_frames and num_frames > 1 else None


def is_variable_rate(times: np.ndarray) -> bool:
    """True when frame intervals differ by more than a quarter of the median interval (a
    variable-frame-rate recording, e.g. a phone's), where the average rate misplaces frames."""
    steps = np.diff(times)
    if len(steps) < 2:
        return False
    median = float(np.median(steps))
    return median > 0 and float(np.max(np.abs(steps - median))) > 0.25 * median


def resample_by_time(times: np.ndarray, fps_target: float) -> np.ndarray:
    """Source frame on screen at ``t0 + i / fps_target`` for every resampled frame ``i``: the
    last frame whose timestamp is not later (a variable-rate video keeps its real timing)."""
    rel = np.asarray(times, dtype=np.float64) - float(times[0])
    last = rel[-1] + float(
        rel[-1] - rel[-2]
    )  # the last frame stays on screen as long as the one before
    count = max(1, math.floor(last * fps_target + 1e-6))
    wanted = np.arange(count) / fps_target
    return np.searchsorted(rel, wanted + 1e-9, side="right").astype(np.int64) - 1


def video_clips_by_time(
    times: np.ndarray, spec: dict[str, Any], stride: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`video_clips` for a variable-rate video: resampled by its frames' timestamps."""
    rate = float(spec["fps"] or 1.0 / float(np.median(np.diff(times))))
    src = resample_by_time(times, rate)
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
    stride: int = schema.default("features.eval_stride"),
    batch_size: int = schema.default("features.batch_size"),
    device: Any = "cpu",
    dtype: str = schema.default("features.dtype"),
    backend: str = "auto",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per-clip posteriors averaged over the fold probes, and facts about the video."""
    import torch

    info = probe_video(path, backend=backend)
    spec = probes.spec
    # A frame folder has no rate: its frames are taken at the probes' rate (no resampling).
    source_fps = info.fps if info.fps > 0 else float(spec["fps"] or FOLDER_FPS)
    times = None if Path(path).is_dir() else frame_times(path, info.num_frames)
    if times is not None and is_variable_rate(times):
        starts, indices, length = video_clips_by_time(times, spec, stride)
    else:
        starts, indices, length = video_clips(info.num_frames, source_fps, spec, stride)
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
    fps = float(spec["fps"] or source_fps)
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
    variable = times is not None and is_variable_rate(times)
    seconds = float(times[-1] - times[0]) + 1 / source_fps if variable else None
    facts = {
        "frames": info.num_frames,
        "fps": round(info.fps, 5) if info.fps > 0 else None,  # None: a frame folder
        "fps_used": fps,
        "variable_rate": bool(variable),
        "resampled_frames": int(length),
        "seconds": round(seconds or info.num_frames / source_fps, 3),
        "size": f"{info.width}x{info.height}",
        "decoder": info.backend,
        "clip_seconds": round(window / fps, 3),
    }
    return table, facts


def decide(
    clips: pd.DataFrame, outputs: list[str], mv_tie: str = "lowest", dataset: str = ""
) -> dict[str, Any]:
    """PBV and MV of one video's averaged clip posteriors, with the evaluation's tie rules
    (``mv_tie`` authors: the authors' label map of ``dataset``, as ``vjepa-fer evaluate``)."""
    probs = clips[[f"p_{c}" for c in outputs]].to_numpy(dtype=float)  # (K, C)
    sums = probs.sum(axis=0, keepdims=True)  # (1, C)
    votes = np.bincount(probs.argmax(axis=1), minlength=len(outputs))[None, :]  # (1, C)
    pbv = int(pbv_decision(sums)[0])
    rank = tie_ranks(outputs, authors_tie_order(dataset, outputs)) if mv_tie == "authors" else None
    mv = int(mv_decision(votes, sums, mv_tie, rank)[0])
    tied = int((votes[0] == votes[0].max()).sum()) > 1
    mean = sums[0] / len(probs)
    return {
        "confidence": round(float(1.0 - normalised_entropy(mean)), 4),
        "pbv": outputs[pbv],
        "mv": outputs[mv],
        "mv_tied": tied,
        "n_clips": len(probs),
        "probabilities": dict(zip(outputs, mean.tolist(), strict=True)),
        "votes": dict(zip(outputs, votes[0].astype(int).tolist(), strict=True)),
    }


def normalised_entropy(p: np.ndarray) -> float:
    """Entropy of a distribution divided by its maximum log(C): 0 = certain, 1 = uniform."""
    p = np.clip(np.asarray(p, dtype=float), 1e-12, 1.0)
    p = p / p.sum()
    return float(-(p * np.log(p)).sum() / math.log(len(p))) if len(p) > 1 else 0.0


def video_warnings(result: dict[str, Any], facts: dict[str, Any], window_frames: int) -> list[str]:
    """Why a prediction deserves less trust: shorter than one clip, low confidence."""
    out = []
    if facts["resampled_frames"] < window_frames:
        out.append(
            f"shorter than one clip ({facts['seconds']:g} s < {facts['clip_seconds']:g} s): its "
            "one clip repeats the last frame"
        )
    if 1.0 - result["confidence"] > LOW_CONFIDENCE:
        out.append(
            f"low confidence (posterior entropy {1 - result['confidence']:.2f} of its maximum): "
            "the probes cannot tell; is a face visible?"
        )
    return out


# Errors one video can raise without saying anything about the others (decoder, file system,
# clip planning); anything else is a bug and stops the run with a traceback.
VIDEO_ERRORS = (ValueError, OSError, RuntimeError, KeyError, EOFError)


def predict_videos(
    videos: list[Path], probes: Probes, encoder: Any, args: argparse.Namespace
) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """Per-video predictions, per-clip posteriors and the JSON records of every video.

    A video that fails gets a row with ``status`` error and the reason; the rest go on."""
    rows, tables, records = [], [], []
    window = int(probes.spec["num_frames"]) * int(probes.spec["frame_step"])
    mv_tie = getattr(args, "mv_tie", "authors")
    for path in videos:
        try:
            if not Path(path).exists():
                raise FileNotFoundError(f"{path}: no such video file or frame folder")
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
        except VIDEO_ERRORS as exc:
            message = str(exc).strip() or type(exc).__name__
            logger.error("%s: %s", path, message)
            rows.append({"video": str(path), "status": "error", "error": message, "warning": ""})
            records.append({"video": str(path), "status": "error", "error": message})
            continue
        result = decide(clips, probes.outputs, mv_tie, probes.dataset)
        warnings = video_warnings(result, facts, window)
        for text in warnings:
            logger.warning("%s: %s", path, text)
        row = {"video": str(path), "status": "ok", "error": "", "warning": "; ".join(warnings)}
        row.update(pbv=result["pbv"], mv=result["mv"], mv_tied=result["mv_tied"])
        row.update(n_clips=result["n_clips"], confidence=result["confidence"], **facts)
        row.update({f"prob_{c}": v for c, v in result["probabilities"].items()})
        row.update({f"votes_{c}": v for c, v in result["votes"].items()})
        rows.append(row)
        tables.append(clips)
        clip_list = clips.drop(columns="video").to_dict(orient="records")
        records.append(
            {"video": str(path), "status": "ok", "warnings": warnings, **facts, **result,
             "clips": clip_list}
        )  # fmt: skip
    clip_table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return pd.DataFrame(rows), clip_table, records


def timeline_figure(
    clips: pd.DataFrame,
    outputs: list[str],
    title: str,
    decisions: dict[str, dict[str, Any]] | None = None,
) -> Any:
    """Per-clip posteriors (averaged over fold probes) against the clip's centre time, one panel
    per video, with the video's decisions marked: the PBV class's curve drawn thick and named,
    and a strip under the curves coloured by each clip's vote (its argmax), whose most frequent
    colour is the MV decision. 1,600 px wide at 100 dpi with fonts of 13 px and more, so it reads
    at full width in the report. Returns the matplotlib figure (:func:`plot_timeline` saves it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    decisions = decisions or {}
    videos = list(dict.fromkeys(clips["video"]))
    width = TIMELINE_WIDTH_PX / TIMELINE_DPI
    fig, axes = plt.subplots(
        len(videos), 1, figsize=(width, 3.4 * len(videos) + 1.2), squeeze=False, sharey=True
    )
    cmap = plt.get_cmap("tab10")
    colour = {name: cmap(k % 10) for k, name in enumerate(outputs)}
    for ax, video in zip(axes[:, 0], videos, strict=True):
        part = clips[clips["video"] == video]
        centre = (part["start_s"] + part["end_s"]) / 2
        decided = decisions.get(video, {})
        pbv, mv = decided.get("pbv"), decided.get("mv")
        for name in outputs:
            marker = "o" if len(part) < 3 else None
            thick = name == pbv
            ax.plot(
                centre,
                part[f"p_{name}"],
                color=colour[name],
                marker=marker,
                linewidth=3.5 if thick else 1.2,
                alpha=1.0 if thick else 0.75,
                zorder=3 if thick else 2,
            )
        # Vote strip: each clip's argmax as a coloured band below the curves (MV = the mode).
        probs = part[[f"p_{c}" for c in outputs]].to_numpy(dtype=float)
        votes = probs.argmax(axis=1)
        span = float(part["end_s"].max())
        step = float(centre.iloc[1] - centre.iloc[0]) if len(part) > 1 else span
        for at, vote in zip(centre.to_numpy(), votes, strict=True):
            left = at - step / 2 if len(part) > 1 else 0.0
            ax.axvspan(left, left + step, ymin=0.0, ymax=0.06, color=colour[outputs[vote]], lw=0)
        ax.set_xlim(0, span)  # the whole video's clip span
        name = Path(video).name
        if pbv is not None:
            tie = " (tie rule)" if decided.get("mv_tied") else ""
            n_votes = int(decided.get("votes", {}).get(mv, 0))
            ax.set_title(
                f"{name}:  PBV {pbv} (mean posterior {decided['probabilities'][pbv]:.2f}),  "
                f"MV {mv} ({n_votes} of {decided['n_clips']} clip votes{tie})",
                fontsize=15,
                loc="left",
            )
        else:
            ax.set_title(name, fontsize=15, loc="left")
        ax.set_ylim(0, 1)
        ax.set_ylabel("posterior", fontsize=14)
        ax.tick_params(labelsize=13)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel(
        "clip centre (s); each clip spans its centre ± half a window; "
        "bottom strip: each clip's vote",
        fontsize=14,
    )
    handles = [Line2D([], [], color=colour[c], lw=3, label=c) for c in outputs]
    fig.legend(
        handles=handles, loc="upper right", fontsize=13, frameon=False, bbox_to_anchor=(0.995, 0.97)
    )
    # A long title (probe folder, random-weight warning) is wrapped to the canvas, not cut off.
    lines = textwrap.wrap(title, TIMELINE_TITLE_CHARS) or [""]
    fig.suptitle("\n".join(lines), fontsize=15, x=0.01, ha="left")
    top = 1 - (0.3 * len(lines) + 0.1) / fig.get_figheight()
    fig.tight_layout(rect=(0, 0, 0.86, top))  # the legend keeps the right 14 %
    return fig


def plot_timeline(
    clips: pd.DataFrame,
    outputs: list[str],
    path: Path,
    title: str,
    decisions: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Save :func:`timeline_figure` as ``path`` (PNG: 1,600 px wide)."""
    import matplotlib.pyplot as plt

    fig = timeline_figure(clips, outputs, title, decisions)
    with atomic_open(path, mode="wb") as fh:
        fig.savefig(fh, format=path.suffix.lstrip(".") or "png", dpi=TIMELINE_DPI)
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
        "clip posteriors, MV = most clip votes (ties: --mv-tie, the evaluation's rule). Videos "
        "are files or frame folders; one that fails gets status 'error' in the table while the "
        "rest are predicted (exit status 1)."
    )
    parser.add_argument(
        "videos",
        nargs="*",
        type=Path,
        metavar="VIDEO",
        help="video files or frame folders (numbered images) to classify",
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
        "--mv-tie",
        choices=["authors", "lowest", "posterior"],
        default=schema.default("evaluation.mv_tie"),
        help="MV tie rule, as evaluation.mv_tie (authors: the authors' label map of the probes' "
        "dataset, e.g. CREMA-D angry/sad -> sad)",
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
    args.device_resolved = resolve_device(args.device)
    folders = find_probe_folders(args.probes, args.variant)
    probes = load_probes(folders, args.device_resolved)
    encoder = build_spec_encoder(probes.spec, args).to(args.device_resolved).eval()
    statement, random_weights = encoder_statement(probes.spec)
    (logger.warning if random_weights else logger.info)("%s", statement)
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
    table.insert(1, "encoder", probes.spec["encoder"])
    table.insert(2, "random_weights", random_weights)
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
            meta = {"probes": [str(f) for f in folders], "encoder": probes.spec["encoder"]}
            meta["random_weights"] = random_weights
            json.dump({**meta, "videos": records}, fh, indent=2)
    if args.timeline and len(clips):
        title = f"{len(folders)} fold probes of {args.probes}, averaged; {statement}"
        decided = {r["video"]: r for r in records if r.get("status") == "ok"}
        plot_timeline(clips, probes.outputs, args.timeline, title, decided)
    if not (args.csv or args.json or args.clips or args.timeline):
        table.to_csv(sys.stdout, index=False)
    else:  # one line per video (the log lines above carry warnings and errors only)
        for _, r in table.iterrows():
            print(result_line(r))
    failed = int((table["status"] != "ok").sum())
    if failed:
        logger.error("%d of %d videos could not be predicted (status 'error')", failed, len(table))
    return 1 if failed else 0


def plural(n: int, word: str) -> str:
    """``1 clip``, ``2 clips``."""
    return f"{n} {word}" + ("" if n == 1 else "s")


def result_line(row: pd.Series) -> str:
    """The one terminal line of a video's result."""
    if row["status"] != "ok":
        return f"{row['video']}: ERROR {row['error']}"
    line = (
        f"{row['video']}: PBV {row['pbv']}, MV {row['mv']} ({plural(int(row['n_clips']), 'clip')})"
    )
    return line + (f"; warning: {row['warning']}" if row["warning"] else "")
