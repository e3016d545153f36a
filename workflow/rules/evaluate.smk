# Stage: every number of Tables II and IV from the saved per-clip posteriors, and the clip-forward
# count of this run against the authors' protocol (vjepa_fer.evaluate.results, vjepa_fer.evaluate.compute).


rule evaluate:
    input:
        # Exactly the current configuration's inference jobs: their done.json lists the posterior
        # tables to read, so tables of removed probes, datasets or folds are never read.
        done=expand("results/posteriors/{dataset}/done.json", dataset=DATASETS),
    output:
        per_fold="results/metrics/per_fold.csv",
        table2="results/metrics/table2.csv",
        table4="results/metrics/table4.csv",
        voting_tests="results/metrics/voting_tests.csv",
        confusion=directory("results/metrics/confusion"),
        videos=directory("results/metrics/videos"),
    log:
        "results/logs/evaluate/evaluate.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        mv_tie=config["evaluation"]["mv_tie"],
        ddof=config["evaluation"]["std_ddof"],
        samples=config["evaluation"]["bootstrap"]["samples"],
        confidence=config["evaluation"]["bootstrap"]["confidence"],
        seed=config["seed"],
    shell:
        "vjepa-fer evaluate --done {input.done:q} --out results/metrics"
        " --mv-tie {params.mv_tie} --std-ddof {params.ddof}"
        " --bootstrap-samples {params.samples} --confidence {params.confidence}"
        " --seed {params.seed} > {log:q} 2>&1"


rule forwards:
    input:
        manifests=expand("results/{dataset}/manifest.csv", dataset=DATASETS),
        lengths=expand("results/{dataset}/lengths.csv", dataset=DATASETS),
        measured=measured_forwards(),
    output:
        csv=report(
            "results/compute/forwards.csv",
            caption="../report/forwards.rst",
            category="Compute",
        ),
        json="results/compute/forwards.json",
    log:
        "results/logs/forwards/forwards.log",
    conda:
        "../../envs/analysis.yaml"
    params:
        protocol=f"ours-{config['probe']['mode']}",
        settings=forwards_options(),
    shell:
        "vjepa-fer forwards --manifest {input.manifests:q} --lengths {input.lengths:q}"
        " --measured {input.measured:q} --measured-protocol {params.protocol}"
        " {params.settings:q} --out {output.csv:q} --json {output.json:q} > {log:q} 2>&1"
