"""The in-the-wild results table: a run on DFEW, FERV39k or MAFW beside the published numbers.

No frozen V-JEPA encoder has been reported on these benchmarks; the literature rows (each
dataset module's ``resources/literature.csv``, ``Dataset.literature``: method, venue, protocol,
UAR, WAR and where each number is printed) are quoted, never recomputed, and labelled as
literature. Most are full fine-tuning; the closest analogue of a frozen-encoder probe is PTH-Net
(frozen VideoMAE V2-g features). Their UAR/WAR are the usual ones (macro recall / accuracy),
5-fold means on DFEW and MAFW and the official test split on FERV39k, so they compare with our
**true** UAR and WAR. Written by ``vjepa-fer tables`` as ``table_wild.{csv,md,tex}`` when the
run has a dataset with literature rows.
"""

from __future__ import annotations

import io
import math

import pandas as pd

from vjepa_fer.data.folds import describe
from vjepa_fer.datasets import Dataset, builtin_names, display_name, get_dataset
from vjepa_fer.report.render import PM, STD_NOTE, Table

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


def read_literature(dataset: Dataset) -> pd.DataFrame | None:
    """One dataset's published rows (its module's ``literature`` table), None if it has none;
    ValueError naming the table when a column is missing or a number is not one."""
    if dataset.literature is None:
        return None
    where = describe(dataset.literature)
    text = [c for c in WILD_COLUMNS if c not in ("dataset", "uar", "war")]
    table = pd.read_csv(
        io.StringIO(dataset.literature.read_text("utf-8")), dtype=dict.fromkeys(text, str)
    )
    missing = [c for c in WILD_COLUMNS[1:] if c not in table.columns]
    if missing:
        raise ValueError(f"{where}: missing column(s) {missing}")
    for col in ("uar", "war"):
        try:
            table[col] = pd.to_numeric(table[col], errors="raise").astype(float)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{where}: column {col}: {exc}") from None
    table.insert(0, "dataset", dataset.name)
    text_cols = [c for c in WILD_COLUMNS if c not in ("uar", "war")]
    table[text_cols] = table[text_cols].fillna("").astype(str)
    return table[WILD_COLUMNS]


def wild_literature() -> pd.DataFrame:
    """Published UAR/WAR of every built-in dataset that ships literature rows (percent; NaN =
    not published), in registry order."""
    parts = [read_literature(get_dataset(name)) for name in builtin_names()]
    found = [p for p in parts if p is not None]
    if not found:
        return pd.DataFrame(columns=WILD_COLUMNS)
    return pd.concat(found, ignore_index=True)


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
        "Literature rows are quoted from the cited sources, not recomputed (the dataset's "
        "literature.csv holds venues and notes). Most are full fine-tuning of the encoder; "
        "PTH-Net is the closest analogue of a frozen-encoder probe. – = not published.",
        "UAR = mean per-class recall (our true UAR), WAR = accuracy; DFEW and MAFW: mean over "
        "the 5 official folds, FERV39k: the official test split (one fold, no std).",
        STD_NOTE,
    ]
    title = f"In-the-wild benchmarks: this run ({run_name}, PBV) beside the literature"
    return Table("table_wild", title, header, rows, pd.DataFrame(records), notes, rules)
