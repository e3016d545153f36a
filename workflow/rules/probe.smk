# Stage: attentive probes trained together from one encoder pass per epoch (or from the feature
# store in cached mode), then full-video inference of every probe on every dataset
# (vjepa_fer.probe.train, vjepa_fer.probe.infer).


rule train_probes:
    input:
        unpack(train_inputs),
    output:
        run_out("{encoder}/probes/{dataset}/train-{group}.json"),
    log:
        run_out("logs/train_probes/{encoder}/{dataset}-{group}.log"),
    benchmark:
        run_out("benchmarks/train_probes/{encoder}/{dataset}-{group}.tsv")
    conda:
        "../../envs/torch.yaml"
    threads: max(1, FEATURES["workers"]) * DEVICES_PER_JOB
    resources:
        gpu=GPU_RANKS,
        mem_mb=32000,
    params:
        root=lambda wc: dataset_root(wc.dataset),
        out=lambda wc: run_out(f"{wc.encoder}/probes/{wc.dataset}"),
        folds=lambda wc: group_folds(wc.dataset, wc.group),
        opts=train_options,
        encoder=encoder_options,
        ranks=DEVICES_PER_JOB,
    shell:
        "vjepa-fer train --dataset {wildcards.dataset} --manifest {input.manifest:q}"
        " --lengths {input.lengths:q} --root {params.root:q} --out {params.out:q}"
        " --group {wildcards.group} --folds {params.folds} --done {output:q}"
        " --devices-per-job {params.ranks}"
        " {params.opts:q} {params.encoder:q} > {log:q} 2>&1"


rule infer:
    input:
        manifest=run_out("{dataset}/manifest.csv"),
        lengths=run_out("{dataset}/lengths.csv"),
        trained=lambda wc: all_train_markers(wc.encoder),
        checkpoint=lambda wc: checkpoint_input(wc.encoder),
    output:
        run_out("{encoder}/posteriors/{dataset}/done.json"),
    log:
        run_out("logs/infer/{encoder}/{dataset}.log"),
    benchmark:
        run_out("benchmarks/infer/{encoder}/{dataset}.tsv")
    conda:
        "../../envs/torch.yaml"
    threads: max(1, FEATURES["workers"]) * DEVICES_PER_JOB
    resources:
        gpu=GPU_RANKS,
        mem_mb=32000,
    params:
        root=lambda wc: dataset_root(wc.dataset),
        out=lambda wc: run_out(f"{wc.encoder}/posteriors/{wc.dataset}"),
        stride=FEATURES["eval_stride"],
        views=FEATURES["eval_views"],
        pca=lambda wc: pca_fold(wc.dataset),
        encoder=encoder_options,
        ranks=DEVICES_PER_JOB,
    shell:
        "vjepa-fer infer --dataset {wildcards.dataset} --manifest {input.manifest:q}"
        " --lengths {input.lengths:q} --root {params.root:q} --trained {input.trained:q}"
        " --out {params.out:q} --done {output:q} --stride {params.stride} --views {params.views}"
        " --pca-fold {params.pca} --devices-per-job {params.ranks}"
        " {params.encoder:q} > {log:q} 2>&1"
