"""CREMA-D (Cao et al. 2014): ``VideoFlash/AAAA_SSS_EEE_LL.flv`` plus the actors' demographics.

Name parsing, demographics and the walk live in datasets/cremad/naming.py; folds are the paper's
Table I, packaged (resources/folds.csv). Facts: docs/datasets.md.
"""

from __future__ import annotations

import argparse
import io
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vjepa_fer import schema
from vjepa_fer.data.fetch import DownloadError
from vjepa_fer.data.folds import packaged
from vjepa_fer.datasets import register
from vjepa_fer.datasets.base import Dataset, IndexOptions
from vjepa_fer.datasets.cremad.download import (
    CHECKSUMS,
    CREMAD_URL_TEMPLATES,
    download_cremad,
    load_cremad_table,
    read_names,
    verify_cremad,
    write_cremad_marker,
)
from vjepa_fer.datasets.cremad.naming import index_cremad, load_demographics, parse_cremad
from vjepa_fer.labels import CREMAD_LABELS

if TYPE_CHECKING:
    import pandas as pd


class CremaD(Dataset):
    name = "crema-d"
    display_name = "CREMA-D"
    classes = CREMAD_LABELS
    citation = "Cao et al. 2014, IEEE TAC 5(4)"
    licence = "ODbL 1.0 / DbCL 1.0"
    url = "https://github.com/CheyneyComputerScience/CREMA-D"
    downloadable = True
    paper_cross_rules = True
    # The authors' map came from a Python set(); their run's order (docs/protocol.md, "Label maps").
    authors_label_order = ("sad", "fearful", "happy", "disgust", "neutral", "angry")
    packaged_folds = packaged(__package__, "folds.csv")
    synth_module = "vjepa_fer.datasets.cremad.synth"

    def add_arguments(self, command: str, parser: argparse._ActionsContainer) -> None:
        add = parser.add_argument
        if command == "index":
            add("--demographics", type=Path, help="CREMA-D VideoDemographics.csv")
        elif command == "synth":
            add("--sentences", help="CREMA-D codes, or 'all' (default: IEO,TIE,IOM)")
        elif command == "download":
            add(
                "--mirror",
                dest="mirrors",
                action="append",
                metavar="TEMPLATE",
                help="CREMA-D URL template with {name}, tried in order; repeat; replaces the "
                "defaults",
            )
            add(
                "--jobs",
                type=int,
                default=schema.default("download.jobs"),
                help="parallel CREMA-D downloads",
            )
            add("--names-file", type=Path, help="CREMA-D subset: one video name a line")
            add(
                "--verify-only",
                action="store_true",
                help="CREMA-D: only verify an existing copy under --root",
            )

    def own_options(self, command: str, args: argparse.Namespace) -> dict[str, Any]:
        if command == "index":
            path = args.demographics
            return {"demographics": None if path is None else str(path)}
        if command == "synth":
            return {"sentences": args.sentences}
        if command == "download":
            keys = ("mirrors", "jobs", "names_file", "verify_only")
            return {k: getattr(args, k) for k in keys}
        return {}

    def index(self, root: Path, opts: IndexOptions) -> tuple[pd.DataFrame, Counter]:
        demographics = load_demographics(opts.extra.get("demographics"))
        return index_cremad(root, demographics, opts.on_bad_name)

    def video_key(self, video: str) -> str:
        return video.rsplit("/", 1)[-1]  # file names are unique across the dataset

    def expected_names(self, opts: IndexOptions) -> set[str]:
        import pandas as pd

        table = pd.read_csv(io.StringIO(CHECKSUMS.read_text("utf-8")), sep="\t")
        return set(table["file"])

    def published_row(self, name: str) -> dict:
        n = parse_cremad(name)
        return {"video": f"VideoFlash/{name}", "actor": n.actor, "label": n.label, "trial": n.stem}

    def actor_of_name(self, name: str) -> int:
        return parse_cremad(name).actor

    def index_options(self, cfg: dict, root: str) -> list[str]:
        demographics = cfg.get("demographics")
        if demographics is None and cfg["source"] == "synth":
            demographics = f"{root}/VideoDemographics.csv"  # the generator writes the real rows
        return ["--demographics", demographics] if demographics else []

    def synth_options(self, cfg: dict) -> list[str]:
        s = cfg["synth"]
        sentences = ",".join(map(str, s["sentences"])) if s["sentences"] else "all"
        return [*super().synth_options(cfg), "--sentences", sentences]

    def download_options(self, download: dict, cfg: dict) -> list[str]:
        # --mirror takes one template: repeat the option, in the order they are tried.
        return [flag for t in download["cremad_mirrors"] for flag in ("--mirror", t)]

    def download(
        self,
        args: argparse.Namespace,
        common: dict[str, Any],
        *,
        mirrors: list[str] | None,
        jobs: int,
        names_file: Path | None,
        verify_only: bool,
    ) -> None:
        names = read_names(names_file) if names_file else None
        templates = mirrors or CREMAD_URL_TEMPLATES
        if verify_only:
            report = verify_cremad(
                args.root, table=args.checksums, names=names, actors=args.actors, jobs=jobs
            )
            if not report.clean:
                raise DownloadError(
                    f"CREMA-D copy under {args.root} is incomplete:\n{report.describe()}"
                )
            table = load_cremad_table(args.checksums)
            write_cremad_marker(args.root, args.marker, report.ok, table, templates, args.checksums)
            return
        download_cremad(
            args.root,
            url_templates=templates,
            table=args.checksums,
            names=names,
            actors=args.actors,
            jobs=jobs,
            marker=args.marker,
            **common,
        )


register(CremaD())
