"""Inputs a user edits are declared: a custom dataset's manifest CSV and class list re-run
`index` when they change (before, a relabelled manifest left "Nothing to be done")."""

from __future__ import annotations

import os
import time
from pathlib import Path

import yaml

from tests.conftest import REPO, run_snakemake

TARGET = "results/run/my-faces/manifest.csv"  # run_name: the schema default, "run"


def snakemake(tmp_path: Path, cfg: dict, *extra: str):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    return run_snakemake(
        TARGET, "--cores", "1", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path),
        "--configfile", str(tmp_path / "c.yaml"), *extra,
    )  # fmt: skip


def planned_rules(res) -> set[str]:  # noqa: ANN001
    return {ln.split()[-1].rstrip(":") for ln in res.stdout.splitlines() if ln.startswith("rule ")}


def test_manifest_and_classes_of_a_custom_dataset_are_inputs_of_index(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name in "abcde":
        (data / f"{name}.mp4").write_bytes(b"not decoded by index")
    manifest = data / "labels.csv"
    head = "video,label,subject,fold\n"
    manifest.write_text(
        head + "a.mp4,happy,s1,1\nb.mp4,sad,s1,1\nc.mp4,happy,s2,2\nd.mp4,sad,s2,2\n"
    )
    cfg = {
        "datasets": {
            "my-faces": {
                "type": "custom",
                "source": "local",
                "root": str(data),
                "manifest": str(manifest),
                "classes": ["happy", "sad"],
            },
        },  # fmt: skip
        "encoder": {"name": "tiny", "checkpoint": None, "url": None, "img_size": 64},
        "features": {"device": "cpu"},
    }
    res = snakemake(tmp_path, cfg)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    res = snakemake(tmp_path, cfg, "-n")
    assert "index" not in planned_rules(res), res.stdout
    # Relabel a row and add one: index runs again, and its manifest says so.
    time.sleep(0.01)
    manifest.write_text(
        head + "a.mp4,sad,s1,1\nb.mp4,happy,s1,1\nc.mp4,happy,s2,2\nd.mp4,sad,s2,2\n"
        "e.mp4,sad,s2,2\n"
    )
    stamp = (tmp_path / TARGET).stat().st_mtime_ns + 10**9  # surely newer than the output
    os.utime(manifest, ns=(stamp, stamp))
    res = snakemake(tmp_path, cfg, "-n")
    assert "index" in planned_rules(res), res.stdout[-3000:]
    res = snakemake(tmp_path, cfg)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    text = (tmp_path / TARGET).read_text()
    assert "e.mp4" in text
    # Another class list (params of index): index runs again.
    cfg["datasets"]["my-faces"]["classes"] = ["sad", "happy"]
    res = snakemake(tmp_path, cfg, "-n")
    assert "index" in planned_rules(res), res.stdout[-3000:]
