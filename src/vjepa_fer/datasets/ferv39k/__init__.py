"""FERV39k (Wang et al., CVPR 2022): 38,935 clips of 22 scenes, 7 classes, fixed train/test.

Layout of a local copy (never downloaded: the licence forbids redistribution)::

    FERV39k/2_ClipsforFaceCrop/<Scene>/<Emotion>/<NNNN>/*.jpg   face crops (default variant)
    FERV39k/0_7_LabelClips/<Scene>/<Emotion>/<NNNN>.mp4         the uncropped clips
    FERV39k/4_setups/All_scenes/train_All.csv, test_All.csv     the standard split

Split files: space-separated, no header, one ``<Scene>/<Emotion>/<NNNN> <Emotion>`` per line
(31,088 train / 7,847 test). There are no folds: the test split is fold 1, the training split
fold 0 (see datasets/base.py). Clips are short (median 28 frames, 4,070 under 16), which is why
the baselines sample every frame (frame step 1); shorter clips repeat their last frame. Clips carry
no subject ids, so ``actor`` numbers the clips; the scene is kept in ``sentence``.
Facts: docs/wild-datasets.md.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from vjepa_fer.data.folds import packaged
from vjepa_fer.datasets import register
from vjepa_fer.datasets.base import TRAIN_ONLY_FOLD, IndexOptions
from vjepa_fer.datasets.wild import Entry, SplitFileDataset, base_row, locate

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# Emotion folder / split-file name -> vocabulary name, in the DFEW order most baselines use.
FERV39K_NAMES: dict[str, str] = {
    "Happy": "happy",
    "Sad": "sad",
    "Neutral": "neutral",
    "Angry": "angry",
    "Surprise": "surprised",
    "Disgust": "disgust",
    "Fear": "fearful",
}
SETUP = "4_setups/All_scenes"
SYNTH_SCENES = ("Action", "Interview", "Talkshow", "DailyLife")  # scenes of the synthetic set
VARIANT_PATHS = {
    "2_ClipsforFaceCrop": "2_ClipsforFaceCrop/{id}",
    "0_7_LabelClips": "0_7_LabelClips/{id}.mp4",
}


def read_split(path: Path) -> list[Entry]:
    """Entries of ``train_All.csv`` / ``test_All.csv``; errors name file, line and column."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: FERV39k split file is missing")
    out = []
    for line, text in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not text.strip():
            continue
        parts = text.split()
        if len(parts) != 2:
            raise ValueError(
                f"{path} line {line}: expected '<Scene>/<Emotion>/<NNNN> <Emotion>', got {text!r}"
            )
        clip, name = parts
        pieces = clip.split("/")
        if len(pieces) != 3 or not pieces[2].isdigit():
            raise ValueError(f"{path} line {line}, column 1: {clip!r} is not Scene/Emotion/NNNN")
        if name not in FERV39K_NAMES:
            raise ValueError(
                f"{path} line {line}, column 2: unknown emotion {name!r}; "
                f"known: {', '.join(FERV39K_NAMES)}"
            )
        if pieces[1] != name:
            raise ValueError(
                f"{path} line {line}: clip {clip} lies in folder {pieces[1]} but is labelled {name}"
            )
        out.append(Entry(clip, FERV39K_NAMES[name], str(path), line))
    return out


class Ferv39k(SplitFileDataset):
    name = "ferv39k"
    display_name = "FERV39k"
    literature = packaged(__package__, "literature.csv")  # published UAR/WAR, with sources
    classes = tuple(FERV39K_NAMES.values())
    test_folds = (1,)
    fixed_split = True
    citation = "Wang et al. 2022, FERV39k, CVPR"
    licence = "non-commercial research only; no redistribution (apply to the authors)"
    url = "https://wangyanckxx.github.io/Proj_CVPR2022_FERV39k.html"
    frame_step = 1  # MAE-DFER / SVFAP use stride 1 on FERV39k's short clips
    variants = tuple(VARIANT_PATHS)
    variant_paths = VARIANT_PATHS
    synth_module = "vjepa_fer.datasets.synth_wild"
    synth_frames = ((16, 47), (8, 15))  # median 28 frames, shortest 8
    synth_short_fraction = 0.1

    def synth_clip_key(
        self, c: int, k: int, label: str, next_id: int, rng: np.random.Generator
    ) -> tuple[str, int, int]:
        folder = {name: f for f, name in FERV39K_NAMES.items()}[label]
        fold = 1 if k % 5 == 4 else TRAIN_ONLY_FOLD  # a 4:1 train/test split
        return f"{SYNTH_SCENES[(c + k) % len(SYNTH_SCENES)]}/{folder}/{k:04d}", fold, next_id

    def synth_frame_names(self, variant: str, key: str, n: int) -> list[str]:
        return [f"{i:02d}.jpg" for i in range(n)]

    def synth_split_files(self, clips: list) -> dict[str, list[str]]:
        folder = {name: f for f, name in FERV39K_NAMES.items()}
        line = lambda c: f"{c.key} {folder[c.label]}"  # noqa: E731
        return {
            f"{SETUP}/train_All.csv": [line(c) for c in clips if c.fold == TRAIN_ONLY_FOLD],
            f"{SETUP}/test_All.csv": [line(c) for c in clips if c.fold == 1],
        }

    def index(self, root: Path, opts: IndexOptions) -> tuple[pd.DataFrame, Counter]:
        import pandas as pd

        train = read_split(root / SETUP / "train_All.csv")
        test = read_split(root / SETUP / "test_All.csv")
        split: dict[str, tuple[str, int]] = {}
        first: dict[str, Entry] = {}
        for entries, fold in ((train, TRAIN_ONLY_FOLD), (test, 1)):
            for e in entries:
                if e.video in split:
                    f = first[e.video]
                    raise ValueError(
                        f"{e.source} line {e.line}: clip {e.video} also listed in {f.source} "
                        f"line {f.line}"
                    )
                split[e.video], first[e.video] = (e.label, fold), e
        pattern = self.pattern(opts)
        found, ignored = locate(
            root,
            sorted(split),
            lambda v: pattern.format(id=v),
            expect_full=opts.expect_full,
            what="FERV39k",
        )
        rows = []
        for actor, (v, rel) in enumerate(sorted(found.items()), start=1):
            row = base_row(rel, actor, split[v][0], split[v][1], v)
            row["sentence"] = v.split("/")[0]  # the scene
            rows.append(row)
        return pd.DataFrame(rows), ignored


register(Ferv39k())
