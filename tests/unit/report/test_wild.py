"""The in-the-wild table (vjepa_fer.report.wild): each dataset module's published rows beside a
run; a dataset added to the registry brings its rows with it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from vjepa_fer import datasets
from vjepa_fer.datasets.base import Dataset
from vjepa_fer.report.tables import to_markdown
from vjepa_fer.report.wild import WILD_COLUMNS, read_literature, wild_literature, wild_table


def test_wild_table_sets_a_run_beside_the_literature():
    lit = wild_literature()
    assert set(lit["dataset"]) == {"dfew", "ferv39k", "mafw"}
    pth = lit[(lit["dataset"] == "dfew") & lit["method"].str.contains("forward\\)")].iloc[0]
    assert (pth["uar"], pth["war"]) == (61.21, 69.81)  # PTH-Net, frozen VideoMAE V2-g features
    row = {"train": "ferv39k", "test": "ferv39k", "variant": "main", "voting": "pbv", "folds": 1,
           "uar_mean": 40.0, "uar_std": 0.0, "war_mean": 50.0, "war_std": 0.0}  # fmt: skip
    table = wild_table(pd.DataFrame([row]), run_name="x")
    assert set(table.data["dataset"]) == {"ferv39k"}
    assert table.data["kind"].tolist()[-1] == "ours"
    text = to_markdown(table)
    assert "literature:" in text and "FERV39k: UAR" in text
    ferv = lit[lit["dataset"] == "ferv39k"]
    assert f"UAR {int((ferv['uar'] > 40).sum())} of {ferv['uar'].notna().sum()}" in text
    rav = dict(row, train="ravdess", test="ravdess")
    assert wild_table(pd.DataFrame([rav]), run_name="x") is None  # no in-the-wild dataset


def test_every_builtin_table_is_its_modules_own():
    lit = wild_literature()
    for name in ("dfew", "ferv39k", "mafw"):
        own = read_literature(datasets.get_dataset(name))
        pd.testing.assert_frame_equal(
            lit[lit["dataset"] == name].reset_index(drop=True), own.reset_index(drop=True)
        )
    assert read_literature(datasets.get_dataset("ravdess")) is None  # the paper's tables instead


class ToyWild(Dataset):
    name = "toywild"
    display_name = "ToyWild"
    classes = ("happy", "sad")


@pytest.fixture
def toywild(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> type[ToyWild]:
    """A dataset added at run time: its registry line and its own literature table."""
    table = tmp_path / "literature.csv"
    table.write_text(
        "method,venue,modality,protocol,uar,war,source,note\n"
        "Baseline,Somewhere 2026,Video,trained end to end,30.5,,its paper Table 2,\n"
    )
    monkeypatch.setattr(ToyWild, "literature", table)
    monkeypatch.setitem(datasets.BUILTIN, ToyWild.name, "toywild_module")
    monkeypatch.setitem(datasets._REGISTRY, ToyWild.name, ToyWild())
    return ToyWild


def test_an_added_dataset_brings_its_literature(toywild):
    lit = wild_literature()
    rows = lit[lit["dataset"] == "toywild"]
    assert rows["method"].tolist() == ["Baseline"] and list(lit.columns) == WILD_COLUMNS
    assert rows["uar"].iloc[0] == 30.5 and pd.isna(rows["war"].iloc[0])
    row = {"train": "toywild", "test": "toywild", "variant": "main", "voting": "pbv", "folds": 5,
           "uar_mean": 40.0, "uar_std": 1.0, "war_mean": 50.0, "war_std": 1.0}  # fmt: skip
    text = to_markdown(wild_table(pd.DataFrame([row]), run_name="x"))
    assert "ToyWild" in text and "literature: its paper Table 2" in text
    assert "ToyWild: UAR 0 of 1 published results above ours" in text


@pytest.mark.parametrize(
    ("header", "row", "problem"),
    [
        ("method,venue,modality,protocol,uar,source,note", "A,B,C,D,1,E,", "missing column"),
        ("method,venue,modality,protocol,uar,war,source,note", "A,B,C,D,high,2,E,", "column uar"),
    ],
)
def test_a_broken_literature_table_is_named(toywild, header, row, problem):
    toywild.literature.write_text(f"{header}\n{row}\n")
    with pytest.raises(ValueError, match=problem) as err:
        wild_literature()
    assert str(toywild.literature) in str(err.value)
