"""Synthetic DFEW, FERV39k and MAFW trees in their exact layouts and split-file formats.

The in-the-wild benchmarks are licence-gated, so the pipeline is tested on look-alikes: cartoon
face crops from :mod:`vjepa_fer.data.faces` (the face fills the frame, as in the official face
crops), written where and how each dataset keeps them (see the dataset modules for the layouts):

* DFEW: ``Clip/clip_224x224/XXXXX/XXXXX_YYYYY.jpg`` (default), ``clip_224x224_16f/XXXXX/1.jpg …
  16.jpg`` (unpadded: lexical order would put 10 before 2) or ``original/XXXXX.mp4``; split CSVs
  ``video_name,label`` with **unpadded** integer ids and **1-based** labels, the training folder
  spelt ``train(single_labeled)`` (the archive's spelling) and the test folder
  ``test(single-labeled)``; one clip that is in no split (a multi-label clip) is written too.
* FERV39k: ``2_ClipsforFaceCrop/<Scene>/<Emotion>/<NNNN>/NN.jpg`` (or ``0_7_LabelClips/….mp4``)
  and space-separated, header-less ``4_setups/All_scenes/{train,test}_All.csv``; clips are short,
  a tenth of them under 16 frames.
* MAFW: ``data/frames/XXXXX/*.png`` (or ``data/clips/XXXXX.mp4``), non-contiguous 5-digit ids,
  ``Train & Test Set/single/no_caption/set_k/{train,test}.txt`` lines ``XXXXX.mp4 label``.

Every class gets ``clips_per_class`` clips, dealt round-robin over the folds (DFEW, MAFW) or
4:1 over train/test (FERV39k), so every test fold holds every class. Same seed, same bytes;
``synth.json`` (written last) marks completion and records the frame count of every clip.

    vjepa-fer synth --dataset dfew --out results/synth/dfew --clips-per-class 5 --size 64x64
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from vjepa_fer.data import faces
from vjepa_fer.datasets import get_dataset
from vjepa_fer.io import atomic_open, atomic_path

logger = logging.getLogger(__name__)

FPS = 25.0
# MAFW's four extra classes have no cartoon of their own: each is drawn as a weaker version of a
# related expression (the synthetic set tests layouts and formats, not recognisability).
EXPRESSION_OF = {
    "contempt": ("disgust", 0.5),
    "anxiety": ("fearful", 0.6),
    "helplessness": ("sad", 0.7),
    "disappointment": ("sad", 0.4),
}
# (usual frame range, short range): DFEW min 11 frames, FERV39k median 28 / min 8, MAFW min 9.
DURATIONS = {
    "dfew": ((40, 110), (11, 15)),
    "ferv39k": ((16, 47), (8, 15)),
    "mafw": ((40, 120), (9, 15)),
}
SHORT_FRACTION = {"dfew": 0.05, "ferv39k": 0.1, "mafw": 0.05}
PEOPLE = 10  # faces that recur over the clips (each shows every class), as actors in films
SCENES = ("Action", "Interview", "Talkshow", "DailyLife")
DFEW_CODE = {"happy": 1, "sad": 2, "neutral": 3, "angry": 4, "surprised": 5, "disgust": 6,
             "fearful": 7}  # fmt: skip
FERV39K_FOLDER = {"happy": "Happy", "sad": "Sad", "neutral": "Neutral", "angry": "Angry",
                  "surprised": "Surprise", "disgust": "Disgust", "fearful": "Fear"}  # fmt: skip
MAFW_NAME = {"angry": "anger", "disgust": "disgust", "fearful": "fear", "happy": "happiness",
             "neutral": "neutral", "sad": "sadness", "surprised": "surprise",
             "contempt": "contempt", "anxiety": "anxiety", "helplessness": "helplessness",
             "disappointment": "disappointment"}  # fmt: skip


@dataclass(frozen=True)
class Clip:
    """One synthetic clip: its dataset id, class, test fold (0 = FERV39k train) and length."""

    key: str  # DFEW/MAFW "00012", FERV39k "Action/Happy/0003"
    person: int  # whose face: movie actors recur across clips and classes
    label: str  # vocabulary name
    fold: int
    n_frames: int


def plan_clips(dataset: str, classes: tuple[str, ...], per_class: int, seed: int) -> list[Clip]:
    """The clips of a synthetic set: ids, classes, folds and frame counts from ``seed``."""
    rng = np.random.default_rng([seed, faces.stable_seed("wild", dataset)])
    (lo, hi), (slo, shi) = DURATIONS[dataset]
    clips, next_id = [], 1
    for c, label in enumerate(classes):
        for k in range(per_class):
            short = rng.random() < SHORT_FRACTION[dataset]
            n = int(rng.integers(slo, shi + 1) if short else rng.integers(lo, hi + 1))
            if dataset == "ferv39k":
                fold = 1 if k % 5 == 4 else 0  # a 4:1 train/test split
                scene = SCENES[(c + k) % len(SCENES)]
                key = f"{scene}/{FERV39K_FOLDER[label]}/{k:04d}"
            else:
                fold = 1 + (c + k) % 5
                # MAFW ids are not contiguous: skip a few numbers now and then.
                next_id += 1 + (int(rng.integers(0, 3)) if dataset == "mafw" else 0)
                key = f"{next_id:05d}"
            # Drawn, not derived from k: a person tied to the fold pattern would let a probe
            # learn "this face is never this class" from the training folds.
            person = int(rng.integers(0, PEOPLE))
            clips.append(Clip(key, person, label, fold, n))
    return clips


def render_clip(dataset: str, clip: Clip, seed: int, size: tuple[int, int]) -> np.ndarray:
    """(T, H, W, 3) uint8 frames of one clip: a face crop that changes over time."""
    ident = faces.make_identity(f"{dataset}/person{clip.person}", seed)
    # Face crops: the face fills the frame, centred.
    ident = replace(ident, x=0.5, y=0.5, scale=0.36)
    emotion, strength = EXPRESSION_OF.get(clip.label, (clip.label, 1.0))
    rng = np.random.default_rng([seed, faces.stable_seed("wild-video", dataset, clip.key)])
    talk = faces.talk_pattern(f"{dataset}/talk", "we are talking here", seed)
    plan = faces.plan_video(ident, emotion, strength, talk, clip.n_frames, FPS, rng)
    return np.concatenate(list(faces.render(ident, plan, size)))


def _frame_names(dataset: str, variant: str, clip: Clip) -> list[str]:
    n = clip.n_frames
    if dataset == "dfew" and variant == "clip_224x224_16f":
        return [f"{i}.jpg" for i in range(1, n + 1)]  # unpadded: 1.jpg ... 16.jpg
    if dataset == "dfew":
        return [f"{clip.key}_{i:05d}.jpg" for i in range(1, n + 1)]
    if dataset == "ferv39k":
        return [f"{i:02d}.jpg" for i in range(n)]
    return [f"{i:05d}.png" for i in range(1, n + 1)]


def _write_frames(folder: Path, names: list[str], frames: np.ndarray) -> None:
    from PIL import Image

    if folder.is_dir() and len(list(folder.iterdir())) == len(names):
        return  # written by an earlier, interrupted run
    folder.mkdir(parents=True, exist_ok=True)
    for name, img in zip(names, frames, strict=True):
        with atomic_path(folder / name) as tmp:
            if name.endswith(".png"):
                Image.fromarray(img).save(tmp, format="PNG")
            else:
                Image.fromarray(img).save(tmp, format="JPEG", quality=92)


def _write_mp4(path: Path, frames: np.ndarray) -> None:
    import av

    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    H, W = frames.shape[1:3]
    with atomic_path(path) as tmp, av.open(str(tmp), "w", format="mp4") as container:
        vs = container.add_stream("libx264", rate=int(FPS), options={"preset": "superfast",
                                                                    "threads": "1"})  # fmt: skip
        vs.width, vs.height, vs.pix_fmt = W, H, "yuv420p"
        for img in frames:
            container.mux(vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        container.mux(vs.encode(None))


def _write_splits(root: Path, dataset: str, clips: list[Clip]) -> None:
    def write(rel: str, lines: list[str]) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(root / rel, "w", encoding="utf-8", newline="") as fh:
            fh.write("".join(f"{ln}\n" for ln in lines))

    if dataset == "dfew":
        for k in range(1, 6):
            # Ids unpadded in the CSV (the files are padded), labels 1-based; the two spellings
            # of the split folders as found in the wild.
            row = lambda c: f"{int(c.key)},{DFEW_CODE[c.label]}"  # noqa: E731
            test = ["video_name,label", *(row(c) for c in clips if c.fold == k)]
            train = ["video_name,label", *(row(c) for c in clips if c.fold != k)]
            write(f"EmoLabel_DataSplit/test(single-labeled)/set_{k}.csv", test)
            write(f"EmoLabel_DataSplit/train(single_labeled)/set_{k}.csv", train)
    elif dataset == "ferv39k":
        line = lambda c: f"{c.key} {FERV39K_FOLDER[c.label]}"  # noqa: E731
        write("4_setups/All_scenes/train_All.csv", [line(c) for c in clips if c.fold == 0])
        write("4_setups/All_scenes/test_All.csv", [line(c) for c in clips if c.fold == 1])
    else:
        base = "Train & Test Set/single/no_caption"
        line = lambda c: f"{c.key}.mp4 {MAFW_NAME[c.label]}"  # noqa: E731
        for k in range(1, 6):
            write(f"{base}/set_{k}/test.txt", [line(c) for c in clips if c.fold == k])
            write(f"{base}/set_{k}/train.txt", [line(c) for c in clips if c.fold != k])


def synth_wild(
    dataset: str,
    root: str | Path,
    *,
    clips_per_class: int = 5,
    seed: int = 0,
    size: tuple[int, int] = (64, 64),
    variant: str | None = None,
) -> list[Path]:
    """Write a synthetic ``dataset`` (dfew, ferv39k, mafw) under ``root``; returns video paths."""
    ds = get_dataset(dataset)
    if dataset not in DURATIONS:
        raise ValueError(f"no synthetic generator for {dataset!r}; known: {', '.join(DURATIONS)}")
    variant = variant or ds.variants[0]
    if variant not in ds.variants:
        raise ValueError(f"{dataset}: unknown variant {variant!r}; choose one of {ds.variants}")
    if clips_per_class < 1 or (dataset != "ferv39k" and clips_per_class < 5):
        raise ValueError(f"{dataset}: clips_per_class must be >= 5 so every fold has each class")
    W, H = size
    if W < 16 or H < 16 or W % 2 or H % 2:
        raise ValueError(f"frame size must be even and at least 16x16, got {W}x{H}")
    root = Path(root)
    params = {"dataset": dataset, "clips_per_class": clips_per_class, "seed": seed,
              "size": [W, H], "variant": variant}  # fmt: skip
    marker = root / "synth.json"
    if marker.exists() and json.loads(marker.read_text())["params"] != params:
        raise ValueError(f"{marker}: this folder holds a synthetic set made with other parameters")
    clips = plan_clips(dataset, ds.classes, clips_per_class, seed)
    # A clip in no split file (DFEW/MAFW multi-label clips): the index must count, not use, it.
    extra = [] if dataset == "ferv39k" else [Clip("99999", 0, ds.classes[0], 0, 12)]
    paths = []
    for clip in [*clips, *extra]:
        if variant == "clip_224x224_16f":
            clip = replace(clip, n_frames=16)  # time-interpolated: always 16 frames
        rel = ds.variant_paths[variant].format(id=clip.key)
        frames = render_clip(dataset, clip, seed, (W, H))
        if rel.endswith(".mp4"):
            _write_mp4(root / rel, frames)
        else:
            _write_frames(root / rel, _frame_names(dataset, variant, clip), frames)
        paths.append(root / rel)
    _write_splits(root, dataset, clips)
    summary = {"generator": __name__, "params": params, "n_clips": len(clips),
               "frames": {c.key: c.n_frames for c in clips}}  # fmt: skip
    with atomic_open(marker, "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=1)
    logger.info("synth %s (%s): %d clips under %s", dataset, variant, len(clips), root)
    return paths


def synth_main(args: argparse.Namespace) -> int:
    """`vjepa-fer synth --dataset dfew|ferv39k|mafw` (called by datasets/synth.py's run)."""
    paths = synth_wild(
        args.dataset,
        args.out,
        clips_per_class=args.clips_per_class,
        seed=args.seed,
        size=args.size or (64, 64),
        variant=args.variant,
    )
    print(f"wrote {len(paths)} synthetic {args.dataset} videos under {args.out}")
    return 0
