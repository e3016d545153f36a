"""The SLURM and GPU-workstation profiles (profiles/slurm, profiles/local): their keys, their dry
runs on the paper and demo configs, `--profile slurm` from ~/.config/snakemake, and that the local
profile never runs two GPU jobs at once. Nothing here needs SLURM (see test_slurm.py for that).

Run: .venv/bin/pytest tests/workflow/test_profiles.py
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, run_snakemake

BIN = Path(sys.executable).parent
PROFILES = {
    name: REPO / "profiles" / name / "config.yaml"
    for name in ("slurm", "local", "default", "gpu-box")
}
# A dry run prints, per job, "rule NAME:" ... "resources: k=v, k=v".
JOB_RE = re.compile(r"^rule (\w+):\n(?:    .*\n)*?    resources: (.*)$", re.MULTILINE)


def snakemake(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return run_snakemake(*args, cwd=cwd, env=env, timeout=300)


def job_resources(dry_run_output: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, resources) of every job a dry run lists."""
    jobs = []
    for rule, res in JOB_RE.findall(dry_run_output):
        jobs.append((rule, dict(kv.split("=", 1) for kv in res.split(", "))))
    return jobs


def dry_run(profile: str, config: str, tmp_path: Path) -> list[tuple[str, dict[str, str]]]:
    res = snakemake(
        "--profile",
        profile,
        "-n",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(tmp_path),
        "--configfile",
        str(REPO / config),  # an absolute config stays as it is
        cwd=REPO,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    jobs = job_resources(res.stdout)
    assert jobs, res.stdout[-3000:]
    return jobs


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_key_is_commented(name):
    lines = PROFILES[name].read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^\s*[\w-]+:", line):
            above = lines[i - 1].strip() if i else ""
            assert above.startswith("#") or " # " in line, f"{name}: key without comment: {line}"


def test_default_profile_only_shows_logs_and_reruns_incomplete_jobs_and_no_cpus_in_defaults():
    # profiles/default applies to every run of the Snakefile: it may only make failures visible
    # and killed runs resumable (docs/reliability.md), never choose executors or resources.
    default = yaml.safe_load((REPO / "profiles" / "default" / "config.yaml").read_text())
    assert default == {"show-failed-logs": True, "rerun-incomplete": True}
    cfg = yaml.safe_load(PROFILES["slurm"].read_text())
    assert cfg["executor"] == "slurm"
    # cpus_per_task in default-resources overrides every rule's threads (docs/slurm.md).
    assert "cpus_per_task" not in cfg["default-resources"]
    assert "mem_mb_per_cpu" not in cfg["default-resources"]
    # Without slurmdbd the plugin's default (sacct) makes Snakemake wait forever.
    assert cfg["slurm-status-command"] == "squeue"


def test_slurm_profile_sends_every_gpu_job_to_the_gpu_partition(tmp_path):
    jobs = dry_run("profiles/slurm", "config.yaml", tmp_path)
    gpu_rules = {rule for rule, r in jobs if r.get("gpu", "0") != "0"}
    assert gpu_rules  # the paper's config (device auto) runs the encoder on GPUs
    for rule, r in jobs:
        if rule == "all":
            continue
        assert "cpus_per_task" not in r, rule
        if rule in gpu_rules:
            assert r["gpu"] == "1" and r["slurm_partition"] == "gpu", (rule, r)
            assert int(r["mem_mb"]) >= 16000 and int(r["runtime"]) > 120, (rule, r)
        else:
            assert r["slurm_partition"] == "cpu", (rule, r)


def test_slurm_profile_shards_ask_for_gpus_unless_on_cpu(tmp_path):
    cfg = yaml.safe_load((REPO / "config.demo.yaml").read_text())
    cfg["features"]["store"] = ["eval", "train"]
    shards = cfg["features"]["shards"]
    for device, gpu in (("auto", "1"), ("cpu", "0")):
        cfg["features"]["device"] = device
        (tmp_path / f"{device}.yaml").write_text(yaml.safe_dump(cfg))
        jobs = dry_run("profiles/slurm", str(tmp_path / f"{device}.yaml"), tmp_path / device)
        extract = [r for rule, r in jobs if rule == "extract"]
        encoders = len(cfg.get("encoders") or [cfg["encoder"]])  # the demo compares two
        assert len(extract) == encoders * len(cfg["datasets"]) * 2 * shards
        for r in extract:
            assert r.get("gpu", "0") == gpu and int(r["mem_mb"]) == 32000, r


def test_profile_found_in_user_config_dir(tmp_path):
    """`--profile slurm` after the documented one-time symlink into ~/.config/snakemake."""
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "XDG_CONFIG_HOME"}
    env["HOME"] = str(home)
    args = ["--profile", "slurm", "-n", "-s", str(REPO / "Snakefile"), "-d", str(work)]
    args += ["--configfile", str(REPO / "config.demo.yaml")]
    before = snakemake(*args, cwd=work, env=env)
    assert before.returncode != 0  # not installed yet: the lookup really is in HOME

    (home / ".config" / "snakemake").mkdir(parents=True)
    (home / ".config" / "snakemake" / "slurm").symlink_to(REPO / "profiles" / "slurm")
    after = snakemake(*args, cwd=work, env=env)
    assert after.returncode == 0, after.stdout[-3000:] + after.stderr[-3000:]
    assert {r["slurm_partition"] for _, r in job_resources(after.stdout)} == {"cpu", "gpu"}


