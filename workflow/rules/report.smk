# Stage: the paper's Tables II-IV, Figures 3-6, training curves and the run information shown in
# `snakemake --report report.html` (vjepa_fer.report.tables, .figures, .runinfo).


rule tables:
    input:
        rules.evaluate.output,
    output:
        report(
            directory("results/tables"),
            patterns=["{name}.csv"],
            caption="../report/tables.rst",
            category="Tables",
        ),
    log:
        "results/logs/report/tables.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        run_name=config["run_name"],
        compare=["--compare-paper"] if PAPER_SETTING else [],
    shell:
        "vjepa-fer tables --metrics results/metrics --out {output:q} --run-name {params.run_name}"
        " {params.compare} > {log:q} 2>&1"


rule figures:
    input:
        rules.evaluate.output,
        figure_inputs(),
    output:
        report(
            directory("results/figures"),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Figures",
        ),
    log:
        "results/logs/report/figures.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        pca_dataset=config["evaluation"]["pca_dataset"],
        pca_fold=config["evaluation"]["pca_fold"],
        datasets=DATASETS,
    shell:
        "vjepa-fer figures --results results --out {output:q} --datasets {params.datasets:q}"
        " --pca-dataset {params.pca_dataset} --pca-fold {params.pca_fold} > {log:q} 2>&1"


rule run_info:
    input:
        rules.tables.output,
        rules.figures.output,
        rules.forwards.output,
    output:
        config=report(
            "results/report/config.csv",
            caption="../report/config.rst",
            category="Run",
        ),
        versions=report(
            "results/report/versions.csv",
            caption="../report/versions.rst",
            category="Run",
        ),
        outputs=report(
            "results/report/outputs.csv",
            caption="../report/outputs.rst",
            category="Run",
        ),
    log:
        "results/logs/report/run_info.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        config=lambda wc: json.dumps(config),
    shell:
        "vjepa-fer run-info --config-json {params.config:q} --results results"
        " --out results/report > {log:q} 2>&1"
