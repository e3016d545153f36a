# Shared definitions: dataset roots, wildcard constraints and input functions. No rules here.
import re

DATASETS = list(config["datasets"])
ENCODER = config["encoder"]
FEATURES = config["features"]
# A GPU job asks for one card, so two encoder jobs never share one (profiles map `gpu`).
GPU_JOBS = 0 if FEATURES["device"] == "cpu" else 1


wildcard_constraints:
    dataset="|".join(re.escape(d) for d in DATASETS),
    kind="eval|train",
    shard=r"\d+",


def dataset_cfg(dataset):
    return config["datasets"][dataset]


def dataset_root(dataset):
    """Where a dataset's videos are: the user's copy, the download folder or the synthetic set."""
    cfg = dataset_cfg(dataset)
    if cfg["source"] == "local":
        return cfg["root"]
    if cfg["source"] == "download":
        return f"resources/datasets/{dataset}"
    return f"results/synth/{dataset}"


def dataset_ready(wildcards):
    """The file that proves a dataset is complete: a download or synthesis marker, else nothing."""
    source = dataset_cfg(wildcards.dataset)["source"]
    root = dataset_root(wildcards.dataset)
    if source == "download":
        return [f"{root}/.vjepa-fer-download.json"]
    if source == "synth":
        return [f"{root}/synth.json"]
    return []


def index_options(wildcards):
    """Config-driven flags of `vjepa-fer index` (quoted with :q where used)."""
    cfg = dataset_cfg(wildcards.dataset)
    opts = ["--modalities", *map(str, cfg["modalities"])]
    if cfg["expect_full"]:
        opts.append("--expect-full")
    if cfg["exclude"]:
        opts += ["--exclude", *cfg["exclude"]]
    if cfg["folds"]:
        opts += ["--folds", cfg["folds"]]
    if wildcards.dataset == "crema-d":
        demographics = cfg["demographics"]
        if demographics is None and cfg["source"] == "synth":
            demographics = f"{dataset_root('crema-d')}/VideoDemographics.csv"
        if demographics:
            opts += ["--demographics", demographics]
    return opts


def all_outputs():
    """Targets of `rule all`; each later stage adds its own."""
    targets = expand(
        [
            "results/{dataset}/manifest.csv",
            "results/{dataset}/fold_summary.csv",
            "results/{dataset}/fold_summary.md",
            "results/{dataset}/lengths.csv",
        ],
        dataset=DATASETS,
    )
    targets += expand(
        "results/features/{dataset}/{kind}/index.csv",
        dataset=DATASETS,
        kind=FEATURES["store"],
    )
    return targets


def synth_options(dataset):
    """Flags of `vjepa-fer synth` from the dataset's `synth` block."""
    s = dataset_cfg(dataset)["synth"]
    opts = ["--actors", str(s["actors"]), "--size", f"{s['width']}x{s['height']}"]
    if dataset == "ravdess":
        opts += ["--modalities", *map(str, dataset_cfg(dataset)["modalities"])]
        opts += ["--statements", *map(str, s["statements"])]
        opts += ["--repetitions", *map(str, s["repetitions"])]
    elif s["sentences"]:
        opts += ["--sentences", *s["sentences"]]
    return opts


def extract_inputs(wildcards):
    """Manifest and frame counts, plus the checkpoint when the encoder has one."""
    inputs = {
        "manifest": f"results/{wildcards.dataset}/manifest.csv",
        "lengths": f"results/{wildcards.dataset}/lengths.csv",
    }
    if ENCODER["checkpoint"]:
        inputs["checkpoint"] = ENCODER["checkpoint"]
    return inputs


def extract_options(wildcards):
    """Flags of `vjepa-fer extract` from the encoder and features blocks."""
    f = FEATURES
    opts = [
        "--encoder",
        ENCODER["name"],
        "--checkpoint-key",
        ENCODER["checkpoint_key"],
        "--img-size",
        str(ENCODER["img_size"]),
        "--num-frames",
        str(ENCODER["num_frames"]),
        "--frame-step",
        str(ENCODER["frame_step"]),
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
    ]
    if ENCODER["checkpoint"]:
        opts += ["--checkpoint", ENCODER["checkpoint"]]
    if f["int8"]:
        opts.append("--int8")
    if f["compile"]:
        opts.append("--compile")
    return opts
