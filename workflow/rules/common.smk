# Shared definitions: dataset roots, wildcard constraints and input functions. No rules here.
import json
import re
import sys

# The driver reads dataset modules and the schema helpers from this checkout's package, like the
# rules do (an installed vjepa-fer of another version must not answer for it).
sys.path.insert(0, f"{workflow.basedir}/src")
from vjepa_fer.config import encoder_entries, load_schema, validate_config
from vjepa_fer.datasets import PAPER_DATASETS, resolve
from vjepa_fer.report.names import encoder_label

# Snakemake fills defaults only for the dataset names the schema lists; a custom dataset's entry
# gets them here, from the same schema.
_SCHEMA = load_schema()
for _name, _cfg in config["datasets"].items():
    config["datasets"][_name] = validate_config(
        _cfg,
        {**_SCHEMA["$defs"]["dataset"], "$defs": _SCHEMA["$defs"]},
        f"datasets.{_name}",
    )
DATASETS = list(config["datasets"])
# Every output of this config lies under results/<run_name>/ (docs/outputs.md, "one clone, many
# configs"): two configs run in one clone never plan, rewrite or delete each other's files. Only
# the verified downloads under resources/ are shared. This is the one place that names the prefix.
RUN_DIR = f"results/{config['run_name']}"


def run_out(path):
    """``path`` (a pattern relative to this run's folder) under results/<run_name>/."""
    return f"{RUN_DIR}/{path}"


# Each dataset's module (vjepa_fer.datasets): classes, folds, index and synth options.
MODULES = {name: resolve(name, cfg) for name, cfg in config["datasets"].items()}
for _name, _cfg in config["datasets"].items():
    if _cfg["source"] == "download" and not MODULES[_name].downloadable:
        raise ValueError(
            f"datasets.{_name}: {MODULES[_name].display_name} cannot be downloaded (licence: "
            f"{MODULES[_name].licence}); set source: local and root: <your copy>"
        )
# The run's encoders by id: the `encoders` list, else the `encoder` block (id: its own, else its
# registry name). Everything that depends on the encoder lies under <run>/{encoder}/, the
# datasets' own stages (synth, index, fold summary, lengths) under <run>/{dataset}/.
ENCODERS = encoder_entries(config, _SCHEMA)
FEATURES = config["features"]
# A GPU job asks for one card, so two encoder jobs never share one (profiles map `gpu`).
GPU_JOBS = 0 if FEATURES["device"] == "cpu" else 1
# train_probes and infer run compute.devices_per_job ranks, one device each (docs/compute.md).
DEVICES_PER_JOB = config["compute"]["devices_per_job"]
GPU_RANKS = GPU_JOBS * DEVICES_PER_JOB


wildcard_constraints:
    dataset="|".join(re.escape(d) for d in DATASETS),
    kind="eval|train",
    shard=r"\d+",
    group=r"all|fold\d+",
    encoder="|".join(re.escape(e) for e in ENCODERS),


def dataset_cfg(dataset):
    return config["datasets"][dataset]


def dataset_root(dataset):
    """Where a dataset's videos are: the user's copy, the download folder or the synthetic set."""
    cfg = dataset_cfg(dataset)
    if cfg["source"] == "local":
        return cfg["root"]
    if cfg["source"] == "download":
        return f"resources/datasets/{dataset}"
    return run_out(f"synth/{dataset}")


def dataset_ready(wildcards):
    """The file that proves a dataset is complete: a download or synthesis marker, else nothing."""
    source = dataset_cfg(wildcards.dataset)["source"]
    root = dataset_root(wildcards.dataset)
    if source == "download":
        return [f"{root}/.vjepa-fer-download.json"]
    if source == "synth":
        return [f"{root}/synth.json"]
    return []


def index_declared_inputs(wildcards):
    """Files the index reads besides the dataset itself: a custom dataset's manifest CSV and a
    configured fold table, so an edit of either re-runs `index` (the class list and other
    settings reach it as params, which Snakemake's default rerun triggers also watch).
    """
    cfg = dataset_cfg(wildcards.dataset)
    return [cfg[key] for key in ("manifest", "folds") if cfg.get(key)]


