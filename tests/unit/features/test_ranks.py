"""Data-parallel ranks (compute.devices_per_job): 2 and 3 gloo ranks on the CPU give the
one-device probes and posteriors (docs/compute.md, "Several devices per job")."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from tests.videos import write_dataset
from vjepa_fer.cli import main
from vjepa_fer.features.ranks import Ranks, launch

LABELS = ["neutral", "happy", "sad", "angry"]
TOL = 1e-5


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, Path, Path]:
    """9 short videos of 3 actors in 3 folds: rounds of 2 or 3 ranks do not divide them."""
    root = tmp_path_factory.mktemp("ranks")
    rows, frames = [], {}
    for actor in range(1, 4):
        for k, label in enumerate(LABELS[:3]):
            video = f"Actor_{actor:02d}/v{k}.mp4"
            frames[video] = 40 + 9 * actor + 6 * k  # some at most 64 frames: one padded clip
            rows.append(
                {
                    "video": video,
                    "dataset": "ravdess",
                    "actor": actor,
                    "label": label,
                    "fold": actor,
                }
            )
    manifest, lengths = write_dataset(root, rows, frames)
    return root, manifest, lengths


ENCODER = [
    "--encoder", "tiny", "--img-size", "32", "--dtype", "fp32", "--device", "cpu",
    "--workers", "0", "--seed", "5",
]  # fmt: skip


def data_args(dataset) -> list[str]:
    root, manifest, lengths = dataset
    return ["--manifest", str(manifest), "--lengths", str(lengths), "--root", str(root)]


def train(dataset, out: Path, ranks: int, *extra: str) -> dict:
    argv = ["train", "--dataset", "ravdess", *data_args(dataset), "--out", str(out)]
    argv += ["--done", str(out / "done.json"), "--epochs", "2", "--batch-videos", "2"]
    argv += ["--batch-size", "8", "--folds", "1", "2", *ENCODER]
    assert main([*argv, "--devices-per-job", str(ranks), *extra]) == 0
    return json.loads((out / "done.json").read_text())


def infer(dataset, trained: Path, out: Path, ranks: int) -> dict:
    argv = ["infer", "--dataset", "ravdess", *data_args(dataset), "--trained", str(trained)]
    argv += ["--out", str(out), "--done", str(out / "done.json"), "--stride", "3"]
    argv += ["--pca-fold", "1", "--batch-size", "8", *ENCODER]
    assert main([*argv, "--devices-per-job", str(ranks)]) == 0
    return json.loads((out / "done.json").read_text())


@pytest.fixture(scope="module")
def one(dataset, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("one")
    summary = train(dataset, root / "probes", 1)
    infer(dataset, root / "probes/done.json", root / "post", 1)
    return {"root": root, "summary": summary}


def max_weight_diff(a: Path, b: Path) -> float:
    worst = 0.0
    for fold in (1, 2):
        wa = load_file(str(a / f"fold{fold}/main/probe.safetensors"))
        wb = load_file(str(b / f"fold{fold}/main/probe.safetensors"))
        assert wa.keys() == wb.keys()
        worst = max(worst, max(float((wa[k] - wb[k]).abs().max()) for k in wa))
    return worst


# 3 ranks (an odd split of the clips) costs 15 s: `make test` runs it, `make test-fast` does not.
@pytest.mark.parametrize("ranks", [2, pytest.param(3, marks=pytest.mark.slow)])
def test_ranks_train_and_infer_like_one_device(dataset, one, tmp_path, ranks: int) -> None:
    summary = train(dataset, tmp_path / "probes", ranks)
    base = one["root"]
    assert summary["clip_forwards"] == one["summary"]["clip_forwards"] == 9 * 8 * 2
    diff = max_weight_diff(base / "probes", tmp_path / "probes")
    print(f"{ranks} ranks: max |probe weight difference| = {diff:.3g}")
    assert diff <= TOL
    for fold in (1, 2):
        a = pd.read_csv(base / f"probes/fold{fold}/main/curve.csv")
        b = pd.read_csv(tmp_path / f"probes/fold{fold}/main/curve.csv")
        pd.testing.assert_frame_equal(a, b, check_exact=False, atol=TOL)
    done = infer(dataset, tmp_path / "probes/done.json", tmp_path / "post", ranks)
    assert done["devices_per_job"] == ranks
    assert done["clip_forwards"] == json.loads((base / "post/done.json").read_text())["clips"]
    for name in ("ravdess-fold1-main", "ravdess-fold2-main"):
        a = pd.read_csv(base / f"post/{name}.csv")
        b = pd.read_csv(tmp_path / f"post/{name}.csv")
        cols = [c for c in a.columns if c.startswith("p_")]
        # same rows in the same order (one table), posteriors within the tolerance
        pd.testing.assert_frame_equal(a.drop(columns=cols), b.drop(columns=cols))
        post = float(np.abs(a[cols].to_numpy() - b[cols].to_numpy()).max())
        print(f"{ranks} ranks, {name}: max |posterior difference| = {post:.3g}")
        assert post <= TOL
        # the per-video votes (what the tables are made of) are identical
        votes = [f.groupby("video")[cols].sum().idxmax(axis=1) for f in (a, b)]
        pd.testing.assert_series_equal(*votes)
    pca_a = load_file(str(base / "post/pca-ravdess-fold1-main.safetensors"))
    pca_b = load_file(str(tmp_path / "post/pca-ravdess-fold1-main.safetensors"))
    for k in pca_a:
        assert torch.allclose(pca_a[k], pca_b[k], atol=TOL), k


@pytest.mark.slow  # a killed job and its resume on two ranks: two stage runs (8 s)
def test_killed_one_device_job_resumes_on_two_ranks(dataset, one, tmp_path, monkeypatch) -> None:
    from vjepa_fer.probe import trainer as trainer_mod

    real = trainer_mod.ProbeTrainer.end_epoch
    calls = {"n": 0}

    def dying(self, epoch):  # noqa: ANN001, ANN202
        real(self, epoch)
        calls["n"] += 1
        if calls["n"] == 3:  # 2 probes: the first end_epoch of epoch 2, after epoch 1 was saved
            raise KeyboardInterrupt

    monkeypatch.setattr(trainer_mod.ProbeTrainer, "end_epoch", dying)
    with pytest.raises(KeyboardInterrupt):
        train(dataset, tmp_path / "killed", 1)
    assert (tmp_path / "killed/resume-all.pt").exists()
    monkeypatch.setattr(trainer_mod.ProbeTrainer, "end_epoch", real)
    resumed = train(dataset, tmp_path / "killed", 2)
    assert resumed["clip_forwards_this_job"] == 9 * 8  # only epoch 2 ran again
    assert resumed["clip_forwards"] == 9 * 8 * 2
    assert max_weight_diff(one["root"] / "probes", tmp_path / "killed") <= TOL
    assert not (tmp_path / "killed/resume-all.pt").exists()


def test_devices_per_job_is_validated(dataset, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit):
        train(dataset, tmp_path / "bad", 0)
    assert "must be an integer >= 1" in capsys.readouterr().err
    with pytest.raises(ValueError, match="online mode only"):
        launch_cached = ["--mode", "cached", "--store", str(tmp_path)]
        from vjepa_fer.probe import train as train_mod

        args = train_mod_args(dataset, tmp_path, launch_cached)
        train_mod.run(args)


def train_mod_args(dataset, out: Path, extra: list[str]):  # noqa: ANN201
    from vjepa_fer.cli import build_parser

    argv = ["train", "--dataset", "ravdess", *data_args(dataset), "--out", str(out), *ENCODER]
    return build_parser("train").parse_args([*argv, "--devices-per-job", "2", *extra])


def _rank_of(args, ranks: Ranks) -> int:  # noqa: ANN001
    return ranks.rank


def test_launch_single_rank_runs_in_process() -> None:
    assert launch(_rank_of, None, 1) == 0
    with pytest.raises(ValueError, match=">= 1"):
        launch(_rank_of, None, 0)
