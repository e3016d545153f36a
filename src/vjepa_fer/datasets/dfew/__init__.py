"""DFEW (Jiang et al., ACM MM 2020): 16,372 movie clips, 11,697 single-labelled, 7 classes.

Layout of a local copy (never downloaded: the licence forbids redistribution)::

    DFEW/Clip/clip_224x224/00001/00001_00001.jpg ...   face frames (default variant)
    DFEW/Clip/clip_224x224_16f/00001/1.jpg ... 16.jpg  16 time-interpolated frames
    DFEW/Clip/original/00001.mp4                       the uncropped clips
    DFEW/EmoLabel_DataSplit/train(single-labeled)/set_1.csv ... set_5.csv
    DFEW/EmoLabel_DataSplit/test(single-labeled)/set_1.csv ... set_5.csv

Split CSVs: header ``video_name,label``; ``video_name`` an integer (padded to 5 digits on disk),
``label`` **1-based**: 1 Happy, 2 Sad, 3 Neutral, 4 Angry, 5 Surprise, 6 Disgust, 7 Fear. The
archives spell the folders ``(single_labeled)``, the extracted copies ``(single-labeled)``: both
are accepted. Fold k's test videos are ``test/set_k.csv``; the training lists are cross-checked.
Clips have no subject ids, so ``actor`` is the clip id. Facts: docs/wild-datasets.md.
"""

from __future__ import annotations

import csv
from pathlib import Path

from vjepa_fer.data.folds import packaged
from vjepa_fer.datasets import register
from vjepa_fer.datasets.wild import Entry, FiveFoldSplitDataset

# 1-based label code -> vocabulary name, in DFEW's own order (also our probe order).
DFEW_CODES: dict[int, str] = {
    1: "happy",
    2: "sad",
    3: "neutral",
    4: "angry",
    5: "surprised",
    6: "disgust",
    7: "fearful",
}
SPLIT_DIRS = ("{part}(single-labeled)", "{part}(single_labeled)")
VARIANT_PATHS = {
    "clip_224x224": "Clip/clip_224x224/{id}",
    "clip_224x224_16f": "Clip/clip_224x224_16f/{id}",
    "original": "Clip/original/{id}.mp4",
}


def split_dir(root: Path, part: str) -> Path:
    """``EmoLabel_DataSplit/<part>(single-labeled)`` in either spelling."""
    base = root / "EmoLabel_DataSplit"
    for pattern in SPLIT_DIRS:
        path = base / pattern.format(part=part)
        if path.is_dir():
            return path
    tried = ", ".join(pattern.format(part=part) for pattern in SPLIT_DIRS)
    raise FileNotFoundError(f"{base}: no {part} split folder (looked for {tried})")


def read_split_csv(path: Path) -> list[Entry]:
    """Entries of one DFEW split CSV; ValueError naming file, line and column of a bad cell."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: DFEW split file is missing")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader, [])]
        if header[:2] != ["video_name", "label"]:
            raise ValueError(f"{path} line 1: expected the header video_name,label, found {header}")
        out = []
        for line, row in enumerate(reader, start=2):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 2:
                raise ValueError(f"{path} line {line}: expected 2 columns, found {len(row)}")
            name, label = row[0].strip(), row[1].strip()
            if not name.isdigit() or not 1 <= int(name) <= 99999:
                raise ValueError(f"{path} line {line}, column video_name: {name!r} is no clip id")
            if not label.isdigit() or int(label) not in DFEW_CODES:
                raise ValueError(
                    f"{path} line {line}, column label: {label!r} is not a 1-based DFEW label "
                    "(1 Happy ... 7 Fear)"
                )
            out.append(Entry(f"{int(name):05d}", DFEW_CODES[int(label)], str(path), line))
    return out


class Dfew(FiveFoldSplitDataset):
    name = "dfew"
    display_name = "DFEW"
    literature = packaged(__package__, "literature.csv")  # published UAR/WAR, with sources
    classes = tuple(DFEW_CODES.values())
    citation = "Jiang et al. 2020, DFEW, ACM Multimedia (dfew-dataset.github.io)"
    licence = "non-commercial research only; no redistribution (apply to the authors)"
    url = "https://dfew-dataset.github.io"
    frame_step = 4  # MAE-DFER / SVFAP sample 16 frames at stride 4 on DFEW
    variants = tuple(VARIANT_PATHS)
    variant_paths = VARIANT_PATHS
    synth_module = "vjepa_fer.datasets.synth_wild"
    synth_frames = ((40, 110), (11, 15))  # DFEW's shortest clip has 11 frames
    synth_fixed_frames = {"clip_224x224_16f": 16}  # time-interpolated: always 16 frames

    def synth_frame_names(self, variant: str, key: str, n: int) -> list[str]:
        if variant == "clip_224x224_16f":
            return [f"{i}.jpg" for i in range(1, n + 1)]  # unpadded: 1.jpg ... 16.jpg
        return [f"{key}_{i:05d}.jpg" for i in range(1, n + 1)]

    def synth_split_files(self, clips: list) -> dict[str, list[str]]:
        # Ids unpadded in the CSV (the files are padded), labels 1-based; the two spellings of
        # the split folders as found in the wild.
        code = {name: c for c, name in DFEW_CODES.items()}
        row = lambda c: f"{int(c.key)},{code[c.label]}"  # noqa: E731
        out = {}
        for k in range(1, 6):
            out[f"EmoLabel_DataSplit/test(single-labeled)/set_{k}.csv"] = [
                "video_name,label",
                *(row(c) for c in clips if c.fold == k),
            ]
            out[f"EmoLabel_DataSplit/train(single_labeled)/set_{k}.csv"] = [
                "video_name,label",
                *(row(c) for c in clips if c.fold != k),
            ]
        return out

    def split_file(self, root: Path, part: str, fold: int) -> Path:
        return split_dir(root, part) / f"set_{fold}.csv"

    def read_split(self, path: Path) -> list[Entry]:
        return read_split_csv(path)


register(Dfew())
