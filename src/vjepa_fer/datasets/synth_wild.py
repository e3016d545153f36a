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
from vjepa_fer.datasets.wild import SplitFileDataset
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
PEOPLE = 10  # faces that recur over the clips (each shows every class), as actors in films


@dataclass(frozen=True)
class Clip:
    """One synthetic clip: its dataset id, class, test fold (0 = FERV39k train) and length."""

    key: str  # DFEW/MAFW "00012", FERV39k "Action/Happy/0003"
    person: int  # whose face: movie actors recur across clips and classes
    label: str  # vocabulary name
    fold: int
    n_frames: int


def plan_clips(dataset: str, classes: tuple[str, ...], per_class: int, seed: int) -> list[Clip]:
    """The clips of a synthetic set: ids, classes, folds and frame counts from ``seed``; the
    dataset's module says how long its clips are and how it names and splits them."""
    ds = _module(dataset)
    rng = np.random.default_rng([seed, faces.stable_seed("wild", dataset)])
    (lo, hi), (slo, shi) = ds.synth_frames
    clips, next_id = [], 1
    for c, label in enumerate(classes):
        for k in range(per_class):
            short = rng.random() < ds.synth_short_fraction
            n = int(rng.integers(slo, shi + 1) if short else rng.integers(lo, hi + 1))
            key, fold, next_id = ds.synth_clip_key(c, k, label, next_id, rng)
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


def _write_splits(root: Path, files: dict[str, list[str]]) -> None:
    for rel, lines in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(root / rel, "w", encoding="utf-8", newline="") as fh:
            fh.write("".join(f"{ln}\n" for ln in lines))


def _module(dataset: str) -> SplitFileDataset:
    """The dataset's module, if it describes a synthetic set of its split-file layout."""
    ds = get_dataset(dataset)
    if not isinstance(ds, SplitFileDataset) or ds.synth_module != __name__:
        raise ValueError(f"no synthetic generator for {dataset!r} in {__name__}")
    return ds


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
    ds = _module(dataset)
    variant = variant or ds.variants[0]
    if variant not in ds.variants:
        raise ValueError(f"{dataset}: unknown variant {variant!r}; choose one of {ds.variants}")
    if clips_per_class < 1 or (not ds.fixed_split and clips_per_class < len(ds.test_folds)):
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
    extra = [] if ds.fixed_split else [Clip("99999", 0, ds.classes[0], 0, 12)]
    paths = []
    for clip in [*clips, *extra]:
        if variant in ds.synth_fixed_frames:  # e.g. DFEW's time-interpolated 16-frame copy
            clip = replace(clip, n_frames=ds.synth_fixed_frames[variant])
        rel = ds.variant_paths[variant].format(id=clip.key)
        frames = render_clip(dataset, clip, seed, (W, H))
        if rel.endswith(".mp4"):
            _write_mp4(root / rel, frames)
        else:
            names = ds.synth_frame_names(variant, clip.key, clip.n_frames)
            _write_frames(root / rel, names, frames)
        paths.append(root / rel)
    _write_splits(root, ds.synth_split_files(clips))
    summary = {"generator": __name__, "params": params, "n_clips": len(clips),
               "frames": {c.key: c.n_frames for c in clips}}  # fmt: skip
    with atomic_open(marker, "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=1)
    logger.info("synth %s (%s): %d clips under %s", dataset, variant, len(clips), root)
    return paths


def synth_main(args: argparse.Namespace, *, variant: str | None, clips_per_class: int) -> int:
    """`vjepa-fer synth --dataset dfew|ferv39k|mafw` (called by datasets/synth.py's run, with the
    split-file sets' own options, ``SplitFileDataset.own_options``)."""
    paths = synth_wild(
        args.dataset,
        args.out,
        clips_per_class=clips_per_class,
        seed=args.seed,
        size=args.size or (64, 64),
        variant=variant,
    )
    print(f"wrote {len(paths)} synthetic {args.dataset} videos under {args.out}")
    return 0
