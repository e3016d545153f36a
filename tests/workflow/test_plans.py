"""The workflow without running it: lint, formatting, dry runs (the commands each rule would
run) and config errors that stop a run before any job. Quick; the demo run is test_workflow.py."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, run_snakemake

BIN = Path(sys.executable).parent
# The demo's encoders (config.demo.yaml `encoders:`): each one's outputs lie in results/<id>/.
DEMO_ENCODERS = ("tiny", "tiny_deep")


def snakemake(*args: str, cwd: Path = REPO, timeout: int = 600) -> subprocess.CompletedProcess:
    return run_snakemake(*args, cwd=cwd, timeout=timeout)


def test_lint_is_clean():
    res = snakemake("--lint", "--cores", "1")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Congratulations" in res.stdout + res.stderr


@pytest.mark.parametrize("tool", ["snakefmt", "ruff"])
def test_formatting_is_machine_owned(tool):
    if tool == "snakefmt":
        cmd = [str(BIN / "snakefmt"), "--check", "Snakefile", "workflow/rules"]
    else:
        cmd = [str(BIN / "ruff"), "format", "--check", "src", "tests"]
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_ruff_lint():
    res = subprocess.run(
        [str(BIN / "ruff"), "check", "src", "tests"], cwd=REPO, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_commands_put_the_target_before_configfile():
    """`--configfile` takes every following word as a file, so `... --configfile X all` would
    read a file named `all`; README, Makefile and benchmarks put the target first."""
    assert not (REPO / "all").exists(), "no config file named `all` at the root"
    for name in ("README.md", "Makefile", "benchmarks/README.md", "benchmarks/demo_walltime.sh"):
        for line in (REPO / name).read_text().splitlines():
            assert not re.search(r"--configfile(\s+[^-\s]\S*)+\s+all\b", line), f"{name}: {line}"


def test_paper_config_dry_run_plans_downloads(tmp_path):
    res = snakemake(
        "-n",
        "--cores",
        "8",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(tmp_path),
        "--configfile",
        str(REPO / "config.yaml"),
    )
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "resources/datasets/ravdess/.vjepa-fer-download.json" in out
    assert "resources/datasets/crema-d/.vjepa-fer-download.json" in out
    assert "--expect-full" not in out  # dry runs do not print shell commands


def test_encoders_config_plans_every_encoder_and_the_comparison(tmp_path):
    """config.encoders.yaml as shipped: one protocol per entry in results/<id>/, one download
    job per V-JEPA checkpoint, the HF directories as inputs, and the comparison of all six."""
    entries = yaml.safe_load((REPO / "config.encoders.yaml").read_text())["encoders"]
    for entry in entries:  # HF directories, fetched once by the user (hf download ...)
        if not entry["url"]:
            (tmp_path / entry["checkpoint"]).mkdir(parents=True)
    res = snakemake(
        "all", "-n", "-p", "--cores", "8", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path),
        "--configfile", str(REPO / "config.encoders.yaml"),
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out = res.stdout
    ids = ["vjepa-vitl16", "vjepa-vith16", "vjepa-vith16-384", "vjepa2-vitl"]
    ids += ["videomae-b", "videomae-l"]
    for enc in ids:
        assert f"results/encoders/{enc}/probes/ravdess/train-all.json" in out, enc
        assert f"--run {enc}=results/encoders/{enc}/posteriors" in out, enc
    downloads = re.findall(r"vjepa-fer download --dataset checkpoint --url (\S+)", out)
    assert len(downloads) == 3 and {u.split("/")[-2] for u in downloads} == {
        "vitl16",
        "vith16",
        "vith16-384",
    }
    assert re.search(r"--checkpoint resources/hf/videomae-base\b", out)
    assert len(set(re.findall(r"vjepa-fer index --dataset (\S+)", out))) == 2  # datasets: once


def test_local_copy_is_not_downloaded(tmp_path):
    data = tmp_path / "my_ravdess"
    (data / "Actor_01").mkdir(parents=True)
    cfg = {
        "datasets": {"ravdess": {"source": "local", "root": str(data), "expect_full": False}},
        "encoder": {"checkpoint": None, "random_weights": True},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    res = snakemake(
        "-n",
        "--cores",
        "1",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(tmp_path),
        "--configfile",
        str(tmp_path / "c.yaml"),
    )
    assert res.returncode == 0, res.stderr
    assert "rule download" not in res.stdout
    assert "crema-d" not in res.stdout  # --configfile replaces config.yaml, it is not merged


def test_bad_config_stops_the_run_naming_the_key(tmp_path):
    cfg = yaml.safe_load((REPO / "config.demo.yaml").read_text())
    cfg["datasets"]["ravdess"]["modalitis"] = [1]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg))
    res = snakemake(
        "-n",
        "--cores",
        "1",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(tmp_path),
        "--configfile",
        str(tmp_path / "bad.yaml"),
    )
    assert res.returncode != 0
    out = res.stdout + res.stderr
    # The project's one-paragraph message comes first, naming the key, the file and the keys
    # allowed there, instead of Snakemake's dump of the schema.
    assert "unknown key datasets.ravdess.modalitis; allowed under datasets/ravdess:" in out
    assert "bad.yaml: invalid config" in out and "modalities" in out
    assert len(out.splitlines()) < 40, out


def test_real_encoder_without_checkpoint_needs_random_weights(tmp_path):
    cfg = yaml.safe_load((REPO / "config.demo.yaml").read_text())
    cfg["encoders"][1]["name"] = "vit_large"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    args = ["-n", "--cores", "1", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path)]
    res = snakemake(*args, "--configfile", str(tmp_path / "c.yaml"))
    assert res.returncode != 0
    assert "encoders[1].checkpoint is null for encoder 'vit_large'" in res.stdout + res.stderr
    cfg["encoders"][1]["random_weights"] = True
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    res = snakemake(*args, "--configfile", str(tmp_path / "c.yaml"))
    assert res.returncode == 0, res.stderr[-2000:]


def test_evaluate_reads_the_done_files_of_this_configs_inference(tmp_path):
    cfg = yaml.safe_load((REPO / "config.demo.yaml").read_text())
    del cfg["datasets"]["crema-d"], cfg["datasets"]["dfew"]  # RAVDESS alone
    cfg["evaluation"]["pca_dataset"] = "ravdess"
    (tmp_path / "one.yaml").write_text(yaml.safe_dump(cfg))
    res = snakemake(
        "all", "-n", "-p", "--cores", "1", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path),
        "--configfile", str(tmp_path / "one.yaml"),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout + res.stderr
    evaluate = sorted(ln for ln in out.splitlines() if "vjepa-fer evaluate" in ln)
    assert len(evaluate) == 2  # one per encoder
    for enc, line in zip(DEMO_ENCODERS, evaluate, strict=True):
        done = f"results/demo/{enc}/posteriors/ravdess/done.json"
        assert f"--done {done} --data results/demo --out results/demo/{enc}/" in line
        assert "crema-d" not in line and "--posteriors" not in line
    forwards = [ln for ln in out.splitlines() if "vjepa-fer forwards" in ln]
    flags = "--img-size 64,--frames-per-clip 16,--frame-step 4,--clips 8"
    flags += ",--epochs 20,--copies 0,--stride 4,--eval-views 1"
    for enc in DEMO_ENCODERS:
        line = next(ln for ln in forwards if f"--encoder {enc} " in ln)
        for flag in flags.split(","):
            assert flag in line, flag
    figures = [ln for ln in out.splitlines() if "vjepa-fer figures" in ln][0]
    assert "--datasets ravdess" in figures and "--data results/demo" in figures
    compare = [ln for ln in out.splitlines() if "vjepa-fer compare-encoders" in ln]
    assert len(compare) == 1
    runs = (
        "--run tiny=results/demo/tiny/posteriors --run tiny_deep=results/demo/tiny_deep/posteriors"
    )
    # this config's datasets only
    assert f"{runs} --datasets ravdess --data results/demo --out" in compare[0]
    # The figure's legend gets display names (vjepa_fer.report.names).
    assert "--label 'tiny=Tiny ViT (2 blocks), 64 px, random weights'" in compare[0]


def test_unknown_encoder_stops_before_any_job(tmp_path):
    cfg = yaml.safe_load((REPO / "config.demo.yaml").read_text())
    cfg["encoders"][0]["name"] = "vit_hgue"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg))
    res = snakemake(
        "-n", "--cores", "1", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path),
        "--configfile", str(tmp_path / "bad.yaml"),
    )  # fmt: skip
    assert res.returncode != 0
    assert "'vit_hgue' is not one of ['tiny'," in res.stdout + res.stderr
