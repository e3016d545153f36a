"""config.encoders.yaml: a usable config whose `encoders:` entries are registered encoders with
weights from somewhere, the paper's protocol otherwise."""

from __future__ import annotations

import yaml

from tests.conftest import REPO
from vjepa_fer.config import encoder_entries, load_config, load_schema
from vjepa_fer.models import available_encoders


def entries() -> list[dict]:
    return yaml.safe_load((REPO / "config.encoders.yaml").read_text())["encoders"]


def test_the_six_encoders_are_listed() -> None:
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


def test_the_config_is_valid_and_each_entry_a_full_encoder() -> None:
    config = load_config(REPO / "config.encoders.yaml")
    encoders = encoder_entries(config, load_schema())
    assert list(encoders) == [e["id"] for e in entries()]
    names = set(available_encoders())
    for ident, enc in encoders.items():
        assert enc["name"] in names, ident
        # Weights come from somewhere: a download URL, or a local (HF) directory to fetch once.
        assert enc["url"] or enc["checkpoint"].startswith("resources/hf/"), ident
        window = enc["num_frames"] * enc["frame_step"]
        assert window == 64, f"{ident}: clips must span the protocol's 64 frames"


def test_paper_entry_equals_config_yaml() -> None:
    paper = yaml.safe_load((REPO / "config.yaml").read_text())["encoder"]
    entry = next(e for e in entries() if e["id"] == "vjepa-vith16-384")
    assert {k: entry[k] for k in paper} == paper


def test_everything_but_the_encoders_is_the_papers_protocol() -> None:
    """Only the encoders (and the run's name) differ from config.yaml: the comparison runs the
    paper's datasets, folds, clips, probes and voting."""
    ours = load_config(REPO / "config.encoders.yaml")
    paper = load_config(REPO / "config.yaml")
    for cfg in (ours, paper):
        for key in ("encoder", "encoders", "run_name"):
            cfg.pop(key, None)
    assert ours == paper
