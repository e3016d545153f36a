"""config.encoders.yaml: every planned entry is a valid `encoder:` block of a registered encoder."""

from __future__ import annotations

import copy

import yaml

from tests.conftest import REPO
from vjepa_fer.config import load_schema, validate_config
from vjepa_fer.models import available_encoders

EXTRA_KEYS = {"id", "licence"}  # documentation of the planned list, not encoder settings


def entries() -> list[dict]:
    return yaml.safe_load((REPO / "config.encoders.yaml").read_text())["encoders"]


def test_the_six_planned_encoders_are_listed() -> None:
    ids = [e["id"] for e in entries()]
    assert ids == [
        "vjepa-vitl16",
        "vjepa-vith16",
        "vjepa-vith16-384",
        "vjepa2-vitl",
        "videomae-b",
        "videomae-l",
    ]
    assert all(e.get("licence") for e in entries())


def test_each_entry_is_a_valid_encoder_block() -> None:
    schema = load_schema()
    base = yaml.safe_load((REPO / "config.demo.yaml").read_text())
    names = set(available_encoders())
    for entry in entries():
        encoder = {k: v for k, v in entry.items() if k not in EXTRA_KEYS}
        assert encoder["name"] in names, entry["id"]
        # Weights come from somewhere: a download URL, or a local (HF) directory to fetch once.
        assert encoder["url"] or encoder["checkpoint"].startswith("resources/hf/"), entry["id"]
        config = copy.deepcopy(base)
        config["encoder"] = encoder
        validate_config(config, schema, f"config.encoders.yaml entry {entry['id']}")
        window = encoder["num_frames"] * encoder["frame_step"]
        assert window == 64, f"{entry['id']}: clips must span the protocol's 64 frames"


def test_paper_entry_equals_config_yaml() -> None:
    paper = yaml.safe_load((REPO / "config.yaml").read_text())["encoder"]
    entry = next(e for e in entries() if e["id"] == "vjepa-vith16-384")
    assert {k: entry[k] for k in paper} == paper
