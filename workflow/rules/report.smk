# Stage: the paper's Tables II-IV, Figures 3-6 and training curves of each encoder, and the run
# information shown in `snakemake --report results/report.html` (vjepa_fer.report.tables, .figures,
# .runinfo).


rule tables:
    input:
        rules.evaluate.output,
    output:
        report(
            directory(run_out("{encoder}/tables")),
            # Each table's page: a real table with its caption (vjepa_fer.report.html).
            patterns=["{name}.html"],
            caption="../report/tables.rst",
            category="Tables",
            subcategory="{encoder}",
        ),
    log:
        run_out("logs/report/tables-{encoder}.log"),
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        metrics=lambda wc: run_out(f"{wc.encoder}/metrics"),
        data=lambda wc: RUN_DIR,
        run_name=lambda wc: run_label(wc.encoder),
        compare=lambda wc: ["--compare-paper"] if paper_setting(wc.encoder) else [],
    shell:
        "vjepa-fer tables --metrics {params.metrics:q} --data {params.data:q} --out {output:q}"
        " --run-name {params.run_name:q} {params.compare} > {log:q} 2>&1"


rule figures:
    input:
        rules.evaluate.output,
        figure_inputs,
    output:
        report(
            directory(run_out("{encoder}/figures")),
            # Each figure's page (PNG and title): the report's image view clips tall figures.
            patterns=["{name}.html"],
            caption="../report/figures.rst",
            category="Figures",
            subcategory="{encoder}",
        ),
    log:
        run_out("logs/report/figures-{encoder}.log"),
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        results=lambda wc: run_out(f"{wc.encoder}"),
        data=lambda wc: RUN_DIR,
        pca_dataset=config["evaluation"]["pca_dataset"],
        pca_fold=config["evaluation"]["pca_fold"],
        datasets=DATASETS,
    shell:
        "vjepa-fer figures --results {params.results:q} --data {params.data:q} --out {output:q}"
        " --datasets {params.datasets:q} --pca-dataset {params.pca_dataset}"
        " --pca-fold {params.pca_fold} > {log:q} 2>&1"


rule run_config:
    # The run's full config (defaults filled) as a file: run_info reads it from there, so no
    # report entry carries config strings in its params (the HTML report embeds a report
    # output's params in a <script> block). This job's own outputs are not in the report.
    output:
        run_out("report/config.json"),
    log:
        run_out("logs/report/run_config.log"),
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        config=lambda wc: json.dumps(config, sort_keys=True),
    shell:
        "vjepa-fer run-info --config-json {params.config:q} --save-config {output:q}"
        " > {log:q} 2>&1"


rule run_info:
    input:
        expand(rules.tables.output, encoder=ENCODERS),
        expand(rules.figures.output, encoder=ENCODERS),
        expand(rules.forwards.output, encoder=ENCODERS),
        COMPARISON,
        config=rules.run_config.output,
    output:
        config=report(
            run_out("report/config.csv"),
            caption="../report/config.rst",
            category="Run",
        ),
        versions=report(
            run_out("report/versions.csv"),
            caption="../report/versions.rst",
            category="Run",
        ),
        outputs=report(
            run_out("report/outputs.csv"),
            caption="../report/outputs.rst",
            category="Run",
        ),
    log:
        run_out("logs/report/run_info.log"),
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    params:
        # Paths only (results/<run_name>/...: a safe identifier); never the config itself.
        results=lambda wc: RUN_DIR,
        out=lambda wc: run_out("report"),
    shell:
        "vjepa-fer run-info --config-file {input.config:q} --results {params.results:q}"
        " --out {params.out:q} > {log:q} 2>&1"