def index_options(wildcards):
    """Config-driven flags of `vjepa-fer index` (quoted with :q where used): the options every
    dataset has here, its own (RAVDESS's --modalities, a variant, ...) from its module.
    """
    cfg = dataset_cfg(wildcards.dataset)
    opts = []
    if cfg["expect_full"]:
        opts.append("--expect-full")
    if cfg["exclude"]:
        opts += ["--exclude", *cfg["exclude"]]
    if cfg["folds"]:
        opts += ["--folds", cfg["folds"]]
    if cfg["type"]:  # a configured dataset (type: custom): its whole entry
        opts += [
            "--custom",
            json.dumps(cfg, sort_keys=True),
            "--seed",
            str(config["seed"]),
        ]
    return opts + MODULES[wildcards.dataset].index_options(
        cfg, dataset_root(wildcards.dataset)
    )


def all_outputs():
    """Targets of the `all` rule: the datasets' stages, every encoder's tables, figures and
    forward counts, the comparison of the encoders (two or more) and the run information.
    """
    targets = expand(
        [
            run_out("{dataset}/manifest.csv"),
            run_out("{dataset}/fold_summary.csv"),
            run_out("{dataset}/fold_summary.md"),
            run_out("{dataset}/lengths.csv"),
        ],
        dataset=DATASETS,
    )
    targets += expand(
        run_out("{encoder}/features/{dataset}/{kind}/index.csv"),
        encoder=ENCODERS,
        dataset=DATASETS,
        kind=FEATURES["store"],
    )
    targets += expand(
        [
            run_out("{encoder}/metrics/table2.csv"),
            run_out("{encoder}/metrics/table4.csv"),
            run_out("{encoder}/compute/forwards.csv"),
            run_out("{encoder}/tables"),
            run_out("{encoder}/figures"),
        ],
        encoder=ENCODERS,
    )
    targets += COMPARISON
    return targets + [run_out("report/outputs.csv")]


def synth_options(dataset):
    """Flags of `vjepa-fer synth` from the dataset's `synth` block (lists comma-separated)."""
    # <run>/synth/ belongs to the workflow: videos of other parameters are replaced.
    return [*MODULES[dataset].synth_options(dataset_cfg(dataset)), "--replace"]


PROBE = config["probe"]
# The comparison of the encoders (vjepa-fer compare-encoders), with two or more.
COMPARISON = (
    expand(
        run_out("compare/{name}"),
        name=["encoders.csv", "encoders.md", "encoder_tests.csv", "encoder_tests.md"],
    )
    if len(ENCODERS) > 1
    else []
)


def paper_setting(encoder):
    """The paper's own setting: both datasets, ViT-H/16 at 384 px, online probes. Only then do
    the tables print the paper's numbers and the differences."""
    enc = ENCODERS[encoder]
    return (
        set(DATASETS) == set(PAPER_DATASETS)
        and enc["name"] == "vit_huge"
        and enc["img_size"] == 384
        and PROBE["mode"] == "online"
    )


def run_label(encoder):
    """The name tables print for an encoder's run: run_name, plus the id when several run."""
    return config["run_name"] + (f"-{encoder}" if len(ENCODERS) > 1 else "")


def groups(dataset):
    """Training jobs of a dataset: one for all folds, or one per test fold (a fixed split: 1)."""
    folds = MODULES[dataset].test_folds
    return ["all"] if PROBE["group"] == "dataset" else [f"fold{k}" for k in folds]


def frame_step(dataset, encoder):
    """The dataset's frame step: its config, else its baselines' (module), else the encoder's."""
    step = dataset_cfg(dataset)["frame_step"] or MODULES[dataset].frame_step
    return step or ENCODERS[encoder]["frame_step"]


# Checkpoint files downloaded from their entry's URL (entries sharing a file share its URL,
# checked at start-up): path -> entry. A Hugging Face directory (no URL) is a plain input.
DOWNLOADS = {
    e["checkpoint"]: e for e in ENCODERS.values() if e["checkpoint"] and e["url"]
}


