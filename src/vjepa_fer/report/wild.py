"""The in-the-wild results table: a run on DFEW, FERV39k or MAFW beside the published numbers.

No frozen V-JEPA encoder has been reported on these benchmarks; the literature rows
(``resources/wild_literature.csv``: method, venue, protocol, UAR, WAR and where each number is
printed) are quoted, never recomputed, and labelled as literature. Most are full fine-tuning; the
closest analogue of a frozen-encoder probe is PTH-Net (frozen VideoMAE V2-g features). Their
UAR/WAR are the usual ones (macro recall / accuracy), 5-fold means on DFEW and MAFW and the
official test split on FERV39k, so they compare with our **true** UAR and WAR. Written by
``vjepa-fer tables`` as ``table_wild.{csv,md,tex}`` when the run has a dataset with literature rows.
"""

from __future__ import annotations

import io
import math
from importlib import resources

import pandas as pd

from vjepa_fer.datasets import display_name
from vjepa_fer.report.render import PM, STD_NOTE, Table

WILD_RESOURCE = "resources/wild_literature.csv"
WILD_COLUMNS = [
    "dataset",
    "method",
    "venue",
    "modality",
    "protocol",
    "uar",
    "war",
    "source",
    "note",
]


def wild_literature() -> pd.DataFrame:
    """Published UAR/WAR on the in-the-wild benchmarks (percent; NaN = not published)."""
    text = resources.files("vjepa_fer.report").joinpath(WILD_RESOURCE).read_text("utf-8")
    table = pd.read_csv(io.StringIO(text))
    missing = [c for c in WILD_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"<package>/{WILD_RESOURCE}: missing column(s) {missing}")
    for col in ("uar", "war"):
        table[col] = pd.to_numeric(table[col], errors="raise").astype(float)
    text_cols = [c for c in WILD_COLUMNS if c not in ("uar", "war")]
    table[text_cols] = table[text_cols].fillna("").astype(str)
    return table[WILD_COLUMNS]


def _standing(ours: float, published: pd.Series) -> str:
    known = published.dropna()
    if not len(known):
        return "no published value"
    above = int((known > ours).sum())
    return f"{above} of {len(known)} published results above ours"


def wild_table(summary: pd.DataFrame, *, run_name: str) -> Table | None:
    """Ours (PBV, variant main) beside the literature, per dataset that has literature rows."""
    lit = wild_literature()
    ours = summary[(summary["variant"] == "main") & (summary["voting"] == "pbv")]
    datasets = [d for d in dict.fromkeys(lit["dataset"]) if d in set(ours["test"])]
    if not datasets:
        return None
    header = ["Dataset", "Method", "Protocol", "Folds", "UAR", "WAR", "Source"]
    rows: list[list[object]] = []
    records: list[dict] = []
    rules: list[int] = []
    notes = []
    for ds in datasets:
        if rows:
            rules.append(len(rows))
        part = lit[lit["dataset"] == ds]
        for _, r in part.iterrows():
            rows.append([display_name(ds), r["method"], r["protocol"], "", r["uar"], r["war"],
                         f"literature: {r['source']}"])  # fmt: skip
            records.append({**r.to_dict(), "kind": "literature", "folds": math.nan,
                            "uar_std": math.nan, "war_std": math.nan})  # fmt: skip
        o = ours[ours["test"] == ds].iloc[0]
        uar, war = (
            PM(float(o["uar_mean"]), float(o["uar_std"])),
            PM(float(o["war_mean"]), float(o["war_std"])),
        )
        method = f"Ours: {run_name}"
        protocol = "frozen encoder + attentive probe"
        name = display_name(ds)
        rows.append([name, method, protocol, int(o["folds"]), uar, war, "this run, PBV"])
        records.append({"dataset": ds, "kind": "ours", "method": method, "venue": "",
                        "protocol": protocol, "folds": int(o["folds"]), "uar": uar.mean,
                        "uar_std": uar.std, "war": war.mean, "war_std": war.std,
                        "source": "this run, PBV", "note": ""})  # fmt: skip
        notes.append(
            f"{display_name(ds)}: UAR {_standing(uar.mean, part['uar'])}; "
            f"WAR {_standing(war.mean, part['war'])}."
        )
    notes += [
        "Literature rows are quoted from the cited sources, not recomputed (wild_literature.csv "
        "holds venues and notes). Most are full fine-tuning of the encoder; PTH-Net is the "
        "closest analogue of a frozen-encoder probe. – = not published.",
        "UAR = mean per-class recall (our true UAR), WAR = accuracy; DFEW and MAFW: mean over "
        "the 5 official folds, FERV39k: the official test split (one fold, no std).",
        STD_NOTE,
    ]
    title = f"In-the-wild benchmarks: this run ({run_name}, PBV) beside the literature"
    return Table("table_wild", title, header, rows, pd.DataFrame(records), notes, rules)
