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
        jobs=config["download"]["jobs"],
        retries=config["download"]["retries"],
        timeout=config["download"]["timeout"],
        base_url=config["download"]["ravdess_base_url"],
        record_api=config["download"]["ravdess_record_api"],
        mirrors=lambda wc: config["download"]["cremad_mirrors"],
        keep=["--keep-archives"] if config["download"]["keep_archives"] else [],
    shell:
        "vjepa-fer download --dataset {wildcards.dataset} --root {params.root:q}"
        " --jobs {params.jobs} --retries {params.retries} --timeout {params.timeout}"
        " --base-url {params.base_url:q} --record-api {params.record_api:q}"
        " --mirror {params.mirrors:q} {params.keep} --no-progress"
        " --marker {output:q} > {log:q} 2>&1"


if ENCODER["checkpoint"] and ENCODER["url"]:

    rule download_checkpoint:
        output:
            ENCODER["checkpoint"],
        log:
            "results/logs/download/checkpoint.log",
        localrule: True
        conda:
            "../../envs/data.yaml"
        params:
            url=ENCODER["url"],
            sha=["--sha256", ENCODER["sha256"]] if ENCODER["sha256"] else [],
            retries=config["download"]["retries"],
        shell:
            "vjepa-fer download --dataset checkpoint --url {params.url:q} --dest {output:q}"
            " {params.sha:q} --retries {params.retries} --no-progress > {log:q} 2>&1"
