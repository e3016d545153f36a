# vjepa-fer: facial-expression recognition from video with frozen V-JEPA encoders.
# Reproduces Eing et al., "Video Joint-Embedding Predictive Architectures for Facial Expression
# Recognition". Usage: `snakemake --cores 8 all` (config.yaml), or the offline demo:
# `snakemake all --cores 2 --configfile config.demo.yaml`.
from snakemake.utils import min_version, validate

min_version("9.0")


# A --configfile given on the command line replaces config.yaml instead of being merged into it,
# so a config that leaves a dataset out really runs without it.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/probe.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_outputs(),


onsuccess:
    # Show the run's Table II and Table IV in the terminal (all tables: results/tables/).
    from pathlib import Path

    for name in ("table2.md", "table4.md"):
        table = Path("results/tables") / name
        if table.exists():
            print(f"\n{table.read_text()}")
