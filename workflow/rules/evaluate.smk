# Stage: every number of Tables II and IV of each encoder from its saved per-clip posteriors, the
# clip-forward count of its run against the authors' protocol, and the encoders side by side
# (vjepa_fer.evaluate.results, vjepa_fer.evaluate.forwards, vjepa_fer.evaluate.compare).


rule evaluate:
    input:
        # Exactly the current configuration's inference jobs: their done.json lists the posterior
        # tables to read, so tables of removed probes, datasets or folds are never read.
        done=expand(
            run_out("{{encoder}}/posteriors/{dataset}/done.json"), dataset=DATASETS
        ),
    output:
        per_fold=run_out("{encoder}/metrics/per_fold.csv"),
        table2=run_out("{encoder}/metrics/table2.csv"),
        table4=run_out("{encoder}/metrics/table4.csv"),
        voting_tests=run_out("{encoder}/metrics/voting_tests.csv"),
        confusion=directory(run_out("{encoder}/metrics/confusion")),
        videos=directory(run_out("{encoder}/metrics/videos")),
    log:
        run_out("logs/evaluate/{encoder}.log"),
    conda:
        "../../envs/analysis.yaml"
    params:
        out=lambda wc: run_out(f"{wc.encoder}/metrics"),
        data=lambda wc: RUN_DIR,
        mv_tie=config["evaluation"]["mv_tie"],
        ddof=config["evaluation"]["std_ddof"],
        samples=config["evaluation"]["bootstrap"]["samples"],
        confidence=config["evaluation"]["bootstrap"]["confidence"],
        seed=config["seed"],
    shell:
        "vjepa-fer evaluate --done {input.done:q} --data {params.data:q} --out {params.out:q}"
        " --mv-tie {params.mv_tie} --std-ddof {params.ddof}"
        " --bootstrap-samples {params.samples} --confidence {params.confidence}"
        " --seed {params.seed} > {log:q} 2>&1"


rule forwards:
    input:
        manifests=expand(run_out("{dataset}/manifest.csv"), dataset=DATASETS),
        lengths=expand(run_out("{dataset}/lengths.csv"), dataset=DATASETS),
        measured=measured_forwards,
    output:
        csv=report(
            run_out("{encoder}/compute/forwards.csv"),
            caption="../report/forwards.rst",
            category="Compute",
            subcategory="{encoder}",
        ),
        json=run_out("{encoder}/compute/forwards.json"),
    log:
        run_out("logs/forwards/{encoder}.log"),
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
                run_out("{encoder}/posteriors/{dataset}/done.json"),
                encoder=ENCODERS,
                dataset=DATASETS,
            ),
        output:
            table=report(
                run_out("compare/encoders.csv"),
                caption="../report/compare.rst",
                category="Encoders",
                labels={"table": "encoders"},
            ),
            tests=report(
                run_out("compare/encoder_tests.csv"),
                caption="../report/compare.rst",
                category="Encoders",
                labels={"table": "paired tests"},
            ),
            md=run_out("compare/encoders.md"),
            tests_md=run_out("compare/encoder_tests.md"),
            figure=report(
                run_out("compare/encoders.png"),
                caption="../report/compare.rst",
                category="Encoders",
                labels={"table": "figure"},
            ),
            pdf=run_out("compare/encoders.pdf"),
        log:
            run_out("logs/compare/compare_encoders.log"),
        localrule: True
        conda:
            "../../envs/analysis.yaml"
        params:
            runs=[
                opt
                for e in ENCODERS
                for opt in ("--run", f"{e}={run_out(e)}/posteriors")
            ],
            # The figure's legend: display names (vjepa_fer.report.names), ids in brackets.
            labels=[
                opt
                for e, entry in ENCODERS.items()
                for opt in ("--label", f"{e}={encoder_label(entry)}")
            ],
            mv_tie=config["evaluation"]["mv_tie"],
            samples=config["evaluation"]["bootstrap"]["samples"],
            confidence=config["evaluation"]["bootstrap"]["confidence"],
            seed=config["seed"],
            # Only this configuration's datasets: a folder keeps tables of removed ones.
            datasets=DATASETS,
            data=lambda wc: RUN_DIR,
            out=lambda wc: run_out("compare"),
        shell:
            "vjepa-fer compare-encoders {params.runs:q} --datasets {params.datasets:q}"
            " --data {params.data:q} --out {params.out:q} {params.labels:q}"
            " --mv-tie {params.mv_tie} --bootstrap-samples {params.samples}"
            " --confidence {params.confidence} --seed {params.seed} > {log:q} 2>&1"
