"""The paper's own path, end to end through Snakemake, as README "Reproducing the paper" shows it.

A fresh copy of the workflow (Snakefile, workflow/, envs/) gets the SHIPPED ``config.yaml``
deep-merged with overrides of scale only: a few actors and videos, small frames, the tiny ViT
architecture, two epochs, ``expect_full: false`` (a miniature dataset is not the published one),
and the publishers' addresses pointed at a loopback HTTP server. Every other key stays as
shipped: ``source: download`` for both datasets, the checkpoint downloaded from ``encoder.url``
and loaded from ``target_encoder``, online augmented training of all folds, every start frame at
evaluation (``eval_stride: 1``), ``device: auto``, the report.

The server (127.0.0.1 only, tests/loopback.py) plays the publishers:

* Zenodo: ``Video_Speech_Actor_XX.zip`` archives of synthetic RAVDESS videos in the real layout
  (``Actor_XX/*.mp4``, made by ``vjepa-fer synth``) and a record JSON with their sizes and md5s,
  which differ from the pinned table in the package: the record wins;
* CREMA-D: ``VideoFlash/*.flv`` from two mirror templates, the first answering 404 for some
  files so the second is used, all verified against a user-supplied checksum table
  (``datasets.crema-d.checksums``, ``name,sha256,size``);
* the checkpoint at ``encoder.url``: a tiny checkpoint in the official V-JEPA layout
  (``encoder``/``target_encoder``/``predictor``, ``module.backbone.`` prefixes).

The commands run are the ones README's "Reproducing the paper" block shows (read from README.md),
in the copy's folder. A second, fast test dry-runs the shipped config.yaml unchanged and parses
every planned ``vjepa-fer`` command line with the CLI's own parser.
"""

from __future__ import annotations

import copy
import io
import json
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO, run_snakemake
from tests.loopback import md5, serve, sha256, write_zip, zenodo_record

BIN = Path(sys.executable).parent
WORKFLOW_FILES = ("Snakefile", "workflow", "envs", "config.yaml")
WINDOW = 64  # 16 frames at step 4: one clip spans 64 frames
# The `encoder` block's outputs lie in results/<id>/, id = its registry name: vit_huge as shipped,
# tiny in the miniature below.
OUT = "results/paper/tiny"


def clone(dest: Path) -> Path:
    """The files a user's clone runs the workflow from (the package comes from the venv)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        else:
            shutil.copy2(src, dest / name)
    return dest


def deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def readme_commands() -> tuple[list[list[str]], list[str]]:
    """README "Reproducing the paper": the snakemake lines of its first code block, and the
    whole section's text."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Reproducing the paper", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("snakemake"):
            commands.append(shlex.split(line))
    return commands, section


def tiny_checkpoint(img_size: int) -> bytes:
    """The official layout: encoder, target_encoder (EMA, the one used) and predictor entries,
    weights under ``module.backbone.``."""
    import torch

    from vjepa_fer.models.registry import build_encoder

    def state(seed: int) -> dict:
        enc = build_encoder("tiny", img_size=img_size, num_frames=16, seed=seed)
        return {f"module.backbone.{k}": v for k, v in enc.state_dict().items()}

    buf = io.BytesIO()
    predictor = {"module.backbone.predictor_embed.weight": torch.zeros(4, 64)}
    torch.save(
        {"encoder": state(1), "target_encoder": state(2), "predictor": predictor, "epoch": 300},
        buf,
    )
    return buf.getvalue()