def checkpoint_input(encoder):
    """An encoder's checkpoint file or HF directory as an input (downloaded first when its
    entry has a URL)."""
    ckpt = ENCODERS[encoder]["checkpoint"]
    return [ckpt] if ckpt else []


def extract_inputs(wildcards):
    """Manifest and frame counts, plus the checkpoint when the encoder has one."""
    return {
        "manifest": run_out(f"{wildcards.dataset}/manifest.csv"),
        "lengths": run_out(f"{wildcards.dataset}/lengths.csv"),
        "checkpoint": checkpoint_input(wildcards.encoder),
    }


def encoder_options(wildcards):
    """Encoder and clip-stream flags shared by extract, train and infer."""
    f, enc = FEATURES, ENCODERS[wildcards.encoder]
    opts = [
        "--encoder",
        enc["name"],
        "--checkpoint-key",
        enc["checkpoint_key"],
        "--img-size",
        str(enc["img_size"]),
        "--num-frames",
        str(enc["num_frames"]),
        "--frame-step",
        str(frame_step(wildcards.dataset, wildcards.encoder)),
        "--batch-size",
        str(f["batch_size"]),
        "--workers",
        str(f["workers"]),
        "--device",
        f["device"],
        "--dtype",
        f["dtype"],
        "--seed",
        str(config["seed"]),
        # Clip rules where the authors' code and the paper's text differ (config comments).
        "--short-clip",
        f["eval_short_clip"],
        "--long-window",
        config["probe"]["long_window"],
        "--augment-backend",
        f["augment_backend"],
    ]
    if enc["checkpoint"]:
        opts += ["--checkpoint", enc["checkpoint"]]
    if enc["random_weights"]:
        opts.append("--random-weights")
    if f["compile"]:
        opts.append("--compile")
    return opts


def extract_options(wildcards):
    """Flags of `vjepa-fer extract` beyond the encoder's."""
    f = FEATURES
    opts = [
        "--stride",
        str(f["eval_stride"]),
        "--views",
        str(f["eval_views"]),
        "--copies",
        str(f["train_copies"]),
        "--num-shards",
        str(f["shards"]),
        "--pool",
        f["pool"],
    ]
    if f["int8"]:
        opts.append("--int8")
    return opts + encoder_options(wildcards)


def group_folds(dataset, group):
    if group == "all":
        return [str(k) for k in MODULES[dataset].test_folds]
    return [group.removeprefix("fold")]


def train_inputs(wildcards):
    """Manifest, frame counts and checkpoint; in cached mode the stored training pool instead."""
    inputs = {
        "manifest": run_out(f"{wildcards.dataset}/manifest.csv"),
        "lengths": run_out(f"{wildcards.dataset}/lengths.csv"),
    }
    if PROBE["mode"] == "cached":
        inputs["store"] = f"{features_dir(wildcards)}/train/index.csv"
    else:
        inputs["checkpoint"] = checkpoint_input(wildcards.encoder)
    return inputs


def features_dir(wildcards):
    """An encoder's feature store of a dataset (one folder per kind: train, eval)."""
    return run_out(f"{wildcards.encoder}/features/{wildcards.dataset}")


