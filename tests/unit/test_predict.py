"""``vjepa-fer predict`` end to end: probes trained by the tiny pipeline applied to new videos."""

from __future__ import annotations

import fractions
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.videos import frame_image, frame_number, write_dataset
from vjepa_fer.cli import main
from vjepa_fer.probe import predict
from vjepa_fer.video.decode import decode_frames, probe_video

LABELS = ["neutral", "happy", "sad", "angry"]
ENCODER = ["--encoder", "tiny", "--img-size", "32", "--dtype", "fp32", "--device", "cpu"]
ENCODER += ["--seed", "3", "--workers", "0"]
N = 90  # frames of the new test videos at 30 fps (3 s)


def write(path: Path, fmt: str, codec: str, fps: int, frames: list[int], **kw) -> Path:  # noqa: ANN003
    """A video whose k-th frame shows frame_image(frames[k]); ffv1 is lossless."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=fractions.Fraction(fps), options=kw)
        stream.width, stream.height = 64, 48
        stream.pix_fmt = "yuv420p"
        for i in frames:
            frame = av.VideoFrame.from_ndarray(frame_image(i), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """12 short 29.97 fps videos of 6 actors in 3 folds; returns the shared CLI arguments."""
    root = tmp_path_factory.mktemp("data")
    rows, frames = [], {}
    for actor in range(1, 7):
        for k, label in enumerate(LABELS[:2] if actor % 2 else LABELS[2:]):
            video = f"Actor_{actor:02d}/v{k}.mp4"
            frames[video] = 70 + 10 * actor + 7 * k
            fold = (actor - 1) // 2 + 1
            rows.append(
                {"video": video, "dataset": "ravdess", "actor": actor, "label": label, "fold": fold}
            )
    manifest, lengths = write_dataset(root, rows, frames)
    return ["--manifest", str(manifest), "--lengths", str(lengths), "--root", str(root)]


def train_probes(common: list[str], out: Path, encoder: list[str]) -> Path:
    argv = ["train", "--dataset", "ravdess", *common, "--out", str(out), "--folds", "1", "2"]
    argv += ["3", "--epochs", "2", "--batch-videos", "2", "--done", str(out / "done.json")]
    argv += ["--clips", "2"]  # training clips per video (8 in the protocol): predict needs probes
    assert main([*argv, *encoder]) == 0
    return out


@pytest.fixture(scope="module")
def trained(data: list[str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Probes of 3 folds trained online, and every probe's posteriors on every video (infer
    with another dataset name, so each probe sees all videos)."""
    root = tmp_path_factory.mktemp("predict")
    probes = train_probes(data, root / "probes", ENCODER)
    argv = ["infer", "--dataset", "elsewhere", *data, "--trained", str(probes / "done.json")]
    argv += ["--out", str(root / "posteriors"), "--stride", "2"]
    assert main([*argv, *ENCODER]) == 0
    data_root = Path(data[data.index("--root") + 1])
    return {"root": root, "probes": probes, "data": data_root, "post": root / "posteriors"}


def test_probe_json_records_the_input(trained: dict[str, Path]) -> None:
    spec = json.loads((trained["probes"] / "fold1" / "main" / "probe.json").read_text())["input"]
    assert spec["encoder"] == "tiny" and spec["checkpoint"] is None
    assert spec["checkpoint_sha256"] is None and spec["encoder_seed"] == 3
    assert (spec["img_size"], spec["num_frames"], spec["frame_step"]) == (32, 16, 4)
    assert spec["fps"] == pytest.approx(29.97003, abs=1e-4)
    assert spec["classes"][:2] == ["neutral", "calm"]  # RAVDESS order
    assert spec["normalisation"]["mean"] == pytest.approx([0.485, 0.456, 0.406])


def test_predict_equals_mean_of_fold_posteriors(trained: dict[str, Path], tmp_path: Path) -> None:
    """On a training-format video, predict's clips and posteriors are the pipeline's own."""
    video = "Actor_03/v1.mp4"
    out = tmp_path / "clips.csv"
    argv = ["predict", str(trained["data"] / video), "--probes", str(trained["probes"])]
    assert main([*argv, "--stride", "2", "--clips", str(out), "--device", "cpu"]) == 0
    got = pd.read_csv(out)
    folds = [pd.read_csv(trained["post"] / f"ravdess-fold{k}-main.csv") for k in (1, 2, 3)]
    folds = [f[f["video"] == video].sort_values("clip").reset_index(drop=True) for f in folds]
    assert list(got["start"]) == list(folds[0]["start"])
    cols = [c for c in got.columns if c.startswith("p_")]
    want = np.mean([f[cols].to_numpy() for f in folds], axis=0)
    np.testing.assert_allclose(got[cols].to_numpy(), want, atol=1e-5)