def synth(dataset: str, out: Path, *opts: str) -> dict:
    """The project's own generator, as a user would call it."""
    res = subprocess.run(
        [str(BIN / "vjepa-fer"), "synth", "--dataset", dataset, "--out", str(out), *opts],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads((out / "synth.json").read_text())["params"]


def publish(server, work: Path, img_size: int) -> dict:
    """Synthetic data and a tiny checkpoint, served like their publishers serve the real ones."""
    source = work.parent / "publishers"
    rav = synth("ravdess", source / "ravdess", "--actors", "5", "--size", "64x48",
                "--intensities", "1", "--jobs", "2")  # fmt: skip
    cre = synth("crema-d", source / "crema-d", "--actors", "5", "--size", "64x48",
                "--sentences", "TIE,DFA", "--jobs", "2")  # fmt: skip
    # Zenodo: one archive per actor, members Actor_XX/<name>.mp4 as in the real archives.
    archives = {}
    for actor in rav["actors"]:
        folder = source / "ravdess" / f"Actor_{actor:02d}"
        members = {f"Actor_{actor:02d}/{p.name}": p.read_bytes() for p in sorted(folder.iterdir())}
        name = f"Video_Speech_Actor_{actor:02d}.zip"
        archives[name] = write_zip(source / name, members).read_bytes()
        server.files[f"/zenodo/records/1188976/files/{name}"] = archives[name]
    server.files["/zenodo/api/records/1188976"] = zenodo_record(server, archives)
    # CREMA-D: every file on the second mirror; the first lacks every third file (404).
    videos = sorted((source / "crema-d" / "VideoFlash").glob("*.flv"))
    missing_on_first = {p.name for p in videos[::3]}
    for path in videos:
        server.files[f"/github/VideoFlash/{path.name}"] = path.read_bytes()
        if path.name not in missing_on_first:
            server.files[f"/gitlab/VideoFlash/{path.name}"] = path.read_bytes()
    table = work / "crema-d-sha256.csv"
    table.write_text(
        "name,sha256,size\n"
        + "".join(f"{p.name},{sha256(p.read_bytes())},{p.stat().st_size}\n" for p in videos)
    )
    checkpoint = tiny_checkpoint(img_size)
    server.files["/jepa/vith16-384/vith16-384.pth.tar"] = checkpoint
    return {
        "ravdess_actors": rav["actors"],
        "cremad_actors": cre["actors"],
        "archives": archives,
        "videos": {p.name: p.read_bytes() for p in videos},
        "missing_on_first": missing_on_first,
        "table": table,
        "checkpoint": checkpoint,
    }


def miniature_overrides(server, published: dict, img_size: int) -> dict:
    """Scale (and where the publishers are) only; every other key as shipped."""
    url = server.url
    return {
        "datasets": {
            "ravdess": {"actors": published["ravdess_actors"], "expect_full": False},
            "crema-d": {
                "actors": published["cremad_actors"],
                "expect_full": False,
                "checksums": published["table"].name,
            },
        },
        "download": {
            "ravdess_base_url": f"{url}/zenodo/records/1188976/files",
            "ravdess_record_api": f"{url}/zenodo/api/records/1188976",
            "cremad_mirrors": [
                f"{url}/gitlab/VideoFlash/{{name}}",
                f"{url}/github/VideoFlash/{{name}}",
            ],
        },
        "encoder": {
            "name": "tiny",
            "url": f"{url}/jepa/vith16-384/vith16-384.pth.tar",
            "img_size": img_size,
        },  # fmt: skip
        "features": {"workers": 2},  # this machine's cores; the shipped 8 decoders would queue
        "probe": {"epochs": 2},
    }


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory):
    """The README's commands on the miniature paper configuration, with the publishers live."""
    if shutil.which("vjepa-fer", path=str(BIN)) is None:
        pytest.fail("vjepa-fer is not installed in this environment (pip install -e .)")
    img_size = 32
    work = clone(tmp_path_factory.mktemp("paper") / "vjepa-fer")
    with serve() as server:
        published = publish(server, work, img_size)
        shipped = yaml.safe_load((REPO / "config.yaml").read_text())
        config = deep_merge(shipped, miniature_overrides(server, published, img_size))
        (work / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        commands, _ = readme_commands()
        results = []
        t0 = time.perf_counter()
        for argv in commands:
            assert argv[0] == "snakemake"
            res = run_snakemake(*argv[1:], cwd=work, timeout=900)
            results.append(res)
            assert res.returncode == 0, (
                f"{shlex.join(argv)} failed:\n{res.stdout[-3000:]}\n{res.stderr[-5000:]}"
                + _logs(work)
            )
        seconds = time.perf_counter() - t0
        served = list(server.log)
    return {
        "work": work,
        "published": published,
        "config": config,
        "shipped": shipped,
        "commands": commands,
        "results": results,
        "served": served,
        "seconds": seconds,
    }


def _logs(work: Path) -> str:
    """The tail of every rule log, for a failing run's message."""
    out = []
    for log in sorted((work / "results/paper/logs").rglob("*.log")):
        out.append(f"\n--- {log.relative_to(work)}\n{log.read_text(errors='replace')[-1500:]}")
    return "".join(out)


# ----------------------------------------------------------------------------- the run


def test_readme_shows_the_commands_this_test_runs():
    commands, section = readme_commands()
    assert [c[:3] for c in commands] == [
        ["snakemake", "--cores", "8"],
        ["snakemake", "--report", "results/paper/report.html"],
    ]
    assert commands[0][-1] == "all"
    # What a killed or offline run needs is in the same section.
    assert "snakemake --unlock" in section
    assert "source: local" in section and "checksums:" in section


@pytest.mark.slow
def test_only_scale_and_publisher_addresses_differ_from_the_shipped_config(paper_run):
    shipped, config = paper_run["shipped"], paper_run["config"]
    for name, cfg in config["datasets"].items():
        assert cfg["source"] == shipped["datasets"][name]["source"] == "download"
        assert (
            cfg["modalities" if name == "ravdess" else "exclude"]
            == (shipped["datasets"][name]["modalities" if name == "ravdess" else "exclude"])
        )
    for key in ("checkpoint", "checkpoint_key", "num_frames", "frame_step"):
        assert config["encoder"][key] == shipped["encoder"][key]
    assert config["features"]["eval_stride"] == 1 and config["features"]["device"] == "auto"
    assert {k: v for k, v in config["probe"].items() if k != "epochs"} == {
        k: v for k, v in shipped["probe"].items() if k != "epochs"
    }
    assert config["probe"]["mode"] == "online" and config["evaluation"] == shipped["evaluation"]


@pytest.mark.slow
def test_downloads_used_the_record_the_fallback_mirror_and_the_checksum_table(paper_run):
    work, pub = paper_run["work"], paper_run["published"]
    served = [path for path, _ in paper_run["served"]]
    # RAVDESS: the record's md5s (the pinned table has the real archives' ones) won.
    marker = json.loads((work / "resources/datasets/ravdess/.vjepa-fer-download.json").read_text())
    assert marker["checksums_from"] == "zenodo-record"
    assert sorted(marker["archives"]) == sorted(pub["archives"])
    assert {d["file"] for d in marker["disagreements"]} == set(pub["archives"])
    for name, data in pub["archives"].items():
        assert marker["archives"][name]["md5"] == md5(data)
    for actor in pub["ravdess_actors"]:
        assert any((work / f"resources/datasets/ravdess/Actor_{actor:02d}").glob("*.mp4"))
    # CREMA-D: the files missing on the first mirror came from the second, all verified.
    for name, data in pub["videos"].items():
        assert (work / "resources/datasets/crema-d/VideoFlash" / name).read_bytes() == data
        on_second = f"/github/VideoFlash/{name}" in served
        assert on_second == (name in pub["missing_on_first"]), name
    marker = json.loads((work / "resources/datasets/crema-d/.vjepa-fer-download.json").read_text())
    assert marker["table"] == pub["table"].name and marker["files"] == len(pub["videos"])
    # The checkpoint from encoder.url, its sha256 recorded beside it after it loaded.
    ckpt = work / "resources/checkpoints/vith16-384.pth.tar"
    assert ckpt.read_bytes() == pub["checkpoint"]
    assert ckpt.with_name(ckpt.name + ".sha256").read_text().split()[0] == sha256(pub["checkpoint"])


@pytest.mark.slow
def test_probes_trained_online_with_augmentation_from_the_checkpoint(paper_run):
    work = paper_run["work"]
    for ds in ("ravdess", "crema-d"):
        for fold in range(1, 6):
            info = json.loads((work / f"{OUT}/probes/{ds}/fold{fold}/main/probe.json").read_text())
            assert info["mode"] == "online" and info["train"]["augment"] is True
            assert info["checkpoint"] == "resources/checkpoints/vith16-384.pth.tar"
            assert info["encoder"] == "tiny" and info["train"]["epochs"] == 2
        done = json.loads((work / f"{OUT}/probes/{ds}/train-all.json").read_text())
        assert done["clip_forwards"] > 0
        log = (work / f"results/paper/logs/train_probes/tiny/{ds}-all.log").read_text()
        # Loaded from the official layout, and progress lines in the rule's log.
        assert "from resources/checkpoints/vith16-384.pth.tar['target_encoder']" in log
        assert re.search(r"train \S+ \(2 epochs\): \d+/\d+ clips \(100\.0%\)", log), log[-2000:]
        assert "runs on the CPU" in log  # device auto fell back, and said so


@pytest.mark.slow
def test_inference_used_every_start_frame(paper_run):
    work = paper_run["work"]
    for ds in ("ravdess", "crema-d"):
        lengths = pd.read_csv(work / f"results/paper/{ds}/lengths.csv").set_index("video")
        post = pd.read_csv(work / f"{OUT}/posteriors/{ds}/{ds}-fold1-main.csv")
        per_video = post.groupby("video")["start"].agg(["count", "max"])
        assert (
            len(per_video)
            == (pd.read_csv(work / f"results/paper/{ds}/manifest.csv")["fold"] == 1).sum()
        )
        for video, row in per_video.iterrows():
            # The authors' full-video evaluation: starts 0, 1, ..., L - 65 (one clip if L <= 64).
            frames = int(lengths.loc[video, "num_frames"])
            expected = max(1, frames - WINDOW)
            assert (row["count"], row["max"]) == (expected, expected - 1), video
        log = (work / f"results/paper/logs/infer/tiny/{ds}.log").read_text()
        assert re.search(rf"infer {ds}: \d+/\d+ clips \(100\.0%\)", log), log[-2000:]


@pytest.mark.slow
def test_every_table_and_figure_with_both_datasets(paper_run):
    work = paper_run["work"]
    for name in ("table2", "table3", "table4"):
        for ext in ("csv", "md", "tex"):
            assert (work / f"{OUT}/tables/{name}.{ext}").stat().st_size > 0
    table2 = pd.read_csv(work / f"{OUT}/tables/table2.csv")
    assert set(table2["dataset"]) == {"ravdess", "crema-d"}
    table4 = pd.read_csv(work / f"{OUT}/tables/table4.csv")
    assert set(table4["test"]) == {"ravdess", "crema-d"}
    assert set(table4["train"]) == {"ravdess", "crema-d"}
    figures = {p.name for p in (work / f"{OUT}/figures").iterdir()}
    for stem in (
        "fig3_confusion_same_pbv",
        "fig4_confusion_cross_pbv",
        "fig5_pca_crema-d_fold1",
        "fig6_demographics_crema-d",
        "curves_ravdess",
        "curves_crema-d",
    ):
        assert {f"{stem}.png", f"{stem}.pdf"} <= figures, sorted(figures)
    html = (work / "results/paper/report.html").read_text(errors="replace")
    assert "table2.html" in html and "fig3_confusion_same_pbv" in html


@pytest.mark.slow
def test_rerun_has_nothing_to_do_and_unlock_works(paper_run):
    work = paper_run["work"]
    res = run_snakemake("--cores", "8", "all", "-n", cwd=work)
    assert res.returncode == 0 and "Nothing to be done" in res.stdout + res.stderr
    res = run_snakemake("--unlock", cwd=work)
    assert res.returncode == 0, res.stderr[-2000:]


@pytest.mark.slow
def test_ranks_give_the_one_device_posteriors(paper_run, tmp_path):
    """compute.devices_per_job: 3 on the CPU (an odd split of the clips): RAVDESS's online
    training and inference rerun as gloo ranks through Snakemake, and every posterior equals the
    one-device run's (docs/compute.md). Two ranks, and the tables built from them, are checked in
    tests/unit/features/test_ranks.py and the SLURM test; this is the config switch end to end."""
    ranks = 3
    work = tmp_path / "vjepa-fer"
    shutil.copytree(paper_run["work"], work, symlinks=True)
    override = {"compute": {"devices_per_job": ranks}, "features": {"device": "cpu"}}
    config = deep_merge(paper_run["config"], override)
    (work / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    target = f"{OUT}/posteriors/ravdess/done.json"
    res = run_snakemake("--cores", "8", target, cwd=work, timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:] + _logs(work)
    log = (work / "results/paper/logs/train_probes/tiny/ravdess-all.log").read_text()
    assert f"[rank 0/{ranks}]" in log  # the rerun really ran as ranks
    before = sorted((paper_run["work"] / f"{OUT}/posteriors/ravdess").glob("*.csv"))
    assert before
    for path in before:
        a = pd.read_csv(path)
        b = pd.read_csv(work / f"{OUT}/posteriors/ravdess" / path.name)
        cols = [c for c in a.columns if c.startswith("p_")]
        pd.testing.assert_frame_equal(a.drop(columns=cols), b.drop(columns=cols))
        diff = float((a[cols] - b[cols]).abs().to_numpy().max())
        assert diff <= 1e-5, (path.name, diff)
        votes = [f.groupby("video")[cols].sum().idxmax(axis=1) for f in (a, b)]
        pd.testing.assert_series_equal(*votes)  # the per-video votes the tables count


# ----------------------------------------------------------------------------- the shipped config


def test_shipped_config_dry_run_plans_and_every_command_parses(tmp_path):
    """`snakemake --cores 8 all -n` with config.yaml as shipped (no data, no checkpoint), and
    each planned `vjepa-fer` command line accepted by the CLI's parser (the download rule once
    passed `--mirror A B`, which the parser rejects)."""
    from vjepa_fer.cli import build_parser

    work = clone(tmp_path / "vjepa-fer")
    res = run_snakemake("--cores", "8", "all", "-n", "-p", cwd=work)
    assert res.returncode == 0, res.stderr[-3000:]
    commands = re.findall(r"^Shell command: (vjepa-fer .*)$", res.stdout, flags=re.M)
    rules = set(re.findall(r"^rule (\w+):$", res.stdout, flags=re.M))
    assert {"download_dataset", "download_checkpoint", "train_probes", "infer"} <= rules
    assert len(commands) >= 10, res.stdout[-3000:]
    for line in commands:
        argv = shlex.split(line.split(" > ", 1)[0])[1:]
        try:
            build_parser(argv[0]).parse_args(argv)
        except SystemExit:
            pytest.fail(f"the CLI rejects a planned command line: {line}")
    downloads = [c for c in commands if c.startswith("vjepa-fer download --dataset crema-d")]
    assert len(downloads) == 1 and downloads[0].count("--mirror ") == 2
    ravdess = [c for c in commands if c.startswith("vjepa-fer download --dataset ravdess")]
    assert len(ravdess) == 1 and "--mirror" not in ravdess[0]  # RAVDESS has no CREMA-D mirrors
    # One encoder, named by its registry name: every encoder output under results/vit_huge/.
    assert "--done results/paper/vit_huge/posteriors/ravdess/done.json" in res.stdout
    assert "compare_encoders" not in rules
