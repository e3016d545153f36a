"""Recovery and messages (docs/reliability.md): the recipe after `kill -9` of a running
`snakemake` works, and a failed job's reason reaches Snakemake's own stderr.

The kill test runs a demo-like workflow (one synthetic dataset, one tiny encoder) in a temporary
working directory, kills Snakemake's whole process group with SIGKILL while a job's output already
exists but the job has not finished (the state that made `snakemake --unlock` + rerun stop with
IncompleteFilesException before profiles/default set rerun-incomplete), runs the documented
recipe and checks that the run completes. It takes a few minutes: `-m "not slow"` skips it.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, run_snakemake

BIN = Path(sys.executable).parent
TARGET = "results/demo/tiny/tables"  # evaluation, tables: rules with directory outputs


def demo_like(tmp_path: Path) -> Path:
    cfg = yaml.safe_load((REPO / "config.demo.yaml").read_text())
    cfg["datasets"] = {"ravdess": cfg["datasets"]["ravdess"]}
    cfg["encoders"] = [e for e in cfg["encoders"] if e["id"] == "tiny"]
    cfg["probe"]["epochs"] = 2
    cfg["evaluation"]["pca_dataset"] = "ravdess"
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def existing_incomplete_outputs(workdir: Path) -> list[Path]:
    """Outputs Snakemake marked incomplete (a job started, not finished) that already exist."""
    marks = workdir / ".snakemake" / "incomplete"
    found = []
    if not marks.is_dir():
        return found
    for mark in marks.rglob("*"):
        if not mark.is_file():
            continue
        parts = [p.lstrip("@") for p in mark.relative_to(marks).parts]
        try:
            name = base64.urlsafe_b64decode("".join(parts)).decode()
        except ValueError:
            continue
        if name.strip("./") and (workdir / name).exists():
            found.append(workdir / name)
    return found


@pytest.mark.slow
def test_recipe_after_kill_9_completes_the_run(tmp_path):
    config = demo_like(tmp_path)
    work = tmp_path / "run"
    work.mkdir()
    cmd = [str(BIN / "snakemake"), TARGET, "--cores", "2", "-s", str(REPO / "Snakefile")]
    cmd += ["-d", str(work), "--configfile", str(config)]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    log = (tmp_path / "first.log").open("w")
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    killed_at: list[Path] = []
    deadline = time.monotonic() + 900
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            killed_at = existing_incomplete_outputs(work)
            if killed_at:
                os.killpg(proc.pid, signal.SIGKILL)  # snakemake and its running jobs at once
                break
            time.sleep(0.02)
    finally:
        if proc.poll() is None and not killed_at:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()
    assert killed_at, (
        "the run ended before a job with an existing output could be killed:\n"
        + (tmp_path / "first.log").read_text()[-3000:]
    )
    (tmp_path / "killed_at.txt").write_text("\n".join(map(str, killed_at)))
    # The documented recipe: release the lock, run the same command again.
    unlock = subprocess.run([*cmd, "--unlock"], capture_output=True, text=True, env=env)
    assert unlock.returncode == 0, unlock.stderr[-2000:]
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    out = again.stdout + again.stderr
    assert again.returncode == 0, out[-4000:]
    assert "IncompleteFilesException" not in out
    assert (work / TARGET).is_dir() and any((work / TARGET).iterdir())
    done = subprocess.run([*cmd, "-n"], capture_output=True, text=True, env=env)
    assert "Nothing to be done" in done.stdout + done.stderr


def test_a_failed_jobs_reason_reaches_snakemakes_stderr(tmp_path):
    """A missing dataset root: the one-line error of `vjepa-fer index` is in Snakemake's own
    stderr (profiles/default: show-failed-logs), not only in results/run/logs/index/ravdess.log."""
    (tmp_path / "c.yaml").write_text(
        yaml.safe_dump({"datasets": {"ravdess": {"source": "local", "root": "/no/such/root"}}})
    )
    res = run_snakemake(
        "results/run/ravdess/manifest.csv", "--cores", "1", "-s", str(REPO / "Snakefile"),
        "-d", str(tmp_path), "--configfile", str(tmp_path / "c.yaml"),
    )  # fmt: skip
    assert res.returncode != 0
    assert "/no/such/root: dataset root of ravdess does not exist" in res.stderr