def test_resample_frames() -> None:
    assert list(predict.resample_frames(6, 30.0, 29.97)) == list(range(6))  # within 1 %
    assert list(predict.resample_frames(8, 60.0, 30.0)) == [0, 2, 4, 6]
    assert list(predict.resample_frames(3, 15.0, 30.0)) == [0, 0, 1, 1, 2, 2]
    assert list(predict.resample_frames(10, 25.0, 30.0)) == [0, 0, 1, 2, 3, 4, 5, 5, 6, 7, 8, 9]
    assert list(predict.resample_frames(1, 60.0, 30.0)) == [0]
    with pytest.raises(ValueError, match="frame rate"):
        predict.resample_frames(5, 0.0, 30.0)


def test_frame_folder_probes_record_no_frame_rate_and_predict_keeps_the_source_rate() -> None:
    """Probes trained on frame folders (DFEW: fps 0 in lengths.csv) record fps None instead of
    dividing by zero; predict then takes the video's frames as they come."""
    from vjepa_fer.probe.inputs import input_spec

    common = {"encoder": "tiny", "checkpoint": None, "checkpoint_key": "target_encoder"}
    common |= {"seed": 0, "img_size": 64, "num_frames": 16, "frame_step": 4, "classes": ["a"]}
    for fps in (0.0, float("nan")):
        spec = input_spec(**common, fps=fps)
        assert spec["fps"] is None and spec["clip_seconds"] is None
    assert input_spec(**common, fps=30.0)["clip_seconds"] == pytest.approx(64 / 30, abs=1e-4)
    spec = {"fps": None, "num_frames": 16, "frame_step": 4}
    starts, indices, length = predict.video_clips(100, 60.0, spec, stride=8)
    same = predict.video_clips(100, 60.0, {**spec, "fps": 60.0}, stride=8)  # no resampling
    assert int(length) == 100 and starts.tolist() == same[0].tolist()
    assert np.array_equal(indices, same[1])


