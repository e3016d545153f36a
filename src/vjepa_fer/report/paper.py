"""The paper's own numbers and the literature it cites, for side-by-side comparison.

Source of every number: L. Eing, C. Luna-Jiménez, S. Mertes, E. André, "Video Joint-Embedding
Predictive Architectures for Facial Expression Recognition", arXiv:2601.09524,
Tables II, III and IV; the same numbers are listed in
docs/protocol.md, "The paper's numbers".

Comparing like for like (docs/protocol.md, "Metrics"): the paper's "UAR" is very probably macro
*precision* (the authors' metrics script read [label, prediction] matrices as [prediction, label]),
so a paper "UAR" is compared with OUR paper-compatible UAR (column ``paper_uar``), never with our
true UAR; the paper's WAR (accuracy) is compared with our WAR. :data:`LIKE_FOR_LIKE` holds that map.

The literature rows of Table III (other methods, as printed by Eing et al.) ship as package data in
``resources/table3_literature.csv`` (:func:`literature`); they are quoted, not recomputed, and each
carries its citation. Nothing here is computed.

    from vjepa_fer.report.paper import TABLE2, TABLE4, literature
    TABLE2[("ravdess", "pbv")]          # PaperNumber(uar=76.4, war=72.93, source=...)
"""

from __future__ import annotations

import io
import logging
from importlib import resources
from typing import NamedTuple

import pandas as pd

logger = logging.getLogger(__name__)

PAPER = (
    "Eing, Luna-Jiménez, Mertes, André: Video Joint-Embedding Predictive Architectures for "
    "Facial Expression Recognition (arXiv:2601.09524)"
)

# paper metric -> our column it is compared with (module docstring).
LIKE_FOR_LIKE: dict[str, str] = {"uar": "paper_uar", "war": "war"}


class PaperNumber(NamedTuple):
    """One UAR/WAR pair as printed in the paper (percent; the paper's "UAR" = macro precision)."""

    uar: float
    war: float
    source: str


# Table II: (dataset, voting) -> numbers. Same-dataset 5-fold cross-validation, mean over folds.
TABLE2: dict[tuple[str, str], PaperNumber] = {
    ("ravdess", "pbv"): PaperNumber(76.40, 72.93, "Eing et al., Table II"),
    ("ravdess", "mv"): PaperNumber(76.38, 73.80, "Eing et al., Table II"),
    ("crema-d", "pbv"): PaperNumber(79.39, 78.86, "Eing et al., Table II"),
    ("crema-d", "mv"): PaperNumber(79.13, 78.47, "Eing et al., Table II"),
}

# Table IV (PBV only; the paper reports no MV cross-dataset numbers): (train, test, rule) ->
# numbers. "drop": calm left out; "merge": calm merged into neutral (the paper's "*").
TABLE4: dict[tuple[str, str, str], PaperNumber] = {
    ("ravdess", "crema-d", "drop"): PaperNumber(61.69, 59.82, "Eing et al., Table IV"),
    ("ravdess", "crema-d", "merge"): PaperNumber(58.72, 54.90, "Eing et al., Table IV (*)"),
    ("crema-d", "ravdess", "drop"): PaperNumber(77.82, 75.59, "Eing et al., Table IV"),
    ("crema-d", "ravdess", "merge"): PaperNumber(73.92, 70.92, "Eing et al., Table IV (*)"),
}

LITERATURE_RESOURCE = "resources/table3_literature.csv"
LITERATURE_COLUMNS = [
    "dataset",
    "method",
    "modality",
    "uar",
    "war",
    "citation_number",
    "citation",
    "source",
    "note",
]


def paper_table2(dataset: str, voting: str) -> PaperNumber | None:
    """The paper's Table II pair for ``dataset`` and ``voting`` (``pbv``/``mv``), if printed."""
    return TABLE2.get((dataset, voting))


def paper_table4(train: str, test: str, rule: str, voting: str = "pbv") -> PaperNumber | None:
    """The paper's Table IV pair, if printed (only PBV with the drop and merge rules)."""
    if voting != "pbv":
        return None
    return TABLE4.get((train, test, rule))


def literature() -> pd.DataFrame:
    """Table III's literature rows as printed by Eing et al. (percent; NaN = not printed).

    Read from the package data file with :mod:`importlib.resources`, so it works from a wheel.
    """
    text = resources.files("vjepa_fer.report").joinpath(LITERATURE_RESOURCE).read_text("utf-8")
    table = pd.read_csv(io.StringIO(text))
    missing = [c for c in LITERATURE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"<package>/{LITERATURE_RESOURCE}: missing column(s) {missing}")
    # Blank numeric cells are values the paper does not print (NaN); blank text stays "".
    for col in ("uar", "war"):
        table[col] = pd.to_numeric(table[col], errors="raise").astype(float)
    text_cols = ["dataset", "method", "modality", "citation", "source", "note"]
    table[text_cols] = table[text_cols].fillna("").astype(str)
    table["citation_number"] = table["citation_number"].astype(int)
    return table[LITERATURE_COLUMNS]
