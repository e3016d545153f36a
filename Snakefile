# vjepa-fer: facial-expression recognition from video with frozen V-JEPA encoders.
# Reproduces Eing et al., "Video Joint-Embedding Predictive Architectures for Facial Expression
# Recognition". Usage: `snakemake --cores 8 all` (config.yaml), or the offline demo:
# `snakemake all --cores 2 --configfile config.demo.yaml`.
import sys

from snakemake.utils import min_version, validate
from snakemake_interface_executor_plugins.settings import DeploymentMethod

min_version("9.0")


# A --configfile given on the command line replaces config.yaml instead of being merged into it,
# so a config that leaves a dataset out really runs without it.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


# The project's own check first: a misspelt key or a real encoder without weights stops the run
# with one paragraph naming the key, the file and the allowed keys (Snakemake's validate() would
# print the whole schema). validate() then fills the defaults.
sys.path.insert(0, f"{workflow.basedir}/src")
from vjepa_fer.config import load_schema, validate_config
from vjepa_fer.schema import SCHEMA_FILE

validate_config(
    config,
    load_schema(),
    " + ".join(map(str, workflow.overwrite_configfiles or ["config.yaml"])),
)
# The schema is package data (src/vjepa_fer/schemas/config.schema.yaml).
validate(config, str(SCHEMA_FILE))


# With --software-deployment-method conda, each rule runs in its envs/*.yaml environment, which
# holds the rule group's third-party packages; the vjepa-fer package itself is taken from this
# checkout (PYTHONPATH) and `vjepa-fer` becomes a shell function calling its CLI module.
if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
    shell.prefix(
        f"export PYTHONPATH={workflow.basedir}/src${{PYTHONPATH:+:$PYTHONPATH}}; "
        'vjepa-fer() { python -m vjepa_fer.cli "$@"; }; '
    )


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/probe.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/predict.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
        DEMO_PREDICTIONS,


onsuccess:
    # Show each encoder's Table II and Table IV in the terminal (all tables:
    # results/<run_name>/<encoder>/tables/), where an in-the-wild run stands against the
    # literature, and the encoders side by side.
    from pathlib import Path

    tables = [
        Path(RUN_DIR, e, "tables", n)
        for e in ENCODERS
        for n in ("table2.md", "table4.md")
    ]
    tables += [Path(RUN_DIR, e, "tables", "table_wild.md") for e in ENCODERS]
    for table in [*tables, Path(RUN_DIR, "compare", "encoders.md")]:
        if table.exists():
            print(f"\n{table.read_text()}")
