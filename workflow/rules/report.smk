# Stage: the paper's Tables II-IV, Figures 3-6 and training curves of each encoder, and the run
# information shown in `snakemake --report results/report.html` (vjepa_fer.report.tables, .figures,
# .runinfo).


rule tables:
    input:
        rules.evaluate.output,
    output:
        report(
            directory("results/{encoder}/tables"),
            # Each table's page: a real table with its caption (vjepa_fer.report.html).
            patterns=["{name}.html"],
            caption="../report/tables.rst",
            category="Tables",
            subcategory="{encoder}",
        ),
    log:
        "results/logs/report/tables-{encoder}.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        metrics=lambda wc: f"results/{wc.encoder}/metrics",
        run_name=lambda wc: run_label(wc.encoder),
        compare=lambda wc: ["--compare-paper"] if paper_setting(wc.encoder) else [],
    shell:
        "vjepa-fer tables --metrics {params.metrics:q} --data results --out {output:q}"
        " --run-name {params.run_name:q} {params.compare} > {log:q} 2>&1"


rule figures:
    input:
        rules.evaluate.output,
        figure_inputs,
    output:
        report(
            directory("results/{encoder}/figures"),
            # Each figure's page (PNG and title): the report's image view clips tall figures.
            patterns=["{name}.html"],
            caption="../report/figures.rst",
            category="Figures",
            subcategory="{encoder}",
        ),
    log:
        "results/logs/report/figures-{encoder}.log",
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        results=lambda wc: f"results/{wc.encoder}",
        pca_dataset=config["evaluation"]["pca_dataset"],
        pca_fold=config["evaluation"]["pca_fold"],
        datasets=DATASETS,
    shell:
        "vjepa-fer figures --results {params.results:q} --data results --out {output:q}"
        " --datasets {params.datasets:q} --pca-dataset {params.pca_dataset}"
        " --pca-fold {params.pca_fold} > {log:q} 2>&1"


rule run_info:
    input:
        expand(rules.tables.output, encoder=ENCODERS),
        expand(rules.figures.output, encoder=ENCODERS),
        expand(rules.forwards.output, encoder=ENCODERS),
        COMPARISON,
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
