"""The benchmark scripts run (at toy scale, on the CPU) and write the keys the README quotes."""

from __future__ import annotations

import json
import subprocess
import sys

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
