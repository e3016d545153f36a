"""The fold-table machinery of the data layer: packaged tables, reading, checking, assigning.

The tables RAVDESS and CREMA-D ship are tested with their modules
(tests/unit/datasets/test_packaged_tables.py); here a throwaway package stands in.
"""

from pathlib import Path

import pandas as pd
import pytest

from vjepa_fer.data.folds import assign_folds, describe, packaged, read_folds


def test_a_packaged_table_is_read_from_the_packages_resources(tmp_package: Path) -> None:
    (tmp_package / "folds.csv").write_text("actor,fold\n1,1\n2,2\n")
    table = packaged("outer.inner", "folds.csv")
    assert table.is_file() and table.name == "folds.csv"
    assert describe(table) == "outer/inner/resources/folds.csv"
    assert read_folds("toy", table) == {1: 1, 2: 2}


def test_a_broken_packaged_table_is_named_by_its_place_in_the_package(tmp_package: Path) -> None:
    (tmp_package / "folds.csv").write_text("actor,fold\n1,1\n1,2\n")
    with pytest.raises(ValueError, match=r"^outer/inner/resources/folds.csv: actors listed"):
        read_folds("toy", packaged("outer.inner", "folds.csv"))


def test_a_table_outside_any_package_is_named_by_its_path(tmp_path: Path) -> None:
    (tmp_path / "resources").mkdir()
    (tmp_path / "resources" / "folds.csv").write_text("actor,fold\n1,0\n")
    table = tmp_path / "resources" / "folds.csv"
    assert describe(table) == str(table)
    with pytest.raises(ValueError, match="folds must be numbered from 1"):
        read_folds("toy", table)


def test_no_table_and_no_path_is_an_error_naming_the_dataset() -> None:
    with pytest.raises(ValueError, match=r"no packaged folds for dataset 'toy'; pass a folds"):
        read_folds("toy", None)


def test_a_users_table_wins_over_the_packaged_one(tmp_package: Path, tmp_path: Path) -> None:
    (tmp_package / "folds.csv").write_text("actor,fold\n1,1\n")
    mine = tmp_path / "mine.csv"
    mine.write_text("actor,fold\n1,3\n")
    assert read_folds("toy", packaged("outer.inner", "folds.csv"), mine) == {1: 3}


def test_duplicate_actor_is_rejected(tmp_path):
    p = tmp_path / "folds.csv"
    p.write_text("actor,fold\n1,1\n2,2\n1,3\n")
    with pytest.raises(ValueError, match=r"folds.csv: actors listed in more than one row: \[1\]"):
        read_folds("toy", None, p)


def test_bad_columns_are_rejected(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("speaker,split\n1,1\n")
    with pytest.raises(ValueError, match="expected columns actor,fold"):
        read_folds("toy", None, p)


def test_empty_cells_are_rejected(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("actor,fold\n1,1\n2,\n")
    with pytest.raises(ValueError, match=r"f.csv: empty cells in rows \[1\]"):
        read_folds("toy", None, p)


def test_unknown_actor_is_named():
    with pytest.raises(ValueError, match=r"test: actors \[99\]"):
        assign_folds(pd.Series([1, 99]), {1: 1, 2: 2}, "test")
    assert assign_folds(pd.Series([2, 1]), {1: 1, 2: 2}, "test").tolist() == [2, 1]
