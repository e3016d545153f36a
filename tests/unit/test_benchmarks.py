"""The benchmark scripts run (at toy scale, on the CPU) and write the keys the README quotes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO


def run(script: str, *args: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_loader_throughput_writes_both_paths(tmp_path):
    out = tmp_path / "loader.json"
    small = ["--num-videos", "1", "--frames", "70", "--width", "64", "--height", "48"]
    run("loader_throughput.py", "--img-size", "32", "--json", str(out), *small)
    result = json.loads(out.read_text())
    for kind in ("train", "eval"):
        for key in (
            "reference_clips_per_s",
            "clips_per_s",
            "reference_loader_bytes_per_clip",
            "loader_bytes_per_clip",
            "device_ms_per_clip",
        ):
            assert result[kind][key] > 0, (kind, key)
    assert result["eval"]["clips"] == 6 and result["train"]["clips"] == 8
    assert result["eval"]["max_abs_diff"] == 0.0  # evaluation pixels are identical
    assert result["config"]["threads"] == 1


def test_gpu_throughput_runs_tiny_on_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    run("gpu_throughput.py", "--tiny", "--device", "cpu", "--json", str(out))
    result = json.loads(out.read_text())
    assert result["encoder"][0]["clips_per_s"] > 0 and result["encoder"][0]["mfu"] > 0
    assert {row["pass"] for row in result["stream"]} == {"eval", "train"}
    for row in result["stream"]:
        assert row["clips"] > 0 and row["limited_by"] in ("device", "loader")


def test_paper_walltime_fits_two_hours_on_eight_gpus(tmp_path):
    # The goal: config.yaml on one 8-GPU node at 47 clips/s per GPU in at most 2 h.
    out = tmp_path / "walltime.json"
    run(
        "paper_walltime.py", "--gpus", "8", "--cores", "64", "--clips-per-s", "47",
        "--table", "1", "8", "--json", str(out),
    )  # fmt: skip
    result = json.loads(out.read_text())
    assert result["after_h"] <= 2.0 and result["devices_per_job"] == 8
    assert result["today_h"] > 7.0  # one GPU per job: CREMA-D training alone is ~7 h
    assert any(name.startswith("train_probes[dataset=crema-d") for name in result["critical_path"])
    one, eight = result["table"]
    assert one["today_h"] == one["after_h"]  # one GPU: nothing to split
    assert eight["after_h"] == round(result["after_h"], 2)


def test_walltime_schedule_respects_gpus_and_dependencies():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from paper_walltime import Job, schedule
    finally:
        sys.path.pop(0)

    def job(i, seconds, gpus=0, deps=()):  # noqa: ANN001, ANN202
        return Job(i, f"r{i}", {}, 1, [], [], set(deps), seconds, gpus)

    # two 2-GPU jobs on 3 GPUs cannot overlap; the third job waits for both
    jobs = [job(1, 10, 2), job(2, 5, 2), job(3, 1, 0, deps=(1, 2))]
    total, path = schedule(jobs, gpus=3, cores=4)
    assert total == 16
    assert [j.rule for j in path] == ["r1", "r2", "r3"]
    total, _ = schedule([job(1, 10, 2), job(2, 5, 2), job(3, 1, 0, deps=(1, 2))], 4, 4)
    assert total == 11


def test_gpu_throughput_skip_stream_needs_no_video_decoder(tmp_path):
    # A bare GPU machine: torch and this package, no PyAV and no decord.
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    for name in ("av", "decord"):
        (blocked / f"{name}.py").write_text(f"raise ImportError('{name} is not installed')\n")
    out = tmp_path / "gpu.json"
    cmd = [sys.executable, str(REPO / "benchmarks" / "gpu_throughput.py"), "--tiny"]
    cmd += ["--device", "cpu", "--skip-stream", "--json", str(out)]
    env = {**os.environ, "PYTHONPATH": f"{blocked}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["stream_skipped"] and result["stream"] == []
    assert [row["img_size"] for row in result["encoder"]] == [32]
    assert result["encoder"][0]["clips_per_s"] > 0


def test_device_augment_compares_loop_and_batched_bit_exactly(tmp_path):
    out = tmp_path / "aug.json"
    small = ["--height", "48", "--width", "64", "--img-size", "32", "--clips", "3"]
    run("device_augment.py", *small, "--frames-per-clip", "4", "--repeats", "2", "--json", str(out))
    result = json.loads(out.read_text())
    assert result["max_abs_diff"] == 0.0
    for key in ("loop_ms_per_clip", "batched_ms_per_clip", "batched_grouped_ops_ms_per_clip"):
        assert result[key] > 0, key


@pytest.mark.slow  # four encoding jobs with loader workers (about 8 s)
def test_cpu_threads_runs_both_paths(tmp_path):
    out = tmp_path / "threads.json"
    small = ["--num-videos", "1", "--frames", "40", "--width", "64", "--height", "48"]
    run("cpu_threads.py", "--jobs", "2", "--workers", "2", "--rounds", "1", "--img-size", "32",
        "--json", str(out), *small)  # fmt: skip
    summary = json.loads(out.read_text())["summary"]
    # OMP_NUM_THREADS=2 per job (2 workers): the encoder gets both cores, or the one it is told
    assert summary["budget"]["encoder_threads"] == [2] and summary["one"]["encoder_threads"] == [1]
    assert summary["budget"]["clips_per_job"] == summary["one"]["clips_per_job"] > 0
    assert summary["speedup"] > 0
