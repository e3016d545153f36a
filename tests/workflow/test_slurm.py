"""The demo pipeline through a real one-node SLURM (tests/workflow/slurm_cluster.py) with the
repository's profiles/slurm: same results as a local run, one GPU job per extraction shard, online
probe training, inference and evaluation as jobs of `compute.devices_per_job` GPUs whose ranks
run inside the one SLURM job, and a failing job ends Snakemake with an error instead of a hang.
Skipped, with the reason, where SLURM is not installed (.ci/install-slurm.sh) or the tests do not
run as root.

Run: .venv/bin/pytest tests/workflow/test_slurm.py   (about 5 minutes on 2 cores)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.workflow.slurm_cluster import SlurmCluster, missing_requirements, start_cluster

BIN = Path(sys.executable).parent
# Bounds for whole Snakemake runs: a status command that never answers would otherwise hang CI.
DEMO_TIMEOUT = 420
PROBE_TIMEOUT = 600
FAIL_TIMEOUT = 180
GPUS = 2
# The probe stages run on one dataset (the smallest: DFEW's frame folders, 70 clips) with this
# many ranks per train_probes/infer job: a job asks for RANKS of the node's GPUS fake GPUs.
PROBE_DATASET = "dfew"
RANKS = 2
GPU_RULES = ("rule_train_probes", "rule_infer")

pytestmark = pytest.mark.skipif(
    missing_requirements() is not None, reason=f"no local SLURM: {missing_requirements()}"
)


@pytest.fixture(scope="module")
def cluster():
    # Two fake GPUs: shard jobs run two at a time (one GPU would serialise them all).
    c = start_cluster(gpus=GPUS)
    yield c
    c.stop()


@pytest.fixture(scope="module")
def profile(cluster: SlurmCluster, tmp_path_factory) -> Path:
    """profiles/slurm with only the site-specific values changed for the local cluster."""
    cfg = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    small = {"slurm_partition": cluster.partition, "runtime": 10}
    cfg["default-resources"].update(small, mem_mb=500)
    for rule in cfg["set-resources"]:  # the GPU rules; memory is not enforced here anyway
        cfg["set-resources"][rule].update(small, mem_mb=1000)
    # Jobs take seconds here; the first status query need not wait 20 s.
    cfg["slurm-init-seconds-before-status-checks"] = 5
    out = tmp_path_factory.mktemp("profile") / "slurm"
    out.mkdir()
    (out / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return out


def run_env(cluster: SlurmCluster | None = None) -> dict[str, str]:
    # Jobs inherit this environment (sbatch --export=ALL), so they find vjepa-fer and SLURM_CONF.
    env = dict(cluster.env if cluster else os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def snakemake_cmd(*args: str) -> list[str]:
    return [str(BIN / "snakemake"), *args]


def slurm_snakemake(cluster, profile, *args, cwd, timeout) -> subprocess.CompletedProcess:
    cmd = snakemake_cmd("--profile", str(profile), "--max-threads", str(cluster.cpus), *args)
    try:
        return subprocess.run(
            cmd, cwd=cwd, env=run_env(cluster), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"")[-3000:], (e.stderr or b"")[-3000:]
        queue = cluster.run("squeue", "-l").stdout
        pytest.fail(f"snakemake did not finish within {timeout} s\n{out}\n{queue}")


FAILING_SNAKEFILE = """
rule all:
    input: "fails.txt"

rule fails:
    output: "fails.txt"
    shell: "echo about to fail && exit 1"
