"""``vjepa-fer predict`` end to end: probes trained by the tiny pipeline applied to new videos."""

from __future__ import annotations

import fractions
import json
import re
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


def test_mv_ties_follow_the_evaluation_rule() -> None:
    """CREMA-D: one clip votes angry, one sad; the authors' label map puts SAD first, so MV says
    sad, as `vjepa-fer evaluate` with evaluation.mv_tie: authors (before: angry)."""
    from vjepa_fer.evaluate.voting import vote

    outputs = ["angry", "disgust", "fearful", "happy", "neutral", "sad"]
    clips = pd.DataFrame([[0.9, 0.02, 0.02, 0.02, 0.02, 0.02], [0.3, 0.0, 0.0, 0.0, 0.0, 0.7]])
    clips.columns = [f"p_{c}" for c in outputs]
    got = predict.decide(clips, outputs, "authors", "crema-d")
    assert got["mv"] == "sad" and got["mv_tied"] and got["pbv"] == "angry"
    table = clips.assign(video="v", label="sad", clip=[0, 1])
    from vjepa_fer.evaluate.voting import authors_tie_order

    evaluated = vote(
        table, outputs, mv_tie="authors", tie_order=authors_tie_order("crema-d", outputs)
    )
    assert evaluated["mv"].tolist() == [got["mv"]]
    assert predict.decide(clips, outputs, "lowest", "crema-d")["mv"] == "angry"
    parser = predict.argparse.ArgumentParser()
    predict.add_arguments(parser)
    assert parser.parse_args(["v.mp4", "--probes", "p"]).mv_tie == "authors"


def test_folders_errors_short_videos_and_one_line_each(
    trained: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture, caplog
) -> None:
    """A frame folder is predicted like the video it was cut from; a missing and a corrupt
    video get status error while the rest are predicted; a video shorter than one clip is
    flagged; the encoder's random weights are stated; one line per video, '1 clip'."""
    from PIL import Image

    video = trained["data"] / "Actor_03/v1.mp4"
    folder = tmp_path / "frames"
    folder.mkdir()
    for k, frame in enumerate(decode_frames(video).frames, start=1):
        Image.fromarray(frame).save(folder / f"{k:05d}.png")
    short = write(tmp_path / "short.avi", "avi", "ffv1", 30, list(range(20)))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    missing = tmp_path / "missing.mp4"
    out = tmp_path / "p.csv"
    argv = ["predict", str(video), str(folder), str(missing), str(broken), str(short)]
    argv += ["--probes", str(trained["probes"]), "--csv", str(out), "--device", "cpu"]
    argv += ["--clips", str(tmp_path / "clips.csv"), "--stride", "4"]
    caplog.set_level("INFO")
    assert main(argv) == 1  # some videos failed; the table is written all the same
    table = pd.read_csv(out, keep_default_na=False).set_index("video")
    assert table["status"].tolist() == ["ok", "ok", "error", "error", "ok"]
    assert "no such video file or frame folder" in table.loc[str(missing), "error"]
    assert table.loc[str(broken), "error"]
    cols = [c for c in table.columns if c.startswith("prob_")]
    np.testing.assert_allclose(
        table.loc[str(folder), cols].astype(float), table.loc[str(video), cols].astype(float),
        atol=1e-5,
    )  # fmt: skip
    assert "shorter than one clip" in table.loc[str(short), "warning"]
    assert (
        table.loc[str(video), "warning"] == ""
        or "low confidence" in table.loc[str(video), "warning"]
    )
    assert (
        table["encoder"].eq("tiny").all() and table["random_weights"].astype(str).eq("True").all()
    )
    captured = capsys.readouterr()
    printed = captured.out.splitlines()
    assert len(printed) == 5 and sum(str(short) in line for line in printed) == 1
    assert any("(1 clip)" in line and "shorter than one clip" in line for line in printed)
    assert not any(re.search(r"\(1 clips", line) for line in printed)
    assert "RANDOM weights" in captured.err + caplog.text


