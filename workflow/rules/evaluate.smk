# Stage: every number of Tables II and IV of each encoder from its saved per-clip posteriors, the
# clip-forward count of its run against the authors' protocol, and the encoders side by side
# (vjepa_fer.evaluate.results, vjepa_fer.evaluate.forwards, vjepa_fer.evaluate.compare).


rule evaluate:
    input:
        # Exactly the current configuration's inference jobs: their done.json lists the posterior
        # tables to read, so tables of removed probes, datasets or folds are never read.
        done=expand(
            "results/{{encoder}}/posteriors/{dataset}/done.json", dataset=DATASETS
        ),
    output:
        per_fold="results/{encoder}/metrics/per_fold.csv",
        table2="results/{encoder}/metrics/table2.csv",
        table4="results/{encoder}/metrics/table4.csv",
        voting_tests="results/{encoder}/metrics/voting_tests.csv",
        confusion=directory("results/{encoder}/metrics/confusion"),
        videos=directory("results/{encoder}/metrics/videos"),
    log:
        "results/logs/evaluate/{encoder}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        out=lambda wc: f"results/{wc.encoder}/metrics",
        mv_tie=config["evaluation"]["mv_tie"],
        ddof=config["evaluation"]["std_ddof"],
        samples=config["evaluation"]["bootstrap"]["samples"],
        confidence=config["evaluation"]["bootstrap"]["confidence"],
        seed=config["seed"],
    shell:
        "vjepa-fer evaluate --done {input.done:q} --out {params.out:q}"
        " --mv-tie {params.mv_tie} --std-ddof {params.ddof}"
        " --bootstrap-samples {params.samples} --confidence {params.confidence}"
        " --seed {params.seed} > {log:q} 2>&1"


rule forwards:
    input:
        manifests=expand("results/{dataset}/manifest.csv", dataset=DATASETS),
        lengths=expand("results/{dataset}/lengths.csv", dataset=DATASETS),
        measured=measured_forwards,
    output:
        csv=report(
            "results/{encoder}/compute/forwards.csv",
            caption="../report/forwards.rst",
            category="Compute",
            subcategory="{encoder}",
        ),
        json="results/{encoder}/compute/forwards.json",
    log:
        "results/logs/forwards/{encoder}.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        protocol=f"ours-{config['probe']['mode']}",
        settings=forwards_options,
    shell:
        "vjepa-fer forwards --manifest {input.manifests:q} --lengths {input.lengths:q}"
        " --measured {input.measured:q} --measured-protocol {params.protocol}"
        " {params.settings:q} --out {output.csv:q} --json {output.json:q} > {log:q} 2>&1"


if COMPARISON:

    # The encoders on the same videos (two or more): every encoder's posteriors of this run,
    # scored with the evaluation's voting, intervals and seed, and paired tests between them.
    rule compare_encoders:
        input:
            expand(
                "results/{encoder}/posteriors/{dataset}/done.json",
                encoder=ENCODERS,
                dataset=DATASETS,
            ),
        output:
            table=report(
                "results/compare/encoders.csv",
                caption="../report/compare.rst",
                category="Encoders",
                labels={"table": "encoders"},
            ),
            tests=report(
                "results/compare/encoder_tests.csv",
                caption="../report/compare.rst",
                category="Encoders",
                labels={"table": "paired tests"},
            ),
            md="results/compare/encoders.md",
            tests_md="results/compare/encoder_tests.md",
            figure=report(
                "results/compare/encoders.png",
                caption="../report/compare.rst",
                category="Encoders",
                labels={"table": "figure"},
            ),
            pdf="results/compare/encoders.pdf",
        log:
            "results/logs/compare/compare_encoders.log",
        localrule: True
        conda:
            "../../envs/analysis.yaml"
        params:
            runs=[
                opt
                for e in ENCODERS
                for opt in ("--run", f"{e}=results/{e}/posteriors")
            ],
            mv_tie=config["evaluation"]["mv_tie"],
            samples=config["evaluation"]["bootstrap"]["samples"],
            confidence=config["evaluation"]["bootstrap"]["confidence"],
            seed=config["seed"],
            # Only this configuration's datasets: a folder keeps tables of removed ones.
            datasets=DATASETS,
        shell:
            "vjepa-fer compare-encoders {params.runs:q} --datasets {params.datasets:q}"
            " --out results/compare --mv-tie {params.mv_tie} --bootstrap-samples {params.samples}"
            " --confidence {params.confidence} --seed {params.seed} > {log:q} 2>&1"
