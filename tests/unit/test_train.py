import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from tests.videos import write_dataset
from vjepa_fer.cli import main

LABELS = ["neutral", "happy", "sad", "angry"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, Path, Path]:
    """12 short videos of 6 actors in 3 folds (RAVDESS names are not needed here)."""
    root = tmp_path_factory.mktemp("ds")
    rows, frames = [], {}
    for actor in range(1, 7):
        for k, label in enumerate(LABELS[:2] if actor % 2 else LABELS[2:]):
            video = f"Actor_{actor:02d}/v{k}.mp4"
            frames[video] = 50 + 10 * actor + 7 * k
            fold = (actor - 1) // 2 + 1
            rows.append(
                {"video": video, "dataset": "ravdess", "actor": actor, "label": label, "fold": fold}
            )
    manifest, lengths = write_dataset(root, rows, frames)
    return root, manifest, lengths


COMMON = [
    "--encoder",
    "tiny",
    "--img-size",
    "32",
    "--dtype",
    "fp32",
    "--device",
    "cpu",
    "--workers",
    "0",  # decode in-process: the CLI default (8) is for real runs
    "--epochs",
    "2",
    "--batch-videos",
    "2",
    "--batch-size",
    "12",  # encoder batches mix videos differently in a group and alone
    "--seed",
    "5",
]


def train(dataset, out: Path, *extra: str) -> dict:
    root, manifest, lengths = dataset
    done = out / "done.json"
    rc = main(
        [
            "train",
            "--dataset",
            "ravdess",
            "--manifest",
            str(manifest),
            "--lengths",
            str(lengths),
            "--root",
            str(root),
            "--out",
            str(out),
            "--done",
            str(done),
            *COMMON,
            *extra,
        ]
    )
    assert rc == 0
    return json.loads(done.read_text())


def weights(out: Path, fold: int, variant: str = "main") -> dict[str, torch.Tensor]:
    return load_file(str(out / f"fold{fold}" / variant / "probe.safetensors"))


def test_probe_weights_do_not_depend_on_the_group(dataset, tmp_path):
    group = train(
        dataset, tmp_path / "group", "--folds", "1", "2", "3", "--extra", "lowlr:lr=0.0003"
    )
    alone = train(dataset, tmp_path / "alone", "--folds", "1")
    # one encoder pass feeds every probe: 12 videos x 8 clips x 2 epochs, not x 6 probes
    assert group["clip_forwards"] == 12 * 8 * 2
    assert alone["clip_forwards"] == 8 * 8 * 2  # fold 1's probe trains on 8 videos
    a, b = weights(tmp_path / "group", 1), weights(tmp_path / "alone", 1)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert not torch.equal(
        weights(tmp_path / "group", 1, "lowlr")["linear.weight"], a["linear.weight"]
    )


def test_outputs_and_rerun_reproduce_exactly(dataset, tmp_path):
    train(dataset, tmp_path / "a", "--folds", "2", "--no-augment")
    train(dataset, tmp_path / "b", "--folds", "2", "--no-augment")
    folder = tmp_path / "a/fold2/main"
    info = json.loads((folder / "probe.json").read_text())
    assert info["classes"][:3] == ["neutral", "calm", "happy"] and info["num_outputs"] == 8
    assert info["train_videos"] == 8 and info["spec"]["seed"] == 5
    curve = pd.read_csv(folder / "curve.csv")
    assert curve["epoch"].tolist() == [1, 2] and curve["steps"].tolist() == [4, 4]
    for k, v in weights(tmp_path / "a", 2).items():
        assert torch.equal(v, weights(tmp_path / "b", 2)[k])
    assert not (tmp_path / "a/resume-all.pt").exists()


def test_killed_job_resumes_with_identical_result(dataset, tmp_path, monkeypatch):
    from vjepa_fer.probe import trainer as trainer_mod

    train(dataset, tmp_path / "full", "--folds", "3")
    real = trainer_mod.ProbeTrainer.end_epoch
    calls = {"n": 0}

    def dying(self, epoch):
        real(self, epoch)
        calls["n"] += 1
        if calls["n"] == 2:  # kill during epoch 2, after epoch 1 was saved
            raise KeyboardInterrupt

    # the save happens after end_epoch, so dying in end_epoch of epoch 2 leaves epoch 1 saved
    monkeypatch.setattr(trainer_mod.ProbeTrainer, "end_epoch", dying)
    with pytest.raises(KeyboardInterrupt):
        train(dataset, tmp_path / "killed", "--folds", "3")
    assert (tmp_path / "killed/resume-all.pt").exists()
    monkeypatch.setattr(trainer_mod.ProbeTrainer, "end_epoch", real)
    resumed = train(dataset, tmp_path / "killed", "--folds", "3")
    assert resumed["clip_forwards"] == 8 * 8  # only epoch 2 was encoded again
    for k, v in weights(tmp_path / "full", 3).items():
        assert torch.equal(v, weights(tmp_path / "killed", 3)[k])


def test_cached_mode_never_runs_the_encoder(dataset, tmp_path):
    root, manifest, lengths = dataset
    store = tmp_path / "store"
    assert (
        main(
            [
                "extract",
                "--manifest",
                str(manifest),
                "--lengths",
                str(lengths),
                "--root",
                str(root),
                "--out",
                str(store),
                "--kind",
                "train",
                "--encoder",
                "tiny",
                "--img-size",
                "32",
                "--dtype",
                "fp32",
                "--device",
                "cpu",
                "--workers",
                "0",  # decode in-process: the CLI default (8) is for real runs
                "--seed",
                "5",
            ]
        )
        == 0
    )
    done = train(
        dataset, tmp_path / "cached", "--folds", "1", "2", "--mode", "cached", "--store", str(store)
    )
    assert done["clip_forwards"] == 0
    assert (tmp_path / "cached/fold2/main/probe.safetensors").exists()


def test_bad_extra_spec(dataset, tmp_path):
    root, manifest, lengths = dataset
    rc = main(
        [
            "train",
            "--dataset",
            "ravdess",
            "--manifest",
            str(manifest),
            "--lengths",
            str(lengths),
            "--root",
            str(root),
            "--out",
            str(tmp_path),
            *COMMON,
            "--extra",
            "x:momentum=0.9",
        ]
    )
    assert rc == 1
