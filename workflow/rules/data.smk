# Stage: synthetic demo data, the manifest of every dataset with its folds, and the fold summary
# (vjepa_fer.datasets.synth, vjepa_fer.datasets.index, vjepa_fer.datasets.summary).


rule synth:
    output:
        run_out("synth/{dataset}/synth.json"),
    log:
        run_out("logs/synth/{dataset}.log"),
    benchmark:
        run_out("benchmarks/synth/{dataset}.tsv")
    conda:
        "../../envs/data.yaml"
    threads: 2
    params:
        out=lambda wc: dataset_root(wc.dataset),
        seed=config["seed"],
        opts=lambda wc: synth_options(wc.dataset),
    shell:
        "vjepa-fer synth --dataset {wildcards.dataset} --out {params.out:q} --seed {params.seed}"
        " {params.opts:q} --jobs {threads} > {log:q} 2>&1"


rule index:
    input:
        dataset_ready,
        declared=index_declared_inputs,
    output:
        manifest=run_out("{dataset}/manifest.csv"),
        report=run_out("{dataset}/index_report.json"),
        card=run_out("{dataset}/dataset.json"),
        folds=run_out("{dataset}/folds.csv"),
    log:
        run_out("logs/index/{dataset}.log"),
    conda:
        "../../envs/data.yaml"
    params:
        root=lambda wc: dataset_root(wc.dataset),
        opts=index_options,
    shell:
        "vjepa-fer index --dataset {wildcards.dataset} --root {params.root:q}"
        " --out {output.manifest:q} --report {output.report:q} --card {output.card:q}"
        " --folds-out {output.folds:q} {params.opts:q} > {log:q} 2>&1"


rule fold_summary:
    input:
        run_out("{dataset}/manifest.csv"),
    output:
        csv=report(
            run_out("{dataset}/fold_summary.csv"),
            caption="../report/fold_summary.rst",
            category="Data",
            labels={"dataset": "{dataset}", "table": "folds"},
        ),
        md=run_out("{dataset}/fold_summary.md"),
    log:
        run_out("logs/fold_summary/{dataset}.log"),
    conda:
        "../../envs/data.yaml"
    shell:
        "vjepa-fer summary --manifest {input:q} --out {output.csv:q} --markdown {output.md:q}"
        " > {log:q} 2>&1"
