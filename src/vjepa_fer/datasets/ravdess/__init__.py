"""RAVDESS (Livingstone & Russo 2018): speech videos ``Actor_XX/MM-VV-EE-II-SS-RR-AA.mp4``.

Name parsing and the walk live in datasets/ravdess/naming.py; folds are the packaged
Luna-Jiménez et al. 2021 split (resources/folds.csv). Facts: docs/datasets.md.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vjepa_fer.data.folds import packaged
from vjepa_fer.datasets import register
from vjepa_fer.datasets.base import Dataset, IndexOptions, int_list
from vjepa_fer.datasets.ravdess.download import (
    RAVDESS_BASE_URL,
    RAVDESS_RECORD_API,
    download_ravdess,
)
from vjepa_fer.datasets.ravdess.naming import index_ravdess, parse_ravdess, ravdess_speech_design
from vjepa_fer.labels import RAVDESS_LABELS

if TYPE_CHECKING:
    import pandas as pd

# The paper's set: modality 01 (audio-video) and 02 (video-only) of every speech recording.
MODALITIES = (1, 2)


class Ravdess(Dataset):
    name = "ravdess"
    display_name = "RAVDESS"
    classes = RAVDESS_LABELS  # index = emotion code - 1, as the authors' label map
    citation = "Livingstone & Russo 2018, PLoS ONE 13(5): e0196391"
    licence = "CC BY-NC-SA 4.0"
    url = "https://zenodo.org/records/1188976"
    downloadable = True
    paper_cross_rules = True
    # The authors' map is the emotion code minus 1: the same order as ``classes``.
    authors_label_order = RAVDESS_LABELS
    packaged_folds = packaged(__package__, "folds.csv")
    synth_module = "vjepa_fer.datasets.ravdess.synth"

    def add_arguments(self, command: str, parser: argparse._ActionsContainer) -> None:
        add = parser.add_argument
        if command == "index":
            add(
                "--modalities",
                type=int,
                nargs="+",
                default=list(MODALITIES),
                choices=[1, 2],
                help="RAVDESS modalities kept: 1 audio-video, 2 video-only (the paper: both)",
            )
        elif command == "synth":
            add("--statements", type=int_list, default=[1], help="RAVDESS statements, e.g. 1,2")
            add("--repetitions", type=int_list, default=[1], help="RAVDESS repetitions, e.g. 1,2")
            add("--intensities", type=int_list, default=[1, 2], help="RAVDESS intensities")
            add(
                "--modalities",
                type=int_list,
                default=list(MODALITIES),
                help="RAVDESS: 1 (AV), 2 (video only)",
            )
        elif command == "download":
            add("--base-url", help="RAVDESS file URL prefix (default: the Zenodo record's files)")
            add(
                "--record-api",
                help="Zenodo record JSON for RAVDESS checksums (default: record 1188976's); '' "
                "uses only the pinned table",
            )
            add("--keep-archives", action="store_true", help="keep RAVDESS zips")

    def own_options(self, command: str, args: argparse.Namespace) -> dict[str, Any]:
        if command == "index":
            return {"modalities": tuple(args.modalities)}
        if command == "synth":
            keys = ("statements", "repetitions", "intensities", "modalities")
            return {k: getattr(args, k) for k in keys}
        if command == "download":
            keys = ("base_url", "record_api", "keep_archives")
            return {k: getattr(args, k) for k in keys}
        return {}

    def index(self, root: Path, opts: IndexOptions) -> tuple[pd.DataFrame, Counter]:
        return index_ravdess(root, self._modalities(opts), opts.on_bad_name)

    @staticmethod
    def _modalities(opts: IndexOptions) -> tuple[int, ...]:
        return tuple(opts.extra.get("modalities", MODALITIES))

    def video_key(self, video: str) -> str:
        return video.rsplit("/", 1)[-1]  # file names are unique across the dataset

    def expected_names(self, opts: IndexOptions) -> set[str]:
        return {n.filename() for n in ravdess_speech_design(modalities=self._modalities(opts))}

    def published_row(self, name: str) -> dict:
        n = parse_ravdess(name)
        video = f"Actor_{n.actor:02d}/{name}"
        return {"video": video, "actor": n.actor, "label": n.label, "trial": n.trial}

    def actor_of_name(self, name: str) -> int:
        return parse_ravdess(name).actor

    def index_options(self, cfg: dict, root: str) -> list[str]:
        # Only RAVDESS has modalities (audio-video and video-only copies of one recording).
        return ["--modalities", *map(str, cfg["modalities"])]

    def synth_options(self, cfg: dict) -> list[str]:
        s, join = cfg["synth"], lambda values: ",".join(map(str, values))
        return [
            *super().synth_options(cfg),
            *["--modalities", join(cfg["modalities"])],
            *["--statements", join(s["statements"])],
            *["--repetitions", join(s["repetitions"])],
        ]

    def download_options(self, download: dict, cfg: dict) -> list[str]:
        opts = ["--base-url", download["ravdess_base_url"]]
        opts += ["--record-api", download["ravdess_record_api"]]
        return opts + (["--keep-archives"] if download["keep_archives"] else [])

    def download(
        self,
        args: argparse.Namespace,
        common: dict[str, Any],
        *,
        base_url: str | None,
        record_api: str | None,
        keep_archives: bool,
    ) -> None:
        # The parser carries every dataset's options: refuse CREMA-D's verification-only mode
        # rather than download.
        if getattr(args, "verify_only", False):
            raise ValueError("--verify-only applies to --dataset crema-d only")
        download_ravdess(
            args.root,
            actors=args.actors or range(1, 25),
            pinned=args.checksums,
            base_url=base_url or RAVDESS_BASE_URL,
            # '' asks for the pinned table alone (no record API)
            record_api=RAVDESS_RECORD_API if record_api is None else record_api or None,
            keep_archives=keep_archives,
            marker=args.marker,
            **common,
        )


register(Ravdess())