"""


@pytest.fixture(scope="module")
def failing_run(cluster, profile, tmp_path_factory):
    """A one-rule workflow whose job exits 1, started before the demo and left to run beside
    it: it mostly waits for status polls (and the executor's last sleep), ~45 s on its own."""
    work = tmp_path_factory.mktemp("fails")
    (work / "Snakefile").write_text(FAILING_SNAKEFILE)
    # --retries 0: one failure is enough to show the run ends (the profile would retry once).
    cmd = snakemake_cmd("--profile", str(profile), "--retries", "0")
    proc = subprocess.Popen(
        cmd, cwd=work, env=run_env(cluster), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    yield work, proc
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def demo_config(device: str) -> dict:
    """config.demo.yaml on the given device, with only the evaluation store: its 2 shards per
    dataset exercise sharding and the merge, and the training store's jobs would add a minute of
    CPU on 2 cores without adding any SLURM behaviour. RAVDESS (video files) and DFEW (frame
    folders) only: CREMA-D's jobs are RAVDESS's again, for another minute of CPU."""
    cfg = yaml.safe_load((REPO / "config.demo.yaml").read_text())
    cfg["datasets"] = {name: cfg["datasets"][name] for name in ("ravdess", PROBE_DATASET)}
    cfg["evaluation"]["pca_dataset"] = PROBE_DATASET  # must be one of the run's datasets
    cfg["features"]["device"] = device
    cfg["features"]["store"] = ["eval"]
    cfg["encoders"] = cfg["encoders"][:1]  # one encoder: a second adds CPU, no SLURM behaviour
    return cfg


def encoder_id(cfg: dict) -> str:
    """The one encoder's id: its outputs lie in results/<id>/."""
    return cfg["encoders"][0]["id"]


def feature_targets(cfg: dict) -> list[str]:
    """The data and feature stages of the demo: every output the comparison reads. The probes
    and tables after them are left out: minutes of CPU that add no SLURM behaviour."""
    out = []
    for ds in cfg["datasets"]:
        out += [f"results/demo/{ds}/{name}" for name in COMPARED]
        out += [
            f"results/demo/{encoder_id(cfg)}/features/{ds}/{kind}/index.csv"
            for kind in cfg["features"]["store"]
        ]
    return out


COMPARED = ("manifest.csv", "fold_summary.csv", "lengths.csv")


def slurm_and_local(
    cluster, profile, targets: list[str], configfile: str, slurm_dir: Path, local_dir: Path,
    timeout: int,
) -> str:  # fmt: skip
    """The same targets through SLURM (in ``slurm_dir``) and, meanwhile, locally on 2 cores (in
    ``local_dir``), each with its own ``configfile``; both must succeed. Returns SLURM's output."""
    common = ["-s", str(REPO / "Snakefile"), "--configfile", configfile]
    local = subprocess.Popen(
        snakemake_cmd(*targets, "--cores", "2", *common, "-d", str(local_dir)),
        cwd=local_dir,
        env=run_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        res = slurm_snakemake(
            cluster, profile, *targets, *common, "-d", str(slurm_dir), cwd=slurm_dir,
            timeout=timeout,
        )  # fmt: skip
        local_out, _ = local.communicate(timeout=timeout)
    finally:
        if local.poll() is None:
            local.kill()
            local.wait()
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:] + cluster.logs()
    assert local.returncode == 0, local_out[-4000:]
    return res.stdout + res.stderr


@pytest.fixture(scope="module")
def demo_runs(cluster, profile, failing_run, tmp_path_factory) -> tuple[Path, Path, str]:
    """The demo through SLURM with device auto (so extract asks for the fake GPU and still
    computes on the CPU) and, meanwhile, locally on the CPU as config.demo.yaml says.
    (failing_run only starts first so that its waiting overlaps this.)"""
    slurm_dir, local_dir = tmp_path_factory.mktemp("slurm-run"), tmp_path_factory.mktemp("local")
    for where, device in ((slurm_dir, "auto"), (local_dir, "cpu")):
        (where / "config.test.yaml").write_text(yaml.safe_dump(demo_config(device)))
    targets = feature_targets(demo_config("cpu"))
    output = slurm_and_local(
        cluster, profile, targets, "config.test.yaml", slurm_dir, local_dir, DEMO_TIMEOUT
    )
    return slurm_dir, local_dir, output


def test_demo_on_slurm_equals_local_run(demo_runs):
    import pandas as pd
    import torch

    from vjepa_fer.features.store import FeatureStore

    slurm_dir, local_dir, _ = demo_runs
    cfg = demo_config("cpu")
    for ds in cfg["datasets"]:
        for name in COMPARED:
            a, b = (pd.read_csv(d / "results/demo" / ds / name) for d in (slurm_dir, local_dir))
            # lengths.csv records each file's identity (size:mtime): the two runs made their
            # synthetic videos at different times, so only that column may differ.
            a, b = (t.drop(columns=["identity"], errors="ignore") for t in (a, b))
            pd.testing.assert_frame_equal(a, b, obj=f"{ds}/{name}")
        for kind in cfg["features"]["store"]:
            rel = Path("results/demo", encoder_id(cfg), "features", ds, kind)
            stores = [FeatureStore(d / rel, d / rel / "index.csv") for d in (slurm_dir, local_dir)]
            # The stores record each video file's identity (size:mtime), like lengths.csv.
            pd.testing.assert_frame_equal(
                *(st.index.drop(columns=["identity"], errors="ignore") for st in stores)
            )
            assert len(stores[0].index) > 0
            for (va, rows_a), (vb, rows_b) in zip(
                stores[0].videos(), stores[1].videos(), strict=True
            ):
                assert va == vb
                assert torch.equal(stores[0].tokens(rows_a), stores[1].tokens(rows_b)), va


def test_one_gpu_job_per_shard(demo_runs, cluster):
    slurm_dir, _, log = demo_runs
    cfg = demo_config("auto")
    shards = cfg["features"]["shards"]
    expected = len(cfg["datasets"]) * len(cfg["features"]["store"]) * shards
    # What the cluster received (finished jobs stay listed for MinJobAge = 300 s).
    jobs = [j for j in cluster.jobs() if Path(j.get("WorkDir", "")) == slurm_dir]
    extract = [j for j in jobs if j.get("Comment", "").startswith("rule_extract_")]
    assert len(extract) == expected, [j.get("Comment") for j in jobs]
    # The plugin's comment names the rule and the wildcard values in the order of the output
    # path: rule_extract_wildcards_E_D_K_S (encoder, dataset, kind, shard).
    found = sorted(j["Comment"].strip().removeprefix("rule_extract_wildcards_") for j in extract)
    enc = encoder_id(cfg)
    want = [f"{enc}_{d}_{k}" for d in cfg["datasets"] for k in cfg["features"]["store"]]
    assert found == sorted(f"{w}_{shard}" for w in want for shard in range(shards))
    for j in extract:
        assert j["JobState"] == "COMPLETED", j
        assert j.get("TresPerJob", "").strip() == "gres:gpu:1", j  # sbatch --gpus=1
    # SLURM never ran more GPU jobs at once than the node has GPUs.
    spans = [(j["StartTime"], j["EndTime"]) for j in extract]
    assert max(sum(s <= t < e for s, e in spans) for t, _ in spans) <= GPUS
    # Every other job of the data and feature stages asked for no GPU (the probe stages' jobs,
    # which may share the folder when the probe tests ran first, are checked below).
    others = [
        j for j in jobs if j not in extract and not j.get("Comment", "").startswith(GPU_RULES)
    ]
    assert all("gpu" not in j.get("TresPerJob", "") for j in others)
    # The profile keeps every job's SLURM log: one folder per shard of each dataset and kind.
    logs = list((slurm_dir / "results/logs/slurm/rule_extract").glob("*/*.log"))
    assert len(logs) == expected
    assert log.count("rule extract:") == expected


def test_failing_job_stops_the_run(failing_run, cluster):
    work, proc = failing_run
    try:
        out, _ = proc.communicate(timeout=FAIL_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"snakemake did not stop after a failed job\n{cluster.run('squeue').stdout}")
    assert proc.returncode != 0, out[-3000:]
    assert "Error in rule fails" in out, out[-3000:]
    assert not (work / "fails.txt").exists()
    jobs = [j for j in cluster.jobs() if Path(j.get("WorkDir", "")) == work]
    assert [j["JobState"] for j in jobs] == ["FAILED"], jobs
    # The job's own log (the profile keeps SLURM logs) holds the rule's output.
    assert "about to fail" in "".join(
        p.read_text() for p in (work / "results/logs/slurm/rule_fails").rglob("*.log")
    )


# ----------------------------------------------------------------------------- probe stages


def probe_config(device: str, ranks: int) -> dict:
    """demo_config with online probes (ranks split the encoder's work in online mode only:
    `vjepa-fer train` refuses them in cached mode, tests/unit/test_ranks.py) for one epoch on
    PROBE_DATASET alone, and `ranks` devices per train_probes and infer job."""
    cfg = demo_config(device)
    cfg["datasets"] = {PROBE_DATASET: cfg["datasets"][PROBE_DATASET]}
    cfg.setdefault("compute", {})["devices_per_job"] = ranks
    cfg["probe"].update(mode="online", epochs=1)
    cfg["evaluation"]["pca_dataset"] = PROBE_DATASET  # must be one of the run's datasets
    return cfg


def metrics_targets(cfg: dict) -> list[str]:
    """The evaluation's tables: they need every training and inference job of the config."""
    return [f"results/demo/{encoder_id(cfg)}/metrics/{n}" for n in METRICS]


METRICS = ("per_fold.csv", "table2.csv", "table4.csv")


@pytest.fixture(scope="module")
def probe_runs(cluster, profile, demo_runs) -> tuple[Path, Path, str]:
    """train_probes, infer and evaluate in the folders of demo_runs (their data stages are
    done): through SLURM with device auto and RANKS ranks per job (each job asks for RANKS fake
    GPUs and, finding no CUDA, runs its ranks on the CPU with gloo) and, meanwhile, locally on
    one CPU device."""
    slurm_dir, local_dir, _ = demo_runs
    for where, cfg in (
        (slurm_dir, probe_config("auto", RANKS)),
        (local_dir, probe_config("cpu", 1)),
    ):
        (where / "config.probe.yaml").write_text(yaml.safe_dump(cfg))
    targets = metrics_targets(probe_config("cpu", 1))
    output = slurm_and_local(
        cluster, profile, targets, "config.probe.yaml", slurm_dir, local_dir, PROBE_TIMEOUT
    )
    return slurm_dir, local_dir, output


def test_probe_jobs_ask_for_their_ranks_gpus_and_run_ranks_in_one_job(probe_runs, cluster):
    slurm_dir, _, log = probe_runs
    enc = encoder_id(probe_config("cpu", 1))
    jobs = [j for j in cluster.jobs() if Path(j.get("WorkDir", "")) == slurm_dir]
    gpu_jobs = [j for j in jobs if j.get("Comment", "").startswith(GPU_RULES)]
    # One training job (group: dataset) and one inference job, each a single SLURM job with
    # RANKS GPUs (sbatch --gpus=RANKS from the rule's `gpu` resource).
    assert sorted(j["Comment"].split("_wildcards_")[0] for j in gpu_jobs) == sorted(GPU_RULES)
    for j in gpu_jobs:
        assert j["JobState"] == "COMPLETED", j
        assert j.get("TresPerJob", "").strip() == f"gres:gpu:{RANKS}", j
        assert j.get("NumTasks", "1") == "1", j  # the ranks are processes of the one task
    evaluate = [j for j in jobs if j.get("Comment", "").startswith("rule_evaluate")]
    assert len(evaluate) == 1 and "gpu" not in evaluate[0].get("TresPerJob", ""), evaluate
    # Inside each job the stage spawned RANKS gloo ranks (their log lines carry the rank).
    logs = slurm_dir / "results/demo/logs"
    for rule_log in (
        logs / f"train_probes/{enc}/{PROBE_DATASET}-all.log",
        logs / f"infer/{enc}/{PROBE_DATASET}.log",
    ):
        text = rule_log.read_text()
        assert f"[rank 0/{RANKS}]" in text, text[-2000:]
    done = slurm_dir / f"results/demo/{enc}/posteriors/{PROBE_DATASET}/done.json"
    assert json.loads(done.read_text())["devices_per_job"] == RANKS
    for rule in ("rule_train_probes", "rule_infer"):
        assert list((slurm_dir / "results/logs/slurm" / rule).glob("*/*.log")), rule
    assert log.count("rule train_probes:") == 1 and log.count("rule infer:") == 1


def test_probes_on_slurm_with_ranks_equal_the_local_one_device_run(probe_runs):
    import pandas as pd

    slurm_dir, local_dir, _ = probe_runs
    enc = encoder_id(probe_config("cpu", 1))
    rel = Path("results/demo", enc)
    done = [json.loads((d / rel / f"posteriors/{PROBE_DATASET}/done.json").read_text())
            for d in (slurm_dir, local_dir)]  # fmt: skip
    assert [d["devices_per_job"] for d in done] == [RANKS, 1]
    names = sorted(done[1]["posteriors"])
    assert names and sorted(done[0]["posteriors"]) == names
    for name in names:
        tables = [
            pd.read_csv(
                d / rel / "posteriors" / PROBE_DATASET / Path(done_d["posteriors"][name]).name
            )
            for d, done_d in zip((slurm_dir, local_dir), done, strict=True)
        ]
        assert len(tables[0]) > 0
        # Same clips in the same order, same posteriors up to float32 rounding: each rank
        # encodes its own batches, and the CPU kernels' sums depend on the batch (measured: up
        # to 2e-6 apart, 1.4e-5 relative, after one epoch).
        pd.testing.assert_frame_equal(*tables, rtol=1e-4, atol=1e-5, obj=f"posteriors {name}")
    for name in METRICS:
        a, b = (pd.read_csv(d / rel / "metrics" / name) for d in (slurm_dir, local_dir))
        # A flipped prediction would move a score by a whole clip or video; rounding does not.
        pd.testing.assert_frame_equal(a, b, rtol=1e-4, atol=1e-5, obj=f"metrics/{name}")
