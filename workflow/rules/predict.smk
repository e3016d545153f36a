# Stage: the offline demo applies each encoder's fold probes of the first dataset to videos of the
# other dataset, as a user would to their own videos, and plots their per-clip posteriors over
# time (vjepa_fer.probe.predict). Runs only when every dataset is synthetic (the demo).

PREDICT_PROBES = DATASETS[0]
# Another dataset's videos (the probes' own when the run has one dataset).
PREDICT_VIDEOS = DATASETS[1] if len(DATASETS) > 1 else DATASETS[0]
# Targets of `rule all`: the predict demo runs only on synthetic data.
DEMO_PREDICTIONS = (
    expand(run_out("{encoder}/predict/timeline.png"), encoder=ENCODERS)
    if all(dataset_cfg(d)["source"] == "synth" for d in DATASETS)
    else []
)


rule predict_demo:
    input:
        manifest=run_out(f"{PREDICT_VIDEOS}/manifest.csv"),
        trained=expand(
            run_out("{{encoder}}/probes/{dataset}/train-{group}.json"),
            dataset=PREDICT_PROBES,
            group=groups(PREDICT_PROBES),
        ),
        checkpoint=lambda wc: checkpoint_input(wc.encoder),
    output:
        timeline=report(
            run_out("{encoder}/predict/timeline.png"),
            caption="../report/predict.rst",
            category="Predict",
            subcategory="{encoder}",
        ),
        csv=run_out("{encoder}/predict/predictions.csv"),
    log:
        run_out("logs/predict/{encoder}.log"),
    benchmark:
        run_out("benchmarks/predict/{encoder}.tsv")
    conda:
        "../../envs/torch.yaml"
    resources:
        gpu=GPU_JOBS,
    params:
        root=dataset_root(PREDICT_VIDEOS),
        probes=lambda wc, input: input.trained[0].rsplit("/", 1)[0],
        stride=FEATURES["eval_stride"],
        device=FEATURES["device"],
        dtype=FEATURES["dtype"],
        mv_tie=config["evaluation"]["mv_tie"],
    shell:
        "vjepa-fer predict --manifest {input.manifest:q} --root {params.root:q} --limit 2"
        " --probes {params.probes:q} --stride {params.stride} --device {params.device}"
        " --dtype {params.dtype} --mv-tie {params.mv_tie} --csv {output.csv:q}"
        " --timeline {output.timeline:q}"
        " > {log:q} 2>&1"