def test_other_frame_rates_and_containers(trained: dict[str, Path], tmp_path: Path) -> None:
    """60 fps AVI, 15 fps WebM: a clip spans the same seconds as at 30 fps."""
    base = write(tmp_path / "base.avi", "avi", "ffv1", 30, list(range(N)))
    fast = write(tmp_path / "fast.avi", "avi", "ffv1", 60, [j // 2 for j in range(2 * N)])
    slow = write(tmp_path / "slow.webm", "webm", "libvpx", 15, list(range(0, N, 2)))  # VP8
    info = probe_video(fast)
    assert (info.num_frames, round(info.fps)) == (2 * N, 60)
    # The resampled 60 fps video shows the 30 fps content frame by frame.
    src = predict.resample_frames(info.num_frames, info.fps, 29.97003)
    shown = [frame_number(f) for f in decode_frames(fast, src).take(src)]
    assert shown == list(range(N))

    out = tmp_path / "pred"
    argv = ["predict", str(base), str(fast), str(slow), "--probes", str(trained["probes"])]
    argv += ["--csv", str(out / "p.csv"), "--json", str(out / "p.json"), "--device", "cpu"]
    argv += ["--clips", str(out / "clips.csv"), "--timeline", str(out / "timeline.png")]
    assert main(argv) == 0
    table = pd.read_csv(out / "p.csv").set_index("video")
    assert (table["n_clips"] == N - 64).all()  # every start of a 90-frame video, all three
    assert table.loc[str(slow), "fps"] == pytest.approx(15.0)
    clips = pd.read_csv(out / "clips.csv")
    cols = [c for c in clips.columns if c.startswith("p_")]
    at = {v: clips[clips["video"] == str(v)][cols].to_numpy() for v in (base, fast)}
    np.testing.assert_allclose(at[fast], at[base], atol=1e-6)  # same frames, same posteriors
    assert clips["start_s"].max() == pytest.approx((N - 65) / 29.97003)
    record = json.loads((out / "p.json").read_text())["videos"][2]
    assert record["pbv"] in LABELS + ["calm", "fearful", "disgust", "surprised"]
    assert sum(record["probabilities"].values()) == pytest.approx(1.0)
    assert sum(record["votes"].values()) == record["n_clips"] == len(record["clips"])
    row = table.loc[str(base)]
    probs = row[[c for c in table.columns if c.startswith("prob_")]].astype(float)
    assert row["pbv"] == probs.idxmax()[5:]
    assert (out / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_short_video_gives_one_clip(trained: dict[str, Path], tmp_path: Path) -> None:
    short = write(tmp_path / "short.avi", "avi", "ffv1", 30, list(range(20)))
    probes = predict.load_probes(predict.find_probe_folders(trained["probes"]), "cpu")
    args = predict.argparse.Namespace(encoder=None, checkpoint=None, probes=trained["probes"])
    encoder = predict.build_spec_encoder(probes.spec, args)
    clips, facts = predict.clip_posteriors(short, encoder, probes, device="cpu")
    assert len(clips) == 1 and facts["resampled_frames"] == 20
    assert clips.loc[0, "end_s"] == pytest.approx(20 / 29.97003)


def test_refuses_other_encoder_or_checkpoint(trained: dict[str, Path], tmp_path: Path) -> None:
    video = str(trained["data"] / "Actor_01/v0.mp4")
    base = ["predict", video, "--probes", str(trained["probes"]), "--device", "cpu"]
    with pytest.raises(ValueError, match="trained on encoder 'tiny', not 'vit_large'"):
        predict.run(predict_args([*base, "--encoder", "vit_large"]))
    ckpt = tmp_path / "other.pth.tar"
    ckpt.write_bytes(b"weights")
    with pytest.raises(ValueError, match="random weights"):
        predict.run(predict_args([*base, "--checkpoint", str(ckpt)]))
    assert main([*base, "--encoder", "vit_large"]) == 1  # a clear one-line error, no traceback
    # Probes that disagree, and probes saved without an input block.
    copy = tmp_path / "probes"
    shutil.copytree(trained["probes"], copy)
    info_path = copy / "fold2" / "main" / "probe.json"
    info = json.loads(info_path.read_text())
    info["input"]["fps"] = 25.0
    info_path.write_text(json.dumps(info))
    with pytest.raises(ValueError, match=r"differs .* \['fps'\]"):
        predict.shared_spec(predict.find_probe_folders(copy))
    del info["input"]
    info_path.write_text(json.dumps(info))
    with pytest.raises(ValueError, match="no 'input' block"):
        predict.shared_spec(predict.find_probe_folders(copy))
    with pytest.raises(FileNotFoundError, match="no fold"):
        predict.find_probe_folders(tmp_path)


def test_checkpoint_digest_is_checked(tmp_path: Path) -> None:
    from vjepa_fer.probe import inputs

    ckpt = tmp_path / "w.pth.tar"
    ckpt.write_bytes(b"abc")
    spec = {"encoder": "vit_huge", "checkpoint": str(ckpt)}
    spec["checkpoint_sha256"] = inputs.checkpoint_sha256(ckpt)
    inputs.check_encoder(spec, "vit_huge", str(ckpt), "here")  # same file: accepted
    ckpt.write_bytes(b"abd")
    with pytest.raises(ValueError, match="has sha256 .* but the probes were trained"):
        inputs.check_encoder(spec, "vit_huge", str(ckpt), "here")
    hf_dir = tmp_path / "hf"
    hf_dir.mkdir()
    (hf_dir / "config.json").write_text("{}")
    first = inputs.checkpoint_sha256(hf_dir)
    (hf_dir / "model.safetensors").write_bytes(b"x")
    assert inputs.checkpoint_sha256(hf_dir) != first


def predict_args(argv: list[str]) -> predict.argparse.Namespace:
    parser = predict.argparse.ArgumentParser()
    predict.add_arguments(parser)
    return parser.parse_args(argv[1:])


def test_hf_videomae_at_its_own_geometry(data: list[str], tmp_path: Path) -> None:
    """A tiny VideoMAE saved with save_pretrained: trained on and predicted with 8 frames at
    step 8 and 32 px (its own geometry), identified by the directory's sha256."""
    pytest.importorskip("transformers")
    from vjepa_fer.models import hf

    cfg = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}
    cfg |= {"intermediate_size": 64, "patch_size": 16, "tubelet_size": 2}
    model = tmp_path / "videomae"
    hf.build_hf_encoder("videomae", img_size=32, num_frames=8, config=cfg).model.save_pretrained(
        model
    )
    encoder = [
        "--encoder",
        "videomae_hf",
        "--checkpoint",
        str(model),
        "--img-size",
        "32",
        "--workers",
        "0",
    ]
    encoder += ["--num-frames", "8", "--frame-step", "8", "--dtype", "fp32", "--device", "cpu"]
    probes = train_probes(data, tmp_path / "probes", encoder)
    spec = json.loads((probes / "fold1" / "main" / "probe.json").read_text())["input"]
    assert (spec["encoder"], spec["num_frames"], spec["frame_step"]) == ("videomae_hf", 8, 8)
    assert spec["checkpoint_sha256"] and spec["encoder_seed"] is None
    video = Path(data[data.index("--root") + 1]) / "Actor_02/v0.mp4"
    out = tmp_path / "p.csv"
    argv = ["predict", str(video), "--probes", str(probes), "--csv", str(out), "--stride", "8"]
    assert main([*argv, "--device", "cpu"]) == 0
    assert pd.read_csv(out).loc[0, "n_clips"] == len(range(0, 90 - 64, 8))
    (model / "config.json").write_text((model / "config.json").read_text() + " ")
    with pytest.raises(ValueError, match="has sha256"):
        predict.run(predict_args(argv))
