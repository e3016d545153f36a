# Stage: download and verify the datasets and the encoder checkpoint (vjepa_fer.data.download).
# Only datasets with `source: download` use these rules; a local copy is indexed where it lies.


rule download_dataset:
    output:
        "resources/datasets/{dataset}/.vjepa-fer-download.json",
    log:
        "results/logs/download/{dataset}.log",
    benchmark:
        "results/benchmarks/download/{dataset}.tsv"
    localrule: True
    conda:
        "../../envs/data.yaml"
    params:
        root=lambda wc: dataset_root(wc.dataset),
        opts=download_options,
    shell:
        "vjepa-fer download --dataset {wildcards.dataset} --root {params.root:q}"
        " {params.opts:q} --marker {output:q} > {log:q} 2>&1"


if ENCODER["checkpoint"] and ENCODER["url"]:

    rule download_checkpoint:
        output:
            ENCODER["checkpoint"],
        log:
            "results/logs/download/checkpoint.log",
        localrule: True
        conda:
            # The checkpoint is loaded (torch, weights_only) before it is accepted.
            "../../envs/torch.yaml"
        params:
            url=ENCODER["url"],
            key=ENCODER["checkpoint_key"],
            sha=["--sha256", ENCODER["sha256"]] if ENCODER["sha256"] else [],
            retries=config["download"]["retries"],
            timeout=config["download"]["timeout"],
        shell:
            "vjepa-fer download --dataset checkpoint --url {params.url:q} --dest {output:q}"
            " --checkpoint-key {params.key:q} {params.sha:q} --retries {params.retries}"
            " --timeout {params.timeout} > {log:q} 2>&1"
