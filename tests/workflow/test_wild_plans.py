"""Dry runs of the in-the-wild and custom dataset configs: the DAG follows each dataset's module
(folds or a fixed split, frame step, options), and licence-gated datasets are never downloaded."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import REPO, run_snakemake


def dry_run(tmp_path: Path, cfg: dict, *extra: str):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    return run_snakemake(
        "all", "-n", "-p", "--cores", "2", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path),
        *extra, "--configfile", str(tmp_path / "c.yaml"),
    )  # fmt: skip


def test_wild_config_plans_all_three_from_local_copies(tmp_path):
    cfg = yaml.safe_load((REPO / "config.wild.yaml").read_text())
    cfg["probe"]["group"] = "fold"  # one job per test fold: FERV39k has one
    res = dry_run(tmp_path, cfg)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out = res.stdout
    assert "download" not in {line.split()[-1] for line in out.splitlines() if "rule " in line}
    # One encoder (the `encoder` block): its outputs in results/<registry name>/.
    for k in range(1, 6):
        assert f"results/wild/vit_huge/probes/dfew/train-fold{k}.json" in out
        assert f"results/wild/vit_huge/probes/mafw/train-fold{k}.json" in out
    assert "results/wild/vit_huge/probes/ferv39k/train-fold1.json" in out
    assert "results/wild/vit_huge/probes/ferv39k/train-fold2.json" not in out
    assert "compare_encoders" not in out
    assert "--variant 2_ClipsforFaceCrop" in out
    ferv = [ln for ln in out.splitlines() if "vjepa-fer infer --dataset ferv39k" in ln]
    assert ferv and "--frame-step 1" in ferv[0]
    dfew = [ln for ln in out.splitlines() if "vjepa-fer infer --dataset dfew" in ln]
    assert dfew and "--frame-step 4" in dfew[0]
    # Each index job gets its own dataset's flags: RAVDESS's --modalities reaches none of them.
    for name, variant in [("dfew", "clip_224x224"), ("ferv39k", "2_ClipsforFaceCrop"),
                          ("mafw", "frames")]:  # fmt: skip
        index = [ln for ln in out.splitlines() if f"vjepa-fer index --dataset {name} " in ln]
        assert len(index) == 1, (name, index)
        assert "--modalities" not in index[0] and f"--variant {variant}" in index[0]
        assert "--expect-full" in index[0]


def test_licence_gated_dataset_is_never_downloaded(tmp_path):
    cfg = {"datasets": {"mafw": {"source": "download"}}}
    res = dry_run(tmp_path, cfg)
    assert res.returncode != 0
    assert "MAFW cannot be downloaded" in res.stdout + res.stderr


def test_custom_dataset_plans_its_own_folds(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "labels.csv").write_text("video,label,subject,fold\na.mp4,happy,s1,1\nb.mp4,sad,s2,3\n")
    cfg = {
        "datasets": {
            "my-faces": {
                "type": "custom",
                "source": "local",
                "root": str(data),
                "manifest": str(data / "labels.csv"),
                "classes": ["happy", "sad"],
            },
        },  # fmt: skip
        "encoder": {"name": "tiny", "checkpoint": None, "url": None, "img_size": 64},
        "features": {"device": "cpu"},
        "probe": {"group": "fold"},
    }
    res = dry_run(tmp_path, cfg)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "results/run/tiny/probes/my-faces/train-fold1.json" in res.stdout
    assert "results/run/tiny/probes/my-faces/train-fold3.json" in res.stdout
    assert "results/run/tiny/probes/my-faces/train-fold2.json" not in res.stdout
    assert '"type": "custom"' in res.stdout  # the entry reaches `vjepa-fer index`
    cfg["datasets"]["unknown-set"] = {"source": "local", "root": str(data)}
    res = dry_run(tmp_path, cfg)
    out = res.stdout + res.stderr  # not built in, and not declared `type: custom`
    assert res.returncode != 0 and "datasets: 'unknown-set' is not one of" in out
    assert "`type: custom`" in out
