"""MAFW (Liu et al., ACM MM 2022): 10,045 clips, 9,172 single-labelled, 11 classes, 5 folds.

Layout of a local copy (never downloaded: the licence forbids redistribution)::

    MAFW/data/frames/<XXXXX>/*.png          the official face frames (default variant)
    MAFW/data/clips/<XXXXX>.mp4             the uncropped clips
    MAFW/Train & Test Set/single/no_caption/set_1/train.txt, test.txt ... set_5/

Split files: space-separated, no header, one ``<XXXXX>.mp4 <label>`` per line with lower-case
names (anger, disgust, fear, happiness, neutral, sadness, surprise, contempt, anxiety,
helplessness, disappointment: also our probe order, the MAFW paper's Table 5). Use the official
face frames: frames re-extracted from the clips without alignment are known to collapse accuracy.
Clip ids are 5-digit and not contiguous; ``actor`` is the clip id. Facts: docs/wild-datasets.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from vjepa_fer.data.folds import packaged
from vjepa_fer.datasets import register
from vjepa_fer.datasets.wild import Entry, FiveFoldSplitDataset

if TYPE_CHECKING:
    import numpy as np

MAFW_NAMES: dict[str, str] = {
    "anger": "angry",
    "disgust": "disgust",
    "fear": "fearful",
    "happiness": "happy",
    "neutral": "neutral",
    "sadness": "sad",
    "surprise": "surprised",
    "contempt": "contempt",
    "anxiety": "anxiety",
    "helplessness": "helplessness",
    "disappointment": "disappointment",
}
SPLITS = "Train & Test Set/single/no_caption"
VARIANT_PATHS = {"frames": "data/frames/{id}", "clips": "data/clips/{id}.mp4"}


def read_split(path: Path) -> list[Entry]:
    """Entries of one ``train.txt`` / ``test.txt``; errors name file, line and column."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: MAFW split file is missing")
    out = []
    for line, text in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not text.strip():
            continue
        parts = text.split()
        if len(parts) != 2:
            raise ValueError(f"{path} line {line}: expected '<XXXXX>.mp4 <label>', got {text!r}")
        clip, name = parts
        stem = clip.split(".")[0]
        if not stem.isdigit():
            raise ValueError(f"{path} line {line}, column 1: {clip!r} is not a clip id")
        if name.lower() not in MAFW_NAMES:
            raise ValueError(
                f"{path} line {line}, column 2: unknown label {name!r}; "
                f"known: {', '.join(MAFW_NAMES)}"
            )
        out.append(Entry(f"{int(stem):05d}", MAFW_NAMES[name.lower()], str(path), line))
    return out


class Mafw(FiveFoldSplitDataset):
    name = "mafw"
    display_name = "MAFW"
    literature = packaged(__package__, "literature.csv")  # published UAR/WAR, with sources
    classes = tuple(MAFW_NAMES.values())
    citation = "Liu et al. 2022, MAFW, ACM Multimedia"
    licence = "non-commercial research only; EULA signed by an academic; no redistribution"
    url = "https://mafw-database.github.io/MAFW"
    frame_step = 4  # MAE-DFER / SVFAP / HiCMAE sample 16 frames at stride 4 on MAFW
    variants = tuple(VARIANT_PATHS)
    variant_paths = VARIANT_PATHS
    synth_module = "vjepa_fer.datasets.synth_wild"
    synth_frames = ((40, 120), (9, 15))  # MAFW's shortest clip has 9 frames

    def synth_clip_key(
        self, c: int, k: int, label: str, next_id: int, rng: np.random.Generator
    ) -> tuple[str, int, int]:
        # MAFW ids are not contiguous: skip a few numbers now and then.
        next_id += 1 + int(rng.integers(0, 3))
        return f"{next_id:05d}", 1 + (c + k) % 5, next_id

    def synth_frame_names(self, variant: str, key: str, n: int) -> list[str]:
        return [f"{i:05d}.png" for i in range(1, n + 1)]

    def synth_split_files(self, clips: list) -> dict[str, list[str]]:
        name = {ours: theirs for theirs, ours in MAFW_NAMES.items()}
        line = lambda c: f"{c.key}.mp4 {name[c.label]}"  # noqa: E731
        out = {}
        for k in range(1, 6):
            out[f"{SPLITS}/set_{k}/test.txt"] = [line(c) for c in clips if c.fold == k]
            out[f"{SPLITS}/set_{k}/train.txt"] = [line(c) for c in clips if c.fold != k]
        return out

    def split_file(self, root: Path, part: str, fold: int) -> Path:
        return root / SPLITS / f"set_{fold}" / f"{part}.txt"

    def read_split(self, path: Path) -> list[Entry]:
        return read_split(path)


register(Mafw())
