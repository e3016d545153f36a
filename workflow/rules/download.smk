# Stage: download and verify the datasets and the encoder checkpoint (vjepa_fer.datasets.download).
# Only datasets with `source: download` use these rules; a local copy is indexed where it lies.


rule download_dataset:
    output:
        "resources/datasets/{dataset}/.vjepa-fer-download.json",
    log:
        run_out("logs/download/{dataset}.log"),
    benchmark:
        run_out("benchmarks/download/{dataset}.tsv")
    localrule: True
    conda:
        "../../envs/data.yaml"
    params:
        root=lambda wc: dataset_root(wc.dataset),
        opts=download_options,
    shell:
        "vjepa-fer download --dataset {wildcards.dataset} --root {params.root:q}"
        " {params.opts:q} --marker {output:q} > {log:q} 2>&1"


if DOWNLOADS:

    # One job per checkpoint file that an encoder entry downloads from its URL (the file's path
    # is the wildcard, limited to those files); an existing file is used as is.
    rule download_checkpoint:
        output:
            "{checkpoint}",
        log:
            run_out("logs/download/checkpoint/{checkpoint}.log"),
        wildcard_constraints:
            checkpoint="|".join(re.escape(path) for path in DOWNLOADS),
        localrule: True
        conda:
            # The checkpoint is loaded (torch, weights_only) before it is accepted.
            "../../envs/torch.yaml"
        params:
            url=lambda wc: DOWNLOADS[wc.checkpoint]["url"],
            key=lambda wc: DOWNLOADS[wc.checkpoint]["checkpoint_key"],
            sha=lambda wc: (
                ["--sha256", DOWNLOADS[wc.checkpoint]["sha256"]]
                if DOWNLOADS[wc.checkpoint]["sha256"]
                else []
            ),
            retries=config["download"]["retries"],
            timeout=config["download"]["timeout"],
            min_speed=config["download"]["min_speed"],
            deadline=config["download"]["deadline"],
        shell:
            "vjepa-fer download --dataset checkpoint --url {params.url:q} --dest {output:q}"
            " --checkpoint-key {params.key:q} {params.sha:q} --retries {params.retries}"
            " --timeout {params.timeout} --min-speed {params.min_speed}"
            " --deadline {params.deadline} > {log:q} 2>&1"
