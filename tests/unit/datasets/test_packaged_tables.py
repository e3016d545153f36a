"""The tables RAVDESS and CREMA-D ship in their modules' resources/ folders (docs/datasets.md).

They were copied from the publishers' lists and the papers; these checks catch a truncated or
edited copy, and that each module finds its own tables (from a checkout or an installed wheel).
"""

import io

import pandas as pd
import pytest

from vjepa_fer.data.folds import describe
from vjepa_fer.datasets import IndexOptions, get_dataset
from vjepa_fer.datasets.cremad import download as cremad_dl
from vjepa_fer.datasets.cremad.naming import DEMOGRAPHICS, load_demographics
from vjepa_fer.datasets.folds import load_folds
from vjepa_fer.datasets.ravdess import download as ravdess_dl

# docs/datasets.md: validation actors of the paper's folds (Luna-Jiménez et al. 2021)
RAVDESS_SPEC = {
    1: [2, 5, 14, 15, 16],
    2: [3, 6, 7, 13, 18],
    3: [10, 11, 12, 19, 20],
    4: [8, 17, 21, 23, 24],
    5: [1, 4, 9, 22],
}


def _tsv(table) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(table.read_text("utf-8")), sep="\t")


@pytest.mark.parametrize(
    "dataset, folder", [("ravdess", "ravdess"), ("crema-d", "cremad")], ids=["ravdess", "crema-d"]
)
def test_each_module_ships_its_folds_in_its_own_resources(dataset: str, folder: str) -> None:
    table = get_dataset(dataset).packaged_folds
    assert table is not None and table.is_file()
    assert describe(table) == f"vjepa_fer/datasets/{folder}/resources/folds.csv"


def test_ravdess_folds_match_spec():
    folds = load_folds("ravdess")
    assert sorted(folds) == list(range(1, 25))
    for fold, actors in RAVDESS_SPEC.items():
        assert sorted(a for a, f in folds.items() if f == fold) == actors


def test_cremad_folds_cover_every_actor_once_with_the_papers_sizes():
    folds = load_folds("crema-d")
    assert sorted(folds) == list(range(1001, 1092))
    table = _tsv(cremad_dl.CHECKSUMS)
    actors = table["file"].str.slice(0, 4).astype(int)
    sizes = actors.map(folds).value_counts().sort_index().tolist()
    assert sizes == [1551, 1470, 1476, 1469, 1476]  # docs/datasets.md, "Folds"


def test_packaged_tables_hold_the_documented_counts():
    """The shipped tables carry the facts docs/datasets.md states."""
    lfs = _tsv(cremad_dl.CHECKSUMS)
    assert len(lfs) == 7442 and lfs["file"].is_unique
    assert round(lfs["size"].sum() / 1e9, 2) == 2.44
    demo = pd.read_csv(io.StringIO(DEMOGRAPHICS.read_text("utf-8")))
    assert len(demo) == 91 and demo["Sex"].value_counts().to_dict() == {"Male": 48, "Female": 43}
    assert (demo["Age"].min(), demo["Age"].max()) == (20, 74)
    zips = _tsv(ravdess_dl.CHECKSUMS)
    assert len(zips) == 24 and round(zips["bytes"].sum() / 2**30, 2) == 12.44
    assert zips["md5"].str.fullmatch(r"[0-9a-f]{32}").all()


def test_packaged_tables_load():
    assert len(cremad_dl.load_cremad_table()) == 7442
    ravdess = ravdess_dl.load_ravdess_table()
    assert len(ravdess) == 24 and ravdess["Video_Speech_Actor_01.zip"][0] == 552968353
    assert len(load_demographics(None)) == 91
    assert get_dataset("crema-d").expected_names(IndexOptions()) == set(
        _tsv(cremad_dl.CHECKSUMS)["file"]
    )


def test_a_users_fold_table_replaces_the_packaged_one(tmp_path):
    p = tmp_path / "folds.csv"
    p.write_text("actor,fold\n1,1\n2,2\n1,3\n")
    with pytest.raises(ValueError, match=r"folds.csv: actors listed in more than one row: \[1\]"):
        load_folds("ravdess", p)
    p.write_text("actor,fold\n1,2\n")
    assert load_folds("ravdess", p) == {1: 2}
