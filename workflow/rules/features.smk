# Stage: frame counts of every video (shared by the encoders), then each frozen encoder: each clip
# encoded once into its sharded feature store (vjepa_fer.video.lengths,
# vjepa_fer.features.extract / .merge).


rule lengths:
    input:
        manifest=run_out("{dataset}/manifest.csv"),
        ready=dataset_ready,
    output:
        lengths=run_out("{dataset}/lengths.csv"),
        bad=report(
            run_out("{dataset}/bad_videos.csv"),
            caption="../report/bad_videos.rst",
            category="Data",
            labels={"dataset": "{dataset}", "table": "unreadable videos"},
        ),
    log:
        run_out("logs/lengths/{dataset}.log"),
    benchmark:
        run_out("benchmarks/lengths/{dataset}.tsv")
    conda:
        "../../envs/torch.yaml"
    threads: config["compute"]["lengths_threads"]
    params:
        root=lambda wc: dataset_root(wc.dataset),
        verify=[] if FEATURES["decode_verify"] else ["--no-verify"],
        identity=FEATURES["identity"],
    shell:
        "vjepa-fer lengths --manifest {input.manifest:q} --root {params.root:q}"
        " --out {output.lengths:q} --report {output.bad:q} --jobs {threads} {params.verify}"
        " --identity {params.identity}"
        " > {log:q} 2>&1"


rule extract:
    input:
        unpack(extract_inputs),
    output:
        run_out("{encoder}/features/{dataset}/{kind}/shard-{shard}.json"),
    log:
        run_out("logs/extract/{encoder}/{dataset}-{kind}-{shard}.log"),
    benchmark:
        run_out("benchmarks/extract/{encoder}/{dataset}-{kind}-{shard}.tsv")
    conda:
        "../../envs/torch.yaml"
    threads: max(1, FEATURES["workers"])
    resources:
        gpu=GPU_JOBS,
        mem_mb=16000,
    params:
        root=lambda wc: dataset_root(wc.dataset),
        store=lambda wc: f"{features_dir(wc)}/{wc.kind}",
        opts=extract_options,
    shell:
        "vjepa-fer extract --manifest {input.manifest:q} --lengths {input.lengths:q}"
        " --root {params.root:q} --out {params.store:q} --done {output:q} --kind {wildcards.kind}"
        " --shard {wildcards.shard} {params.opts:q} > {log:q} 2>&1"


rule merge_features:
    input:
        manifest=run_out("{dataset}/manifest.csv"),
        lengths=run_out("{dataset}/lengths.csv"),
        shards=lambda wc: expand(
            run_out("{{encoder}}/features/{{dataset}}/{{kind}}/shard-{shard}.json"),
            shard=range(FEATURES["shards"]),
        ),
    output:
        index=run_out("{encoder}/features/{dataset}/{kind}/index.csv"),
        counts=run_out("{encoder}/features/{dataset}/{kind}/forwards.json"),
    log:
        run_out("logs/merge_features/{encoder}/{dataset}-{kind}.log"),
    conda:
        "../../envs/torch.yaml"
    params:
        store=lambda wc: f"{features_dir(wc)}/{wc.kind}",
        shards=FEATURES["shards"],
    shell:
        "vjepa-fer merge-features --store {params.store:q} --kind {wildcards.kind}"
        " --num-shards {params.shards} --manifest {input.manifest:q}"
        " --lengths {input.lengths:q} --out {output.index:q} --counts {input.shards:q}"
        " --counts-out {output.counts:q} > {log:q} 2>&1"
