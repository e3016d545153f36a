# Shared definitions: dataset roots, wildcard constraints and input functions. No rules here.
import re

DATASETS = list(config["datasets"])
ENCODER = config["encoder"]


wildcard_constraints:
    dataset="|".join(re.escape(d) for d in DATASETS),


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
    return expand(
        [
            "results/{dataset}/manifest.csv",
            "results/{dataset}/fold_summary.csv",
            "results/{dataset}/fold_summary.md",
        ],
        dataset=DATASETS,
    )


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