def test_local_profile_dry_run_limits_gpus(tmp_path):
    cfg = yaml.safe_load(PROFILES["local"].read_text())
    assert cfg["resources"] == {"gpu": 1}
    jobs = dry_run("profiles/local", "config.yaml", tmp_path)
    assert any(r.get("gpu") == "1" for _, r in jobs)
    assert not any("slurm_partition" in r for _, r in jobs)


GPU_SNAKEFILE = """
rule all:
    input: expand("gpu{i}.txt", i=range(3)), "cpu.txt"

rule gpu:
    output: "gpu{i}.txt"
    resources: gpu=1
    # mkdir is atomic: a second GPU job running at the same time fails here.
    shell: "mkdir card.lock && date +%s.%N > {output} && sleep 1 && date +%s.%N >> {output}"
           " && rmdir card.lock"

rule cpu:
    output: "cpu.txt"
    shell: "sleep 1 && touch {output}"
"""


def test_local_profile_never_shares_a_gpu(tmp_path):
    (tmp_path / "Snakefile").write_text(GPU_SNAKEFILE)
    # --cores 4: enough cores for every job at once, so only the gpu limit can serialise them.
    res = snakemake("--profile", str(REPO / "profiles" / "local"), "--cores", "4", cwd=tmp_path)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    spans = sorted(
        tuple(map(float, (tmp_path / f"gpu{i}.txt").read_text().split())) for i in range(3)
    )
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert end <= start, f"two GPU jobs overlapped: {spans}"
    assert not (tmp_path / "card.lock").exists()


def test_gpu_box_profile_plans_encoder_jobs_on_its_8_slots(tmp_path):
    cfg = yaml.safe_load(PROFILES["gpu-box"].read_text())
    assert cfg["resources"] == {"gpu": 8}
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config.setdefault("compute", {})["devices_per_job"] = 4
    (tmp_path / "four.yaml").write_text(yaml.safe_dump(config))
    for name, per_job in (("config.yaml", 1), (str(tmp_path / "four.yaml"), 4)):
        jobs = dry_run("profiles/gpu-box", name, tmp_path / str(per_job))
        gpu = {rule: int(r["gpu"]) for rule, r in jobs if int(r.get("gpu", 0))}
        assert {"train_probes", "infer"} <= set(gpu), gpu
        assert gpu["train_probes"] == gpu["infer"] == per_job
        assert gpu.get("extract", 1) == 1


GPU_BOX_SNAKEFILE = """
rule all:
    input: expand("job{i}.txt", i=range(6))

rule gpu:
    output: "job{i}.txt"
    resources: gpu=lambda wc: 1 + int(wc.i) % 2
    # Each job claims its own slots of the pool, like vjepa-fer extract/train/infer do.
    shell: "{PY} -m vjepa_fer.features.gpu_slots --count {resources.gpu} --"
           " sh -c 'echo $CUDA_VISIBLE_DEVICES $(date +%s.%N) > {output}; sleep 1;"
           " date +%s.%N >> {output}'"
"""


def test_gpu_box_profile_runs_jobs_on_distinct_fake_devices(tmp_path):
    (tmp_path / "Snakefile").write_text(f"PY = {sys.executable!r}\n" + GPU_BOX_SNAKEFILE)
    env = {
        **os.environ,
        "VJEPA_FER_GPU_SLOTS": "4",  # a fake box of 4 devices, 8 GPUs' worth of jobs
        "VJEPA_FER_GPU_SLOT_DIR": str(tmp_path / "slots"),
    }
    env.pop("CUDA_VISIBLE_DEVICES", None)
    res = snakemake(
        "--profile", str(REPO / "profiles" / "gpu-box"), "--cores", "6",
        "--resources", "gpu=4", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    spans = []
    for i in range(6):
        devices, start, end = (tmp_path / f"job{i}.txt").read_text().split()
        slots = {int(d) for d in devices.split(",")}
        assert len(slots) == 1 + i % 2 and slots <= {0, 1, 2, 3}
        spans.append((slots, float(start), float(end)))
    overlapped = False
    for i, (a, s1, e1) in enumerate(spans):
        for b, s2, e2 in spans[i + 1 :]:
            if s1 < e2 and s2 < e1:
                overlapped = True
                assert not a & b, f"two GPU jobs shared a device: {spans}"
    assert overlapped, "the jobs never ran side by side: nothing was tested"