def test_low_confidence_is_flagged() -> None:
    facts = {"resampled_frames": 90, "seconds": 3.0, "clip_seconds": 2.13}
    flat = {"confidence": 1 - predict.normalised_entropy(np.full(6, 1 / 6))}
    sure = {"confidence": 1 - predict.normalised_entropy(np.array([0.95] + [0.01] * 5))}
    assert any("low confidence" in w for w in predict.video_warnings(flat, facts, 64))
    assert predict.video_warnings(sure, facts, 64) == []


def test_timeline_marks_decisions_and_is_legible_at_1600_px(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from PIL import Image

    outputs = ["neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised", "calm"]
    rng = np.random.default_rng(0)
    rows = []
    for v in ("a_rather_long_video_name_from_a_phone.mp4", "b.mp4"):
        p = rng.dirichlet(np.ones(len(outputs)), size=20)
        for k in range(20):
            rows.append({"video": v, "start_s": k / 10, "end_s": k / 10 + 2.13})
            rows[-1].update({f"p_{c}": p[k, j] for j, c in enumerate(outputs)})
    clips = pd.DataFrame(rows)
    decisions = {
        v: predict.decide(clips[clips["video"] == v], outputs) for v in clips["video"].unique()
    }
    title = (
        "5 fold probes of results/demo/tiny/probes/ravdess, averaged; encoder tiny with RANDOM "
        "weights (seed 0), as in the offline demo: these predictions test the pipeline and say "
        "nothing about expressions"
    )  # the demo's own title, longer than one line
    fig = predict.timeline_figure(clips, outputs, title, decisions)
    width, height = fig.get_size_inches() * fig.dpi
    assert round(width) == 1600
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [t for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text()]
    for t in texts:
        assert t.get_fontsize() * fig.dpi / 72 >= 16, (t.get_text(), t.get_fontsize())
        box = t.get_window_extent(renderer)
        assert box.x0 >= 0 and box.y0 >= 0, t.get_text()
        assert box.x1 <= width + 0.5 and box.y1 <= height + 0.5, t.get_text()
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    for v, d in decisions.items():
        assert any(f"PBV {d['pbv']}" in t and f"MV {d['mv']}" in t and v in t for t in titles)
    import matplotlib.pyplot as plt

    plt.close(fig)
    path = tmp_path / "t.png"
    predict.plot_timeline(clips, outputs, path, "title", decisions)
    assert Image.open(path).size[0] == 1600


def test_variable_frame_rate_is_resampled_by_timestamps(
    trained: dict[str, Path], tmp_path: Path
) -> None:
    """60 frames: 30 at 50 fps, then 30 at 16.7 fps (a phone's VFR). The average rate (25 fps
    over 2.4 s; the container says 30) would misplace them; timestamps put each resampled frame
    on the source frame on screen at that time."""
    import av

    path = tmp_path / "vfr.mkv"
    stamps = [20 * i if i < 30 else 600 + 60 * (i - 30) for i in range(60)]  # ms
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = stream.codec_context.time_base = fractions.Fraction(1, 1000)
        for i, ms in enumerate(stamps):
            frame = av.VideoFrame.from_ndarray(frame_image(i), format="rgb24")
            frame.pts, frame.time_base = ms, fractions.Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    times = predict.frame_times(path, 60)
    assert times is not None and predict.is_variable_rate(times)
    fps = 29.97003
    src = predict.resample_by_time(times, fps)
    want = [
        max(k for k, ms in enumerate(stamps) if ms / 1000 <= i / fps + 1e-9)
        for i in range(len(src))
    ]
    assert src.tolist() == want and len(src) == int((2.34 + 0.06) * fps)
    assert not predict.is_variable_rate(np.arange(90) / 29.97)  # constant rate: unchanged path
    probes = predict.load_probes(predict.find_probe_folders(trained["probes"]), "cpu")
    args = predict.argparse.Namespace(encoder=None, checkpoint=None, probes=trained["probes"])
    encoder = predict.build_spec_encoder(probes.spec, args)
    clips, facts = predict.clip_posteriors(path, encoder, probes, stride=8, device="cpu")
    assert facts["variable_rate"] and facts["resampled_frames"] == len(src)
    assert clips["start"].tolist() == list(range(0, len(src) - 64, 8))


def test_a_wrong_probe_folder_names_the_layout(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"results/<encoder>/probes/<dataset>"):
        predict.find_probe_folders(tmp_path)
