"""Every default lives once, in vjepa_fer/schemas/config.schema.yaml: the stage dataclasses and the
command-line options that mirror a config key must carry the same value."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from vjepa_fer.cli import build_parser
from vjepa_fer.config import load_schema
from vjepa_fer.features.store import StoreConfig
from vjepa_fer.probe.optim import ProbeOptimConfig
from vjepa_fer.probe.trainer import ProbeSpec, TrainConfig


def schema_defaults() -> dict[str, object]:
    out: dict[str, object] = {}

    schema = load_schema()

    def walk(node: dict, path: tuple[str, ...]) -> None:
        for key, sub in node.get("properties", {}).items():
            if "$ref" in sub:  # e.g. encoder: #/$defs/encoder
                sub = {**schema["$defs"][sub["$ref"].rsplit("/", 1)[-1]], **sub}
            if "properties" in sub:
                walk(sub, (*path, key))
            elif "default" in sub:
                out[".".join((*path, key))] = sub["default"]

    walk(schema, ())
    return out


SCHEMA = schema_defaults()

# config key -> the CLI options that take it: (command, option dest)
CLI = {
    "seed": [("train", "seed"), ("extract", "seed"), ("infer", "seed"), ("synth", "seed")],
    "download.jobs": [("download", "jobs")],
    "download.retries": [("download", "retries")],
    "download.timeout": [("download", "timeout")],
    "download.ravdess_base_url": [("download", "base_url")],
    "download.ravdess_record_api": [("download", "record_api")],
    "download.keep_archives": [("download", "keep_archives")],
    "encoder.name": [("extract", "encoder"), ("train", "encoder"), ("infer", "encoder")],
    "encoder.random_weights": [("extract", "random_weights")],
    "encoder.checkpoint_key": [("extract", "checkpoint_key")],
    "encoder.img_size": [("extract", "img_size"), ("forwards", "img_size")],
    "encoder.num_frames": [("extract", "num_frames")],
    "encoder.frame_step": [("extract", "frame_step"), ("forwards", "frame_step")],
    "features.device": [("extract", "device")],
    "features.dtype": [("extract", "dtype")],
    "features.batch_size": [("extract", "batch_size")],
    "features.workers": [("extract", "workers")],
    "features.compile": [("extract", "compile")],
    "features.eval_stride": [("infer", "stride"), ("extract", "stride"), ("forwards", "stride")],
    "features.eval_views": [("infer", "views"), ("extract", "views")],
    "features.shards": [("extract", "num_shards")],
    "features.train_copies": [("train", "copies"), ("extract", "copies"), ("forwards", "copies")],
    "features.pool": [("extract", "pool")],
    "features.int8": [("extract", "int8")],
    "probe.mode": [("train", "mode")],
    "probe.epochs": [("train", "epochs"), ("forwards", "epochs")],
    "probe.batch_videos": [("train", "batch_videos")],
    "probe.lr": [("train", "lr")],
    "probe.final_lr": [("train", "final_lr")],
    "probe.weight_decay": [("train", "weight_decay")],
    "probe.final_weight_decay": [("train", "final_weight_decay")],
    "probe.grad_clip": [("train", "grad_clip")],
    "probe.clips": [("train", "clips"), ("forwards", "clips")],
    "probe.unit": [("train", "unit")],
    "probe.reshuffle": [("train", "reshuffle")],
    "probe.random_clips": [("train", "random_clips")],
    "probe.augment": [("train", "augment")],
    "evaluation.mv_tie": [("evaluate", "mv_tie")],
    "evaluation.std_ddof": [("evaluate", "std_ddof")],
    "evaluation.pca_dataset": [("figures", "pca_dataset")],
    "evaluation.pca_fold": [("figures", "pca_fold")],
}

# config key -> dataclass field that holds it
FIELDS = {
    "seed": [(TrainConfig, "seed"), (ProbeSpec, "seed")],
    "probe.epochs": [(TrainConfig, "epochs"), (ProbeOptimConfig, "epochs")],
    "probe.batch_videos": [(TrainConfig, "batch_videos"), (ProbeOptimConfig, "batch_videos")],
    "probe.lr": [(ProbeSpec, "lr"), (ProbeOptimConfig, "lr")],
    "probe.final_lr": [(ProbeSpec, "final_lr"), (ProbeOptimConfig, "final_lr")],
    "probe.weight_decay": [(ProbeSpec, "weight_decay"), (ProbeOptimConfig, "weight_decay")],
    "probe.final_weight_decay": [
        (ProbeSpec, "final_weight_decay"),
        (ProbeOptimConfig, "final_weight_decay"),
    ],
    "probe.grad_clip": [(TrainConfig, "grad_clip"), (ProbeOptimConfig, "grad_clip")],
    "probe.clips": [(TrainConfig, "clips")],
    "probe.unit": [(TrainConfig, "unit")],
    "probe.drop_last": [(TrainConfig, "drop_last")],
    "probe.reshuffle": [(TrainConfig, "reshuffle")],
    "probe.random_clips": [(TrainConfig, "random_clips")],
    "probe.augment": [(TrainConfig, "augment")],
    "features.pool": [(StoreConfig, "pool")],
    "features.int8": [(StoreConfig, "int8")],
}


def cli_defaults(command: str) -> dict[str, object]:
    parser = build_parser(command)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {a.dest: a.default for a in sub.choices[command]._actions}


def field_default(cls: type, name: str) -> object:
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    return f.default


@pytest.mark.parametrize("key", sorted(CLI))
def test_cli_defaults_equal_the_schema(key: str) -> None:
    for command, dest in CLI[key]:
        got = cli_defaults(command)[dest]
        assert got == SCHEMA[key], (
            f"vjepa-fer {command} --{dest}: {got!r}, schema {key}: {SCHEMA[key]!r}"
        )


@pytest.mark.parametrize("key", sorted(FIELDS))
def test_dataclass_defaults_equal_the_schema(key: str) -> None:
    for cls, name in FIELDS[key]:
        got = field_default(cls, name)
        assert got == SCHEMA[key], f"{cls.__name__}.{name} = {got!r}, schema {key}: {SCHEMA[key]!r}"


def test_head_classes_default_means_the_datasets_own_count() -> None:
    assert SCHEMA["probe.head_classes"] == "dataset" and ProbeSpec.head_classes == 0


def test_every_mapped_key_exists_in_the_schema() -> None:
    assert set(CLI) | set(FIELDS) <= set(SCHEMA)
