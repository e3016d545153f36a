"""The config schema and the datasets' tables are package data: an installed vjepa-fer (no
checkout) loads and validates configs and reads the packaged fold tables, and the schema's defaults
reach the code through :mod:`vjepa_fer.schema`."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO
from vjepa_fer import schema


def test_schema_is_read_through_importlib_resources() -> None:
    assert schema.SCHEMA_FILE.is_file()
    assert schema.SCHEMA_FILE.parent.parent == Path(schema.__file__).parent
    assert (
        schema.default("encoder.img_size")
        == schema.load()["$defs"]["encoder"]["properties"]["img_size"]["default"]
    )
    with pytest.raises(KeyError, match="encoder.no_such_key"):
        schema.default("encoder.no_such_key")


@pytest.mark.slow
def test_a_built_wheel_validates_a_config_without_the_checkout(tmp_path: Path) -> None:
    # Build the wheel `pip install .` would install, unpack it apart from the repository, and load
    # a config from there: nothing may reach back into the checkout's workflow/ folder.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
         "-q", "-w", str(tmp_path / "dist")],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("vjepa_fer-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        zf.extractall(site)
    # Each dataset module's tables travel in its own resources/ folder.
    for table in (
        "ravdess/resources/folds.csv",
        "cremad/resources/videoflash_lfs.tsv",
        "dfew/resources/literature.csv",
    ):
        assert f"vjepa_fer/datasets/{table}" in names, table
    config = tmp_path / "c.yaml"
    config.write_text("datasets: {ravdess: {}}\n")
    code = (
        "import vjepa_fer, vjepa_fer.config as c; "
        "print(vjepa_fer.__file__); "
        f"print(c.load_config({str(config)!r})['encoder']['img_size']); "
        "from vjepa_fer.datasets.folds import load_folds; "
        "print(len(load_folds('ravdess')), len(load_folds('crema-d')))"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, check=True, capture_output=True,
        text=True,
    ).stdout.split()  # fmt: skip
    assert Path(out[0]).is_relative_to(site)
    assert int(out[1]) == schema.default("encoder.img_size")
    assert out[2:] == ["24", "91"]  # the packaged fold tables, read from the unpacked wheel