def train_options(wildcards):
    """Flags of `vjepa-fer train` from the probe block."""
    p = PROBE
    opts = [
        "--mode",
        p["mode"],
        "--epochs",
        str(p["epochs"]),
        "--batch-videos",
        str(p["batch_videos"]),
        "--lr",
        str(p["lr"]),
        "--final-lr",
        str(p["final_lr"]),
        "--weight-decay",
        str(p["weight_decay"]),
        "--final-weight-decay",
        str(p["final_weight_decay"]),
        "--grad-clip",
        str(p["grad_clip"]),
        "--clips",
        str(p["clips"]),
        "--unit",
        p["unit"],
        "--lr-schedule",
        p["lr_schedule"],
        "--head-classes",
        "8" if p["head_classes"] == "8" else "0",
    ]
    opts += ["--drop-last" if p["drop_last"] else "--no-drop-last"]
    opts += ["--reshuffle" if p["reshuffle"] else "--no-reshuffle"]
    opts += ["--random-clips" if p["random_clips"] else "--no-random-clips"]
    opts += ["--augment" if p["augment"] else "--no-augment"]
    for extra in p["extra"]:
        values = ",".join(f"{k}={v}" for k, v in extra.items() if k != "name")
        opts += ["--extra", f"{extra['name']}:{values}"]
    if p["mode"] == "cached":
        store = f"{features_dir(wildcards)}/train"
        opts += ["--store", store, "--store-index", f"{store}/index.csv"]
        opts += ["--copies", str(FEATURES["train_copies"])]
    return opts


def all_train_markers(encoder):
    """Every training job of an encoder (all datasets, all groups)."""
    return [
        run_out(f"{encoder}/probes/{d}/train-{g}.json")
        for d in DATASETS
        for g in groups(d)
    ]


def figure_inputs(wildcards):
    """What `vjepa-fer figures` reads besides the metrics: manifests, probe curves (via the
    training markers) and the inference job that keeps the PCA tokens."""
    ev = config["evaluation"]
    files = expand(run_out("{dataset}/manifest.csv"), dataset=DATASETS)
    files += all_train_markers(wildcards.encoder)
    if ev["pca_fold"] and ev["pca_dataset"] in DATASETS:
        files.append(
            run_out(f"{wildcards.encoder}/posteriors/{ev['pca_dataset']}/done.json")
        )
    return files


def pca_fold(dataset):
    ev = config["evaluation"]
    return ev["pca_fold"] if dataset == ev["pca_dataset"] else 0


def forwards_options(wildcards):
    """Every setting that changes the clip-forward count or its FLOPs (`vjepa-fer forwards`);
    the encoder's dimensions come from the registry by name."""
    enc = ENCODERS[wildcards.encoder]
    return [
        "--encoder",
        enc["name"],
        "--img-size",
        str(enc["img_size"]),
        "--frames-per-clip",
        str(enc["num_frames"]),
        "--frame-step",
        str(enc["frame_step"]),
        "--clips",
        str(PROBE["clips"]),
        "--epochs",
        str(PROBE["epochs"]),
        "--copies",
        str(FEATURES["train_copies"]),
        "--stride",
        str(FEATURES["eval_stride"]),
        "--eval-views",
        str(FEATURES["eval_views"]),
        "--extra-probes",
        str(len(PROBE["extra"])),
    ]


def measured_forwards(wildcards):
    """Every job's clip-forward count of an encoder: training, inference and stored features."""
    files = all_train_markers(wildcards.encoder)
    files += expand(
        run_out("{encoder}/posteriors/{dataset}/done.json"),
        encoder=wildcards.encoder,
        dataset=DATASETS,
    )
    files += expand(
        run_out("{encoder}/features/{dataset}/{kind}/forwards.json"),
        encoder=wildcards.encoder,
        dataset=DATASETS,
        kind=FEATURES["store"],
    )
    return files


def download_options(wildcards):
    """Flags of `vjepa-fer download` for one dataset (each option once per value)."""
    d, cfg = config["download"], dataset_cfg(wildcards.dataset)
    # --jobs is CREMA-D's own option; the parser holds every dataset's, and the command line
    # stays as it was, so a finished download is not re-run for a changed parameter.
    opts = ["--jobs", str(d["jobs"]), "--retries", str(d["retries"])]
    opts += ["--timeout", str(d["timeout"]), "--min-speed", str(d["min_speed"])]
    opts += ["--deadline", str(d["deadline"])]
    opts += MODULES[wildcards.dataset].download_options(d, cfg)
    if cfg["actors"]:
        opts += ["--actors", *map(str, cfg["actors"])]
    if cfg["checksums"]:
        opts += ["--checksums", cfg["checksums"]]
    return opts
