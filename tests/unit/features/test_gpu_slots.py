"""GPU slots on a box without SLURM (vjepa_fer.features.gpu_slots), with fake devices on the CPU:
concurrent jobs never get the same slot, a killed job's slots come back, and nothing is claimed
when the job's devices are already chosen."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vjepa_fer.features import gpu_slots
from vjepa_fer.features.gpu_slots import claim, claim_for_job

HOLD = (
    "import os, sys, time; from vjepa_fer.features.gpu_slots import claim_for_job;"
    "c = claim_for_job('auto', int(sys.argv[1])); t0 = time.time(); time.sleep(float(sys.argv[2]));"
    "print(os.environ['CUDA_VISIBLE_DEVICES'], t0, time.time())"
)


def fake_pool(monkeypatch, tmp_path: Path, size: int) -> dict[str, str]:
    monkeypatch.setenv(gpu_slots.POOL_ENV, str(size))
    monkeypatch.setenv(gpu_slots.DIR_ENV, str(tmp_path / "slots"))
    monkeypatch.delenv(gpu_slots.VISIBLE, raising=False)
    return dict(os.environ)


def test_concurrent_jobs_get_distinct_slots(monkeypatch, tmp_path) -> None:
    env = fake_pool(monkeypatch, tmp_path, 4)
    wants = [2, 1, 1, 2, 1, 1]  # 8 slots wanted of 4: some jobs must wait for others
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", HOLD, str(n), "0.8"], env=env, stdout=subprocess.PIPE, text=True
        )
        for n in wants
    ]
    spans = []
    for n, p in zip(wants, procs, strict=True):
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        devices, start, end = out.split()
        slots = {int(d) for d in devices.split(",")}
        assert len(slots) == n and slots <= {0, 1, 2, 3}
        spans.append((slots, float(start), float(end)))
    for i, (a, s1, e1) in enumerate(spans):
        for b, s2, e2 in spans[i + 1 :]:
            if s1 < e2 and s2 < e1:  # ran at the same time
                assert not a & b, f"two jobs shared a slot: {spans}"


def test_killed_job_releases_its_slots(monkeypatch, tmp_path) -> None:
    env = fake_pool(monkeypatch, tmp_path, 1)
    job = subprocess.Popen([sys.executable, "-c", HOLD, "1", "60"], env=env)
    folder = tmp_path / "slots"
    deadline = time.monotonic() + 60
    while not (folder / "slot0.lock").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    with pytest.raises(TimeoutError):
        claim(1, 1, folder, timeout=0.5, poll=0.1)  # held by the job
    job.kill()
    job.wait()
    held = claim(1, 1, folder, timeout=5, poll=0.1)
    assert held.slots == [0]
    held.release()


def test_nothing_claimed_when_devices_are_chosen(monkeypatch, tmp_path) -> None:
    fake_pool(monkeypatch, tmp_path, 2)
    assert claim_for_job("cpu", 1) is None
    assert claim_for_job("cuda:1", 1) is None
    monkeypatch.setenv(gpu_slots.VISIBLE, "3")  # SLURM or the user chose
    assert claim_for_job("auto", 1) is None
    monkeypatch.delenv(gpu_slots.VISIBLE)
    held = claim_for_job("cuda", 2)
    assert held is not None and os.environ[gpu_slots.VISIBLE] == "0,1"
    held.release()
    with pytest.raises(ValueError, match="3 wanted"):
        claim(3, 2, tmp_path)


def test_wrapper_runs_the_command_on_its_slots(monkeypatch, tmp_path) -> None:
    env = fake_pool(monkeypatch, tmp_path, 3)
    cmd = [sys.executable, "-m", "vjepa_fer.features.gpu_slots", "--count", "2", "--"]
    cmd += [sys.executable, "-c", "import os; print(os.environ['CUDA_VISIBLE_DEVICES'])"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "0,1"
